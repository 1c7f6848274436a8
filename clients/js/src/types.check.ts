// Compiled (never run) by `make test-js` with `tsc --noEmit --strict`: the declarations
// accept the documented uses and refuse wrong ones.
import {
  FrameTooLargeError,
  WspushError,
  State,
  WspushClient,
  type ClientOptions,
  type PushContext,
  type WebSocketConstructor,
} from "./index.js";

declare const NodeWebSocket: WebSocketConstructor;

const options: ClientOptions = {
  getToken: async ({ reason }) => (reason === "rotate" ? "t2" : "t1"),
  websocket: NodeWebSocket,
  minReconnectDelay: 500,
  resume: true,
  positions: { "topic:news": { seq: 41, epoch: "e1" } },
};
const client = new WspushClient("wss://example.com/prod", options);

const off: () => void = client.on("state", ({ oldState, newState }) => {
  const states: State[] = [oldState, newState];
  void states;
});
off();
client.on("push", (push: PushContext) => {
  const seq: number | null = push.seq;
  void seq;
});
client.on("reconnecting", ({ code, delay, attempt }) => void [code + delay + attempt]);
client.on("resumeGap", ({ channel, reason }) => void [channel, reason === "history" || reason === "unsupported" || reason === "refused"]);
// @ts-expect-error: a resume gap has no reason "forbidden"
client.on("resumeGap", ({ reason }) => void (reason === "forbidden"));
const stored: Record<string, { seq: number; epoch: string | null }> = client.positions();
new WspushClient("wss://x", { positions: stored });
client.on("subscriptionError", ({ topic, code, error }) => void [topic, code, error.code]);
client.connect();
const subscribed: Promise<{ topic: string }> = client.subscribe("news");
void subscribed;
try {
  client.send({ action: "ping" });
} catch (error) {
  if (error instanceof FrameTooLargeError) void [error.bytes, error.limit];
}
const open: boolean = client.state === State.Open;
void open;

// @ts-expect-error: no such event
client.on("message", () => {});
// @ts-expect-error: a push handler receives a PushContext, not a topic context
client.on("push", ({ topic }: { topic: string }) => void topic);
// @ts-expect-error: getToken's context has no "entity"
new WspushClient("wss://x", { getToken: ({ entity }) => entity });
// @ts-expect-error: State has no "Disconnected"
void State.Disconnected;

// Publish, wildcard subscriptions and presence.
const published: Promise<{ id: string; seq: number | null }> = client.publish("room.1", { text: "hi" }, { type: "chat.message", echo: true });
void published;
client.subscribe("room.*", { onPush: ({ topic, subscriptions, from }) => void [topic, subscriptions.length, from?.entityId] });
client.subscribe("room.1", { presence: true });
client.on("memberJoined", ({ topic, entityId, info }) => void [topic, entityId, info]);
client.on("members", ({ members, truncated }) => void [members.map((m) => m.entityId), truncated]);
const names: string[] = client.members("room.1").map((member) => member.entityId);
void names;
client.publish("room.1", 1).catch((error: WspushError) => void [error.code, error.retryAfter, error.reason?.code]);
// @ts-expect-error: echo is a boolean
client.publish("room.1", 1, { echo: "yes" });
// @ts-expect-error: no such subscribe option
client.subscribe("room.1", { history: true });
