// IndexedDB persistence through the public API, over fake-indexeddb (real Chromium: tests/e2e):
// durability, equivalence on reopen, one storage write per task, failures that roll back to
// the durable state, peer ids, index upkeep in storage, schema changes.

import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { above, CRDTDB, CRDTDBError, MemoryStorage, QuotaError } from "crdtdb";
import { IndexedDBStorage } from "../../js/storage/indexeddb.js";

let n = 0;
const fresh = () => `persist-${++n}`;

const INDEXES = {
  byAge: { table: "users", keys: ["age"] },
  byName: { table: "users", keys: ["last", "first"] },
};

/**
 * Everything observable of a database: rows by key, index orders, version, history.
 * @param {CRDTDB} db
 */
function observe(db) {
  const users = db.table("users");
  return {
    rows: users.entries(),
    posts: db.table("posts").entries(),
    byAge: db.index("byAge").keys(),
    byName: db.index("byName").keys(),
    count: db.index("byAge").count(above(30)),
    version: [...db.version()],
    history: [...db.changesSince()],
  };
}

/**
 * The index entries storage should hold for the rows a database shows.
 * @param {CRDTDB} db
 */
function expectedEntries(db) {
  const isKey = (/** @type {unknown} */ v) =>
    typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) ||
    (Array.isArray(v) && v.every(isKey));
  const out = [];
  for (const [key, row] of db.table("users").entries()) {
    for (const [name, def] of Object.entries(INDEXES)) {
      const vals = def.keys.map((k) => /** @type {any} */ (row)[k]);
      if (vals.every(isKey)) out.push(JSON.stringify(["users", name, ...vals, key]));
    }
  }
  return out.sort();
}

/** @param {string} name */
async function storedEntries(name) {
  const s = new IndexedDBStorage(name);
  const list = (await s.entries("indexes")).map(([k]) => JSON.stringify(k)).sort();
  const mat = await s.entries("materialized");
  s.close();
  return { list, mat };
}

test("writes resolve once durable and survive a reopen, indexes included", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name, { indexes: INDEXES });
  const users = db.table("users");
  await users.set("u1", { first: "Ann", last: "Lee", age: 31 });
  // Resolved means stored: a separate connection sees it.
  const s = new IndexedDBStorage(name);
  assert.deepEqual(await s.entries("materialized"), [[["users", "u1"], { age: 31, first: "Ann", last: "Lee" }]]);
  s.close();
  await users.update("u1", { age: 32 });
  await users.set("u2", { first: "Bo", last: "Ma", age: 20 });
  await users.delete("u2");
  await db.table("posts").set("p1", { title: "hello" });
  const before = observe(db);
  const peer = db.peerId;
  db.close();
  const again = await CRDTDB.open(name, { indexes: INDEXES });
  assert.deepEqual(observe(again), before);
  assert.equal(again.peerId, peer, "a default open reuses the database's peer id");
  const { list, mat } = await storedEntries(name);
  assert.deepEqual(list, expectedEntries(again));
  assert.deepEqual(mat.map(([k]) => k), [["posts", "p1"], ["users", "u1"]]);
  again.close();
});

test("random writes, merges and reopens: the reopened database equals the one that wrote it", async () => {
  for (let seed = 1; seed <= 6; seed++) {
    let x = seed * 7919;
    const rnd = (/** @type {number} */ k) => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x % k;
    };
    const name = fresh();
    let db = await CRDTDB.open(name, { indexes: INDEXES });
    const other = await CRDTDB.open(fresh(), { storage: "memory", indexes: INDEXES });
    for (let step = 0; step < 150; step++) {
      const what = rnd(10);
      const key = `k${rnd(8)}`;
      const target = rnd(3) === 0 ? other : db;
      const row = { first: ["a", "b", "c"][rnd(3)], last: rnd(2) ? "x" : 1, age: rnd(2) ? rnd(60) : "?" };
      if (what < 4) {
        target.table("users").set(key, row).catch(() => {});
      } else if (what < 6) {
        target.table("users").update(key, { age: rnd(60) }).catch(() => {});
      } else if (what < 7) {
        target.table("users").delete(key).catch(() => {});
      } else if (what < 8) {
        db.applyChanges(other.changesSince(db.version()));
        other.applyChanges(db.changesSince(other.version()));
      } else if (what < 9) {
        await db.transaction(async (tx) => {
          await tx.table("users").set(`t${rnd(4)}`, row);
          await tx.table("posts").set(key, { n: step });
        });
      } else {
        const before = observe(db);
        db.close();
        db = await CRDTDB.open(name, { indexes: INDEXES });
        assert.deepEqual(observe(db), before, `seed ${seed} step ${step}`);
        const { list } = await storedEntries(name);
        assert.deepEqual(list, expectedEntries(db), `seed ${seed} step ${step}: index entries`);
      }
    }
    db.close();
    other.close();
  }
});

