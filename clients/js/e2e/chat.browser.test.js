// The demo's chat room in real Chromium: two browser contexts as different entities each
// see the other's messages and joins and leaves; a third entity, whose token has no
// publish grant, reads the room but is refused when it speaks (at most two members at a
// time: the shared e2e stack caps presence topics at two).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { isolatedPage, launchChromium, waitForState } from "./browser.js";
import { DEMO_URL, unique } from "./helpers.js";

let browser;
const consoleErrors = [];

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A page connected as `entity`, in the chat room `room`. */
async function joined(entity, room, { name = "", mayPublish = true } = {}) {
  const page = await isolatedPage(browser, consoleErrors);
  await page.goto(DEMO_URL);
  await page.waitForSelector("body[data-ready=true]");
  await page.fill("#entity", entity);
  await page.fill("#name", name);
  if (!mayPublish) await page.uncheck("#may-publish");
  await page.click("#connect");
  await waitForState(page, "open");
  await page.fill("#room", room);
  await page.click("#join");
  await page.locator("#chat li", { hasText: "you joined" }).waitFor();
  await member(page, entity).waitFor(); // the room's member list includes the page itself
  return page;
}

const member = (page, entity) => page.locator(`#members li[data-entity="${entity}"]`);
const message = (page, from, text) => page.locator(`#chat li.message[data-from="${from}"]`, { hasText: text });
const note = (page, text) => page.locator("#chat li.note", { hasText: text });

async function say(page, text) {
  await page.fill("#chat-text", text);
  await page.click("#send");
}

test("two entities chat, see each other join and leave; one without the publish grant is refused", async () => {
  const room = unique("room");
  const alice = unique("alice");
  const bob = unique("bob");
  const carol = unique("carol");

  // Alice joins first; Bob's arrival is announced to her and he sees her in the list.
  const alicePage = await joined(alice, room, { name: "Alice" });
  const bobPage = await joined(bob, room);
  await note(alicePage, `${bob} joined`).waitFor();
  await member(alicePage, bob).waitFor();
  await member(bobPage, alice).waitFor();
  assert.equal(await member(bobPage, alice).textContent(), `Alice (${alice})`); // the token's info

  // Each sees the other's message, with its sender (the server's from, not the client's).
  await say(bobPage, "hello from bob");
  await message(alicePage, bob, "hello from bob").waitFor();
  await say(alicePage, "hi bob");
  await message(bobPage, alice, "hi bob").waitFor();
  // Own messages come back too (echo), numbered in the room after Bob's.
  await message(alicePage, alice, "hi bob").waitFor();
  const seqs = await alicePage.locator("#chat li.message").evaluateAll((items) => items.map((i) => Number(i.dataset.seq)));
  assert.deepEqual(seqs, [1, 2]);

  // Alice drops her own connection: she comes back (and is back in the room); Bob stays
  // connected throughout.
  await alicePage.click("#drop");
  await alicePage.locator("#events li", { hasText: "server dropped 1 connection" }).waitFor();
  await alicePage.locator("#events li", { hasText: "reconnecting in" }).waitFor();
  await waitForState(alicePage, "open");
  assert.equal(await bobPage.locator("#state").textContent(), "open");
  await say(bobPage, "still here");
  await message(alicePage, bob, "still here").waitFor();

  // Bob leaves: Alice is told and he is off her list.
  await bobPage.click("#leave");
  await note(alicePage, `${bob} left`).waitFor();
  await member(alicePage, bob).waitFor({ state: "detached" });

  // Carol's token has no publish claim: she reads the room but may not speak in it.
  const carolPage = await joined(carol, room, { mayPublish: false });
  await note(alicePage, `${carol} joined`).waitFor();
  await member(alicePage, carol).waitFor();
  assert.match(await carolPage.locator("#grant").textContent(), /publishes nowhere/);
  await say(carolPage, "may I?");
  await carolPage.waitForSelector("#chat-error[data-code=forbidden]");
  assert.match(await carolPage.locator("#chat-error").textContent(), /refused: forbidden/);
  await say(alicePage, "after carol tried");
  await message(carolPage, alice, "after carol tried").waitFor();
  assert.equal(await message(alicePage, carol, "may I?").count(), 0);
  assert.equal(await bobPage.locator("#state").textContent(), "open");

  await alicePage.screenshot({ path: process.env.WSPUSH_CHAT_SCREENSHOT ?? "build/chat.png", fullPage: true });
  assert.deepEqual(consoleErrors, []);
});
