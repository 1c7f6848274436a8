// The client against an in-memory server, with fake timers for the 10-minute idle timeout,
// the 2-hour limit and the backoff.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import {
  backoffDelay,
  DEFAULTS,
  FrameTooLargeError,
  HEARTBEAT_TIMEOUT_CODE,
  MAX_FRAME_BYTES,
  State,
  WspushClient,
} from "./index.js";
import { envelope, FakeServer, flush } from "./testing/fake-server.js";
import { connected, MINUTE, setup, WS_URL } from "./testing/setup.js";


describe("connecting", () => {
  test("sends the token as a subprotocol and announces connecting then open", async (t) => {
    const { client, server, named } = await connected(t);
    assert.deepEqual(server.last.protocols, ["wspush", "token-1"]);
    assert.equal(server.last.url, WS_URL);
    assert.deepEqual(
      named("state").map((e) => [e.oldState, e.newState]),
      [["closed", "connecting"], ["connecting", "open"]],
    );
    assert.deepEqual(named("open").map((e) => e.reconnected), [false]);
    client.disconnect();
  });

  test("connects without a subprotocol when there is no getToken", async (t) => {
    const { client, server } = await connected(t, { getToken: undefined });
    assert.deepEqual(server.last.protocols, []);
    client.disconnect();
  });

  test("asks getToken again on every reconnect", async (t) => {
    const reasons = [];
    let n = 0;
    const { client, server, tick } = await connected(t, {
      getToken: async ({ reason }) => {
        reasons.push(reason);
        return `fresh-${++n}`;
      },
    });
    server.last.drop(1001, "Going away");
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(client.state, State.Open);
    assert.deepEqual(server.last.protocols, ["wspush", "fresh-2"]);
    assert.deepEqual(reasons, ["connect", "reconnect"]);
    client.disconnect();
  });

  test("a getToken failure is an error event and a reconnect, not a crash", async (t) => {
    let fail = true;
    const { client, server, named, tick } = setup(t, {
      getToken: async () => {
        if (fail) throw new Error("auth service down");
        return "ok";
      },
    });
    client.connect();
    await flush();
    assert.equal(client.state, State.Reconnecting);
    assert.deepEqual(named("error").map((e) => e.type), ["token"]);
    assert.match(named("error")[0].message, /auth service down/);
    fail = false;
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(client.state, State.Open);
    assert.deepEqual(server.last.protocols, ["wspush", "ok"]);
    client.disconnect();
  });

  test("a WebSocket constructor that throws (e.g. a bad subprotocol) is one error and a retry", async (t) => {
    const server = new FakeServer();
    let throws = true;
    class Picky extends server.WebSocket {
      constructor(url, protocols) {
        if (throws) throw new SyntaxError("invalid subprotocol");
        super(url, protocols);
      }
    }
    const { client, named, tick } = setup(t, { server, websocket: Picky });
    client.connect();
    await flush();
    assert.deepEqual(named("error").map((e) => [e.type, e.message]), [["connect", "invalid subprotocol"]]);
    assert.equal(client.state, State.Reconnecting);
    throws = false;
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(client.state, State.Open);
    client.disconnect();
  });

  test("a connection that does not open within the timeout is retried", async (t) => {
    const server = new FakeServer({ autoAccept: false });
    const { client, named, tick } = setup(t, { server, timeout: 5000 });
    client.connect();
    await flush();
    assert.equal(client.state, State.Connecting);
    await tick(5000);
    assert.equal(client.state, State.Reconnecting);
    assert.equal(named("error")[0].type, "connect");
    assert.deepEqual(server.connections[0].closedWith, { code: 1000, reason: "no connection within 5000 ms" });
    client.disconnect();
  });

  test("rejects a WS_URL that is not ws(s) and a platform without WebSocket", () => {
    assert.throws(() => new WspushClient("http://x", { websocket: class {} }), TypeError);
    const saved = globalThis.WebSocket;
    globalThis.WebSocket = undefined;
    try {
      assert.throws(() => new WspushClient(WS_URL), /pass options.websocket/);
    } finally {
      globalThis.WebSocket = saved;
    }
  });
});

