// Several live instances of one persistent database (tabs, workers, or opens in one realm):
// one owns the storage and writes it; the others hand their writes to it (js/forwarder.js,
// js/storage_host.js) and take over when it leaves. Over fake-indexeddb and shared
// MemoryStorage adapters; real tabs in tests/e2e/persistence.test.js.

import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, CRDTDBError, MemoryStorage, QuotaError } from "crdtdb";
import { IndexedDBStorage } from "../../js/storage/indexeddb.js";

let n = 0;
const fresh = () => `instances-${++n}`;
const INDEXES = { byV: { table: "t", keys: ["v"] } };
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/**
 * What storage holds of table "t": materialized rows by key, and index entries.
 * @param {{ entries: (store: any) => Promise<Array<[unknown, unknown]>> }} s
 */
async function stored(s) {
  const mat = /** @type {Array<[[string, string], unknown]>} */ (await s.entries("materialized"));
  const rows = Object.fromEntries(mat.filter(([k]) => k[0] === "t").map(([k, v]) => [k[1], v]));
  const index = (await s.entries("indexes")).map(([k]) => JSON.stringify(k));
  return { rows, index };
}

/**
 * Index entries a set of rows must have in storage, in key order.
 * @param {Record<string, any>} rows
 */
function expectedIndex(rows) {
  return Object.entries(rows)
    .filter(([, r]) => typeof r.v === "number")
    .map(([k, r]) => [r.v, k])
    .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1))
    .map(([v, k]) => JSON.stringify(["t", "byV", v, k]));
}

/**
 * A MemoryStorage whose writes (those carrying rows) and loads can be held back or failed.
 */
function gatedMemory() {
  const mem = new MemoryStorage();
  /** @type {Array<() => void>} */
  const held = [];
  const s = {
    mem,
    hold: false,
    holdLoad: false,
    /** @type {Error | null} */
    failLoad: null,
    /** @type {Error | null} fails the next write that carries rows */
    failRows: null,
    release() {
      for (const r of held.splice(0)) r();
    },
    /** Lets only the last held load or write go on. */
    releaseLast() {
      held.pop()?.();
    },
    async load() {
      if (s.holdLoad) await new Promise((r) => held.push(() => r(undefined)));
      if (s.failLoad) throw s.failLoad;
      return mem.load();
    },
    /** @param {any} w */
    async write(w) {
      if (w.rows.length > 0 && s.failRows) {
        const err = s.failRows;
        s.failRows = null;
        throw err;
      }
      if (s.hold && w.rows.length > 0) await new Promise((r) => held.push(() => r(undefined)));
      return mem.write(w);
    },
    close: () => mem.close(),
    /** @param {any} store */
    entries: (store) => mem.entries(store),
  };
  return s;
}

/**
 * Polls until `cond` holds (2 s at most).
 * @param {() => boolean | Promise<boolean>} cond
 * @param {string} what
 */
async function until(cond, what) {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await tick(5);
  }
  throw new Error(`timed out waiting until ${what}`);
}

test("two live instances: each is its own peer, each write resolves once storage holds it", async () => {
  const name = fresh();
  const a = await CRDTDB.open(name, { indexes: INDEXES });
  const b = await CRDTDB.open(name, { indexes: INDEXES });
  assert.notEqual(a.peerId, b.peerId);
  const s = new IndexedDBStorage(name);
  await b.table("t").set("b1", { v: 2 });
  // Resolved means stored, though `b` never writes storage itself.
  assert.deepEqual((await stored(s)).rows, { b1: { v: 2 } });
  await Promise.all([a.table("t").set("a1", { v: 1 }), b.table("t").set("b2", { v: 3 }), b.table("t").update("b1", { v: 5 })]);
  const now = await stored(s);
  assert.deepEqual(now.rows, { a1: { v: 1 }, b1: { v: 5 }, b2: { v: 3 } });
  assert.deepEqual(now.index, expectedIndex(now.rows), "every index entry matches its row");
  // The owner shows the other's writes (origin "storage"); the other shows its own.
  assert.deepEqual(a.table("t").get("b2"), { v: 3 });
  assert.deepEqual(b.table("t").keys(), ["b1", "b2"]);
  a.close();
  b.close();
  s.close();
  await tick(10);
  const c = await CRDTDB.open(name, { indexes: INDEXES });
  assert.deepEqual(c.table("t").entries(), [["a1", { v: 1 }], ["b1", { v: 5 }], ["b2", { v: 3 }]]);
  assert.deepEqual(c.index("byV").keys(), ["a1", "b2", "b1"]);
  const d = await CRDTDB.open(name);
  await assert.rejects(CRDTDB.deleteDatabase(name), (err) => err instanceof CRDTDBError && /open in another instance/.test(err.message));
  c.close();
  d.close();
});

