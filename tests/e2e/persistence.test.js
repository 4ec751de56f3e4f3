// IndexedDB persistence in real Chromium: state survives reloads and browser restarts
// unchanged, and no crash (a SIGKILLed browser, a crashed renderer, a page closed mid-write)
// leaves a partial transaction: every acknowledged write is there, every index entry points
// at a row with that value, every row is in every index it belongs to. One browser failure is
// told apart, with evidence, and reported: Chromium deleting a backing store that LevelDB's
// log reuse left unreadable after two kills in a row (leveldb_log.js).
// CRDTDB_KILLS=N sets the number of SIGKILLs (default 3; run 50+ locally);
// CRDTDB_KEEP_PROFILE=1 keeps a failed run's Chromium profile and prints where it is.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { LAUNCH, openPage, startHarness } from "./harness.js";
import { findTornRecord } from "./leveldb_log.js";

/** @type {Awaited<ReturnType<typeof startHarness>>} */
let h;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

/** @param {import("playwright-core").Page} page */
async function load(page) {
  await page.goto(`${h.url}e2e/persist.html`);
  await page.waitForFunction(() => "pageReady" in window, null, { timeout: 20_000 });
}

test("rows, indexes, version and history survive a reload unchanged", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await load(page);
    const before = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("reload", { indexes: w.INDEXES });
      for (let i = 0; i < 30; i++) db.table("t").set(`r${i}`, { n: i, g: i % 5 });
      await db.table("t").update("r3", { g: 9 });
      await db.transaction(async (/** @type {any} */ tx) => {
        await tx.table("t").delete("r4");
        await tx.table("t").set("r5", { n: -1, g: "s" });
      });
      const peer = await w.CRDTDB.open("other", { storage: "memory" });
      await peer.table("t").set("r6", { n: 600, g: 6 });
      db.applyChanges(peer.changesSince());
      // Storage writes land in order: once this one is durable, the merge before it is too.
      await db.table("t").set("r7", { n: 7, g: 2 });
      // Close and reopen at once in the same page: the Web Lock is handed over.
      db.table("t").set("r8", { n: 8, g: 3 });
      db.close();
      const re = await w.CRDTDB.open("reload", { indexes: w.INDEXES });
      const reopened = re.table("t").get("r8");
      await re.table("t").delete("r8");
      const snap = w.observe(re);
      re.close();
      return { ...snap, reopened };
    });
    assert.deepEqual(before.reopened, { n: 8, g: 3 });
    delete before.reopened;
    await page.reload();
    await page.waitForFunction(() => "pageReady" in window);
    const after = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("reload", { indexes: w.INDEXES });
      const snap = w.observe(db);
      const estimate = await db.storageEstimate();
      db.close();
      return { ...snap, estimate };
    });
    const { estimate, ...shown } = after;
    assert.ok(estimate.usage > 0 && estimate.quota > estimate.usage, JSON.stringify(estimate));
    assert.ok(estimate.historyBytes > 0);
    assert.deepEqual(shown, before);
    assert.equal(shown.rows.length, 28);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("set columns survive a reload with an IndexedDB index entry per element", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await load(page);
    /** Rows, the index by element and its stored entries, as plain data. */
    const probe = async () =>
      page.evaluate(async () => {
        const w = /** @type {any} */ (window);
        const db = await w.CRDTDB.open("sets", { indexes: { byTag: { table: "p", keys: ["tags"] } } });
        const shown = {
          rows: db.table("p").entries(),
          byTag: db.index("byTag").keys(),
          tagged: db.index("byTag").get("blue") ?? null,
        };
        db.close();
        const stored = await new Promise((resolve, reject) => {
          const req = indexedDB.open("sets");
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const all = req.result.transaction("indexes").objectStore("indexes").getAllKeys();
            all.onsuccess = () => {
              req.result.close();
              resolve(all.result);
            };
            all.onerror = () => reject(all.error);
          };
        });
        return { ...shown, stored };
      });
    await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("sets", { indexes: { byTag: { table: "p", keys: ["tags"] } } });
      const p = db.table("p");
      await p.set("a", { title: "A" });
      await p.addToSet("a", "tags", "red");
      await p.addToSet("a", "tags", "blue");
      await p.addToSet("a", "tags", 3);
      await p.addToSet("a", "tags", { not: "a key" });
      await p.removeFromSet("a", "tags", "red");
      // A peer's concurrent add of "red" (it has not seen the remove) wins.
      const peer = await w.CRDTDB.open("peer", { storage: "memory" });
      peer.applyChanges(db.changesSince());
      await peer.table("p").addToSet("a", "tags", "red");
      await p.set("b", { title: "B" });
      await p.addToSet("b", "tags", "blue");
      db.applyChanges(peer.changesSince(db.version()));
      await p.update("b", { title: "B2" }); // durable after the merge before it
      db.close();
    });
    const before = await probe();
    const tags = [3, "blue", "red", { not: "a key" }];
    assert.deepEqual(before.rows, [
      ["a", { tags, title: "A" }],
      ["b", { tags: ["blue"], title: "B2" }],
    ]);
    assert.deepEqual(before.byTag, ["a", "a", "b", "a"]); // 3, "blue" (a, b), "red"
    assert.deepEqual(before.tagged, { tags, title: "A" });
    assert.deepEqual(before.stored, [
      ["p", "byTag", 3, "a"],
      ["p", "byTag", "blue", "a"],
      ["p", "byTag", "blue", "b"],
      ["p", "byTag", "red", "a"],
    ]);
    await page.reload();
    await page.waitForFunction(() => "pageReady" in window);
    assert.deepEqual(await probe(), before);
    // Still a set after the reload: a plain write then replaces it, and adds are refused.
    const after = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("sets", { indexes: { byTag: { table: "p", keys: ["tags"] } } });
      await db.table("p").addToSet("b", "tags", "green");
      await db.table("p").update("a", { tags: ["plain"] });
      const refused = await db.table("p").addToSet("a", "tags", "x").then(
        () => "added",
        (/** @type {Error} */ e) => e.name,
      );
      const out = { b: db.table("p").get("b").tags, refused, byTag: db.index("byTag").keys() };
      db.close();
      return out;
    });
    assert.deepEqual(after, { b: ["blue", "green"], refused: "TypeError", byTag: ["b", "b", "a"] });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("counters survive a reload with their sums indexed, deleted rows' increments kept", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await load(page);
    const options = { indexes: { byLikes: { table: "p", keys: ["likes"] } } };
    /** Rows and the index by sum, as plain data. */
    const probe = async () =>
      page.evaluate(async (opts) => {
        const w = /** @type {any} */ (window);
        const db = await w.CRDTDB.open("counters", opts);
        const out = { rows: db.table("p").entries(), byLikes: db.index("byLikes").keys() };
        db.close();
        return out;
      }, options);
    await page.evaluate(async (opts) => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("counters", opts);
      const p = db.table("p");
      await p.set("a", { likes: 1 });
      await p.increment("a", "likes", 4);
      await p.set("b", { title: "B" });
      await p.increment("b", "views");
      const peer = await w.CRDTDB.open("peer", { storage: "memory" });
      peer.applyChanges(db.changesSince());
      // Concurrently: this tab overwrites likes (it saw 1 + 4) and deletes b; the peer adds.
      await peer.table("p").increment("a", "likes", 10);
      await peer.table("p").increment("b", "views", 2);
      await p.update("a", { likes: 100 });
      await p.delete("b");
      db.applyChanges(peer.changesSince(db.version()));
      await p.set("c", { likes: 0 }); // durable after the merge before it
      db.close();
    }, options);
    const before = await probe();
    assert.deepEqual(before.rows, [
      ["a", { likes: 110 }],
      ["c", { likes: 0 }],
    ]);
    assert.deepEqual(before.byLikes, ["c", "a"]);
    await page.reload();
    await page.waitForFunction(() => "pageReady" in window);
    assert.deepEqual(await probe(), before);
    // After the reload the counters go on from where they were, the deleted row's included.
    const after = await page.evaluate(async (opts) => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("counters", opts);
      const p = db.table("p");
      await p.increment("a", "likes", -10);
      await p.set("b", { title: "again" }); // has seen the peer's +2: removes it
      await p.increment("b", "views", 5);
      const out = { a: p.get("a"), b: p.get("b"), byLikes: db.index("byLikes").keys() };
      db.close();
      return out;
    }, options);
    assert.deepEqual(after, {
      a: { likes: 100 },
      b: { title: "again", views: 5 },
      byLikes: ["c", "a"],
    });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("texts survive a reload with their history: later edits still merge with concurrent ones", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await load(page);
    const first = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("texts");
      const docs = db.table("docs");
      await docs.set("d", { title: "T", body: "caf\u00e9" });
      const body = docs.text("d", "body");
      for (const ch of " au lait") body.insert(body.length, ch); // keystrokes, not awaited
      await body.insert(0, "\u{1F600} ");
      await body.delete(3, 1); // "c" of café
      // A peer that saw all this edits concurrently with what the tab does after the reload.
      const peer = await w.CRDTDB.open("text-peer", { storage: "memory" });
      peer.applyChanges(db.changesSince());
      await peer.table("docs").text("d", "body").insert(3, "C");
      w.peerChanges = Array.from(peer.changesSince(db.version()));
      const out = { row: docs.get("d"), version: Array.from(db.version()) };
      db.close();
      return out;
    });
    assert.deepEqual(first.row, { title: "T", body: "\u{1F600} af\u00e9 au lait" });
    const peerChanges = await page.evaluate(() => /** @type {any} */ (window).peerChanges);
    await page.reload();
    await page.waitForFunction(() => "pageReady" in window);
    const after = await page.evaluate(async (changes) => {
      const w = /** @type {any} */ (window);
      const db = await w.CRDTDB.open("texts");
      const docs = db.table("docs");
      const seen = { row: docs.get("d"), version: Array.from(db.version()) };
      const body = docs.text("d", "body"); // opens the stored text: writes nothing
      const reopenedVersion = Array.from(db.version());
      await body.insert(body.length, "!");
      db.applyChanges(Uint8Array.from(changes));
      const out = { seen, reopenedVersion, text: body.toString(), row: docs.get("d") };
      db.close();
      return out;
    }, peerChanges);
    assert.deepEqual(after.seen, first);
    assert.deepEqual(after.reopenedVersion, first.version);
    assert.equal(after.text, "\u{1F600} Caf\u00e9 au lait!");
    assert.deepEqual(after.row, { title: "T", body: after.text });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

