// The demo page: the wspush JavaScript client (served from the package itself) on the local stack.
import { WspushClient } from "/client/index.js";

const $ = (id) => document.getElementById(id);
const config = await (await fetch("/api/config")).json();
let client = null;
let connectionId = null; // this page's own connection, as its pong names it

function log(list, text, className = "") {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (className) item.className = className;
  $(list).prepend(item);
}

function render() {
  const state = client?.state ?? "closed";
  $("state").textContent = state;
  $("state").className = `state ${state}`;
  $("connect").disabled = state !== "closed";
  $("disconnect").disabled = state === "closed";
  $("drop").disabled = state !== "open" || !connectionId;
  $("connection-id").textContent = connectionId ?? "none";
  $("subscribe").disabled = state === "closed";
  $("entity").disabled = state !== "closed";
  $("topics").replaceChildren(
    ...(client?.topics ?? []).map((topic) => {
      const item = document.createElement("li");
      item.textContent = topic;
      item.dataset.topic = topic;
      return item;
    }),
  );
}

async function token(entity) {
  const response = await fetch(`/api/token?entity=${encodeURIComponent(entity)}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error);
  return body.token;
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
    render();
  });
  client.on("resumeGap", ({ channel, reason }) => log("events", `may have missed pushes on ${channel} (${reason})`));
  client.on("push", ({ type, data, channel }) => {
    const item = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "push-type";
    kind.textContent = type;
    item.append(`${new Date().toLocaleTimeString()}  `, kind, `  ${channel ? `${channel}  ` : ""}${JSON.stringify(data)}`);
    item.dataset.type = type;
    $("pushes").prepend(item);
  });
  client.connect();
  render();
};

$("disconnect").onclick = () => {
  client.disconnect();
  render();
};

$("subscribe").onclick = () => {
  client.subscribe($("topic").value.trim()).catch(() => {});
  render();
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

render();
document.body.dataset.ready = "true";
