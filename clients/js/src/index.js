/**
 * wspush client: one long-lived, self-healing subscription to a wspush WebSocket API.
 *
 * - connects with the token as a subprotocol (`["wspush", token]`), calling `getToken()` on
 *   every (re)connect so an expired token is replaced;
 * - reconnects with capped exponential backoff and full jitter;
 * - pings before API Gateway's 10-minute idle timeout and opens an overlapping replacement
 *   connection before its 2-hour limit, so no push is missed while it switches;
 * - re-subscribes after every reconnect, asks the server to replay what it missed (`resume`),
 *   and delivers each envelope `id` once;
 * - refuses to send a frame over API Gateway's 32 KB frame limit;
 * - subscribes to patterns (`room.*`) and hands each push to every subscription it matches;
 * - publishes to topics (`publish`), keeping the message id across a reconnect so a retry
 *   is never a second message, and settles each publish with the server's answer;
 * - keeps a live member list of presence topics (`members`) and acknowledges pushes that
 *   ask for a receipt.
 *
 * Every state change goes through one method and is announced as a `state` event
 * `{oldState, newState}` plus the event named after the new state. Every handler receives
 * one context object, so fields can be added without breaking callers.
 *
 * No runtime dependencies: pass `websocket` (for example the `ws` package's WebSocket) where
 * the platform has no global one.
 */

/** The connection states. */
export const State = Object.freeze({
  Closed: "closed",
  Connecting: "connecting",
  Open: "open",
  Reconnecting: "reconnecting",
});

/** API Gateway's WebSocket frame limit: a client frame must not exceed 32 KB. */
export const MAX_FRAME_BYTES = 32 * 1024;

/** The most channels the server resumes per request; more are asked for in several requests. */
export const MAX_RESUME_CHANNELS = 32;

/** The longest the client waits on a server's `retryAfter` before asking again. */
const MAX_RETRY_AFTER_SECONDS = 60;

/** Close code the client uses when a connection stops answering pings. */
export const HEARTBEAT_TIMEOUT_CODE = 4000;

const TOPIC = /^[A-Za-z0-9_.:/-]{1,128}$/;
// A subscribe pattern: `*` alone, or a prefix ending with a `.` or `/` separator, then `*`.
const PATTERN = /^(?:\*|[A-Za-z0-9_.:/-]{0,125}[A-Za-z0-9_:-][./]\*)$/;
// A message id: the push API's idempotency key alphabet.
const MESSAGE_ID = /^[A-Za-z0-9_.:@+=/-]{1,128}$/;
// The codes of a refused subscribe: an error naming a topic with another code, while a
// publish to that topic waits, is the publish's.
const SUBSCRIBE_CODES = new Set(["forbidden_topic", "too_many_subscriptions", "not_connected", "presence_full", "pattern_not_allowed"]);
// Errors about a frame as a whole (no topic): while a publish is in flight, they are its.
const FRAME_CODES = new Set(["too_large", "malformed_json", "invalid_message", "invalid_topic"]);
// How long to wait before asking again about a publish the server is still numbering.
const IN_PROGRESS_RETRY_MS = 1000;
const MEMBER_EVENTS = { member_joined: "memberJoined", member_left: "memberLeft" };
const WS_OPEN = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Defaults of every option, in milliseconds where they are durations. */
export const DEFAULTS = Object.freeze({
  minReconnectDelay: 1000,
  maxReconnectDelay: 30000,
  maxReconnectAttempts: Infinity,
  timeout: 10000,
  pingInterval: 5 * 60 * 1000,
  rotateAfter: 110 * 60 * 1000,
  resume: true,
  maxFrameBytes: MAX_FRAME_BYTES,
  dedupeWindow: 2000,
  publishTimeout: 30000,
  autoAck: true,
});

/** An error of the client itself; `code` says which. */
export class WspushError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = "WspushError";
    this.code = code;
    Object.assign(this, details);
  }
}

/** Thrown by `send` when the encoded frame is larger than the frame limit. */
export class FrameTooLargeError extends WspushError {
  constructor(bytes, limit) {
    super(
      "frame_too_large",
      `frame is ${bytes} bytes; API Gateway's WebSocket frame limit is ${limit} bytes`,
      { bytes, limit },
    );
    this.name = "FrameTooLargeError";
  }
}

/** True when `topic` is a subscribe pattern (`*`, `room.*`, `a/b/*`), not a topic name. */
export function isPattern(topic) {
  return typeof topic === "string" && topic.endsWith("*");
}

/**
 * True when the subscription `subscription` (a topic name or a pattern) covers the topic
 * `topic`: the same name, `*`, or a pattern whose prefix (before the `*`) starts the topic.
 * `room.*` covers `room.1` and `room.1.a`, not `room`.
 */
export function topicMatches(subscription, topic) {
  if (!isPattern(subscription)) return subscription === topic;
  const prefix = subscription.slice(0, -1);
  return topic.length > prefix.length && topic.startsWith(prefix);
}