/**
 * Checks a crashed database: acknowledged writes present, transactions whole, stores
 * consistent with each other and with what the engine shows.
 * @param {{ raw: Record<string, Array<[any, any]>>, rows: Array<[string, any]> }} state
 * @param {number} acked the last acknowledged iteration (-1: none)
 * @param {number} from the first iteration of the run
 */
function verify(state, acked, from) {
  const rows = new Map(state.rows);
  assert.deepEqual(Object.keys(state.raw).sort(), ["crdt_rows", "events", "indexes", "materialized", "meta"]);
  if (acked >= from) assert.ok(rows.get("last").n >= acked, `last: ${rows.get("last")?.n} < ${acked}`);
  for (let j = 0; j < 40; j++) {
    const a = rows.get(`a${j}`);
    const b = rows.get(`b${j}`);
    // A transaction lands whole: both rows of an iteration, or neither.
    assert.deepEqual(a, b, `a${j} and b${j} differ: a partial transaction`);
    let lastAcked = -1;
    for (let i = from; i <= acked; i++) if (i % 40 === j) lastAcked = i;
    if (lastAcked >= 0) assert.ok(a && a.n >= lastAcked && a.n % 40 === j, `a${j}: ${JSON.stringify(a)} lacks ack ${lastAcked}`);
  }
  // The materialized store equals what the engine shows from crdt_rows.
  const mat = new Map(state.raw.materialized.map(([k, v]) => [k[1], v]));
  assert.deepEqual(new Map([...mat].sort()), new Map([...rows].sort()));
  const stateKeys = new Set(state.raw.crdt_rows.map(([k]) => k[1]));
  for (const k of mat.keys()) assert.ok(stateKeys.has(k), `materialized ${k} has no crdt_rows state`);
  // Index entries point at rows with those values; every row is in every index it belongs to.
  const entries = new Set(state.raw.indexes.map(([k]) => JSON.stringify(k)));
  const expected = new Set();
  for (const [key, row] of mat) {
    if (typeof row.g === "number") {
      expected.add(JSON.stringify(["t", "byG", row.g, key]));
      if (typeof row.n === "number") expected.add(JSON.stringify(["t", "byPair", row.g, row.n, key]));
    }
  }
  assert.deepEqual([...entries].sort(), [...expected].sort());
}