describe("reconnecting", () => {
  test("full jitter: uniformly below min * 2^attempt, capped at the maximum", () => {
    assert.equal(backoffDelay(0, 1000, 30000, () => 0.999), 999);
    assert.equal(backoffDelay(3, 1000, 30000, () => 0.5), 4000);
    assert.equal(backoffDelay(10, 1000, 30000, () => 0.999), 29970);
    assert.equal(backoffDelay(500, 1000, 30000, () => 0.999), 29970);
    assert.equal(backoffDelay(5, 1000, 30000, () => 0), 0);
  });

  test("reconnects after the server drops the connection, with the close code", async (t) => {
    t.mock.method(Math, "random", () => 0.5);
    const { client, server, named, tick } = await connected(t);
    server.last.drop(1006, "");
    assert.equal(client.state, State.Reconnecting);
    const [reconnecting] = named("reconnecting");
    assert.equal(reconnecting.code, 1006);
    assert.equal(reconnecting.delay, 500);
    assert.equal(named("error")[0].code, 1006);
    await tick(499);
    assert.equal(server.connections.length, 1);
    await tick(1);
    assert.equal(server.connections.length, 2);
    assert.equal(client.state, State.Open);
    assert.deepEqual(named("open").map((e) => e.reconnected), [false, true]);
    client.disconnect();
  });

  test("backoff grows while attempts fail, is capped, and resets after a stable connection", async (t) => {
    t.mock.method(Math, "random", () => 0.999);
    const server = new FakeServer({ autoAccept: false });
    const { client, named, tick } = setup(t, { server, minReconnectDelay: 1000, maxReconnectDelay: 8000 });
    client.connect();
    await flush();
    for (let i = 0; i < 6; i += 1) {
      server.last.refuse();
      await flush();
      await tick(named("reconnecting").at(-1).delay);
    }
    assert.deepEqual(named("reconnecting").map((e) => e.delay), [999, 1998, 3996, 7992, 7992, 7992]);
    // Only the first failure is a state change; the others are further attempts.
    assert.equal(named("state").filter((e) => e.newState === "reconnecting").length, 1);
    server.last.accept();
    await tick(DEFAULTS.timeout);
    server.last.drop(1001);
    assert.equal(named("reconnecting").at(-1).delay, 999);
    client.disconnect();
  });

  test("a browser's online event cuts the backoff short", async (t) => {
    const network = new EventTarget();
    // Node has no window events: give globalThis a browser's, for this test only.
    globalThis.addEventListener = network.addEventListener.bind(network);
    globalThis.removeEventListener = network.removeEventListener.bind(network);
    t.after(() => {
      delete globalThis.addEventListener;
      delete globalThis.removeEventListener;
    });
    const { client, server, tick } = await connected(t, { minReconnectDelay: 60000, maxReconnectDelay: 60000 });
    t.mock.method(Math, "random", () => 0.9);
    network.dispatchEvent(new Event("online")); // while open: nothing happens
    await flush();
    assert.equal(server.connections.length, 1);
    server.last.drop(1006);
    await tick(1000);
    assert.equal(server.connections.length, 1);
    network.dispatchEvent(new Event("online"));
    await flush();
    assert.equal(server.connections.length, 2);
    assert.equal(client.state, State.Open);
    client.disconnect();
    server.last.drop(1006);
    network.dispatchEvent(new Event("online")); // after disconnect: the listener is gone
    await tick(60000);
    assert.equal(server.connections.length, 2);
  });

  test("gives up after maxReconnectAttempts and ends closed", async (t) => {
    const server = new FakeServer({ autoAccept: false });
    const { client, named, tick } = setup(t, { server, maxReconnectAttempts: 2 });
    client.connect();
    await flush();
    for (let i = 0; i < 3; i += 1) {
      server.last.refuse();
      await tick(DEFAULTS.maxReconnectDelay);
    }
    assert.equal(client.state, State.Closed);
    assert.match(named("closed")[0].reason, /gave up after 2 attempts/);
    assert.equal(server.connections.length, 3);
  });

  test("giving up rejects the pending subscriptions", async (t) => {
    const server = new FakeServer({ autoAccept: false });
    const { client, tick } = setup(t, { server, maxReconnectAttempts: 1 });
    client.connect();
    const subscription = client.subscribe("news");
    await flush();
    for (let i = 0; i < 2; i += 1) {
      server.last.refuse();
      await tick(DEFAULTS.maxReconnectDelay);
    }
    assert.equal(client.state, State.Closed);
    await assert.rejects(subscription, { name: "WspushError", code: "gave_up", topic: "news", message: /gave up after 1 attempts/ });
    // The topic stays: a later connect() subscribes it again.
    assert.deepEqual(client.topics, ["news"]);
  });

  test("disconnect closes for good: no reconnect, pending subscriptions rejected", async (t) => {
    const server = new FakeServer({ autoAccept: false });
    const { client, named, tick } = setup(t, { server });
    client.connect();
    const subscription = client.subscribe("news");
    await flush();
    client.disconnect();
    await assert.rejects(subscription, { code: "disconnected" });
    assert.equal(client.state, State.Closed);
    assert.deepEqual(named("closed").map((e) => e.code), [1000]);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(server.connections.length, 1);
  });
});