test("writes made in one task share one storage write", async () => {
  const mem = new MemoryStorage();
  let writes = 0;
  const counting = {
    load: () => mem.load(),
    write: (/** @type {any} */ w) => {
      writes++;
      return mem.write(w);
    },
    close: () => mem.close(),
  };
  const db = await CRDTDB.open(fresh(), { storage: counting, indexes: INDEXES });
  writes = 0;
  const t = db.table("users");
  const all = [];
  for (let i = 0; i < 50; i++) all.push(t.set(`u${i}`, { age: i }));
  await Promise.all(all);
  assert.equal(writes, 1);
  // One after another: one write each.
  await t.set("a", { age: 1 });
  await t.set("b", { age: 2 });
  assert.equal(writes, 3);
  db.close();
  const again = await CRDTDB.open("x", { storage: mem, indexes: INDEXES });
  assert.equal(again.table("users").count(), 52);
  again.close();
});

test("a failed storage write rejects, rolls back to the durable state and sends nothing", async () => {
  const mem = new MemoryStorage();
  const db = await CRDTDB.open(fresh(), { storage: mem, indexes: INDEXES });
  const t = db.table("users");
  await t.set("u1", { age: 30 });
  /** @type {any[]} */
  const updates = [];
  /** @type {any[]} */
  const changes = [];
  /** @type {any[][]} */
  const live = [];
  db.on("update", (e) => updates.push(e));
  db.on("change", (e) => changes.push(e));
  db.index("byAge").subscribe(above(0), (rows) => live.push(rows.map((r) => r.age)));
  mem.failNextWrite = new QuotaError("quota exceeded (test)");
  const p1 = t.update("u1", { age: 31 });
  const p2 = t.set("u2", { age: 40 });
  assert.equal(t.get("u1")?.age, 31, "writes apply to memory at once");
  await assert.rejects(p1, QuotaError);
  await assert.rejects(p2, QuotaError);
  // Back to the durable state once reloaded.
  for (let i = 0; i < 50 && t.get("u1")?.age !== 30; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(t.get("u1")?.age, 30);
  assert.equal(t.get("u2"), undefined);
  assert.equal(db.index("byAge").count(), 1);
  assert.deepEqual(updates, [], "nothing rolled back was ever sent");
  assert.ok(changes.some((c) => c.key === "u2" && c.origin === "storage"));
  assert.deepEqual(live.at(-1), [30]);
  // It works on afterwards, and what it writes is durable.
  await t.set("u3", { age: 50 });
  assert.equal(updates.length, 1);
  db.close();
  const again = await CRDTDB.open("y", { storage: mem, indexes: INDEXES });
  assert.deepEqual(again.table("users").keys(), ["u1", "u3"]);
  assert.equal(again.table("users").get("u1")?.age, 30);
  again.close();
});

test("update events fire only once the change is durable", async () => {
  const mem = new MemoryStorage();
  /** @type {() => void} */
  let release = () => {};
  let gate = false;
  const gated = {
    load: () => mem.load(),
    write: async (/** @type {any} */ w) => {
      if (gate) {
        await new Promise((r) => {
          release = () => r(undefined);
        });
      }
      return mem.write(w);
    },
    close: () => mem.close(),
  };
  const db = await CRDTDB.open(fresh(), { storage: gated });
  gate = true;
  /** @type {any[]} */
  const updates = [];
  db.on("update", (e) => updates.push(e));
  const p = db.table("t").set("k", { v: 1 });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(updates.length, 0);
  release();
  await p;
  assert.equal(updates.length, 1);
  assert.equal(updates[0].origin, "local");
  db.close();
});

test("close() still writes what was not yet durable", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name);
  const p = db.table("t").set("k", { v: 1 });
  db.close();
  await p;
  const again = await CRDTDB.open(name);
  assert.deepEqual(again.table("t").get("k"), { v: 1 });
  again.close();
});

