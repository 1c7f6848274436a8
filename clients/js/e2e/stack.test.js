// The client (with the `ws` package as its WebSocket) against the real local stack.
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";

import { FrameTooLargeError, State, WspushClient } from "../src/index.js";
import { api, next, token, unique } from "./helpers.js";

const { websocketUrl } = await api("/api/config");

function client(entity, options = {}, grantedTopics = undefined) {
  const tokens = [];
  const instance = new WspushClient(websocketUrl, {
    websocket: WebSocket,
    getToken: async () => {
      tokens.push(await token(entity, grantedTopics));
      return tokens.at(-1);
    },
    minReconnectDelay: 200,
    maxReconnectDelay: 1000,
    ...options,
  });
  return { client: instance, tokens };
}

test("topic and entity pushes arrive through the real stack", async () => {
  const entity = unique("js-e2e");
  const topic = unique("js-topic");
  const { client: c } = client(entity);
  const errors = [];
  c.on("error", (e) => errors.push(e));
  const opened = next(c, "open");
  c.connect();
  await opened;
  assert.deepEqual(await c.subscribe(topic), { topic });

  const onTopic = next(c, "push", (p) => p.type === "js.topic");
  const report = await api("/api/push", { topic, type: "js.topic", payload: { n: 1 } });
  assert.equal(report.sent, 1);
  assert.deepEqual((await onTopic).data, { n: 1 });

  const onEntity = next(c, "push", (p) => p.type === "js.entity");
  await api("/api/push", { entityId: entity, type: "js.entity", payload: "hi" });
  const push = await onEntity;
  assert.equal(push.data, "hi");
  assert.match(push.id, /^[0-9a-f-]{36}$/);
  c.disconnect();
  assert.deepEqual(errors, []);
});

test("a topic the token does not grant is refused: subscribe() rejects and subscriptionError names it", async () => {
  const entity = unique("js-scoped");
  const allowed = unique("js-allowed");
  const forbidden = unique("js-forbidden");
  const { client: c } = client(entity, {}, [allowed]);
  c.connect();
  await next(c, "open");
  const refused = next(c, "subscriptionError", (e) => e.topic === forbidden);
  await assert.rejects(c.subscribe(forbidden), (error) => error.code === "forbidden_topic" && error.topic === forbidden);
  assert.equal((await refused).code, "forbidden_topic");
  // The granted topic on the same connection is fine.
  assert.deepEqual(await c.subscribe(allowed), { topic: allowed });
  c.disconnect();
});

test("after the server drops the connection it reconnects with a new token and re-subscribes", async () => {
  const entity = unique("js-drop");
  const topic = unique("js-topic");
  const { client: c, tokens } = client(entity);
  const states = [];
  c.on("state", ({ newState }) => states.push(newState));
  c.connect();
  await next(c, "open");
  await c.subscribe(topic);

  const reconnecting = next(c, "reconnecting");
  const reopened = next(c, "open", ({ reconnected }) => reconnected);
  const resubscribed = next(c, "subscribed", (s) => s.topic === topic);
  // The pong names the connection; the drop helper closes only the connection it names.
  const pong = next(c, "frame", ({ frame }) => frame.type === "pong");
  c.send({ action: "ping" });
  const { connectionId } = (await pong).frame;
  assert.equal((await api("/api/drop", { connectionId })).dropped, 1);
  assert.equal((await reconnecting).code, 1000); // @connections DELETE closes with 1000
  await reopened;
  await resubscribed;
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "open"]);
  assert.equal(tokens.length, 2);

  const onTopic = next(c, "push", (p) => p.type === "after.drop");
  await api("/api/push", { topic, type: "after.drop", payload: {} });
  await onTopic;
  c.disconnect();
  assert.equal(c.state, State.Closed);
});