describe("heartbeat and the 10-minute idle timeout", () => {
  test("pings before ten quiet minutes pass, and stays open when answered", async (t) => {
    const { client, server, named, tick } = await connected(t);
    await tick(DEFAULTS.pingInterval - 1);
    assert.equal(server.last.actions("ping").length, 0);
    await tick(1);
    assert.equal(server.last.actions("ping").length, 1);
    await tick(10 * MINUTE - DEFAULTS.pingInterval);
    assert.ok(DEFAULTS.pingInterval < 10 * MINUTE);
    assert.equal(server.last.actions("ping").length, 2);
    assert.equal(server.connections.length, 1);
    assert.equal(named("reconnecting").length, 0);
    client.disconnect();
  });

  test("anything the client sends postpones the ping", async (t) => {
    const { client, server, tick } = await connected(t);
    await tick(4 * MINUTE);
    client.send({ action: "subscribe", topic: "x" });
    await tick(4 * MINUTE);
    assert.equal(server.last.actions("ping").length, 0);
    await tick(1 * MINUTE);
    assert.equal(server.last.actions("ping").length, 1);
    client.disconnect();
  });

  test("no answer to a ping: the connection is treated as dead and replaced", async (t) => {
    const server = new FakeServer({ answerPings: false });
    const { client, named, tick } = await connected(t, { server });
    await tick(DEFAULTS.pingInterval);
    await tick(DEFAULTS.timeout);
    assert.equal(named("reconnecting")[0].code, HEARTBEAT_TIMEOUT_CODE);
    assert.equal(server.connections[0].closedWith.code, HEARTBEAT_TIMEOUT_CODE);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(client.state, State.Open);
    assert.equal(server.connections.length, 2);
    client.disconnect();
  });
});

describe("the 2-hour limit", () => {
  /** Connected (accepting connections by hand), subscribed to `topics`, at the rotation time. */
  async function atRotation(t, topics) {
    const server = new FakeServer({ autoAccept: false });
    const context = setup(t, { server });
    context.client.connect();
    await flush();
    server.last.accept();
    for (const topic of topics) context.client.subscribe(topic);
    await flush();
    await context.tick(DEFAULTS.rotateAfter);
    assert.ok(DEFAULTS.rotateAfter < 120 * MINUTE);
    return context;
  }

  test("opens a replacement before two hours, overlapping, then closes the old one", async (t) => {
    const { client, server, named, tick } = await atRotation(t, ["news"]);
    assert.equal(server.connections.length, 2);
    const [first, second] = server.connections;
    // While the replacement connects, the old connection still delivers.
    first.deliver(envelope({ data: "during" }));
    second.accept();
    await flush();
    assert.deepEqual(second.actions("subscribe").map((f) => f.topic), ["news"]);
    assert.equal(first.closedWith.code, 1000);
    assert.equal(first.closedWith.reason, "replaced before the 2-hour limit");
    assert.equal(client.state, State.Open);
    assert.equal(named("reconnecting").length, 0);
    assert.equal(named("rotated").length, 1);
    assert.equal(second.actions("resume").length, 0);
    second.deliver(envelope({ data: "after" }));
    await flush();
    assert.deepEqual(named("push").map((p) => p.data), ["during", "after"]);
    // The next rotation is counted from the new connection.
    await tick(DEFAULTS.rotateAfter);
    assert.equal(server.connections.length, 3);
    client.disconnect();
  });

  test("a push delivered on both connections during the overlap arrives once", async (t) => {
    const { client, server, named } = await atRotation(t, ["news"]);
    const [first, second] = server.connections;
    const both = envelope();
    second.accept();
    first.deliver(both); // old connection, before it is closed
    second.deliver(both);
    await flush();
    assert.equal(named("push").length, 1);
    client.disconnect();
  });

  test("a failed replacement keeps the old connection and is retried", async (t) => {
    const { client, server, named, tick } = await atRotation(t, []);
    server.connections[1].refuse();
    await flush();
    assert.equal(client.state, State.Open);
    assert.equal(server.connections[0].readyState, 1);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(server.connections.length, 3);
    server.connections[2].accept();
    await flush();
    assert.equal(server.connections[0].closedWith.code, 1000);
    assert.equal(named("reconnecting").length, 0);
    client.disconnect();
  });
});

