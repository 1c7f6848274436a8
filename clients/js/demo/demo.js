// The demo page: the wspush JavaScript client (served from the package itself) on the local stack.
import { WspushClient } from "/client/index.js";

const $ = (id) => document.getElementById(id);
const config = await (await fetch("/api/config")).json();
const ROOM_PREFIX = config.chatRooms.slice(0, -1); // "demo.room."
let client = null;
let connectionId = null; // this page's own connection, as its pong names it
let room = null; // the chat room's topic, while joined
let grant = null; // what the current token allows

function log(list, text, className = "") {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (className) item.className = className;
  $(list).prepend(item);
}

function chatLine(parts, className = "") {
  const item = document.createElement("li");
  if (className) item.className = className;
  item.append(...parts);
  $("chat").append(item);
  $("chat").scrollTop = $("chat").scrollHeight;
  return item;
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function render() {
  const state = client?.state ?? "closed";
  const open = state === "open";
  $("state").textContent = state;
  $("state").className = `state ${state}`;
  $("connect").disabled = state !== "closed";
  $("disconnect").disabled = state === "closed";
  $("drop").disabled = !open || !connectionId;
  $("connection-id").textContent = connectionId ?? "none";
  $("subscribe").disabled = state === "closed";
  for (const id of ["entity", "name", "may-publish"]) $(id).disabled = state !== "closed";
  $("join").disabled = state === "closed";
  $("leave").disabled = room === null;
  $("chat-text").disabled = $("send").disabled = room === null || state === "closed";
  $("room-topic").textContent = room ?? "none";
  $("topics").replaceChildren(
    ...(client?.topics ?? []).map((topic) => {
      const item = document.createElement("li");
      item.dataset.topic = topic;
      const leave = document.createElement("button");
      leave.textContent = "Unsubscribe";
      leave.className = "unsubscribe";
      leave.onclick = () => unsubscribe(topic);
      item.append(span("", topic), leave);
      return item;
    }),
  );
  renderMembers();
}

function renderMembers() {
  const members = room && client ? client.members(room) : [];
  $("member-count").textContent = room ? `(${members.length})` : "";
  $("members").replaceChildren(
    ...members.map(({ entityId, info }) => {
      const item = document.createElement("li");
      item.dataset.entity = entityId;
      const name = info?.name && info.name !== entityId ? `${info.name} (${entityId})` : entityId;
      item.textContent = name;
      return item;
    }),
  );
}

function unsubscribe(topic) {
  client.unsubscribe(topic);
  if (topic === room) room = null;
  log("events", `unsubscribed from ${topic}`);
  render();
}

async function token(entity) {
  const query = new URLSearchParams({ entity, publish: $("may-publish").checked ? "1" : "0" });
  const name = $("name").value.trim();
  if (name) query.set("name", name);
  const response = await fetch(`/api/token?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error);
  grant = body.grant;
  const speaks = grant.publish.length ? `publishes on ${grant.publish.join(", ")}` : "publishes nowhere";
  $("grant").textContent = `The token reads ${grant.topics.join(", ")} (and the public topics) and ${speaks}.`;
  return body.token;
}

/** Who sent a chat message: the server's `from`, shown with the sender's name when known. */
function sender(from) {
  if (!from?.entityId) return "?";
  const member = client.members(room ?? "").find((m) => m.entityId === from.entityId);
  const name = member?.info?.name;
  return name && name !== from.entityId ? `${name} (${from.entityId})` : from.entityId;
}

function showPush({ id, type, data, channel, seq, from }) {
  const item = document.createElement("li");
  const meta = `  ${channel ?? "?"} #${seq ?? "-"}  id ${id}${from ? `  from ${from.entityId}` : ""}  `;
  item.append(`${new Date().toLocaleTimeString()}  `, span("push-type", type), span("push-meta", meta), JSON.stringify(data));
  item.dataset.type = type;
  item.dataset.id = id;
  if (seq !== null) item.dataset.seq = String(seq);
  $("pushes").prepend(item);
}

function chatMessage({ topic, data, from, seq }) {
  if (topic !== room) return;
  const text = typeof data?.text === "string" ? data.text : JSON.stringify(data);
  const item = chatLine([span("who", sender(from)), text]);
  item.dataset.from = from?.entityId ?? "";
  item.dataset.seq = String(seq ?? "");
  item.className = "message";
}

$("connect").onclick = () => {
  const entity = $("entity").value.trim();
  client = new WspushClient(config.websocketUrl, {
    getToken: () => token(entity),
    minReconnectDelay: 500,
    maxReconnectDelay: 5000,
  });
  client.on("state", ({ oldState, newState }) => {
    log("events", `state ${oldState} → ${newState}`);
    if (newState !== "open") connectionId = null;
    // A ping's pong names the connection: /api/drop closes only the one the page names.
    else client.send({ action: "ping" });
    render();
  });
  client.on("rotated", () => client.send({ action: "ping" })); // a new connection, a new id
  client.on("frame", ({ frame }) => {
    if (frame.type !== "pong" || typeof frame.connectionId !== "string") return;
    connectionId = frame.connectionId;
    render();
  });
  client.on("reconnecting", ({ code, delay }) => log("events", `reconnecting in ${delay} ms (close code ${code})`));
  client.on("error", ({ type, code, message }) => log("events", `error (${type}${code ? `, ${code}` : ""}): ${message}`, "error"));
  client.on("subscribed", ({ topic }) => {
    log("events", `subscribed to ${topic}`);
    render();
  });
  client.on("subscriptionError", ({ topic, code }) => {
    log("events", `cannot subscribe to ${topic}: ${code}`, "error");
    if (topic === room) room = null;
    render();
  });
  client.on("resumeGap", ({ channel, reason }) => log("events", `may have missed pushes on ${channel} (${reason})`));
  client.on("push", showPush);
  client.on("members", ({ topic }) => topic === room && renderMembers());
  client.on("memberJoined", ({ topic, entityId }) => {
    if (topic !== room) return;
    chatLine([`${entityId} joined`], "note joined");
    renderMembers();
  });
  client.on("memberLeft", ({ topic, entityId }) => {
    if (topic !== room) return;
    chatLine([`${entityId} left`], "note left");
    renderMembers();
  });
  client.connect();
  render();
};

$("disconnect").onclick = () => {
  client.disconnect();
  room = null;
  render();
};

$("subscribe").onclick = () => {
  try {
    client.subscribe($("topic").value.trim()).catch(() => {});
  } catch (error) {
    log("events", `cannot subscribe: ${error.message}`, "error");
  }
  render();
};

$("join").onclick = () => {
  const topic = `${ROOM_PREFIX}${$("room").value.trim()}`;
  if (room && room !== topic) unsubscribe(room);
  try {
    client.subscribe(topic, { presence: true, onPush: chatMessage }).catch(() => {});
  } catch (error) {
    $("chat-error").textContent = error.message;
    return;
  }
  room = topic;
  $("chat").replaceChildren();
  chatLine([`you joined ${topic}`], "note");
  render();
};

$("leave").onclick = () => unsubscribe(room);

$("say").onsubmit = async (event) => {
  event.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text || !room) return;
  $("chat-error").textContent = "";
  try {
    // echo: the page's own message comes back like the others', numbered in the room.
    const { seq } = await client.publish(room, { text }, { type: "chat.message", echo: true });
    $("chat-text").value = "";
    log("events", `published #${seq} to ${room}`);
  } catch (error) {
    const retry = error.retryAfter ? ` (retry in ${error.retryAfter} s)` : "";
    $("chat-error").textContent = `refused: ${error.code}${retry}: ${error.message}`;
    $("chat-error").dataset.code = error.code;
  }
};

$("drop").onclick = async () => {
  const response = await fetch("/api/drop", { method: "POST", body: JSON.stringify({ connectionId }) });
  const body = await response.json();
  if (!response.ok) return log("events", `drop refused: ${body.error}`, "error");
  log("events", `server dropped ${body.dropped} connection(s)`);
};

$("audience").onchange = () => {
  $("target").disabled = $("audience").value === "broadcast";
};

$("push").onclick = async () => {
  let payload;
  try {
    payload = JSON.parse($("message").value);
  } catch {
    $("push-result").textContent = "the payload must be JSON";
    return;
  }
  const request = { payload, type: "demo" };
  const audience = $("audience").value;
  if (audience === "entity") request.entityId = $("target").value.trim();
  else if (audience === "topic") request.topic = $("target").value.trim();
  else request.broadcast = true;
  const response = await fetch("/api/push", { method: "POST", body: JSON.stringify(request) });
  const body = await response.json();
  $("push-result").textContent = response.ok ? `sent ${body.sent} of ${body.targeted}` : body.error;
};

$("public-topics").textContent = config.publicTopics.join(", ") || "none";
render();
document.body.dataset.ready = "true";