test("a non-owner's update events fire once the owner made its writes durable", async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open(fresh(), { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  /** @type {any[]} */
  const updates = [];
  b.on("update", (e) => updates.push(e));
  s.hold = true;
  let done = false;
  const p = b.table("t").set("k", { v: 1 }).then(() => (done = true));
  await tick(20);
  assert.equal(done, false, "not durable yet");
  assert.equal(updates.length, 0, "nothing leaves before it is durable");
  assert.deepEqual(b.table("t").get("k"), { v: 1 }, "visible at once");
  s.hold = false;
  s.release();
  await p;
  assert.equal(updates.length, 1);
  assert.equal(updates[0].origin, "local");
  // The bytes are this instance's change: a fresh replica takes them in.
  const peer = await CRDTDB.open("peer", { storage: "memory" });
  assert.deepEqual(peer.applyChanges(updates[0].bytes), { applied: 1, pending: 0 });
  peer.close();
  a.close();
  b.close();
});

test("the owner leaving hands storage over: what it had not acknowledged is written by the next", async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open(fresh(), { storage: s, indexes: INDEXES });
  const b = await CRDTDB.open("x", { storage: s, indexes: INDEXES });
  await a.table("t").set("a1", { v: 1 });
  // `b` writes; `a` closes before taking it in.
  const p1 = b.table("t").set("b1", { v: 2 });
  a.close();
  const p2 = b.table("t").set("b2", { v: 3 });
  await Promise.all([p1, p2]);
  assert.deepEqual((await stored(s)).rows, { a1: { v: 1 }, b1: { v: 2 }, b2: { v: 3 } });
  // `b` owns the storage now: what it writes lands, and a new instance hands its writes to it.
  const c = await CRDTDB.open("x", { storage: s, indexes: INDEXES });
  assert.deepEqual(c.table("t").keys(), ["a1", "b1", "b2"]);
  await c.table("t").set("c1", { v: 4 });
  await b.table("t").delete("a1");
  const now = await stored(s);
  assert.deepEqual(now.rows, { b1: { v: 2 }, b2: { v: 3 }, c1: { v: 4 } });
  assert.deepEqual(now.index, expectedIndex(now.rows));
  b.close();
  c.close();
});