describe("subscriptions", () => {
  test("resolves on the server's confirmation and re-subscribes after a reconnect", async (t) => {
    const { client, server, named, tick } = await connected(t);
    assert.deepEqual(await client.subscribe("news"), { topic: "news" });
    client.subscribe("sports");
    await flush();
    server.last.drop(1001);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(server.last.actions("subscribe").map((f) => f.topic), ["news", "sports"]);
    assert.deepEqual(client.topics, ["news", "sports"]);
    assert.equal(named("subscribed").length, 4);
    client.unsubscribe("sports");
    assert.deepEqual(server.last.actions("unsubscribe"), [{ action: "unsubscribe", topic: "sports" }]);
    server.last.drop(1001);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(server.last.actions("subscribe").map((f) => f.topic), ["news"]);
    client.disconnect();
  });

  test("subscribing before connecting sends the subscription on open", async (t) => {
    const { client, server } = setup(t);
    const confirmed = client.subscribe("early");
    client.connect();
    assert.deepEqual(await confirmed, { topic: "early" });
    assert.deepEqual(server.last.actions("subscribe"), [{ action: "subscribe", topic: "early" }]);
    client.disconnect();
  });

  test("a forbidden topic is a subscription error and is not re-subscribed", async (t) => {
    const server = new FakeServer({ allowTopic: (topic) => !topic.startsWith("admin") });
    const { client, named, tick } = await connected(t, { server });
    await assert.rejects(client.subscribe("admin.audit"), { code: "forbidden_topic", topic: "admin.audit" });
    assert.deepEqual(named("subscriptionError").map((e) => [e.topic, e.code]), [["admin.audit", "forbidden_topic"]]);
    assert.equal(named("error").length, 0);
    client.subscribe("news");
    await flush();
    server.last.drop(1001);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(server.last.actions("subscribe").map((f) => f.topic), ["news"]);
    client.disconnect();
  });

  test("a rate_limited subscribe is sent again after retryAfter and then resolves", async (t) => {
    let answered = 0;
    const server = new FakeServer({
      subscribeReplies: (frame) =>
        ++answered === 1
          ? [{ type: "error", code: "rate_limited", action: "subscribe", topic: frame.topic, retryAfter: 2, message: "spent" }]
          : [{ type: "subscribed", topic: frame.topic }],
    });
    const { client, named, tick } = await connected(t, { server });
    let settled = null;
    client.subscribe("news").then((value) => (settled = value));
    await flush();
    assert.equal(server.last.actions("subscribe").length, 1);
    await tick(1999);
    assert.equal(server.last.actions("subscribe").length, 1);
    assert.equal(settled, null);
    await tick(1);
    await flush();
    assert.equal(server.last.actions("subscribe").length, 2);
    assert.deepEqual(settled, { topic: "news" });
    assert.deepEqual(client.topics, ["news"]);
    assert.equal(named("subscriptionError").length + named("error").length, 0);
    client.disconnect();
  });

  test("a rate_limited subscribe of a topic unsubscribed meanwhile is not sent again", async (t) => {
    const server = new FakeServer({
      subscribeReplies: (frame) => [
        { type: "error", code: "rate_limited", action: "subscribe", topic: frame.topic, retryAfter: 1, message: "spent" },
      ],
    });
    const { client, tick } = await connected(t, { server });
    client.subscribe("news").catch(() => {});
    await flush();
    client.unsubscribe("news");
    await tick(5000);
    assert.equal(server.last.actions("subscribe").length, 1);
    client.disconnect();
  });

  test("an invalid topic is refused before anything is sent", async (t) => {
    const { client, server } = await connected(t);
    for (const topic of ["", "has space", "x".repeat(129), 42]) {
      assert.throws(() => client.subscribe(topic), { code: "invalid_topic" });
    }
    assert.equal(server.last.actions("subscribe").length, 0);
    client.disconnect();
  });
});

