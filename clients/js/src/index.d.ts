// Type declarations of @wspush/client.

/** The connection states. Every change is one `state` event plus the event of the new state. */
export declare const State: {
  readonly Closed: "closed";
  readonly Connecting: "connecting";
  readonly Open: "open";
  readonly Reconnecting: "reconnecting";
};
export type State = (typeof State)[keyof typeof State];

/** API Gateway's WebSocket frame limit (32 KB). */
export declare const MAX_FRAME_BYTES: number;
/** The most channels one `resume` request names (32, the server's limit); more go in several requests. */
export declare const MAX_RESUME_CHANNELS: number;
/** The close code used when a connection stops answering pings (4000). */
export declare const HEARTBEAT_TIMEOUT_CODE: number;

/**
 * Where a channel's pushes have been read up to. A new `epoch` means the history was reset;
 * `epoch` is null (with `seq` 0) when the server had nothing kept for the channel.
 */
export interface Position {
  seq: number;
  epoch: string | null;
}

/** The minimal WebSocket the client needs: the browser's, Node 22's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface TokenContext {
  /** Why a token is needed: the first connect, a reconnect, or a replacement before 2 hours. */
  reason: "connect" | "reconnect" | "rotate";
}

export interface ClientOptions {
  /** Returns the token, called before every connection. Without it, no subprotocol is sent. */
  getToken?: (context: TokenContext) => string | null | undefined | Promise<string | null | undefined>;
  /** The WebSocket constructor. Default: `globalThis.WebSocket`. */
  websocket?: WebSocketConstructor;
  /** Backoff: the first reconnect waits up to this (ms). Default 1000. */
  minReconnectDelay?: number;
  /** Backoff cap (ms). Default 30000. */
  maxReconnectDelay?: number;
  /** Reconnect attempts before ending `closed` (pending `subscribe` promises are rejected with `gave_up`). Default Infinity. */
  maxReconnectAttempts?: number;
  /** Connect timeout, ping answer timeout and subscribe wait of a replacement (ms). Default 10000. */
  timeout?: number;
  /** Ping after this long without sending (ms); below API Gateway's 10-minute idle timeout. Default 300000. */
  pingInterval?: number;
  /** Open an overlapping replacement this long after a connection opened (ms); below the 2-hour limit. Default 6600000. */
  rotateAfter?: number;
  /** Ask the server to replay what was missed after a reconnect. Default true. */
  resume?: boolean;
  /** Positions to resume from on the first connect (e.g. saved before a page reload). */
  positions?: Record<string, Position>;
  /** Largest frame `send` accepts, in UTF-8 bytes. Default 32768. */
  maxFrameBytes?: number;
  /** How many recent envelope ids are remembered to drop duplicates. Default 2000. */
  dedupeWindow?: number;
  /** A `publish` unanswered this long (ms, across reconnects) rejects with code `timeout`. Default 30000. */
  publishTimeout?: number;
  /** Answer `{"action":"ack","id"}` to every push that asks for a receipt (`"ack": true`). Default true. */
  autoAck?: boolean;
  /** Called when a listener throws. Default: rethrown on a microtask (an uncaught error). */
  onListenerError?: (error: unknown, event: keyof ClientEvents) => void;
}

export declare const DEFAULTS: Readonly<Required<Omit<ClientOptions, "getToken" | "websocket" | "positions" | "onListenerError">>>;

/** A pushed envelope, as delivered to `push` listeners. */
export interface PushContext<T = unknown> {
  id: string;
  type: string;
  ts: string;
  data: T;
  /** `topic:<name>`, `entity:<id>`, `broadcast`, … when the server numbers its pushes, else null. */
  channel: string | null;
  seq: number | null;
  epoch: string | null;
  /** The concrete topic of a `topic:<name>` channel, else null. */
  topic: string | null;
  /** The client's subscriptions (topics and patterns) that cover `topic`; each one's `onPush` gets the push once. */
  subscriptions: string[];
  /** Who published it, for a push a client published (set by the server, never by the client). */
  from: { entityId: string } | null;
  /** The envelope as received. */
  envelope: Record<string, unknown>;
}

export interface SubscribeOptions {
  /** Keep the topic's member list (`members(topic)`): asked for once subscribed and after each reconnect. Topics only, not patterns. */
  presence?: boolean;
  /** Called with every push whose topic this subscription covers, once per push. */
  onPush?: (context: PushContext) => void;
}

export interface PublishOptions {
  /** The envelope type (1-64 characters). Default: the server's (`message`). */
  type?: string;
  /** The message id (1-128 of letters, digits and `_.:@+=/-`): reused when the client sends again after a reconnect. Default: a random UUID. */
  id?: string;
  /** Deliver the message to this connection too. Default false. */
  echo?: boolean;
}

export interface PublishResult {
  id: string;
  /** The message's number in its topic channel. */
  seq: number | null;
  topic: string;
}

/** A member of a presence topic. */
export interface Member {
  entityId: string;
  /** The `info` claim of the member's token (e.g. `{"name": "Alice"}`), or null. */
  info: unknown;
}
export interface MemberContext extends Member {
  topic: string;
}
export interface MembersContext {
  topic: string;
  /** The whole member list, from the server's `presence` answer. */
  members: Member[];
  /** True when the server listed only part of the members. */
  truncated: boolean;
}

