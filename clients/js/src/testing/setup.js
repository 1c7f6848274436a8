/**
 * The client's tests: a client on a fake server with fake timers, recording every event.
 */
import assert from "node:assert/strict";

import { State, WspushClient } from "../index.js";
import { FakeServer, flush } from "./fake-server.js";

export const WS_URL = "ws://127.0.0.1:8080/local";
export const MINUTE = 60 * 1000;

const EVENTS = [
  "state", "connecting", "open", "reconnecting", "closed", "error", "push",
  "subscribed", "unsubscribed", "subscriptionError", "resumed", "resumeGap", "rotated",
  "memberJoined", "memberLeft", "members",
];

/** A client on a fake server, recording every event it emits. */
export function setup(t, { server = new FakeServer(), ...options } = {}) {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
  let tokens = 0;
  const client = new WspushClient(WS_URL, {
    websocket: server.WebSocket,
    getToken: async () => `token-${++tokens}`,
    ...options,
  });
  const events = [];
  for (const name of EVENTS) client.on(name, (context) => events.push({ name, ...context }));
  const named = (name) => events.filter((event) => event.name === name);
  const tick = async (ms) => {
    t.mock.timers.tick(ms);
    await flush();
  };
  return { client, server, events, named, tick };
}

/** `setup`, connected and open. */
export async function connected(t, options) {
  const context = setup(t, options);
  context.client.connect();
  await flush();
  assert.equal(context.client.state, State.Open);
  return context;
}
