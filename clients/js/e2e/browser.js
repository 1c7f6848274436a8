// Headless Chromium for the browser tests (playwright-core drives /usr/bin/chromium).
import { chromium } from "playwright-core";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A new page in a context of its own (its own cookies and storage), recording its console errors. */
export async function isolatedPage(browser, errors, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return page;
}

export async function waitForState(page, expected) {
  await page.waitForFunction((s) => document.querySelector("#state").textContent === s, expected, { timeout: 20000 });
}