export interface StateContext {
  oldState: State;
  newState: State;
}
export interface ConnectingContext {
  attempt: number;
}
export interface OpenContext {
  /** True after a reconnect (the topics are re-subscribed and resume is asked for). */
  reconnected: boolean;
}
export interface ReconnectingContext {
  code: number;
  reason: string;
  /** Milliseconds until the next attempt. */
  delay: number;
  attempt: number;
}
export interface ClosedContext {
  code: number;
  reason: string;
}
export interface ErrorContext {
  /** `connect`/`closed`: transport (with the close code); `token`: getToken failed; `server`: an error frame; `protocol`: an unreadable frame. */
  type: "connect" | "closed" | "token" | "server" | "protocol";
  code?: number | string | null;
  reason?: string;
  message: string;
  error?: unknown;
}
export interface TopicContext {
  topic: string;
}
export interface SubscriptionErrorContext {
  topic: string;
  /** e.g. `forbidden_topic`. */
  code: string | null;
  message: string;
  error: WspushError;
}
export interface ResumedContext {
  /** Where each resumed channel now stands (every request's answer, once all are complete). */
  channels: Record<string, number>;
}
export interface ResumeGapContext {
  channel: string;
  /** The oldest seq the server still has, or null when unknown. */
  oldest: number | null;
  /**
   * `history`: the server's history does not reach back far enough; `unsupported`: the server
   * has no resume; `refused`: the server refused the resume request naming this channel
   * (`invalid_resume`, or `forbidden_channel` when the token no longer grants one of its channels).
   */
  reason: "history" | "unsupported" | "refused";
}
export interface RotatedContext {
  /** How long the replaced connection was open (ms). */
  age: number;
}

export interface ClientEvents {
  state: (context: StateContext) => void;
  connecting: (context: ConnectingContext) => void;
  open: (context: OpenContext) => void;
  reconnecting: (context: ReconnectingContext) => void;
  closed: (context: ClosedContext) => void;
  error: (context: ErrorContext) => void;
  push: (context: PushContext) => void;
  subscribed: (context: TopicContext) => void;
  unsubscribed: (context: TopicContext) => void;
  subscriptionError: (context: SubscriptionErrorContext) => void;
  resumed: (context: ResumedContext) => void;
  resumeGap: (context: ResumeGapContext) => void;
  rotated: (context: RotatedContext) => void;
  /** An entity's first connection subscribed to a presence topic. */
  memberJoined: (context: MemberContext) => void;
  /** An entity's last connection left a presence topic. */
  memberLeft: (context: MemberContext) => void;
  /** The member list of a topic subscribed with `{presence: true}` arrived (after each (re)subscribe). */
  members: (context: MembersContext) => void;
  /** Every frame received, before it is handled (for debugging). */
  frame: (context: { frame: Record<string, unknown> }) => void;
}

export declare class WspushError extends Error {
  constructor(code: string, message: string, details?: Record<string, unknown>);
  /**
   * `frame_too_large`, `not_connected`, `invalid_topic`, `invalid_id`, `invalid_type`, `id_in_flight`,
   * `disconnected`, `gave_up`, `unsubscribed`, `timeout`, or a server code (`forbidden`, `rate_limited`,
   * `rejected`, `id_conflict`, `too_large`, `forbidden_topic`, ...).
   */
  code: string;
  topic?: string;
  /** The publish's message id. */
  id?: string;
  /** `rate_limited`: seconds until the server accepts again. */
  retryAfter?: number;
  /** `rejected`: the publish hook's own `{code, message}`. */
  reason?: { code?: string; message?: string };
}

export declare class FrameTooLargeError extends WspushError {
  constructor(bytes: number, limit: number);
  code: "frame_too_large";
  bytes: number;
  limit: number;
}

export declare function backoffDelay(attempt: number, minDelay: number, maxDelay: number, random?: () => number): number;
export declare function isEnvelope(frame: Record<string, unknown>): boolean;
/** True for a subscribe pattern (`*`, `room.*`, `a/b/*`). */
export declare function isPattern(topic: string): boolean;
/** True when a subscription (topic or pattern) covers the topic. */
export declare function topicMatches(subscription: string, topic: string): boolean;
/** A random UUID v4, the default message id of `publish`. */
export declare function messageId(): string;

export declare class WspushClient {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly state: State;
  /** The topics subscribed to (or to subscribe to on connect). */
  readonly topics: string[];
  /** The latest position per channel. */
  positions(): Record<string, Position>;
  on<E extends keyof ClientEvents>(event: E, handler: ClientEvents[E]): () => void;
  off<E extends keyof ClientEvents>(event: E, handler: ClientEvents[E]): void;
  connect(): void;
  disconnect(code?: number, reason?: string): void;
  /** A topic, or a pattern (`room.*`, `*`) the token's topics grant. */
  subscribe(topic: string, options?: SubscribeOptions): Promise<TopicContext>;
  unsubscribe(topic: string): void;
  /** Resolves once the server has numbered the message; rejects with a WspushError (see `code`). */
  publish(topic: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  /** The live member list of a topic subscribed with `{presence: true}`. */
  members(topic: string): Member[];
  /** Throws FrameTooLargeError over the frame limit, WspushError `not_connected` when not open. */
  send(message: unknown): void;
}