test("a default open reuses the database's peer id when no live instance holds it", async () => {
  const name = fresh();
  const a = await CRDTDB.open(name);
  const other = await CRDTDB.open(name);
  assert.notEqual(other.peerId, a.peerId, "a second live instance is another peer");
  other.close();
  const id = a.peerId;
  await a.table("t").set("a", { v: 1 });
  a.close();
  const b = await CRDTDB.open(name);
  assert.equal(b.peerId, id);
  // Its sequence goes on where storage left it: a peer accepts what it writes next.
  const peer = await CRDTDB.open(fresh(), { storage: "memory" });
  peer.applyChanges(b.changesSince());
  await b.table("t").set("b", { v: 2 });
  assert.deepEqual(peer.applyChanges(b.changesSince(peer.version())), { applied: 1, pending: 0 });
  b.close();
  peer.close();
  await new Promise((r) => setTimeout(r, 0));
  // An explicit peer id is used and remembered, and does not replace the default one.
  const c = await CRDTDB.open(name, { peerId: "explicit" });
  assert.equal(c.peerId, "explicit");
  c.close();
  const d = await CRDTDB.open(name);
  assert.equal(d.peerId, id);
  d.close();
  await new Promise((r) => setTimeout(r, 0));
  const s = new IndexedDBStorage(name);
  const meta = new Map(/** @type {any} */ (await s.entries("meta")));
  s.close();
  assert.deepEqual(meta.get("peers"), [id, "explicit"]);
  const m1 = await CRDTDB.open(name, { storage: "memory" });
  const m2 = await CRDTDB.open(name, { storage: "memory" });
  assert.notEqual(m1.peerId, m2.peerId);
  m1.close();
  m2.close();
});

test("own changes leave through changesSince only once durable", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name);
  await db.table("t").set("a", { v: 1 });
  const pending = db.table("t").set("b", { v: 2 });
  const peer = await CRDTDB.open(fresh(), { storage: "memory" });
  peer.applyChanges(db.changesSince());
  assert.deepEqual(peer.table("t").keys(), ["a"], "not durable yet: withheld");
  await pending;
  peer.applyChanges(db.changesSince(peer.version()));
  assert.deepEqual(peer.table("t").keys(), ["a", "b"]);
  db.close();
  peer.close();
});

test("an explicit peer id continues its sequence: peers accept what it writes after a reopen", async () => {
  const name = fresh();
  const peer = await CRDTDB.open(fresh(), { storage: "memory" });
  const db = await CRDTDB.open(name, { peerId: "mine" });
  await db.table("t").set("a", { v: 1 });
  peer.applyChanges(db.changesSince());
  db.close();
  const again = await CRDTDB.open(name, { peerId: "mine" });
  await again.table("t").set("b", { v: 2 });
  assert.deepEqual(peer.applyChanges(again.changesSince(peer.version())), { applied: 1, pending: 0 });
  assert.deepEqual(peer.version(), again.version());
  again.close();
  peer.close();
});

