// Shared helpers of the suites that run crdtdb-server over loopback (server, websocket_sync,
// sealed_relay; not a test file itself): servers on free ports whose warnings are kept,
// WebSocketSync clients, room data directories, polling with a deadline, and cleanup of
// whatever a failed test left running.

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { CRDTDB, WebSocketSync } from "crdtdb";
import { WebSocket } from "ws";
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

let clients = 0;
/**
 * A memory database syncing with `url` through WebSocketSync (the `ws` package's WebSocket),
 * its warnings kept; `stop` ends both, and the file's cleanup does if a test does not.
 * @param {string} url
 * @param {object} [syncOpts] WebSocketSync options (password, backoff, ...)
 * @param {{ name?: string } & object} [dbOpts] CRDTDB.open options; a fresh name by default
 */
export async function wsClient(url, syncOpts = {}, { name = `ws-client-${clients++}`, ...dbOpts } = {}) {
  const db = await CRDTDB.open(name, { storage: "memory", ...dbOpts });
  /** @type {string[]} */
  const warnings = [];
  const sync = new WebSocketSync(db, { url, WebSocket, warn: (m) => warnings.push(m), ...syncOpts });
  const stop = () => {
    sync.destroy();
    if (!db.closed) db.close();
  };
  leftovers.add(stop);
  return { db, sync, warnings, stop };
}

/** Table "t" of a database as one comparable string. @param {CRDTDB} db */
export const rows = (db) => JSON.stringify(db.table("t").entries());

/** A fresh directory for a server's --data. */
export async function tempDir() {
  return mkdtemp(join(tmpdir(), "crdtdb-server-test-"));
}

/**
 * Runs `fn` with a fresh data directory, removed afterwards whatever happens.
 * @template T @param {(dir: string) => Promise<T>} fn
 */
export async function withDataDir(fn) {
  const dir = await tempDir();
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The room files under a data directory. @param {string} dir */
export async function roomFiles(dir) {
  return (await readdir(dir)).filter((f) => f.endsWith(".room")).map((f) => join(dir, f));
}