test("with three instances, the one left out sends its writes to the new owner", async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open(fresh(), { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  const c = await CRDTDB.open("x", { storage: s });
  s.hold = true;
  const pa = a.table("t").set("a", { v: 1 });
  await tick(5);
  // Both forwards reach `a` while its own write is held; it closes before they are durable.
  const pb = b.table("t").set("b", { v: 2 });
  const pc = c.table("t").set("c", { v: 3 });
  await tick(5);
  a.close();
  s.hold = false;
  s.release();
  await Promise.all([pa, pb, pc]);
  for (let i = 0; i < 50 && (await s.entries("materialized")).length < 3; i++) await tick(5);
  assert.deepEqual((await stored(s)).rows, { a: { v: 1 }, b: { v: 2 }, c: { v: 3 } });
  await Promise.all([b.table("t").set("b2", { v: 4 }), c.table("t").set("c2", { v: 5 })]);
  assert.deepEqual(Object.keys((await stored(s)).rows).sort(), ["a", "b", "b2", "c", "c2"]);
  b.close();
  c.close();
  await tick(5);
  const d = await CRDTDB.open("x", { storage: s });
  assert.deepEqual(d.table("t").keys(), ["a", "b", "b2", "c", "c2"]);
  d.close();
});

test("a write the owner cannot make durable rejects with its error, and the sender returns to its durable state", async () => {
  const mem = new MemoryStorage();
  const a = await CRDTDB.open(fresh(), { storage: mem });
  const b = await CRDTDB.open("x", { storage: mem });
  await b.table("t").set("kept", { v: 1 });
  const id = b.peerId;
  /** @type {any[]} */
  const updates = [];
  b.on("update", (e) => updates.push(e));
  mem.failNextWrite = new QuotaError("quota exceeded (test)");
  const p = b.table("t").set("lost", { v: 2 });
  await assert.rejects(p, (err) => err instanceof QuotaError && /quota exceeded \(test\)/.test(err.message));
  for (let i = 0; i < 50 && b.table("t").get("lost") !== undefined; i++) await tick(5);
  assert.equal(b.table("t").get("lost"), undefined);
  assert.deepEqual(b.table("t").get("kept"), { v: 1 });
  assert.deepEqual(updates, [], "nothing rolled back was ever sent");
  // Its events that were not durable may have left through changesSince: a new id goes on.
  assert.notEqual(b.peerId, id);
  await b.table("t").set("after", { v: 3 });
  assert.deepEqual(Object.keys((await stored(mem)).rows).sort(), ["after", "kept"]);
  a.close();
  b.close();
});

test("closing a non-owner waits for its writes; if the owner left meanwhile, it writes them itself", async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open(fresh(), { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  const p = b.table("t").set("b", { v: 1 });
  b.close();
  a.close();
  await p;
  await tick(5);
  const c = await CRDTDB.open("x", { storage: s });
  assert.deepEqual(c.table("t").get("b"), { v: 1 });
  c.close();
});

test("instances are told apart by storage: two adapters with one name are two databases", async () => {
  const a = await CRDTDB.open("same", { storage: new MemoryStorage() });
  const other = new MemoryStorage();
  const b = await CRDTDB.open("same", { storage: other });
  await b.table("t").set("k", { v: 1 });
  assert.equal((await other.entries("materialized")).length, 1, "b owns its own storage");
  assert.equal(a.table("t").get("k"), undefined);
  a.close();
  b.close();
});

/** A small deterministic generator (mulberry32). @param {number} seed */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = Number(process.env.CRDTDB_INSTANCE_SEEDS ?? 12);

test(`randomized: instances open, write and close in any order; every acknowledged write is stored (${SEEDS} seeds)`, async () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = rng(seed);
    const s = gatedMemory();
    /** @type {Array<{ db: CRDTDB, col: string, count: number }>} */
    const live = [];
    /** @type {Map<string, number>} instance → its last acknowledged count (a row of its own) */
    const acked = new Map();
    /** @type {Set<string>} keys of acknowledged inserts */
    const keys = new Set();
    /** @type {Promise<unknown>[]} */
    const writes = [];
    let opened = 0;
    for (let step = 0; step < 60; step++) {
      const x = r();
      if (live.length === 0 || (x < 0.15 && live.length < 4)) {
        // (an open waits for an instance of this realm that is closing: let its write land)
        s.hold = false;
        s.release();
        const db = await CRDTDB.open("x", { storage: s, indexes: INDEXES });
        live.push({ db, col: `c${opened++}`, count: 0 });
      } else if (x < 0.25) {
        const [gone] = live.splice(Math.floor(r() * live.length), 1);
        gone.db.close();
      } else if (x < 0.35) {
        s.hold = !s.hold;
        if (!s.hold) s.release();
      } else {
        const inst = live[Math.floor(r() * live.length)];
        const count = ++inst.count;
        const key = `${inst.col}-${count}`;
        const { col } = inst;
        writes.push(
          inst.db.table("t").set(key, { v: Math.floor(r() * 5) }).then(() => keys.add(key)),
          inst.db.table("last").set(col, { count }).then(() => {
            acked.set(col, Math.max(acked.get(col) ?? 0, count));
          }),
        );
      }
      if (r() < 0.3) await tick(r() < 0.5 ? 0 : 2);
    }
    s.hold = false;
    s.release();
    for (const { db } of live) db.close();
    await Promise.all(writes);
    await tick(5);
    const check = await CRDTDB.open("x", { storage: s, indexes: INDEXES });
    const t = check.table("t");
    for (const k of keys) assert.ok(t.get(k), `seed ${seed}: acknowledged row ${k} is stored`);
    for (const [col, count] of acked) assert.equal(check.table("last").get(col)?.count, count, `seed ${seed}: ${col}`);
    const now = await stored(s);
    assert.deepEqual(now.index, expectedIndex(now.rows), `seed ${seed}: index entries match the rows`);
    assert.deepEqual(now.rows, Object.fromEntries(t.entries()), `seed ${seed}: storage holds what the reopened instance shows`);
    check.close();
  }
});

