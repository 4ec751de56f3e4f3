// The stored format is a promise to every database already out there: a checked-in dump of a
// database written in storage format 1 (tests/js/data/storage-format-1.json) must open with
// the same rows, conflicts, index order, version and history, and take further writes.
// Regenerate it only together with an upgrade step: CRDTDB_WRITE_DUMP=1 node --test <this file>.

import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { CRDTDB, MemoryStorage } from "crdtdb";
import { IndexedDBStorage } from "../../js/storage/indexeddb.js";

const DUMP = new URL("./data/storage-format-1.json", import.meta.url);
const INDEXES = { byAge: { table: "users", keys: ["age"] }, byCity: { table: "users", keys: ["city", "age"] } };

/** @param {Uint8Array} b */
const b64 = (b) => Buffer.from(b).toString("base64");
/** @param {string} s */
const unb64 = (s) => new Uint8Array(Buffer.from(s, "base64"));

/** @param {CRDTDB} db */
function observe(db) {
  return {
    rows: db.table("users").entries(),
    conflicts: db.table("users").conflicts("u1"),
    byAge: db.index("byAge").keys(),
    byCity: db.index("byCity").keys(),
    version: b64(db.version()),
    history: b64(db.changesSince()),
  };
}

async function writeDump() {
  const mem = new MemoryStorage();
  const db = await CRDTDB.open("dump", { storage: mem, indexes: INDEXES, peerId: "dump-a" });
  const other = await CRDTDB.open("dump-b", { storage: "memory", peerId: "dump-b" });
  const users = db.table("users");
  for (let i = 0; i < 20; i++) await users.set(`u${i}`, { name: `n${i}`, age: 20 + (i % 7), city: i % 2 ? "Oslo" : "Rome" });
  await users.update("u3", { age: 99 });
  await users.delete("u4");
  await db.transaction(async (tx) => {
    await tx.table("users").set("u5", { name: "five", age: 55, city: ["a", 1] });
    await tx.table("posts").set("p1", { title: "hello", tags: ["x", "y"] });
  });
  other.applyChanges(db.changesSince());
  await other.table("users").update("u1", { name: "from b" });
  await users.update("u1", { name: "from a" });
  db.applyChanges(other.changesSince(db.version()));
  await users.set("u20", { name: "after merge", age: 1.5 });
  const expected = observe(db);
  db.close();
  other.close();
  await new Promise((r) => setTimeout(r, 0));
  /** @type {Record<string, Array<[unknown, unknown]>>} */
  const stores = {};
  for (const s of /** @type {const} */ (["crdt_rows", "materialized", "indexes", "events", "meta"])) {
    stores[s] = (await mem.entries(s)).map(([k, v]) => [k, v instanceof Uint8Array ? { b64: b64(v) } : v]);
  }
  writeFileSync(DUMP, `${JSON.stringify({ format: 1, indexes: INDEXES, expected, stores }, null, 1)}\n`);
}

test("a database stored in format 1 opens unchanged and writes on", async () => {
  if (process.env.CRDTDB_WRITE_DUMP) await writeDump();
  const dump = JSON.parse(readFileSync(DUMP, "utf8"));
  // Put the dump into IndexedDB as it was stored.
  const s = new IndexedDBStorage("restored");
  /** @param {any} v */
  const val = (v) => (v !== null && typeof v === "object" && "b64" in v ? unb64(v.b64) : v);
  await s.write({
    rows: dump.stores.crdt_rows.map((/** @type {any} */ [[table, key], v]) => ({
      table,
      key,
      state: val(v),
      row: dump.stores.materialized.find((/** @type {any} */ [k]) => k[0] === table && k[1] === key)?.[1] ?? null,
    })),
    indexDeletes: [],
    indexPuts: dump.stores.indexes.map((/** @type {any} */ [k]) => k),
    eventDeletes: [],
    eventPuts: dump.stores.events.map((/** @type {any} */ [k, v]) => [k, val(v)]),
    meta: dump.stores.meta.map((/** @type {any} */ [k, v]) => [k, v]),
    dropIndexes: [],
  });
  s.close();
  const db = await CRDTDB.open("restored", { indexes: dump.indexes });
  // The dump was written under an explicit peer id: a default open makes (and keeps) its own.
  assert.notEqual(db.peerId, "dump-a");
  const peer = db.peerId;
  assert.deepEqual(JSON.parse(JSON.stringify(observe(db))), dump.expected);
  assert.ok(Object.keys(dump.expected.conflicts).length > 0, "the dump holds a conflict");
  await db.table("users").update("u2", { age: 77 });
  db.close();
  const again = await CRDTDB.open("restored", { indexes: dump.indexes });
  assert.equal(again.peerId, peer);
  assert.equal(again.table("users").get("u2")?.age, 77);
  assert.equal(again.table("users").get("u1")?.name, dump.expected.rows.find((/** @type {any} */ [k]) => k === "u1")[1].name);
  again.close();
});