describe("pushes", () => {
  test("each envelope id is delivered once", async (t) => {
    const { client, server, named } = await connected(t);
    const first = envelope({ type: "order.shipped", data: { orderId: "o-1" } });
    server.last.deliver(first);
    server.last.deliver(first);
    server.last.deliver(envelope());
    await flush();
    assert.equal(named("push").length, 2);
    const [push] = named("push");
    assert.deepEqual(
      { id: push.id, type: push.type, data: push.data, channel: push.channel },
      { id: first.id, type: "order.shipped", data: { orderId: "o-1" }, channel: null },
    );
    client.disconnect();
  });

  test("the dedupe window forgets the oldest ids", async (t) => {
    const { client, server, named } = await connected(t, { dedupeWindow: 2 });
    const [a, b, c] = [envelope(), envelope(), envelope()];
    for (const frame of [a, b, c, a]) server.last.deliver(frame);
    await flush();
    assert.deepEqual(named("push").map((p) => p.id), [a.id, b.id, c.id, a.id]);
    client.disconnect();
  });

  test("replies, error frames and API Gateway's own answers are not pushes", async (t) => {
    const { client, server, named } = await connected(t);
    server.last.deliver({ type: "error", code: "malformed_json", message: "bad" });
    server.last.deliver({ message: "Internal server error", connectionId: "abc=", requestId: "r" });
    server.last.deliver("not json");
    await flush();
    assert.equal(named("push").length, 0);
    assert.deepEqual(named("error").map((e) => [e.type, e.code]), [
      ["server", "malformed_json"],
      ["server", null],
      ["protocol", undefined],
    ]);
    client.disconnect();
  });
});

describe("the 32 KB frame limit", () => {
  test("refuses a larger frame with a clear error and sends nothing", async (t) => {
    const { client, server } = await connected(t);
    const overhead = JSON.stringify({ action: "x", data: "" }).length;
    client.send({ action: "x", data: "a".repeat(MAX_FRAME_BYTES - overhead) });
    assert.throws(
      () => client.send({ action: "x", data: "a".repeat(MAX_FRAME_BYTES - overhead + 1) }),
      (error) =>
        error instanceof FrameTooLargeError &&
        error.code === "frame_too_large" &&
        error.bytes === MAX_FRAME_BYTES + 1 &&
        /32768 bytes/.test(error.message),
    );
    // Bytes, not characters: 'é' is two bytes in UTF-8.
    assert.throws(() => client.send({ action: "x", data: "é".repeat(MAX_FRAME_BYTES / 2) }), FrameTooLargeError);
    assert.equal(server.last.actions("x").length, 1);
    client.disconnect();
  });

  test("sending while not connected is an error", (t) => {
    const { client } = setup(t);
    assert.throws(() => client.send({ action: "ping" }), { code: "not_connected" });
  });
});