/** A random message id (a UUID v4), from `crypto.getRandomValues`, which every runtime has. */
export function messageId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): full jitter, uniformly random
 * between 0 and `min(maxDelay, minDelay * 2^attempt)`.
 */
export function backoffDelay(attempt, minDelay, maxDelay, random = Math.random) {
  const ceiling = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** True when `frame` is a pushed envelope (it has an `id` and a `ts`), not a reply. */
export function isEnvelope(frame) {
  return typeof frame.id === "string" && typeof frame.ts === "string";
}

export class WspushClient {
  /**
   * @param {string} url the WebSocket URL, e.g. `wss://abc.execute-api.eu-west-1.amazonaws.com/prod`
   * @param {object} [options] see `ClientOptions` in index.d.ts
   */
  constructor(url, options = {}) {
    if (typeof url !== "string" || !/^wss?:\/\//.test(url)) {
      throw new TypeError(`url must be a ws:// or wss:// URL, got ${String(url)}`);
    }
    this.url = url;
    this.options = { ...DEFAULTS, ...options };
    this._WebSocket = options.websocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== "function") {
      throw new TypeError(
        "no WebSocket implementation: pass options.websocket (e.g. the `ws` package's WebSocket)",
      );
    }
    this._reportError =
      options.onListenerError ??
      ((error) =>
        queueMicrotask(() => {
          throw error; // reported like any uncaught error, after the client is consistent
        }));
    this._state = State.Closed;
    this._handlers = new Map();
    this._topics = new Map(); // topic or pattern -> {waiters: [{resolve, reject}], handlers, presence}
    this._publishes = new Map(); // message id -> {topic, frame, resolve, reject, timer, sentOn}
    this._members = new Map(); // topic -> {members: Map(entityId -> info), pending: [] | null}
    this._positions = new Map(); // channel -> {seq, epoch}
    for (const [channel, position] of Object.entries(options.positions ?? {})) {
      this._positions.set(channel, { seq: position.seq, epoch: position.epoch ?? null });
    }
    this._seenIds = new Set();
    this._seenOrder = [];
    this._current = null; // the transport pushes and sends use
    this._next = null; // a replacement being opened before the 2-hour limit
    this._attempt = 0;
    this._rotationAttempt = 0;
    this._reconnectTimer = null;
    this._rotationTimer = null;
    this._generation = 0;
    // Browsers announce a regained network: try at once instead of waiting out the backoff.
    this._onOnline = () => {
      if (this._state === State.Reconnecting && this._current === null) {
        clearTimeout(this._reconnectTimer);
        this._open("reconnect");
      }
    };
  }

  /** The current state (one of `State`). */
  get state() {
    return this._state;
  }

  /** The topics this client is subscribed to (or will subscribe to on connect). */
  get topics() {
    return [...this._topics.keys()];
  }

  /** The latest `{seq, epoch}` per channel: store it to resume after a page reload. */
  positions() {
    return Object.fromEntries([...this._positions].map(([channel, p]) => [channel, { ...p }]));
  }

  /** Listen to an event; returns a function that removes the listener. */
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }

  off(event, handler) {
    this._handlers.get(event)?.delete(handler);
  }

  /** Connect (and keep reconnecting until `disconnect`). Does nothing unless closed. */
  connect() {
    if (this._state !== State.Closed) return;
    this._attempt = 0;
    globalThis.addEventListener?.("online", this._onOnline);
    this._setState(State.Connecting, { attempt: 0 });
    this._open("connect");
  }

  /** Close for good: no reconnect. Pending subscribe promises are rejected. */
  disconnect(code = 1000, reason = "client disconnect") {
    if (this._state === State.Closed) return;
    this._stop();
    for (const transport of [this._current, this._next]) {
      if (transport) this._discard(transport, code, reason);
    }
    this._current = null;
    this._next = null;
    this._rejectWaiters("disconnected", (topic) => `disconnected before ${topic} was subscribed`);
    this._rejectPublishes("disconnected", "disconnected before the server answered");
    this._setState(State.Closed, { code, reason });
  }

  /**
   * Subscribe to a topic, now and after every reconnect. Resolves with `{topic}` once the
   * server confirms; rejects when the server refuses the topic (see `subscriptionError`).
   */
  subscribe(topic, { presence = false, onPush } = {}) {
    const pattern = isPattern(topic);
    if (typeof topic !== "string" || !(pattern ? PATTERN.test(topic) : TOPIC.test(topic))) {
      throw new WspushError(
        "invalid_topic",
        "topic must be 1-128 characters of letters, digits and _.:/-, or a pattern ending in " +
          `.* or /* (or * alone), got ${JSON.stringify(topic)}`,
      );
    }
    if (presence && pattern) {
      throw new WspushError("invalid_topic", `presence is kept per topic, not for the pattern ${topic}`);
    }
    if (onPush !== undefined && typeof onPush !== "function") throw new TypeError("onPush must be a function");
    let entry = this._topics.get(topic);
    if (!entry) {
      entry = { waiters: [], handlers: new Set(), presence: false };
      this._topics.set(topic, entry);
    }
    if (onPush) entry.handlers.add(onPush);
    if (presence && !entry.presence) {
      entry.presence = true;
      if (!this._members.has(topic)) this._members.set(topic, { members: new Map(), pending: null });
    }
    const confirmed = new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
    confirmed.catch(() => {}); // the error event reports it too; an ignored promise must not crash Node
    for (const transport of [this._current, this._next]) {
      if (transport?.opened) this._sendOn(transport, { action: "subscribe", topic });
    }
    return confirmed;
  }

  /**
   * Stop receiving a topic (or pattern); forget the resume positions and member lists of
   * the topics no other subscription covers.
   */
  unsubscribe(topic) {
    const entry = this._topics.get(topic);
    if (!entry) return;
    this._forget(topic);
    this._settle(entry, new WspushError("unsubscribed", `unsubscribed from ${topic}`));
    for (const transport of [this._current, this._next]) {
      if (transport?.opened) this._sendOn(transport, { action: "unsubscribe", topic });
    }
  }

  /**
   * Publish `data` to `topic` (the token must grant it in its `publish` claim). Resolves
   * with `{id, seq, topic}` once the server has numbered it; rejects with a `WspushError`
   * whose `code` is the server's (`forbidden`, `rate_limited` with `retryAfter`, `rejected`
   * with the hook's `reason`, `id_conflict`, `too_large`, ...) or the client's
   * (`invalid_topic`, `invalid_id`, `frame_too_large`, `not_connected` when closed,
   * `disconnected`, `gave_up`, `timeout`). Sent at once when open, else on the next open
   * connection; a publish unanswered when its connection is lost is sent again with the
   * same `id`, so the server numbers it once. `id` defaults to a random UUID.
   */
  publish(topic, data, { type, id, echo = false } = {}) {
    if (typeof topic !== "string" || !TOPIC.test(topic)) {
      return this._refused("invalid_topic", `publish needs a topic of 1-128 letters, digits and _.:/-, got ${JSON.stringify(topic)}`, topic);
    }
    if (id !== undefined && (typeof id !== "string" || !MESSAGE_ID.test(id))) {
      return this._refused("invalid_id", `id must be 1-128 letters, digits and _.:@+=/-, got ${JSON.stringify(id)}`, topic);
    }
    if (type !== undefined && typeof type !== "string") {
      return this._refused("invalid_type", "type must be a string", topic);
    }
    if (this._state === State.Closed) return this._refused("not_connected", "cannot publish while closed; connect() first", topic);
    const messageIdValue = id ?? messageId();
    if (this._publishes.has(messageIdValue)) {
      return this._refused("id_in_flight", `a publish with id ${messageIdValue} is already waiting for its answer`, topic);
    }
    const frame = { action: "publish", topic, data: data === undefined ? null : data, id: messageIdValue };
    if (type !== undefined) frame.type = type;
    if (echo) frame.echo = true;
    const bytes = encoder.encode(JSON.stringify(frame)).length;
    if (bytes > this.options.maxFrameBytes) return Promise.reject(new FrameTooLargeError(bytes, this.options.maxFrameBytes));
    const answered = new Promise((resolve, reject) => {
      const pending = { topic, frame, resolve, reject, sentOn: null };
      pending.timer = setTimeout(() => {
        this._publishes.delete(messageIdValue);
        reject(new WspushError("timeout", `no answer to publish ${messageIdValue} within ${this.options.publishTimeout} ms; publishing again with the same id is safe`, { topic, id: messageIdValue }));
      }, this.options.publishTimeout);
      this._publishes.set(messageIdValue, pending);
    });
    const transport = this._current;
    if (transport?.opened) this._sendPublish(transport, this._publishes.get(messageIdValue));
    return answered;
  }

  /**
   * The members of a presence topic, `[{entityId, info}]`: the `presence` answer the client
   * asks for when it subscribes with `{presence: true}` (and after each reconnect), kept
   * live by `memberJoined`/`memberLeft`. Empty for a topic not kept.
   */
  members(topic) {
    const kept = this._members.get(topic);
    return kept ? [...kept.members].map(([entityId, info]) => ({ entityId, info })) : [];
  }

  /**
   * Send one JSON message on the open connection. Throws `FrameTooLargeError` over the frame
   * limit and a `WspushError` with code `not_connected` when there is no open connection.
   */
  send(message) {
    const transport = this._current;
    if (!transport?.opened) {
      throw new WspushError("not_connected", `cannot send while ${this._state}`);
    }
    this._sendOn(transport, message);
  }

  // --- state machine ------------------------------------------------------------------------

  /** No more attempts: invalidate pending async work and timers. */
  _stop() {
    this._generation += 1;
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._rotationTimer);
    globalThis.removeEventListener?.("online", this._onOnline);
  }

  _setState(newState, context) {
    const oldState = this._state;
    if (oldState === newState) return;
    this._state = newState;
    this._emit("state", { oldState, newState });
    this._emit(newState, context);
  }

  _emit(event, context) {
    for (const handler of [...(this._handlers.get(event) ?? [])]) {
      try {
        handler(context);
      } catch (error) {
        // A failing listener must not break the connection logic.
        this._reportError(error, event);
      }
    }
  }

  // --- transports -------------------------------------------------------------------------

  async _open(reason) {
    const generation = this._generation;
    const transport = { reason, opened: false, openedAt: 0, timers: {}, resumePending: false, presenceAsked: new Set() };
    if (reason === "rotate") this._next = transport;
    else this._current = transport;
    let token;
    try {
      token = this.options.getToken ? await this.options.getToken({ reason }) : undefined;
    } catch (error) {
      if (generation !== this._generation || transport.discarded) return;
      this._emit("error", { type: "token", message: `getToken failed: ${error?.message ?? error}`, error });
      this._lost(transport, { code: 1006, reason: "getToken failed", reported: true });
      return;
    }
    if (generation !== this._generation || transport.discarded) return;
    let ws;
    try {
      ws = token ? new this._WebSocket(this.url, ["wspush", token]) : new this._WebSocket(this.url);
    } catch (error) {
      this._emit("error", { type: "connect", message: String(error?.message ?? error), error });
      this._lost(transport, { code: 1006, reason: "WebSocket constructor failed", reported: true });
      return;
    }
    transport.ws = ws;
    transport.timers.connect = setTimeout(() => {
      this._lost(transport, { code: 1006, reason: `no connection within ${this.options.timeout} ms` });
    }, this.options.timeout);
    ws.onopen = () => this._opened(transport);
    ws.onmessage = (event) => this._received(transport, event.data);
    ws.onclose = (event) => this._lost(transport, { code: event.code, reason: event.reason ?? "" });
    ws.onerror = () => {}; // a close event always follows, with the code
  }

  _opened(transport) {
    if (transport.discarded) return;
    clearTimeout(transport.timers.connect);
    transport.opened = true;
    transport.openedAt = Date.now();
    this._armHeartbeat(transport);
    if (transport.reason === "rotate") {
      this._startRotation(transport);
      return;
    }
    this._afterOpen(transport, { subscribe: true, resume: true });
    this._setState(State.Open, { reconnected: transport.reason === "reconnect" });
  }

  _afterOpen(transport, { subscribe, resume }) {
    this._rotationAttempt = 0;
    this._scheduleRotation(this.options.rotateAfter);
    if (subscribe) {
      for (const topic of this._topics.keys()) this._sendOn(transport, { action: "subscribe", topic });
    }
    if (resume) this._resume(transport);
    // Publishes not yet answered go (again) on this connection, with their ids.
    for (const pending of this._publishes.values()) {
      if (pending.sentOn !== transport) this._sendPublish(transport, pending);
    }
  }

  /**
   * Ask for what was missed, from the positions as they stand now (before any live push can
   * move them past what was missed), at most `MAX_RESUME_CHANNELS` channels per request. The
   * requests go one after the other: each is answered (`resumed`, possibly with `more`, or an
   * error) before the next is sent, so every answer belongs to the request in flight.
   */
  _resume(transport) {
    if (!this.options.resume || this._positions.size === 0) return;
    const requests = [];
    for (const [channel, { seq, epoch }] of this._positions) {
      if (requests.length === 0 || Object.keys(requests.at(-1).since).length === MAX_RESUME_CHANNELS) {
        requests.push({ since: {}, epochs: {} });
      }
      requests.at(-1).since[channel] = seq;
      if (typeof epoch === "string") requests.at(-1).epochs[channel] = epoch;
    }
    transport.resume = { requests, inFlight: null, channels: {}, replayed: false };
    transport.resumePending = true;
    this._resumeNext(transport);
  }

  /** Send the next resume request, or announce `resumed` once none is left. */
  _resumeNext(transport) {
    const resume = transport.resume;
    const request = resume.requests.shift();
    if (request) {
      this._sendResume(transport, request);
      return;
    }
    transport.resume = null;
    transport.resumePending = false;
    if (resume.replayed) this._emit("resumed", { channels: resume.channels });
  }

  _sendResume(transport, { since, epochs }) {
    transport.resume.inFlight = Object.keys(since);
    transport.resume.request = { since, epochs };
    this._sendOn(transport, { action: "resume", since, epochs });
  }

  /**
   * `rate_limited`: the connection's budget on the server is spent, and nothing was done.
   * A subscribe still wanted, or the resume request in flight, is sent again on the same
   * connection after `retryAfter` seconds (the subscribe promise stays pending). Returns
   * false for a refusal the client has nothing to retry for.
   */
  _retryLater(transport, frame) {
    const seconds = Number.isFinite(frame.retryAfter) && frame.retryAfter > 0 ? frame.retryAfter : 1;
    const delay = Math.min(seconds, MAX_RETRY_AFTER_SECONDS) * 1000;
    const retry = (name, send) => {
      clearTimeout(transport.timers[name]);
      transport.timers[name] = setTimeout(() => {
        delete transport.timers[name];
        if (!transport.discarded) send();
      }, delay);
    };
    if (frame.action === "resume" && transport.resume?.request) {
      const request = transport.resume.request;
      retry("resume", () => transport.resume && this._sendResume(transport, request));
      return true;
    }
    if (frame.action === "presence") {
      // wspush does not name the topic of a refused presence request: ask again for each unanswered.
      const topics = typeof frame.topic === "string" ? [frame.topic] : [...transport.presenceAsked];
      for (const topic of topics) {
        retry(`presence:${topic}`, () => {
          if (this._topics.get(topic)?.presence) this._askPresence(transport, topic);
        });
      }
      return topics.length > 0;
    }
    if (frame.action === "subscribe" && typeof frame.topic === "string") {
      const topic = frame.topic;
      retry(`subscribe:${topic}`, () => {
        if (this._topics.has(topic)) this._sendOn(transport, { action: "subscribe", topic });
      });
      return true;
    }
    return false;
  }

  /** A transport closed or failed: a rotation retries, the current connection reconnects. */
  _lost(transport, { code, reason, reported = false }) {
    if (transport.discarded) return;
    const wasOpen = transport.opened;
    this._discard(transport, code, reason);
    if (transport === this._next) {
      this._next = null;
      this._scheduleRotation(backoffDelay(this._rotationAttempt++, this.options.minReconnectDelay, this.options.maxReconnectDelay));
      return;
    }
    if (transport !== this._current) return; // an old connection after a rotation
    this._current = null;
    if (this._next) {
      this._discard(this._next, 1000, "replaced by a reconnect");
      this._next = null;
    }
    clearTimeout(this._rotationTimer);
    const message = wasOpen ? `connection closed (${code})` : `connection failed (${code})`;
    if (!reported && code !== 1000 && code !== 1001) {
      this._emit("error", { type: wasOpen ? "closed" : "connect", code, reason, message });
    }
    // A connection that stayed up resets the backoff; one dropped at once keeps growing it.
    if (wasOpen && Date.now() - transport.openedAt >= this.options.timeout) this._attempt = 0;
    if (this._attempt >= this.options.maxReconnectAttempts) {
      const gaveUp = `gave up after ${this._attempt} attempts`;
      this._stop();
      this._rejectWaiters("gave_up", (topic) => `${gaveUp} to connect; ${topic} was not subscribed`);
      this._rejectPublishes("gave_up", `${gaveUp} to connect`);
      this._setState(State.Closed, { code, reason: gaveUp });
      return;
    }
    const delay = backoffDelay(this._attempt, this.options.minReconnectDelay, this.options.maxReconnectDelay);
    this._attempt += 1;
    const generation = this._generation;
    const context = { code, reason, delay, attempt: this._attempt };
    // Each further failed attempt while reconnecting is announced too, without a state change.
    if (this._state === State.Reconnecting) this._emit(State.Reconnecting, context);
    else this._setState(State.Reconnecting, context);
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => {
      if (generation === this._generation) this._open("reconnect");
    }, delay);
  }

  /** Stop a transport's timers and handlers and close its socket. */
  _discard(transport, code, reason) {
    transport.discarded = true;
    for (const timer of Object.values(transport.timers)) clearTimeout(timer);
    const ws = transport.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      if (ws.readyState <= WS_OPEN) ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason.slice(0, 120));
    } catch {
      // already closing
    }
  }

  _sendOn(transport, message) {
    const text = JSON.stringify(message);
    const bytes = encoder.encode(text).length;
    if (bytes > this.options.maxFrameBytes) throw new FrameTooLargeError(bytes, this.options.maxFrameBytes);
    transport.ws.send(text);
    this._armHeartbeat(transport);
  }

  // --- heartbeat ----------------------------------------------------------------------------

  /** Ping after `pingInterval` without sending anything; no answer within `timeout`: reconnect. */
  _armHeartbeat(transport) {
    clearTimeout(transport.timers.ping);
    transport.timers.ping = setTimeout(() => {
      if (transport.discarded) return;
      this._sendOn(transport, { action: "ping" });
      clearTimeout(transport.timers.pong);
      transport.timers.pong = setTimeout(() => {
        this._lost(transport, { code: HEARTBEAT_TIMEOUT_CODE, reason: "no answer to ping" });
      }, this.options.timeout);
    }, this.options.pingInterval);
  }

  // --- the 2-hour limit ---------------------------------------------------------------------

  _scheduleRotation(delay) {
    clearTimeout(this._rotationTimer);
    this._rotationTimer = setTimeout(() => this._rotate(), delay);
  }

  _rotate() {
    if (this._state !== State.Open || this._next || !this._current) return;
    this._open("rotate");
  }

  /** The replacement is open: subscribe it, then switch once every topic is confirmed. */
  _startRotation(transport) {
    transport.pending = new Set(this._topics.keys());
    for (const topic of transport.pending) this._sendOn(transport, { action: "subscribe", topic });
    transport.timers.switch = setTimeout(() => this._switchTo(transport), this.options.timeout);
    if (transport.pending.size === 0) this._switchTo(transport);
  }

  _switchTo(transport) {
    if (transport.discarded || transport !== this._next) return;
    clearTimeout(transport.timers.switch);
    const old = this._current;
    const age = old ? Date.now() - old.openedAt : 0;
    this._current = transport;
    this._next = null;
    transport.reason = "rotated";
    if (old) this._discard(old, 1000, "replaced before the 2-hour limit");
    this._afterOpen(transport, { subscribe: false, resume: false }); // subscribed before the switch
    this._emit("rotated", { age });
  }

  // --- frames -------------------------------------------------------------------------------

  _received(transport, data) {
    if (transport.discarded) return;
    clearTimeout(transport.timers.pong); // any frame proves the connection alive
    let frame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : decoder.decode(data));
    } catch {
      this._emit("error", { type: "protocol", message: "received a frame that is not JSON" });
      return;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
      this._emit("error", { type: "protocol", message: "received a frame that is not a JSON object" });
      return;
    }
    this._emit("frame", { frame });
    if (isEnvelope(frame)) {
      this._push(transport, frame);
      return;
    }
    if (MEMBER_EVENTS[frame.type]) return this._member(frame);
    switch (frame.type) {
      case "pong":
      case "acked":
        return;
      case "published":
        return this._published(frame);
      case "presence":
        transport.presenceAsked.delete(frame.topic);
        return this._presence(frame);
      case "subscribed":
        return this._subscribed(transport, frame.topic);
      case "unsubscribed":
        return this._emit("unsubscribed", { topic: frame.topic });
      case "resumed":
        return this._resumed(transport, frame);
      case "resume_gap":
        return this._emit("resumeGap", { channel: frame.channel, oldest: frame.oldest ?? null, reason: "history" });
      case "error":
        return this._serverError(transport, frame);
      default:
        // API Gateway's own answers ({"message": "Forbidden" | "Internal server error", ...}).
        if (typeof frame.message === "string") {
          this._emit("error", { type: "server", code: null, message: frame.message });
        }
    }
  }

  _push(transport, envelope) {
    if (this._seenIds.has(envelope.id)) {
      this._ack(transport, envelope); // a copy: its first ack may have been lost with a connection
      return;
    }
    this._seenIds.add(envelope.id);
    this._seenOrder.push(envelope.id);
    while (this._seenOrder.length > this.options.dedupeWindow) {
      this._seenIds.delete(this._seenOrder.shift());
    }
    const { channel, seq, epoch } = envelope;
    // A connection's own channel ends with it: the next connection may not resume it.
    if (typeof channel === "string" && !channel.startsWith("connection:") && Number.isInteger(seq)) {
      const known = this._positions.get(channel);
      if (!known || known.epoch !== epoch || seq > known.seq) this._positions.set(channel, { seq, epoch });
    }
    if (MEMBER_EVENTS[envelope.type]) {
      this._member(envelope);
      return;
    }
    const topic = typeof channel === "string" && channel.startsWith("topic:") ? channel.slice(6) : null;
    const subscriptions = topic === null ? [] : [...this._topics.keys()].filter((s) => topicMatches(s, topic));
    const context = {
      id: envelope.id,
      type: envelope.type,
      ts: envelope.ts,
      data: envelope.data,
      channel: channel ?? null,
      seq: seq ?? null,
      epoch: epoch ?? null,
      topic,
      subscriptions,
      from: envelope.from !== null && typeof envelope.from === "object" ? envelope.from : null,
      envelope,
    };
    this._emit("push", context);
    // Each subscription the topic matches gets the push once, however many match.
    for (const subscription of subscriptions) {
      for (const handler of [...(this._topics.get(subscription)?.handlers ?? [])]) {
        try {
          handler(context);
        } catch (error) {
          this._reportError(error, "push");
        }
      }
    }
    this._ack(transport, envelope);
  }

  /** A push that asks for a receipt (`"ack": true`) is acknowledged on the connection it came on. */
  _ack(transport, envelope) {
    if (envelope.ack !== true || !this.options.autoAck || transport.discarded || !transport.opened) return;
    try {
      this._sendOn(transport, { action: "ack", id: envelope.id });
    } catch (error) {
      this._emit("error", { type: "protocol", message: `could not acknowledge ${envelope.id}: ${error?.message ?? error}`, error });
    }
  }

  // --- publish ------------------------------------------------------------------------------

  _refused(code, message, topic) {
    return Promise.reject(new WspushError(code, message, { topic }));
  }

  _sendPublish(transport, pending) {
    pending.sentOn = transport;
    this._sendOn(transport, pending.frame);
  }

  _published(frame) {
    const pending = this._publishes.get(frame.id);
    if (!pending) return; // answered already (a copy sent again after a reconnect)
    this._finishPublish(frame.id, pending);
    pending.resolve({ id: frame.id, seq: Number.isInteger(frame.seq) ? frame.seq : null, topic: frame.topic ?? pending.topic });
  }

  /**
   * The publish an error frame answers, or null: by its `id`; else, unless it is a refused
   * subscribe or presence request, the oldest publish in flight on the topic it names, or,
   * for an error about a frame as a whole, the oldest publish in flight.
   */
  _publishFor(transport, frame) {
    if (typeof frame.id === "string" && this._publishes.has(frame.id)) return frame.id;
    const code = frame.code ?? null;
    if (frame.action !== undefined && frame.action !== "publish") return null;
    if (frame.action === undefined && SUBSCRIBE_CODES.has(code)) return null;
    const inFlight = [...this._publishes].filter(([, p]) => p.sentOn === transport);
    if (typeof frame.topic === "string") return inFlight.find(([, p]) => p.topic === frame.topic)?.[0] ?? null;
    return FRAME_CODES.has(code) && inFlight.length > 0 ? inFlight[0][0] : null;
  }

  _publishRefused(id, frame) {
    const pending = this._publishes.get(id);
    this._finishPublish(id, pending);
    const details = { topic: pending.topic, id };
    if (frame.retryAfter !== undefined) details.retryAfter = frame.retryAfter;
    if (frame.reason !== undefined) details.reason = frame.reason;
    const reason = frame.reason?.message ? `: ${frame.reason.message}` : "";
    pending.reject(new WspushError(frame.code ?? "publish_error", `${frame.message || `publish to ${pending.topic} refused`}${reason}`, details));
  }

  /** `in_progress`: another attempt (sent before a reconnect) is being numbered; ask again in a second. */
  _publishAgain(id) {
    const pending = this._publishes.get(id);
    clearTimeout(pending.again);
    pending.again = setTimeout(() => {
      if (this._publishes.get(id) === pending && this._current?.opened) this._sendPublish(this._current, pending);
    }, IN_PROGRESS_RETRY_MS);
  }

  _finishPublish(id, pending) {
    clearTimeout(pending.timer);
    clearTimeout(pending.again);
    this._publishes.delete(id);
  }

  _rejectPublishes(code, message) {
    for (const [id, pending] of [...this._publishes]) {
      this._finishPublish(id, pending);
      pending.reject(new WspushError(code, `publish ${id}: ${message}`, { topic: pending.topic, id }));
    }
  }

  // --- presence -----------------------------------------------------------------------------

  _askPresence(transport, topic) {
    const kept = this._members.get(topic);
    if (kept) kept.pending = []; // events from now on are applied again over the answer
    transport.presenceAsked.add(topic);
    this._sendOn(transport, { action: "presence", topic });
  }

  /** The presence answer: the member list, then every event received since it was asked. */
  _presence(frame) {
    const kept = this._members.get(frame.topic);
    if (!kept || !Array.isArray(frame.entities)) return;
    const since = kept.pending ?? [];
    kept.members = new Map();
    for (const member of frame.entities) {
      if (typeof member?.entityId === "string") kept.members.set(member.entityId, member.info ?? null);
    }
    for (const event of since) this._applyMember(kept, event);
    kept.pending = null;
    this._emit("members", { topic: frame.topic, members: this.members(frame.topic), truncated: frame.truncated === true });
  }

  /** `member_joined`/`member_left`, as a bare frame or in an envelope (`data` holds the fields). */
  _member(frame) {
    const body = frame.data !== null && typeof frame.data === "object" && frame.entityId === undefined ? frame.data : frame;
    const channel = typeof frame.channel === "string" && frame.channel.startsWith("topic:") ? frame.channel.slice(6) : null;
    const topic = typeof body.topic === "string" ? body.topic : channel;
    if (typeof topic !== "string" || typeof body.entityId !== "string") return;
    const event = { topic, entityId: body.entityId, info: body.info ?? null, joined: frame.type === "member_joined" };
    let kept = this._members.get(topic);
    if (!kept) {
      kept = { members: new Map(), pending: null };
      if ([...this._topics.keys()].some((s) => topicMatches(s, topic))) this._members.set(topic, kept);
    }
    kept.pending?.push(event);
    this._applyMember(kept, event);
    this._emit(MEMBER_EVENTS[frame.type], { topic, entityId: event.entityId, info: event.info });
  }

  _applyMember(kept, { entityId, info, joined }) {
    if (joined) kept.members.set(entityId, info);
    else kept.members.delete(entityId);
  }

  /** Drop a subscription and what only it covered: resume positions and member lists. */
  _forget(subscription) {
    this._topics.delete(subscription);
    const covered = (topic) => [...this._topics.keys()].some((s) => topicMatches(s, topic));
    for (const channel of [...this._positions.keys()]) {
      if (channel.startsWith("topic:") && topicMatches(subscription, channel.slice(6)) && !covered(channel.slice(6))) {
        this._positions.delete(channel);
      }
    }
    for (const topic of [...this._members.keys()]) {
      if (topicMatches(subscription, topic) && !covered(topic)) this._members.delete(topic);
    }
  }

  _resumed(transport, frame) {
    const channels = frame.channels !== null && typeof frame.channels === "object" ? frame.channels : {};
    this._adoptPositions(channels, frame.epochs);
    // A reply to a request the application sent itself is handled like one of ours.
    transport.resume ??= { requests: [], inFlight: null, channels: {}, replayed: false };
    Object.assign(transport.resume.channels, channels);
    transport.resume.replayed = true;
    if (this._resumeMore(transport, frame)) return;
    this._resumeNext(transport);
  }

  /**
   * `resumed` says where each channel stands: take it when the server is in a newer epoch
   * (or has nothing kept: seq 0 and no epoch) or further on in the same epoch, so the next
   * resume does not report the same gap again. Never back: a live push may be ahead of the
   * reply. Channels forgotten meanwhile (unsubscribed) stay forgotten.
   */
  _adoptPositions(channels, epochs) {
    if (epochs === null || typeof epochs !== "object") return; // a server that does not say
    for (const [channel, seq] of Object.entries(channels)) {
      const known = this._positions.get(channel);
      if (!known || !Number.isInteger(seq) || seq < 0) continue;
      const epoch = typeof epochs[channel] === "string" ? epochs[channel] : null;
      if (epoch !== known.epoch || seq > known.seq) this._positions.set(channel, { seq, epoch });
    }
  }

  /** The server replays a bounded number of pushes per request and lists in `more` the
   * channels it cut short: ask again from where each stands. */
  _resumeMore(transport, frame) {
    const more = Array.isArray(frame.more) ? frame.more : [];
    if (more.length === 0 || !frame.channels) return false;
    const since = {};
    const epochs = {};
    for (const channel of more) {
      if (!Number.isInteger(frame.channels[channel])) continue;
      since[channel] = frame.channels[channel];
      if (typeof frame.epochs?.[channel] === "string") epochs[channel] = frame.epochs[channel];
    }
    if (Object.keys(since).length === 0) return false;
    this._sendResume(transport, { since, epochs });
    return true;
  }

  _subscribed(transport, topic) {
    const entry = this._topics.get(topic);
    if (entry) {
      this._settle(entry, null, { topic });
      this._emit("subscribed", { topic });
      // Members are asked for once the subscription holds, so no event falls between.
      if (entry.presence && !transport.pending) this._askPresence(transport, topic);
    }
    if (transport.pending) {
      transport.pending.delete(topic);
      if (transport.pending.size === 0) this._switchTo(transport);
    }
  }

  _serverError(transport, frame) {
    const code = frame.code ?? null;
    const message = frame.message ?? "";
    if (code === "unknown_action" && transport.resumePending) {
      // This server does not know resume: no replay on this connection; every channel may
      // have missed pushes, so the application should reload them.
      transport.resume = null;
      transport.resumePending = false;
      for (const channel of this._positions.keys()) {
        this._emit("resumeGap", { channel, oldest: null, reason: "unsupported" });
      }
      return;
    }
    const publish = this._publishFor(transport, frame);
    if (publish !== null) {
      if (code === "in_progress") this._publishAgain(publish);
      else this._publishRefused(publish, frame);
      return;
    }
    if (code === "rate_limited" && this._retryLater(transport, frame)) return;
    if ((code === "invalid_resume" || code === "forbidden_channel") && transport.resume?.inFlight) {
      this._resumeRefused(transport, code, message, frame.channel);
      return;
    }
    if (typeof frame.topic === "string" && frame.action !== "publish") {
      const entry = this._topics.get(frame.topic);
      if (entry) this._forget(frame.topic);
      transport.pending?.delete(frame.topic);
      const error = new WspushError(code ?? "subscription_error", message || `cannot subscribe to ${frame.topic}`, {
        topic: frame.topic,
      });
      if (entry) this._settle(entry, error);
      this._emit("subscriptionError", { topic: frame.topic, code, message, error });
      if (transport.pending && transport.pending.size === 0) this._switchTo(transport);
      return;
    }
    this._emit("error", { type: "server", code, message });
  }

  /**
   * The server refused the resume request in flight as a whole and replayed nothing: each of
   * its channels may have missed pushes, so each is a gap the application reloads. A channel
   * the refusal names (`channel`, or quoted in the message, as wspush does) is forgotten, or
   * every later resume would be refused the same way. Then the next request goes out.
   */
  _resumeRefused(transport, code, message, channel) {
    const refused = transport.resume.inFlight;
    transport.resume.inFlight = null;
    for (const name of refused) {
      if (name === channel || String(message).includes(`'${name}'`)) this._positions.delete(name);
    }
    this._emit("error", { type: "server", code, message });
    for (const name of refused) this._emit("resumeGap", { channel: name, oldest: null, reason: "refused" });
    this._resumeNext(transport);
  }

  /** Reject every pending `subscribe()` promise (the topics stay for a later `connect()`). */
  _rejectWaiters(code, message) {
    for (const [topic, entry] of this._topics) this._settle(entry, new WspushError(code, message(topic), { topic }));
  }

  _settle(entry, error, value) {
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const { resolve, reject } of waiters) {
      if (error) reject(error);
      else resolve(value);
    }
  }
}
