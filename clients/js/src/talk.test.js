// Publishing, wildcard subscriptions, live presence and receipts, against the fake server
// with fake timers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DEFAULTS, messageId, State, topicMatches, WspushError } from "./index.js";
import { envelope, FakeServer, flush } from "./testing/fake-server.js";
import { connected, setup } from "./testing/setup.js";

/** The promise's outcome without awaiting it forever: "pending", or its value or error. */
async function settled(promise) {
  let outcome = "pending";
  promise.then((value) => (outcome = { value }), (error) => (outcome = { error }));
  await flush();
  return outcome;
}

describe("publish", () => {
  test("sends the frame with a generated id and resolves with the server's {id, seq}", async (t) => {
    const { client, server } = await connected(t);
    const first = await client.publish("room.1", { text: "hi" }, { type: "chat.message" });
    const [frame] = server.last.actions("publish");
    assert.deepEqual(frame, { action: "publish", topic: "room.1", data: { text: "hi" }, id: frame.id, type: "chat.message" });
    assert.match(frame.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(first, { id: frame.id, seq: 1, topic: "room.1" });
    // Given id and echo are sent as they are; undefined data is sent as null.
    assert.deepEqual(await client.publish("room.1", undefined, { id: "m-2", echo: true }), { id: "m-2", seq: 2, topic: "room.1" });
    assert.deepEqual(server.last.actions("publish")[1], { action: "publish", topic: "room.1", data: null, id: "m-2", echo: true });
    client.disconnect();
  });

  test("concurrent publishes are each settled by their own answer, in any order", async (t) => {
    const held = [];
    const server = new FakeServer({ publishReplies: (frame) => (held.push(frame), []) });
    const { client } = await connected(t, { server });
    const a = client.publish("room.1", "a", { id: "a" });
    const b = client.publish("room.2", "b", { id: "b" });
    await flush();
    server.last.deliver({ type: "published", topic: "room.2", id: "b", seq: 7 });
    server.last.deliver({ type: "published", topic: "room.1", id: "a", seq: 3 });
    assert.deepEqual(await b, { id: "b", seq: 7, topic: "room.2" });
    assert.deepEqual(await a, { id: "a", seq: 3, topic: "room.1" });
    client.disconnect();
  });

  test("each refusal rejects with the server's code and details; the subscription stays", async (t) => {
    const refusals = {
      "no-grant": { type: "error", code: "forbidden", topic: "room.1", message: "this connection may not publish to 'room.1'" },
      slow: { type: "error", code: "rate_limited", action: "publish", topic: "room.1", retryAfter: 2, message: "retry" },
      hook: { type: "error", code: "rejected", topic: "room.1", reason: { code: "profanity", message: "mind your words" } },
      conflict: { type: "error", code: "id_conflict", topic: "room.1", message: "id used for another message" },
      big: { type: "error", code: "too_large", message: "message is 40000 bytes" },
      shape: { type: "error", code: "invalid_message", topic: "room.1", message: '"echo" must be true or false' },
      hookDown: { type: "error", code: "hook_failed", topic: "room.1", id: "ignored", message: "nothing was published" },
    };
    const server = new FakeServer({ publishReplies: (frame) => [refusals[frame.data]] });
    const { client, named } = await connected(t, { server });
    await client.subscribe("room.1");
    const errors = {};
    for (const name of Object.keys(refusals)) {
      errors[name] = await client.publish("room.1", name).catch((error) => error);
      assert.ok(errors[name] instanceof WspushError, name);
      assert.equal(errors[name].topic, "room.1");
    }
    assert.deepEqual(Object.values(errors).map((e) => e.code), [
      "forbidden", "rate_limited", "rejected", "id_conflict", "too_large", "invalid_message", "hook_failed",
    ]);
    assert.equal(errors.slow.retryAfter, 2);
    assert.deepEqual(errors.hook.reason, { code: "profanity", message: "mind your words" });
    assert.match(errors.hook.message, /mind your words/);
    // None of them is mistaken for a refused subscription.
    assert.deepEqual(client.topics, ["room.1"]);
    assert.deepEqual(named("subscriptionError"), []);
    assert.deepEqual(named("error"), []);
    client.disconnect();
  });

  test("a refused subscribe while a publish to the same topic waits is the subscription's", async (t) => {
    const server = new FakeServer({ publishReplies: () => [], allowTopic: () => false });
    const { client, named } = await connected(t, { server });
    const publish = client.publish("room.1", 1, { id: "p" });
    const subscribe = client.subscribe("room.1").catch((e) => e);
    assert.equal((await subscribe).code, "forbidden_topic");
    assert.equal(await settled(publish), "pending");
    assert.equal(named("subscriptionError").length, 1);
    server.last.deliver({ type: "published", topic: "room.1", id: "p", seq: 1 });
    assert.deepEqual(await publish, { id: "p", seq: 1, topic: "room.1" });
    client.disconnect();
  });

  test("bad arguments and a closed client reject before anything is sent", async (t) => {
    const { client, server } = setup(t);
    assert.equal((await client.publish("room.1", 1).catch((e) => e)).code, "not_connected");
    client.connect();
    await flush();
    assert.equal((await client.publish("room.*", 1).catch((e) => e)).code, "invalid_topic");
    assert.equal((await client.publish("room 1", 1).catch((e) => e)).code, "invalid_topic");
    assert.equal((await client.publish("room.1", 1, { id: "has space" }).catch((e) => e)).code, "invalid_id");
    assert.equal((await client.publish("room.1", 1, { type: 7 }).catch((e) => e)).code, "invalid_type");
    const big = await client.publish("room.1", "x".repeat(40000)).catch((e) => e);
    assert.equal(big.code, "frame_too_large");
    assert.deepEqual(server.last.actions("publish"), []);
    client.disconnect();
  });

  test("unanswered when the connection drops: sent again after the reconnect with the same id", async (t) => {
    let answer = false;
    const server = new FakeServer({
      publishReplies: (frame) => (answer ? [{ type: "published", topic: frame.topic, id: frame.id, seq: 5 }] : []),
    });
    const { client, tick } = await connected(t, { server });
    const result = client.publish("room.1", { text: "hi" });
    await flush();
    const [sent] = server.connections[0].actions("publish");
    assert.equal(await settled(result), "pending");
    server.connections[0].drop(1006);
    answer = true;
    await tick(DEFAULTS.minReconnectDelay);
    assert.equal(client.state, State.Open);
    const [again] = server.connections[1].actions("publish");
    assert.deepEqual(again, sent);
    assert.deepEqual(await result, { id: sent.id, seq: 5, topic: "room.1" });
    client.disconnect();
  });

  test("in_progress (an earlier attempt is being numbered) is asked again a second later", async (t) => {
    let first = true;
    const server = new FakeServer({
      publishReplies: (frame) => {
        if (!first) return [{ type: "published", topic: frame.topic, id: frame.id, seq: 4 }];
        first = false;
        return [{ type: "error", code: "in_progress", topic: frame.topic, id: frame.id, message: "retry in a second" }];
      },
    });
    const { client, tick } = await connected(t, { server });
    const result = client.publish("room.1", "x", { id: "p1" });
    await flush();
    assert.equal(await settled(result), "pending");
    await tick(1000);
    assert.deepEqual(await result, { id: "p1", seq: 4, topic: "room.1" });
    assert.equal(server.last.actions("publish").length, 2);
    client.disconnect();
  });

  test("a publish while reconnecting waits for the next connection", async (t) => {
    const { client, server, tick } = await connected(t);
    server.last.drop(1006);
    await flush();
    assert.equal(client.state, State.Reconnecting);
    const result = client.publish("room.1", "queued");
    await tick(DEFAULTS.minReconnectDelay);
    assert.equal((await result).seq, 1);
    assert.equal(server.connections[1].actions("publish").length, 1);
    client.disconnect();
  });

  test("no answer within publishTimeout rejects with timeout; disconnect rejects what is pending", async (t) => {
    const server = new FakeServer({ publishReplies: () => [] });
    const { client, tick } = await connected(t, { server, publishTimeout: 5000 });
    const late = settled(client.publish("room.1", 1, { id: "late" }));
    await tick(5000);
    const error = (await late).error;
    assert.equal(error.code, "timeout");
    assert.equal(error.id, "late");
    const pending = client.publish("room.1", 2).catch((e) => e);
    await flush();
    client.disconnect();
    assert.equal((await pending).code, "disconnected");
  });

  test("the same id twice while the first waits is refused", async (t) => {
    const server = new FakeServer({ publishReplies: () => [] });
    const { client } = await connected(t, { server });
    client.publish("room.1", 1, { id: "x" }).catch(() => {});
    assert.equal((await client.publish("room.1", 2, { id: "x" }).catch((e) => e)).code, "id_in_flight");
    client.disconnect();
  });

  test("messageId is a random UUID v4", () => {
    const ids = new Set(Array.from({ length: 100 }, messageId));
    assert.equal(ids.size, 100);
  });
});

describe("wildcard subscriptions", () => {
  test("topicMatches: exact names, * and prefix patterns", () => {
    assert.ok(topicMatches("room.1", "room.1"));
    assert.ok(!topicMatches("room.1", "room.10"));
    assert.ok(topicMatches("room.*", "room.1"));
    assert.ok(topicMatches("room.*", "room.1.a"));
    assert.ok(!topicMatches("room.*", "room"));
    assert.ok(!topicMatches("room.*", "rooms.1"));
    assert.ok(topicMatches("a/b/*", "a/b/c"));
    assert.ok(topicMatches("*", "anything"));
  });

  test("a pattern is subscribed as it is; bad patterns are refused locally", async (t) => {
    const { client, server } = await connected(t);
    assert.deepEqual(await client.subscribe("room.*"), { topic: "room.*" });
    assert.deepEqual(await client.subscribe("*"), { topic: "*" });
    assert.deepEqual(server.last.actions("subscribe").map((f) => f.topic), ["room.*", "*"]);
    for (const bad of ["room*", "room.*.x", "*.room", ".*", "room.**"]) {
      assert.throws(() => client.subscribe(bad), (e) => e.code === "invalid_topic", bad);
    }
    assert.throws(() => client.subscribe("room.*", { presence: true }), /per topic/);
    client.disconnect();
  });

  test("each push goes to every subscription it matches, once, with its concrete topic", async (t) => {
    const { client, server, named } = await connected(t);
    const got = { pattern: [], exact: [], other: [] };
    await client.subscribe("room.*", { onPush: ({ topic, data }) => got.pattern.push([topic, data]) });
    await client.subscribe("room.1", { onPush: ({ topic, data }) => got.exact.push([topic, data]) });
    await client.subscribe("news", { onPush: ({ topic }) => got.other.push(topic) });
    const push = envelope({ channel: "topic:room.1", seq: 1, epoch: "e", data: "one", from: { entityId: "bob" } });
    server.last.deliver(push);
    server.last.deliver(push); // a copy (e.g. a retried shard) is dropped
    server.last.deliver(envelope({ channel: "topic:room.2", seq: 1, epoch: "e", data: "two" }));
    await flush();
    assert.deepEqual(got.pattern, [["room.1", "one"], ["room.2", "two"]]);
    assert.deepEqual(got.exact, [["room.1", "one"]]);
    assert.deepEqual(got.other, []);
    const pushes = named("push");
    assert.equal(pushes.length, 2);
    assert.deepEqual(pushes[0].subscriptions, ["room.*", "room.1"]);
    assert.deepEqual(pushes[0].from, { entityId: "bob" });
    assert.equal(pushes[1].topic, "room.2");
    assert.equal(pushes[1].from, null);
    // Resume stays per concrete channel.
    assert.deepEqual(Object.keys(client.positions()).sort(), ["topic:room.1", "topic:room.2"]);
    client.disconnect();
  });

  test("unsubscribing a pattern forgets the positions only it covered", async (t) => {
    const { client, server } = await connected(t);
    await client.subscribe("room.*");
    await client.subscribe("room.1");
    for (const channel of ["topic:room.1", "topic:room.2"]) server.last.deliver(envelope({ channel, seq: 1, epoch: "e" }));
    await flush();
    client.unsubscribe("room.*");
    assert.deepEqual(Object.keys(client.positions()), ["topic:room.1"]);
    assert.deepEqual(server.last.actions("unsubscribe"), [{ action: "unsubscribe", topic: "room.*" }]);
    client.disconnect();
  });
});

describe("live presence", () => {
  const alice = { entityId: "alice", connections: 1, info: { name: "Alice" } };

  test("members come from the presence answer, then from member_joined and member_left", async (t) => {
    const server = new FakeServer({ members: (topic) => (topic === "room.1" ? [alice] : []) });
    const { client, named } = await connected(t, { server });
    assert.deepEqual(client.members("room.1"), []);
    await client.subscribe("room.1", { presence: true });
    await flush();
    assert.deepEqual(server.last.actions("presence"), [{ action: "presence", topic: "room.1" }]);
    assert.deepEqual(client.members("room.1"), [{ entityId: "alice", info: { name: "Alice" } }]);
    assert.deepEqual(named("members").map((e) => [e.topic, e.members.length, e.truncated]), [["room.1", 1, false]]);
    server.last.deliver({ type: "member_joined", topic: "room.1", entityId: "bob", info: null });
    await flush();
    assert.deepEqual(client.members("room.1").map((m) => m.entityId), ["alice", "bob"]);
    server.last.deliver({ type: "member_left", topic: "room.1", entityId: "alice", info: { name: "Alice" } });
    await flush();
    assert.deepEqual(client.members("room.1"), [{ entityId: "bob", info: null }]);
    assert.deepEqual(named("memberJoined").map((e) => [e.topic, e.entityId, e.info]), [["room.1", "bob", null]]);
    assert.deepEqual(named("memberLeft").map((e) => [e.topic, e.entityId]), [["room.1", "alice"]]);
    assert.deepEqual(named("push"), []); // membership is not a push
    client.unsubscribe("room.1");
    assert.deepEqual(client.members("room.1"), []);
    client.disconnect();
  });

  test("events that arrive while the answer is on its way are applied over it", async (t) => {
    const server = new FakeServer({ members: () => [alice] });
    const held = [];
    const original = server.answer.bind(server);
    server.answer = (frame) => (frame.action === "presence" ? (held.push(original(frame)), []) : original(frame));
    const { client } = await connected(t, { server });
    await client.subscribe("room.1", { presence: true });
    await flush();
    // Alice leaves and Carol joins after the server read its list, before the answer arrives.
    server.last.deliver({ type: "member_left", topic: "room.1", entityId: "alice", info: null });
    server.last.deliver({ type: "member_joined", topic: "room.1", entityId: "carol", info: null });
    await flush();
    for (const reply of held.flat()) server.last.deliver(reply);
    await flush();
    assert.deepEqual(client.members("room.1").map((m) => m.entityId), ["carol"]);
    client.disconnect();
  });

  test("after a reconnect the list is asked for again; events in envelopes count once", async (t) => {
    let members = [alice];
    const server = new FakeServer({ members: () => members });
    const { client, tick } = await connected(t, { server });
    await client.subscribe("room.1", { presence: true });
    await flush();
    server.last.drop(1006);
    members = [{ entityId: "bob", connections: 2, info: null }];
    await tick(DEFAULTS.minReconnectDelay);
    assert.deepEqual(server.last.actions("presence").length, 1);
    assert.deepEqual(client.members("room.1").map((m) => m.entityId), ["bob"]);
    const joined = envelope({ type: "member_joined", channel: "topic:room.1", seq: 3, epoch: "e", data: { entityId: "dan", info: { name: "Dan" } } });
    server.last.deliver(joined);
    server.last.deliver(joined);
    await flush();
    assert.deepEqual(client.members("room.1"), [{ entityId: "bob", info: null }, { entityId: "dan", info: { name: "Dan" } }]);
    client.disconnect();
  });

  test("a rate_limited presence request is asked again after retryAfter", async (t) => {
    let refuse = true;
    const server = new FakeServer({ members: () => [alice] });
    const original = server.answer.bind(server);
    server.answer = (frame) => {
      if (frame.action === "presence" && refuse) {
        refuse = false;
        return [{ type: "error", code: "rate_limited", action: "presence", retryAfter: 2, message: "later" }];
      }
      return original(frame);
    };
    const { client, tick, named } = await connected(t, { server });
    await client.subscribe("room.1", { presence: true });
    await flush();
    assert.deepEqual(client.members("room.1"), []);
    await tick(2000);
    assert.deepEqual(client.members("room.1").map((m) => m.entityId), ["alice"]);
    assert.deepEqual(named("error"), []);
    assert.deepEqual(client.topics, ["room.1"]);
    client.disconnect();
  });
});

describe("receipts", () => {
  test("a push asking for a receipt is acknowledged, a copy again, others never", async (t) => {
    const { client, server, named } = await connected(t);
    const receipt = envelope({ channel: "entity:alice", seq: 1, epoch: "e", ack: true });
    server.last.deliver(receipt);
    server.last.deliver(envelope({ channel: "entity:alice", seq: 2, epoch: "e" }));
    server.last.deliver(receipt);
    await flush();
    assert.deepEqual(server.last.actions("ack"), [{ action: "ack", id: receipt.id }, { action: "ack", id: receipt.id }]);
    assert.equal(named("push").length, 2);
    assert.deepEqual(named("error"), []); // the acked replies are not errors
    client.disconnect();
  });

  test("autoAck: false leaves acknowledging to the application", async (t) => {
    const { client, server } = await connected(t, { autoAck: false });
    server.last.deliver(envelope({ ack: true }));
    await flush();
    assert.deepEqual(server.last.actions("ack"), []);
    client.disconnect();
  });
});
