// The demo page in real Chromium (headless): connect, subscribe, receive pushes, and
// reconnect after the server drops the connection. Ends with a screenshot of the page.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { after, before, test } from "node:test";

import { isolatedPage, launchChromium, waitForState as pageState } from "./browser.js";
import { DEMO_URL, unique } from "./helpers.js";

const SCREENSHOT = resolve(process.env.WSPUSH_SCREENSHOT ?? "build/demo.png");

let browser;
let page;
const consoleErrors = [];

before(async () => {
  browser = await launchChromium();
  page = await isolatedPage(browser, consoleErrors, { width: 1280, height: 1100 });
});

after(async () => {
  await browser?.close();
});

const state = () => page.locator("#state");
const eventLine = (text) => page.locator("#events li", { hasText: text });
const pushLine = (text) => page.locator("#pushes li", { hasText: text });

async function pushToTopic(topic, text) {
  await page.selectOption("#audience", "topic");
  await page.fill("#target", topic);
  await page.fill("#message", JSON.stringify({ text }));
  await page.click("#push");
  await pushLine(text).first().waitFor({ timeout: 15000 });
}

const waitForState = (expected) => pageState(page, expected);

test("connect, subscribe, receive pushes, reconnect after the server drops the connection", async () => {
  const entity = unique("browser");
  const topic = unique("demo.news"); // public: the page's token reads only its own topics
  await page.goto(DEMO_URL);
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await state().textContent(), "closed");

  // Connect as a fresh entity.
  await page.fill("#entity", entity);
  await page.click("#connect");
  await waitForState("open");

  // Subscribe, then a push to the topic sent from the page itself arrives.
  await page.fill("#topic", topic);
  await page.click("#subscribe");
  await eventLine(`subscribed to ${topic}`).waitFor();
  assert.equal(await page.locator(`#topics li[data-topic="${topic}"]`).count(), 1);
  await pushToTopic(topic, "first push");
  assert.match(await page.locator("#push-result").textContent(), /sent 1 of 1/);
  // Each push shows its id, channel and seq.
  const first = pushLine("first push").first();
  assert.match(await first.textContent(), new RegExp(`topic:${topic.replaceAll(".", "\\.")} #1 {2}id \\S+`));

  // A topic the token does not grant is refused, and shown so.
  const other = unique("private");
  await page.fill("#topic", other);
  await page.click("#subscribe");
  await eventLine(`cannot subscribe to ${other}: forbidden_topic`).waitFor();
  // The entity's own topics are granted.
  await page.fill("#topic", `user:${entity}/inbox`);
  await page.click("#subscribe");
  await eventLine(`subscribed to user:${entity}/inbox`).waitFor();
  assert.match(await page.locator("#grant").textContent(), new RegExp(`reads user:${entity}/\\*`));
  // Unsubscribe: the topic leaves the list and its pushes stop.
  await page.click(`#topics li[data-topic="user:${entity}/inbox"] button.unsubscribe`);
  await eventLine(`unsubscribed from user:${entity}/inbox`).waitFor();
  assert.equal(await page.locator(`#topics li[data-topic="user:${entity}/inbox"]`).count(), 0);

  // A scheduled push arrives on its own (the test stack fires the schedule every few seconds).
  await page.locator("#pushes li[data-type=scheduled]").first().waitFor({ timeout: 20000 });

  // The server drops the connection: the client reconnects and re-subscribes.
  await page.click("#drop");
  await eventLine("server dropped 1 connection").waitFor();
  await eventLine("reconnecting in").waitFor();
  await waitForState("open");
  await page.locator("#events li", { hasText: `subscribed to ${topic}` }).nth(1).waitFor();
  await pushToTopic(topic, "after the drop");

  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.deepEqual(consoleErrors, []);
});