test("declaring a new index builds its stored entries; a removed one's are deleted", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name, { indexes: { byAge: INDEXES.byAge } });
  await db.table("users").set("u1", { first: "A", last: "Z", age: 3 });
  await db.table("users").set("u2", { first: "B", last: "Y", age: 4 });
  db.close();
  const again = await CRDTDB.open(name, { indexes: { byName: INDEXES.byName } });
  assert.deepEqual(again.index("byName").keys(), ["u2", "u1"]);
  const { list } = await storedEntries(name);
  assert.deepEqual(list, [
    JSON.stringify(["users", "byName", "Y", "B", "u2"]),
    JSON.stringify(["users", "byName", "Z", "A", "u1"]),
  ]);
  again.close();
  // Redefining an index under the same name replaces its entries.
  const third = await CRDTDB.open(name, { indexes: { byName: { table: "users", keys: ["first"] } } });
  assert.deepEqual((await storedEntries(name)).list, [
    JSON.stringify(["users", "byName", "A", "u1"]),
    JSON.stringify(["users", "byName", "B", "u2"]),
  ]);
  third.close();
});

test("deleteDatabase removes everything persisted", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name);
  await db.table("t").set("k", { v: 1 });
  // Not under an open instance; right after close() it waits for the last writes.
  await assert.rejects(CRDTDB.deleteDatabase(name), /open in another instance/);
  db.table("t").set("k2", { v: 2 });
  db.close();
  await CRDTDB.deleteDatabase(name);
  const again = await CRDTDB.open(name);
  assert.equal(again.table("t").get("k"), undefined);
  again.close();
});

test("a database written by a newer format is refused, not misread", async () => {
  const name = fresh();
  const s = new IndexedDBStorage(name);
  await s.write({ rows: [], indexDeletes: [], indexPuts: [], eventDeletes: [], eventPuts: [], meta: [["format", 99]], dropIndexes: [] });
  s.close();
  await assert.rejects(CRDTDB.open(name), /format 99/);
});

test("storageEstimate reports the history's size (and the browser's estimate where there is one)", async () => {
  const db = await CRDTDB.open(fresh());
  const before = await db.storageEstimate();
  for (let i = 0; i < 20; i++) await db.table("t").set(`k${i}`, { v: "x".repeat(50) });
  const after = await db.storageEstimate();
  assert.equal(before.historyBytes, 0);
  assert.ok(after.historyBytes > 20 * 50, `${after.historyBytes}`);
  // The history is what changesSince sends, without its frame (14 bytes) and chunk count (1).
  assert.equal(after.historyBytes, db.changesSince().length - 15);
  // Node has no StorageManager: no estimate rather than a made-up one.
  assert.equal(after.usage, undefined);
  db.close();
});

test("closing right after a failed write does not persist what failed", async () => {
  const mem = new MemoryStorage();
  const db = await CRDTDB.open(fresh(), { storage: mem });
  await db.table("t").set("a", { v: 1 });
  mem.failNextWrite = new CRDTDBError("disk gone (test)");
  const p = db.table("t").set("a", { v: 2 });
  await assert.rejects(p, /disk gone/);
  db.close(); // before the reload finished: the engine still shows v: 2
  await new Promise((r) => setTimeout(r, 20));
  const again = await CRDTDB.open("z", { storage: mem });
  assert.deepEqual(again.table("t").get("a"), { v: 1 });
  again.close();
});

test("events that left before a write failed are never reissued with other content", async () => {
  // A peer pulls (changesSince) before the write is durable; the write then fails and the
  // database reloads. What it writes next must reach that peer (it would ignore a reused seq).
  const kept = new MemoryStorage();
  const a = await CRDTDB.open(fresh(), { storage: kept });
  const b = await CRDTDB.open(fresh(), { storage: "memory" });
  await a.table("t").set("k0", { v: 0 });
  kept.failNextWrite = new CRDTDBError("disk full (test)");
  const p = a.table("t").set("k1", { v: "never durable" });
  b.applyChanges(a.changesSince(b.version()));
  await assert.rejects(p, /disk full/);
  for (let i = 0; i < 50 && a.table("t").get("k1") !== undefined; i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 10));
  await a.table("t").set("k2", { v: "new write" });
  b.applyChanges(a.changesSince(b.version()));
  assert.deepEqual(b.table("t").get("k2"), { v: "new write" });
  a.close();
  b.close();
});