/** @returns {Promise<number>} a free loopback port */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/**
 * Runs Chromium with a persistent profile and a DevTools port, attached over CDP. It runs in
 * its own process group: `kill()` SIGKILLs the browser and every process it started (a
 * renderer or utility process left behind would still write into the profile while the next
 * run starts on it, or while it is removed) and resolves once they are all gone.
 * @param {string} profile
 * @param {number} port
 */
async function startChromium(profile, port) {
  const child = spawn(LAUNCH.executablePath, [...LAUNCH.args, `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, "about:blank"], {
    stdio: "ignore",
    detached: true,
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const group = /** @type {number} */ (child.pid);
  /** @param {NodeJS.Signals | 0} signal @returns {boolean} whether a process of the group got it */
  const signalGroup = (signal) => {
    try {
      process.kill(-group, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  };
  const kill = async () => {
    signalGroup("SIGKILL");
    await exited;
    // Children of the browser are reaped by init; wait (bounded) until none is left.
    for (let i = 0; i < 100 && signalGroup(0); i++) await new Promise((r) => setTimeout(r, 50));
  };
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/version`);
      if (res.ok) break;
    } catch {
      if (i > 200) throw new Error("Chromium did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
  return { kill, browser };
}

/**
 * Starts the writer in `page`, records acknowledgements, and resolves after `ms` once at
 * least one write was acknowledged. Rejects if the writer fails before that, or acknowledges
 * nothing within 60 s (with what the page logged), rather than waiting forever.
 * @param {import("playwright-core").Page} page
 * @param {number} from
 * @param {number} ms
 * @param {{ acked: number }} acks
 */
async function writeFor(page, from, ms, acks) {
  /** @type {string[]} */
  const logged = [];
  page.on("console", (msg) => {
    const m = /^ack (\d+)$/.exec(msg.text());
    if (m) acks.acked = Math.max(acks.acked, Number(m[1]));
    else logged.push(msg.text());
  });
  /** @type {unknown} */
  let failed = null;
  // It never returns; once the browser is killed it rejects, which is expected then.
  page.evaluate((f) => /** @type {any} */ (window).writeForever(f), from).catch((err) => (failed = err));
  const start = Date.now();
  while (acks.acked < from || Date.now() - start < ms) {
    if (acks.acked < from && (failed !== null || Date.now() - start > 60_000)) {
      throw new Error(`the writer acknowledged nothing: ${failed ?? "timeout"}; page log: ${logged.join(" | ")}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** @param {import("playwright-core").Page} page */
async function inspect(page) {
  await load(page);
  return page.evaluate(() => /** @type {any} */ (window).inspect());
}

/** @param {Array<[string, any]>} rows */
const maxN = (rows) => Math.max(-1, ...rows.map(([, r]) => (typeof r.n === "number" ? r.n : -1)));

/**
 * The LevelDB write-ahead logs of every IndexedDB backing store in a profile.
 * @param {string} profile
 * @returns {Promise<Array<{ file: string, bytes: Uint8Array }>>}
 */
async function indexedDBLogs(profile) {
  const dir = join(profile, "Default", "IndexedDB");
  const stores = await readdir(dir).catch(() => []);
  const logs = [];
  for (const store of stores.filter((s) => s.endsWith(".leveldb"))) {
    for (const file of await readdir(join(dir, store))) {
      if (file.endsWith(".log")) logs.push({ file: join(store, file), bytes: await readFile(join(dir, store, file)) });
    }
  }
  return logs;
}

test("SIGKILLed browsers never leave a partial transaction or lose an acknowledged write", async () => {
  const kills = Number(process.env.CRDTDB_KILLS ?? 3);
  const profile = await mkdtemp(join(tmpdir(), "crdtdb-kill-"));
  const port = await freePort();
  let from = 0;
  /** @type {number[]} */
  const writtenPerRun = [];
  /** @type {string[]} */
  const dropped = [];
  let keep = false;
  try {
    for (let k = 0; k <= kills; k++) {
      // What the kill left on disk, before Chromium starts on it again.
      const logs = k > 0 ? await indexedDBLogs(profile) : [];
      if (process.env.CRDTDB_KEEP_PROFILE && k > 0) {
        await rm(`${profile}.killed`, { recursive: true, force: true });
        await cp(profile, `${profile}.killed`, { recursive: true, force: true }).catch(() => {});
      }
      const { kill, browser } = await startChromium(profile, port);
      try {
        const context = browser.contexts()[0];
        const page = await context.newPage();
        if (k > 0) {
          // Verify the previous run's crash from a fresh browser on the same profile.
          const state = await inspect(page).catch((err) => {
            // Chromium deletes a backing store whose log a reused log made unreadable
            // (leveldb_log.js): a browser failure, recognised only with that evidence.
            if (!/has no database/.test(String(err))) throw err;
            const torn = logs.map((l) => ({ ...l, at: findTornRecord(l.bytes) })).find((l) => l.at >= 0);
            if (!torn) throw err;
            dropped.push(`restart ${k}: ${torn.file} broken at byte ${torn.at} of ${torn.bytes.length}`);
            return null;
          });
          if (state) {
            verify(state, acks.acked, from);
            from = Math.max(maxN(state.rows), acks.acked) + 1;
          } else {
            from = acks.acked + 1;
          }
        } else {
          await load(page);
        }
        if (k === kills) break;
        var acks = { acked: from - 1 }; // eslint-disable-line no-var
        const before = from;
        await writeFor(page, from, 100 + Math.floor(Math.random() * 900), acks);
        writtenPerRun.push(acks.acked - before + 1);
      } finally {
        await kill();
        await browser.close().catch(() => {});
      }
    }
    console.log(`# ${kills} SIGKILLs; acknowledged iterations per run: ${writtenPerRun.join(", ")}`);
    if (dropped.length > 0) {
      console.log(`# Chromium dropped the database as corrupt after a reused LevelDB log (google/leveldb#1287): ${dropped.join("; ")}`);
    }
  } catch (err) {
    keep = Boolean(process.env.CRDTDB_KEEP_PROFILE);
    throw err;
  } finally {
    if (keep) console.log(`# kept the failed run's profile: ${profile} (as the kill left it: ${profile}.killed)`);
    else {
      await rm(profile, { recursive: true, force: true, maxRetries: 10 });
      await rm(`${profile}.killed`, { recursive: true, force: true });
    }
  }
});

test("a crashed renderer and a page closed mid-write leave the database whole", async () => {
  for (const how of ["Page.crash", "page.close"]) {
    const context = await h.browser.newContext();
    try {
      let page = await context.newPage();
      await load(page);
      const acks = { acked: -1 };
      await writeFor(page, 0, 300, acks);
      if (how === "Page.crash") {
        const cdp = await context.newCDPSession(page);
        // The reply never comes: the renderer is gone. Wait for the page to report it.
        const crashed = new Promise((r) => page.once("crash", r));
        cdp.send("Page.crash").catch(() => {});
        await crashed;
      } else {
        await page.close();
      }
      page = await context.newPage();
      // The old page's Web Lock is released once its renderer is gone.
      let state;
      for (let i = 0; ; i++) {
        try {
          state = await inspect(page);
          break;
        } catch (err) {
          if (i > 50 || !/already open/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      verify(state, acks.acked, 0);
    } finally {
      await context.close();
    }
  }
});

/**
 * Starts `writeTab(tab)` in `page`; records its acknowledged iterations in `acks[tab]`.
 * @param {import("playwright-core").Page} page
 * @param {string} tab
 * @param {Record<string, number>} acks
 */
async function startTab(page, tab, acks) {
  await load(page);
  /** @type {string[]} */
  const logged = [];
  page.on("console", (msg) => {
    const m = /^ack (\w+) (\d+)$/.exec(msg.text());
    if (m) acks[m[1]] = Math.max(acks[m[1]] ?? -1, Number(m[2]));
    else logged.push(msg.text());
  });
  page.evaluate((t) => /** @type {any} */ (window).writeTab(t), tab).catch(() => {});
  return logged;
}

/**
 * Waits until `tab` acknowledged `more` iterations beyond what it had (60 s at most).
 * @param {Record<string, number>} acks
 * @param {string} tab
 * @param {number} more
 * @param {string[]} logged
 */
async function acknowledged(acks, tab, more, logged) {
  const target = (acks[tab] ?? -1) + more;
  for (const start = Date.now(); (acks[tab] ?? -1) < target; ) {
    if (Date.now() - start > 60_000) throw new Error(`tab ${tab} stalled at ${acks[tab]}; its log: ${logged.join(" | ")}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("tabs writing one database: each tab's acknowledged writes land, through the owner and the tabs that take over", async () => {
  const context = await h.browser.newContext();
  try {
    /** @type {Record<string, number>} */
    const acks = {};
    const pages = { a: await context.newPage(), b: await context.newPage(), c: await context.newPage() };
    const logA = await startTab(pages.a, "a", acks);
    await acknowledged(acks, "a", 5, logA);
    const logB = await startTab(pages.b, "b", acks);
    const logC = await startTab(pages.c, "c", acks);
    await Promise.all([acknowledged(acks, "b", 30, logB), acknowledged(acks, "c", 30, logC)]);
    assert.ok(logB.some((l) => l.startsWith("opened b")) && logC.some((l) => l.startsWith("opened c")));
    // The owner's renderer dies mid-stream: one of the others takes over, both go on.
    const cdp = await context.newCDPSession(pages.a);
    const crashed = new Promise((r) => pages.a.once("crash", r));
    cdp.send("Page.crash").catch(() => {});
    await crashed;
    await Promise.all([acknowledged(acks, "b", 30, logB), acknowledged(acks, "c", 30, logC)]);
    // A tab closed mid-write: the last one goes on alone.
    await pages.b.close();
    await acknowledged(acks, "c", 30, logC);
    await pages.c.close();
    const check = await context.newPage();
    await load(check);
    /** @type {{ rows: Array<[string, any]>, raw: Record<string, Array<[any, any]>> }} */
    const state = await check.evaluate(() => /** @type {any} */ (window).inspectTabs());
    const rows = new Map(state.rows);
    for (const tab of ["a", "b", "c"]) {
      const last = acks[tab];
      assert.ok(last >= 5, `tab ${tab} acknowledged ${last}`);
      for (let i = Math.max(0, last - 19); i <= last; i++) {
        const row = rows.get(`${tab}${i % 20}`);
        assert.ok(row && row.n >= i, `tab ${tab}: acknowledged write ${i} is missing (${JSON.stringify(row)})`);
      }
    }
    // Storage is whole: the materialized store equals what the engine shows, and every row is
    // in the index with its value.
    assert.deepEqual(new Map(state.raw.materialized.map(([k, v]) => [k[1], v])), rows);
    const expected = [...rows].map(([k, r]) => JSON.stringify(["t", "byG", r.g, k])).concat([...rows].map(([k, r]) => JSON.stringify(["t", "byPair", r.g, r.n, k])));
    assert.deepEqual(state.raw.indexes.map(([k]) => JSON.stringify(k)).sort(), expected.sort());
  } finally {
    await context.close();
  }
});