describe("resume", () => {
  const positioned = (channel, seq, epoch = "e1") => envelope({ channel, seq, epoch });

  let resumeFrames;
  beforeEach(() => {
    resumeFrames = [];
  });

  test("remembers {seq, epoch} per channel and asks for what it missed after a reconnect", async (t) => {
    const server = new FakeServer({
      resumeReplies: (frame) => {
        resumeFrames.push(frame);
        return [positioned("topic:news", 42), { type: "resumed", channels: { "topic:news": 42 } }];
      },
    });
    const { client, named, tick } = await connected(t, { server });
    client.subscribe("news");
    // A push to the connection itself is delivered but not remembered: the next
    // connection may not resume the old one's channel.
    const own = positioned("connection:abc", 3);
    for (const frame of [positioned("topic:news", 40), positioned("topic:news", 41), positioned("entity:alice", 7, "e9"), own]) {
      server.last.deliver(frame);
    }
    await flush();
    assert.equal(server.last.actions("resume").length, 0);
    assert.deepEqual(client.positions(), {
      "topic:news": { seq: 41, epoch: "e1" },
      "entity:alice": { seq: 7, epoch: "e9" },
    });
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(resumeFrames, [
      { action: "resume", since: { "topic:news": 41, "entity:alice": 7 }, epochs: { "topic:news": "e1", "entity:alice": "e9" } },
    ]);
    // Subscriptions go first, so nothing published after the resume point is missed.
    assert.deepEqual(server.last.sent.map((f) => f.action), ["subscribe", "resume"]);
    assert.deepEqual(named("push").map((p) => p.seq), [40, 41, 7, 3, 42]);
    assert.deepEqual(named("resumed").map((e) => e.channels), [{ "topic:news": 42 }]);
    assert.equal(client.positions()["topic:news"].seq, 42);
    client.disconnect();
  });

  test("a replay cut short (more) is asked for again until the server has sent everything", async (t) => {
    const server = new FakeServer({
      resumeReplies: (frame) => {
        resumeFrames.push(frame);
        if (resumeFrames.length === 1) {
          return [positioned("topic:news", 4), { type: "resumed", channels: { "topic:news": 4 }, epochs: { "topic:news": "e1" }, more: ["topic:news"] }];
        }
        return [positioned("topic:news", 5), { type: "resumed", channels: { "topic:news": 5 }, epochs: { "topic:news": "e1" }, more: [] }];
      },
    });
    const { client, named, tick } = await connected(t, { server });
    server.last.deliver(positioned("topic:news", 3));
    await flush();
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    await flush();
    assert.deepEqual(resumeFrames.map((f) => f.since), [{ "topic:news": 3 }, { "topic:news": 4 }]);
    assert.deepEqual(resumeFrames[1].epochs, { "topic:news": "e1" });
    assert.deepEqual(named("push").map((p) => p.seq), [3, 4, 5]);
    assert.deepEqual(named("resumed").map((e) => e.channels), [{ "topic:news": 5 }]);
    client.disconnect();
  });

  test("a rate_limited resume is asked again after retryAfter, from the same numbers", async (t) => {
    const server = new FakeServer({
      resumeReplies: (frame) => {
        resumeFrames.push(frame);
        if (resumeFrames.length === 1) {
          return [{ type: "error", code: "rate_limited", action: "resume", retryAfter: 3, message: "spent" }];
        }
        return [positioned("topic:news", 8), { type: "resumed", channels: { "topic:news": 8 }, epochs: { "topic:news": "e1" }, more: [] }];
      },
    });
    const { client, named, tick } = await connected(t, { server });
    server.last.deliver(positioned("topic:news", 7));
    await flush();
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    await flush();
    const afterReconnect = resumeFrames.length;
    await tick(2999);
    assert.equal(resumeFrames.length, afterReconnect);
    await tick(1);
    await flush();
    assert.deepEqual(resumeFrames.map((f) => f.since), [{ "topic:news": 7 }, { "topic:news": 7 }]);
    assert.deepEqual(named("push").map((p) => p.seq), [7, 8]);
    assert.deepEqual(named("resumed").map((e) => e.channels), [{ "topic:news": 8 }]);
    assert.deepEqual(named("error").filter((e) => e.type === "server"), []);
    client.disconnect();
  });

  test("a gap in the server's history is surfaced so the application reloads", async (t) => {
    const server = new FakeServer({
      resumeReplies: () => [{ type: "resume_gap", channel: "topic:news", oldest: 90 }],
    });
    const { client, named, tick } = await connected(t, { server });
    server.last.deliver(positioned("topic:news", 3));
    await flush();
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(named("resumeGap").map(({ channel, oldest, reason }) => ({ channel, oldest, reason })), [
      { channel: "topic:news", oldest: 90, reason: "history" },
    ]);
    assert.equal(named("error").filter((e) => e.type === "server").length, 0);
    client.disconnect();
  });

  test("a server without resume answers unknown_action: handled, reported as gaps", async (t) => {
    const server = new FakeServer({ resume: "unknown" });
    const { client, named, tick } = await connected(t, { server });
    server.last.deliver(positioned("topic:news", 3));
    server.last.deliver(positioned("broadcast", 8));
    await flush();
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.equal(client.state, State.Open);
    assert.deepEqual(named("resumeGap").map((e) => [e.channel, e.reason]), [
      ["topic:news", "unsupported"],
      ["broadcast", "unsupported"],
    ]);
    assert.equal(named("error").filter((e) => e.type === "server").length, 0);
    // A later unknown_action on the same connection is an ordinary error again.
    server.last.deliver({ type: "error", code: "unknown_action", message: "unknown action 'x'" });
    await flush();
    assert.equal(named("error").filter((e) => e.type === "server").length, 1);
    client.disconnect();
  });

  test("resume: false never sends resume; positions given up front resume on first connect", async (t) => {
    const off = await connected(t, { resume: false, positions: { "topic:news": { seq: 5, epoch: "e1" } } });
    off.server.last.drop(1006);
    await off.tick(DEFAULTS.maxReconnectDelay);
    assert.equal(off.server.connections.flatMap((c) => c.actions("resume")).length, 0);
    off.client.disconnect();

    const server = new FakeServer();
    const client = new WspushClient(WS_URL, { websocket: server.WebSocket, positions: { "topic:news": { seq: 5, epoch: "e1" } } });
    client.connect();
    await flush();
    assert.deepEqual(server.last.actions("resume"), [
      { action: "resume", since: { "topic:news": 5 }, epochs: { "topic:news": "e1" } },
    ]);
    client.disconnect();
  });

  test("more than 32 channels are resumed in chunks, one request at a time, each with its own more", async (t) => {
    // 31 topics, the entity and broadcast: one request would be refused (invalid_resume).
    const positions = {};
    for (let i = 0; i < 31; i += 1) positions[`topic:t${i}`] = { seq: i + 1, epoch: "e1" };
    positions["entity:alice"] = { seq: 7, epoch: "e9" };
    positions.broadcast = { seq: 1, epoch: "e1" };
    let broadcastRounds = 0;
    const server = new FakeServer({
      resumeReplies: (frame) => {
        resumeFrames.push(frame);
        if (!("broadcast" in frame.since)) return server.resume(frame);
        broadcastRounds += 1;
        if (broadcastRounds === 1) {
          return [positioned("broadcast", 2), { type: "resumed", channels: { ...frame.since, broadcast: 2 }, epochs: { broadcast: "e1" }, more: ["broadcast"] }];
        }
        return [positioned("broadcast", 3), { type: "resumed", channels: { broadcast: 3 }, epochs: { broadcast: "e1" }, more: [] }];
      },
    });
    const { client, named } = await connected(t, { server, positions });
    await flush();
    assert.deepEqual(resumeFrames.map((f) => Object.keys(f.since).length), [32, 1, 1]);
    assert.deepEqual(
      Object.keys({ ...resumeFrames[0].since, ...resumeFrames[1].since }).sort(),
      Object.keys(positions).sort(),
    );
    assert.deepEqual(resumeFrames[0].epochs["entity:alice"], "e9");
    assert.deepEqual(resumeFrames[2], { action: "resume", since: { broadcast: 2 }, epochs: { broadcast: "e1" } });
    assert.deepEqual(named("push").map((p) => p.seq), [2, 3]);
    assert.equal(named("error").length, 0);
    assert.equal(named("resumeGap").length, 0);
    // One resumed once every chunk is complete, with where every channel stands.
    assert.equal(named("resumed").length, 1);
    assert.deepEqual(named("resumed")[0].channels, Object.fromEntries(
      Object.entries(positions).map(([channel, p]) => [channel, channel === "broadcast" ? 3 : p.seq]),
    ));
    client.disconnect();
  });

  test("a resume refused for a channel the token no longer grants is a gap for its channels, once", async (t) => {
    const server = new FakeServer({ allowChannel: (channel) => channel !== "topic:old" });
    const positions = {
      "topic:news": { seq: 4, epoch: "e1" },
      "topic:old": { seq: 9, epoch: "e1" },
      "entity:alice": { seq: 2, epoch: "e9" },
    };
    const { client, named, tick } = await connected(t, { server, positions });
    await flush();
    assert.deepEqual(server.last.actions("resume").map((f) => Object.keys(f.since)), [["topic:news", "topic:old", "entity:alice"]]);
    // Nothing was replayed: every channel of the request may have missed pushes.
    assert.deepEqual(named("resumeGap").map(({ channel, oldest, reason }) => [channel, oldest, reason]), [
      ["topic:news", null, "refused"],
      ["topic:old", null, "refused"],
      ["entity:alice", null, "refused"],
    ]);
    assert.deepEqual(named("error").map((e) => [e.type, e.code]), [["server", "forbidden_channel"]]);
    assert.equal(named("resumed").length, 0);
    // The refused channel is forgotten, so the next reconnect resumes the others.
    assert.deepEqual(Object.keys(client.positions()), ["topic:news", "entity:alice"]);
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(server.last.actions("resume").map((f) => Object.keys(f.since)), [["topic:news", "entity:alice"]]);
    assert.equal(named("resumeGap").length, 3);
    assert.deepEqual(named("resumed").map((e) => e.channels), [{ "topic:news": 4, "entity:alice": 2 }]);
    client.disconnect();
  });

  test("a resume refused without naming a channel is a gap for each channel of that request", async (t) => {
    const server = new FakeServer({
      resumeReplies: () => [{ type: "error", code: "invalid_resume", message: "at most 32 channels per resume" }],
    });
    const positions = { "topic:news": { seq: 4, epoch: "e1" }, broadcast: { seq: 8, epoch: "e2" } };
    const { client, named } = await connected(t, { server, positions });
    await flush();
    assert.deepEqual(named("resumeGap").map((e) => [e.channel, e.reason]), [
      ["topic:news", "refused"],
      ["broadcast", "refused"],
    ]);
    assert.deepEqual(client.positions(), positions);
    // The resume is over: a later unknown_action is an ordinary error, not another gap.
    server.last.deliver({ type: "error", code: "unknown_action", message: "unknown action 'x'" });
    await flush();
    assert.equal(named("resumeGap").length, 2);
    assert.deepEqual(named("error").map((e) => e.code), ["invalid_resume", "unknown_action"]);
    client.disconnect();
  });

  test("resumed moves positions to a newer epoch or an expired history, so a gap is not repeated", async (t) => {
    // As wspush answers: a channel with nothing kept is 0 without an epoch, and a gap only
    // when the client claims a seq or an epoch.
    const latest = { "topic:news": null, "topic:sport": { seq: 7, epoch: "e2" }, "entity:alice": { seq: 3, epoch: "e9" } };
    const server = new FakeServer({
      resumeReplies: (frame) => {
        resumeFrames.push(frame);
        const replies = [];
        const channels = {};
        const epochs = {};
        for (const [channel, seen] of Object.entries(frame.since)) {
          const position = latest[channel];
          if (!position) {
            if (seen > 0 || channel in frame.epochs) replies.push({ type: "resume_gap", channel, oldest: null });
            channels[channel] = 0;
            continue;
          }
          if (frame.epochs[channel] !== position.epoch) replies.push({ type: "resume_gap", channel, oldest: null });
          channels[channel] = position.seq;
          epochs[channel] = position.epoch;
        }
        return [...replies, { type: "resumed", channels, epochs, more: [] }];
      },
    });
    const positions = {
      "topic:news": { seq: 41, epoch: "e1" },
      "topic:sport": { seq: 50, epoch: "e1" },
      "entity:alice": { seq: 5, epoch: "e9" }, // ahead of the reply: a live push came first
    };
    const { client, named, tick } = await connected(t, { server, positions });
    await flush();
    assert.deepEqual(named("resumeGap").map((e) => e.channel), ["topic:news", "topic:sport"]);
    assert.deepEqual(client.positions(), {
      "topic:news": { seq: 0, epoch: null },
      "topic:sport": { seq: 7, epoch: "e2" },
      "entity:alice": { seq: 5, epoch: "e9" },
    });
    server.last.drop(1006);
    await tick(DEFAULTS.maxReconnectDelay);
    assert.deepEqual(resumeFrames[1], {
      action: "resume",
      since: { "topic:news": 0, "topic:sport": 7, "entity:alice": 5 },
      epochs: { "topic:sport": "e2", "entity:alice": "e9" },
    });
    assert.equal(named("resumeGap").length, 2);
    // The channel starts again: its first push takes the new epoch.
    server.last.deliver(positioned("topic:news", 1, "e3"));
    await flush();
    assert.deepEqual(client.positions()["topic:news"], { seq: 1, epoch: "e3" });
    client.disconnect();
  });

  test("a new epoch replaces the position even with a lower seq; unsubscribe forgets it", async (t) => {
    const { client, server } = await connected(t);
    client.subscribe("news");
    server.last.deliver(positioned("topic:news", 50, "e1"));
    server.last.deliver(positioned("topic:news", 2, "e2"));
    await flush();
    assert.deepEqual(client.positions()["topic:news"], { seq: 2, epoch: "e2" });
    client.unsubscribe("news");
    assert.deepEqual(client.positions(), {});
    client.disconnect();
  });
});

test("a throwing listener does not break the client", async (t) => {
  const reported = [];
  const { client, server, named } = setup(t, {
    onListenerError: (error, event) => reported.push([error.message, event]),
  });
  client.on("open", () => {
    throw new Error("listener bug");
  });
  client.connect();
  await flush();
  assert.equal(client.state, State.Open);
  assert.equal(named("open").length, 1);
  assert.deepEqual(reported, [["listener bug", "open"]]);
  server.last.deliver(envelope());
  await flush();
  assert.equal(named("push").length, 1);
  client.disconnect();
});

test("the type declarations declare exactly the module's exports", async () => {
  const { readFile } = await import("node:fs/promises");
  const declarations = await readFile(new URL("./index.d.ts", import.meta.url), "utf8");
  const declared = [...declarations.matchAll(/^export declare (?:const|class|function) (\w+)/gm)].map((m) => m[1]);
  const runtime = Object.keys(await import("./index.js"));
  assert.deepEqual(declared.sort(), runtime.sort());
});
