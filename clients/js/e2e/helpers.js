// Shared by the tests against the running local stack: its demo helpers over HTTP.
import assert from "node:assert/strict";

export const DEMO_URL = process.env.WSPUSH_DEMO_URL;
assert.ok(DEMO_URL, "WSPUSH_DEMO_URL (the local stack's http://127.0.0.1:<port>/) is required");

export async function api(path, body) {
  // The demo helpers answer only their own page: a POST names the page's Origin.
  const post = { method: "POST", body: JSON.stringify(body), headers: { Origin: new URL(DEMO_URL).origin } };
  const response = await fetch(new URL(path, DEMO_URL), body === undefined ? {} : post);
  const json = await response.json();
  assert.ok(response.ok, `${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A token for `entity` granting every topic (or only the given topic patterns) and, as the
 * demo's tokens do, publishing on its chat rooms (`publish: false`: nowhere). */
export async function token(entity, topics = ["*"], { publish = true } = {}) {
  const query = new URLSearchParams({ entity, topics: topics.join(","), publish: publish ? "1" : "0" });
  return (await api(`/api/token?${query}`)).token;
}

/** Resolves with the first event context that matches, or rejects after `timeout` ms. */
export function next(client, event, predicate = () => true, timeout = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${timeout} ms`));
    }, timeout);
    const off = client.on(event, (context) => {
      if (!predicate(context)) return;
      clearTimeout(timer);
      off();
      resolve(context);
    });
  });
}

export const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