// ---- races the review found (each failed before its fix) ----

test("a sender reloading after a failed write, then taking over, keeps its later writes", { timeout: 10_000 }, async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open("x", { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  s.failRows = new CRDTDBError("disk gone (test)");
  s.holdLoad = true; // b's reload waits
  await assert.rejects(b.table("t").set("lost", { v: 1 }), /disk gone/);
  a.close(); // b is granted the lock while it reloads
  await tick(10);
  s.holdLoad = false;
  s.releaseLast(); // the take-over's load lands, and it completes, before the reload's
  await tick(20);
  s.release();
  await until(() => b.table("t").get("lost") === undefined, "b reloaded");
  await b.table("t").set("after", { v: 2 });
  const c = await CRDTDB.open("x", { storage: s });
  await c.table("t").set("fromC", { v: 3 });
  assert.deepEqual(Object.keys((await stored(s)).rows).sort(), ["after", "fromC"]);
  b.close();
  c.close();
});

test("a transaction of a sender whose owner left unacknowledged does not stall the take-over", { timeout: 10_000 }, async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open("x", { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  // The owner closes before the transaction's write reaches it.
  await b.transaction(async (tx) => {
    await tx.table("t").set("tx", { v: 1 });
    a.close();
  });
  await b.table("t").set("after", { v: 2 });
  assert.deepEqual(Object.keys((await stored(s)).rows).sort(), ["after", "tx"]);
  b.close();
});

test("when storage cannot be taken over, waiting writes reject and the instance says why", { timeout: 10_000 }, async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open("x", { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  const p = b.table("t").set("k", { v: 1 });
  s.failLoad = new CRDTDBError("cannot read (test)");
  a.close(); // before the write reaches it
  await assert.rejects(p, /could not be taken over.*cannot read/);
  await until(() => {
    try {
      b.table("t").get("k");
      return false;
    } catch (err) {
      return /cannot read/.test(String(err));
    }
  }, "b failed");
  b.close();
});

test("a change listener's write during a take-over resolves only once durable", { timeout: 10_000 }, async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open("x", { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  await a.table("t").set("a1", { v: 1 }); // b has not seen it: the take-over brings it
  /** @type {Promise<void> | null} */
  let derived = null;
  b.on("change", (e) => {
    if (e.key === "a1" && derived === null) derived = b.table("t").set("derived", { v: 2 });
  });
  s.hold = true;
  a.close();
  await until(() => derived !== null, "the listener ran");
  let resolved = false;
  /** @type {Promise<void>} */ (derived).then(() => (resolved = true));
  await tick(20);
  assert.equal(resolved, false, "not durable while storage holds the write back");
  s.hold = false;
  s.release();
  await derived;
  assert.deepEqual((await stored(s)).rows.derived, { v: 2 });
  b.close();
});

test("writes sent while the owner reloads its durable state are taken once it is back", { timeout: 10_000 }, async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open("x", { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  s.failRows = new QuotaError("quota exceeded (test)");
  s.holdLoad = true; // a's reload waits
  await assert.rejects(a.table("t").set("lost", { v: 1 }), QuotaError);
  const p = b.table("t").set("kept", { v: 2 });
  await tick(20);
  s.holdLoad = false;
  s.release();
  await p;
  assert.deepEqual(Object.keys((await stored(s)).rows), ["kept"]);
  a.close();
  b.close();
});

test("an instance whose first write as the new owner fails goes on under a new peer id", { timeout: 10_000 }, async () => {
  const s = gatedMemory();
  const a = await CRDTDB.open("x", { storage: s });
  const b = await CRDTDB.open("x", { storage: s });
  const id = b.peerId;
  const p = b.table("t").set("k", { v: 1 }); // its events may leave before they are durable
  s.failRows = new CRDTDBError("disk gone (test)");
  a.close();
  await assert.rejects(p, /disk gone/);
  await until(() => b.peerId !== id, "b renewed its id");
  // (writes are refused until the reload is done)
  await until(
    () =>
      b.table("t").set("k2", { v: 2 }).then(
        () => true,
        (err) => {
          if (!/reloading its durable state/.test(String(err))) throw err;
          return false;
        },
      ),
    "b reloaded",
  );
  assert.deepEqual(Object.keys((await stored(s)).rows), ["k2"]);
  b.close();
});
