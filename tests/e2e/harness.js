// Shared setup of the browser tests: the static server (scripts/serve.mjs) on an ephemeral
// loopback port, and headless Chromium (/usr/bin/chromium, never a downloaded browser)
// launched with exactly the flags of shared/docs/toolchain.md.

import { chromium } from "playwright-core";
import { startServer } from "../../scripts/serve.mjs";

export const LAUNCH = {
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
  ],
};

/** The demo's mounts plus the test pages at /e2e/. */
export const MOUNTS = {
  "/e2e/": "tests/e2e/pages",
  "/js/": "js",
  "/dist/": "dist",
  "/web-demo/": "web-demo",
  "/": "web-demo",
};

/**
 * Starts the server and the browser.
 * @returns {Promise<{ url: string, browser: import("playwright-core").Browser, close: () => Promise<void> }>}
 */
export async function startHarness() {
  const server = await startServer({ port: 0, mounts: MOUNTS });
  let browser;
  try {
    browser = await chromium.launch(LAUNCH);
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    url: server.url,
    browser,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * Opens a page that records console errors, page errors and failed requests, and the
 * content type of every response.
 * @param {import("playwright-core").Browser} browser
 */
export async function openPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  /** @type {string[]} */
  const problems = [];
  /** @type {Map<string, string>} url → content-type */
  const types = new Map();
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`requestfailed: ${req.url()}`));
  page.on("response", (res) => {
    types.set(new URL(res.url()).pathname, res.headers()["content-type"] ?? "");
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return { context, page, problems, types };
}
