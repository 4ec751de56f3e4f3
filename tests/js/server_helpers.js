// Shared helpers of the suites that run crdtdb-server over loopback (server, websocket_sync,
// sealed_relay; not a test file itself): servers on free ports whose warnings are kept,
// polling with a deadline, and cleanup of whatever a failed test left running.

import { after } from "node:test";
import { startServer } from "../../js/server/server.js";

/** Whatever a test left behind when it failed: stopped after the file's tests. */
export const leftovers = /** @type {Set<() => unknown>} */ (new Set());
after(async () => {
  for (const stop of leftovers) {
    try {
      await stop();
    } catch {
      // (already stopped)
    }
  }
});

/** @param {() => boolean} cond @param {string} what */
export async function waitFor(cond, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** @param {() => Promise<boolean>} cond @param {string} what */
export async function waitForAsync(cond, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** A server on a free port whose warnings are kept. @param {Parameters<typeof startServer>[0]} [opts] */
export async function serve(opts = {}) {
  /** @type {string[]} */
  const logs = [];
  const server = await startServer({ port: 0, log: (m) => logs.push(m), ...opts });
  leftovers.add(() => server.close());
  return Object.assign(server, { logs, http: server.url.replace(/^ws/, "http") });
}