test("resume is answered without an error, whether or not the server supports it", async () => {
  const entity = unique("js-resume");
  const { client: c } = client(entity, { positions: { [`entity:${entity}`]: { seq: 1, epoch: "e0" } } });
  const errors = [];
  c.on("error", (e) => errors.push(e));
  const answered = Promise.race([next(c, "resumed"), next(c, "resumeGap")]);
  c.connect();
  await answered;
  assert.equal(c.state, State.Open);
  // The connection still works afterwards.
  const onPush = next(c, "push", (p) => p.type === "after.resume");
  await api("/api/push", { entityId: entity, type: "after.resume", payload: 1 });
  await onPush;
  c.disconnect();
  assert.deepEqual(errors, []);
});

test("a client that was away resumes what it missed on its channels, in order, exactly once", async () => {
  const entity = unique("js-away");
  const topic = unique("js-room");
  const { client: first } = client(entity);
  const seen = [];
  first.on("push", (p) => seen.push(p));
  first.connect();
  await next(first, "open");
  await first.subscribe(topic);
  const received = next(first, "push", (p) => p.channel === `topic:${topic}` && p.seq === 2);
  await api("/api/push", { topic, payload: 1 });
  await api("/api/push", { topic, payload: 2 });
  await received;
  first.disconnect();

  // While nobody is connected, three more pushes go to the topic and one to the entity.
  for (const n of [3, 4, 5]) await api("/api/push", { topic, payload: n });
  await api("/api/push", { entityId: entity, payload: "while away" });

  // A new client starting from the stored positions subscribes, then resumes.
  const { client: second } = client(entity, { positions: first.positions() });
  second.on("push", (p) => seen.push(p));
  const resumed = next(second, "resumed");
  second.connect();
  second.subscribe(topic);
  const { channels } = await resumed;
  const onTopic = seen.filter((p) => p.channel === `topic:${topic}`);
  assert.deepEqual(onTopic.map((p) => [p.seq, p.data]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
  assert.equal(channels[`topic:${topic}`], 5);
  // The entity channel was not known before the gap, so nothing was asked for it.
  assert.equal(channels[`entity:${entity}`], undefined);
  assert.equal(new Set(seen.map((p) => p.id)).size, seen.length);
  second.disconnect();
});

test("a resume naming a topic the token no longer grants is a gap for its channels, then forgotten", async () => {
  const entity = unique("js-refused");
  const granted = unique("js-granted");
  const revoked = unique("js-revoked");
  const positions = {
    [`topic:${granted}`]: { seq: 0, epoch: null },
    [`topic:${revoked}`]: { seq: 3, epoch: "e0" },
  };
  const { client: first } = client(entity, { positions }, [granted]);
  const gaps = [];
  first.on("resumeGap", (gap) => gaps.push(gap));
  const refused = next(first, "error", (e) => e.code === "forbidden_channel");
  first.connect();
  await refused;
  assert.deepEqual(gaps.map((g) => [g.channel, g.reason]), [
    [`topic:${granted}`, "refused"],
    [`topic:${revoked}`, "refused"],
  ]);
  assert.deepEqual(Object.keys(first.positions()), [`topic:${granted}`]);
  first.disconnect();

  // From what is left, the next connection resumes without a refusal.
  const { client: second } = client(entity, { positions: first.positions() }, [granted]);
  const errors = [];
  second.on("error", (e) => errors.push(e));
  const resumed = next(second, "resumed");
  second.connect();
  assert.deepEqual((await resumed).channels, { [`topic:${granted}`]: 0 });
  second.disconnect();
  assert.deepEqual(errors, []);
});

test("a frame over 32 KB is refused by the client, a ping is answered", async () => {
  const { client: c } = client(unique("js-frame"));
  c.connect();
  await next(c, "open");
  assert.throws(() => c.send({ action: "ping", pad: "x".repeat(33 * 1024) }), FrameTooLargeError);
  const pong = next(c, "frame", ({ frame }) => frame.type === "pong");
  c.send({ action: "ping" });
  await pong;
  c.disconnect();
});
