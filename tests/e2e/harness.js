// Shared setup of the browser tests: the static server (scripts/serve.mjs) on an ephemeral
// loopback port, and headless Chromium (/usr/bin/chromium, never a downloaded browser)
// launched with exactly the flags of shared/docs/toolchain.md.

import { spawn } from "node:child_process";
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

/**
 * The private network namespace WebRTC tests run in (shared/docs/toolchain.md): loopback up
 * and a veth pair with a default route, so Chromium gathers a host candidate and nothing
 * can leave the machine. `command` runs last (exec'd).
 * @param {string} command
 */
export const netnsScript = (command) =>
  "ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.99.0.1/24 dev v0 && " +
  `ip link set v0 up && ip link set v1 up && ip route add default via 10.99.0.2 dev v0 && exec ${command}`;

/**
 * Runs `node --test <file>` inside a fresh private network namespace (`unshare -n`, as root)
 * with CRDTDB_NETNS=1 set, and resolves with its exit code and output. The whole process
 * group is stopped (SIGTERM, then SIGKILL) after `timeoutMs`.
 * @param {string} file
 * @param {{ timeoutMs?: number, onOutput?: (chunk: string) => void }} [opts]
 * @returns {Promise<{ code: number | null, signal: string | null, output: string, timedOut: boolean }>}
 */
export function runInNetns(file, { timeoutMs = 120_000, onOutput } = {}) {
  const env = { ...process.env, CRDTDB_NETNS: "1" };
  // Not a child of this test runner: the inner `node --test` reports on its own.
  delete env.NODE_TEST_CONTEXT;
  const quoted = `'${file.replaceAll("'", "'\\''")}'`;
  const child = spawn("unshare", ["-n", "--", "sh", "-c", netnsScript(`node --test ${quoted}`)], {
    env,
    detached: true, // its own process group: a timeout kills the browsers too
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const take = (/** @type {Buffer} */ b) => {
    const s = b.toString();
    output += s;
    onOutput?.(s);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  let timedOut = false;
  const kill = (/** @type {NodeJS.Signals} */ signal) => {
    try {
      process.kill(-(/** @type {number} */ (child.pid)), signal);
    } catch {
      // gone already
    }
  };
  // SIGTERM first: Playwright closes its browsers on it (they run in process groups of their own).
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let hard;
  const timer = setTimeout(() => {
    timedOut = true;
    kill("SIGTERM");
    hard = setTimeout(() => kill("SIGKILL"), 5_000);
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on("error", (err) => {
      clearTimeout(timer);
      clearTimeout(hard);
      resolve({ code: null, signal: null, output: `${output}\n${err.message}`, timedOut });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hard);
      resolve({ code, signal, output, timedOut });
    });
  });
}

/**
 * Waits until the namespace's IPv6 addresses finished duplicate address detection (a second
 * or two after it is made): before that, Chromium takes their change for a network change and
 * fails requests in flight (net::ERR_NETWORK_CHANGED).
 * @param {number} [timeoutMs]
 */
export async function netnsSettled(timeoutMs = 15_000) {
  const { execFileSync } = await import("node:child_process");
  const end = Date.now() + timeoutMs;
  for (;;) {
    const tentative = execFileSync("ip", ["-o", "addr", "show", "tentative"]).toString().trim();
    if (tentative === "") return;
    if (Date.now() > end) throw new Error(`the namespace's addresses did not settle: ${tentative}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
