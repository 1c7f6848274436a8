/**
 * An in-memory WebSocket server for the client's tests: a `WebSocket` class to inject,
 * connections the test can accept, refuse, push to and drop, and a server that answers
 * `ping`, `subscribe`, `unsubscribe`, `publish`, `presence`, `ack` and (optionally) `resume`
 * as wspush does. Events are
 * delivered on a later microtask, like a real socket's.
 */

/** wspush's limit on the channels of one resume request. */
const MAX_RESUME_CHANNELS = 32;

export class FakeServer {
  /**
   * @param {object} [options]
   * @param {boolean} [options.autoAccept=true] open every connection at once
   * @param {"supported"|"unknown"} [options.resume="supported"] how `resume` is answered
   * @param {(topic: string) => boolean} [options.allowTopic] false: `forbidden_topic`
   * @param {(frame: object) => object[]} [options.subscribeReplies] the frames a subscribe is answered with
   * @param {(channel: string) => boolean} [options.allowChannel] false: a `resume` naming the
   *   channel is refused whole with `forbidden_channel`, as wspush does
   * @param {boolean} [options.answerPings=true]
   * @param {(frame: object) => object[]} [options.publishReplies] the frames a publish is
   *   answered with (default `published`, numbered per topic)
   * @param {(topic: string) => object[]} [options.members] the presence answer's entities
   */
  constructor(options = {}) {
    this.options = { autoAccept: true, resume: "supported", answerPings: true, ...options };
    this.connections = [];
    this.seqs = new Map(); // topic -> the last seq a publish was numbered
    const server = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url, protocols) {
        this.url = url;
        this.protocols = protocols ?? [];
        this.readyState = 0;
        this.sent = [];
        this.closedWith = null;
        this.onopen = this.onmessage = this.onclose = this.onerror = null;
        server.connections.push(this);
        if (server.options.autoAccept) later(() => this.accept());
      }

      send(text) {
        if (this.readyState !== 1) throw new Error(`send while readyState ${this.readyState}`);
        const frame = JSON.parse(text);
        this.sent.push(frame);
        for (const reply of server.answer(frame)) later(() => this.deliver(reply));
      }

      close(code = 1000, reason = "") {
        if (this.readyState >= 2) return;
        this.closedWith = { code, reason };
        this.readyState = 3;
        later(() => this.onclose?.({ code, reason, wasClean: true }));
      }

      // --- what the test does as the server ---
      accept() {
        if (this.readyState !== 0) return;
        this.readyState = 1;
        this.onopen?.({});
      }

      refuse() {
        this.readyState = 3;
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: "", wasClean: false });
      }

      deliver(frame) {
        if (this.readyState === 1) this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
      }

      drop(code = 1001, reason = "Going away") {
        this.readyState = 3;
        this.onclose?.({ code, reason, wasClean: code !== 1006 });
      }

      /** The frames this connection sent with this action. */
      actions(action) {
        return this.sent.filter((frame) => frame.action === action);
      }
    };
  }

  answer(frame) {
    switch (frame.action) {
      case "ping":
        return this.options.answerPings ? [{ type: "pong" }] : [];
      case "subscribe":
        if (this.options.subscribeReplies) return this.options.subscribeReplies(frame);
        if (this.options.allowTopic && !this.options.allowTopic(frame.topic)) {
          return [{ type: "error", code: "forbidden_topic", topic: frame.topic, message: "not allowed" }];
        }
        return [{ type: "subscribed", topic: frame.topic }];
      case "unsubscribe":
        return [{ type: "unsubscribed", topic: frame.topic }];
      case "publish": {
        if (this.options.publishReplies) return this.options.publishReplies(frame);
        const seq = (this.seqs.get(frame.topic) ?? 0) + 1;
        this.seqs.set(frame.topic, seq);
        return [{ type: "published", topic: frame.topic, id: frame.id, seq }];
      }
      case "presence": {
        const entities = this.options.members?.(frame.topic) ?? [];
        return [{ type: "presence", topic: frame.topic, entities, connections: entities.length, truncated: false }];
      }
      case "ack":
        return [{ type: "acked", id: frame.id }];
      case "resume":
        if (this.options.resume === "unknown") {
          return [{ type: "error", code: "unknown_action", message: "unknown action 'resume'; known actions: ping, subscribe, unsubscribe" }];
        }
        return this.options.resumeReplies?.(frame) ?? this.resume(frame);
      default:
        return [{ type: "error", code: "unknown_action", message: "unknown action" }];
    }
  }

  /** wspush's checks on a resume request (limit, then each channel), else every channel as it stands. */
  resume(frame) {
    const channels = Object.keys(frame.since ?? {});
    if (channels.length > MAX_RESUME_CHANNELS) {
      return [{ type: "error", code: "invalid_resume", message: `at most ${MAX_RESUME_CHANNELS} channels per resume` }];
    }
    const forbidden = channels.find((channel) => this.options.allowChannel && !this.options.allowChannel(channel));
    if (forbidden) {
      return [{ type: "error", code: "forbidden_channel", message: `this connection may not read '${forbidden}'` }];
    }
    return [{ type: "resumed", channels: frame.since }];
  }

  /** The newest connection. */
  get last() {
    return this.connections.at(-1);
  }

  /** Open connections. */
  get open() {
    return this.connections.filter((c) => c.readyState === 1);
  }
}

function later(fn) {
  queueMicrotask(fn);
}

/** Let queued microtasks and awaited promises run (real setImmediate, not the mocked timers). */
export async function flush(rounds = 5) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

let counter = 0;

/** A pushed envelope, as the push function builds it. */
export function envelope(fields = {}) {
  counter += 1;
  return {
    type: "notification",
    id: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    ts: "2026-11-21T10:00:00.000Z",
    data: { n: counter },
    ...fields,
  };
}