test("a listener that closes the database does not lose the write that triggered it", async () => {
  const kept = new MemoryStorage();
  const db = await CRDTDB.open(fresh(), { storage: kept });
  await db.table("t").set("a", { v: 1 });
  db.on("change", () => db.close());
  await db.table("t").set("b", { v: 2 });
  const again = await CRDTDB.open("w", { storage: kept });
  assert.deepEqual(again.table("t").keys(), ["a", "b"]);
  again.close();
});

test("a database deleted under an open instance is not recreated half-empty", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name);
  await db.table("t").set("a", { v: 1 });
  await IndexedDBStorage.delete(name); // e.g. another tab's own IndexedDB code
  await assert.rejects(db.table("t").set("b", { v: 2 }), /deleted while open/);
  db.close();
  await new Promise((r) => setTimeout(r, 20));
  const again = await CRDTDB.open(name); // empty, and healthy
  assert.deepEqual(again.table("t").keys(), []);
  await again.table("t").set("c", { v: 3 });
  again.close();
  const third = await CRDTDB.open(name);
  assert.deepEqual(third.table("t").keys(), ["c"]);
  third.close();
});

test("when the durable state cannot be reloaded the database closes and says why", async () => {
  const mem = new MemoryStorage();
  let loads = 0;
  const flaky = {
    load: () => (++loads > 1 ? Promise.reject(new Error("storage unreadable (test)")) : mem.load()),
    write: (/** @type {any} */ w) => mem.write(w),
    close: () => mem.close(),
  };
  const name = fresh();
  const db = await CRDTDB.open(name, { storage: flaky });
  await db.table("t").set("a", { v: 1 });
  mem.failNextWrite = new CRDTDBError("write failed (test)");
  await assert.rejects(db.table("t").set("b", { v: 2 }), /write failed/);
  for (let i = 0; i < 50; i++) {
    try {
      db.table("t").get("a");
      await new Promise((r) => setTimeout(r, 5));
    } catch {
      break;
    }
  }
  assert.throws(() => db.table("t").get("a"), /storage unreadable/);
  // Its claim is released: the database opens again.
  const again = await CRDTDB.open(name, { storage: mem });
  assert.deepEqual(again.table("t").get("a"), { v: 1 });
  again.close();
});

test("progress events tell how far opening got: stored rows taken in, new index entries written", async () => {
  const name = fresh();
  const db = await CRDTDB.open(name);
  const N = 12_345;
  for (let b = 0; b < N; b += 2000) {
    await db.transaction(async (tx) => {
      for (let i = b; i < Math.min(N, b + 2000); i++) await tx.table("users").set(`u${i}`, { age: i % 90, last: "L", first: `F${i}` });
    });
  }
  db.close();
  await new Promise((r) => setTimeout(r, 0));
  // Reopened with an index it did not have: its entries are written as the open proceeds.
  const again = new CRDTDB(name, { indexes: INDEXES });
  /** @type {any[]} */
  const events = [];
  const off = again.on("progress", (e) => events.push(e));
  await again.ready;
  off();
  const rows = events.filter((e) => e.phase === "rows");
  assert.ok(rows.length >= 2, "IndexedDB hands the rows over in batches");
  assert.ok(rows.every((e, i) => e.total === N && (i === 0 || e.done > rows[i - 1].done)));
  assert.equal(rows.at(-1).done, N);
  const ix = events.filter((e) => e.phase === "indexes");
  assert.equal(ix[0].done, 0);
  assert.equal(ix.at(-1).done, 2 * N);
  assert.ok(ix.length >= 4 && ix.every((e, i) => e.total === 2 * N && (i === 0 || e.done > ix[i - 1].done)));
  assert.ok(Object.isFrozen(ix[0]));
  assert.equal(again.index("byAge").count(), N);
  assert.deepEqual(expectedEntries(again), (await storedEntries(name)).list);
  // Nothing new to build: no index progress.
  again.close();
  await new Promise((r) => setTimeout(r, 0));
  const third = new CRDTDB(name, { indexes: INDEXES });
  /** @type {any[]} */
  const later = [];
  third.on("progress", (e) => later.push(e));
  await third.ready;
  assert.deepEqual(later.filter((e) => e.phase === "indexes"), []);
  third.close();
});
