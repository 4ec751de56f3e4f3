// Row keys beside rows: t.keys / t.entries, ix.keys / ix.entries (same order, range and options
// as query), and db.keyOf for every row object a read returns.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ClosedError, above, between, equals, startsWith } from "crdtdb";
import { openDb } from "./helpers.js";

const INDEXES = { byV: { table: "t", keys: ["v"] }, byAB: { table: "t", keys: ["a", "b"] } };

async function filled() {
  const db = await openDb(undefined, { indexes: INDEXES });
  const t = db.table("t");
  // Ties on v (broken by row key) and rows absent from byV (no v, or v not a key).
  const rows = {
    k1: { v: 3, a: "x", b: 1 },
    k2: { v: 1, a: "x", b: 0 },
    k3: { v: 3, a: "y", b: 2 },
    k4: { v: 2 },
    k5: { w: 1 },
    k6: { v: true },
    k7: { v: 1, a: "x", b: 0 },
  };
  for (const [k, row] of Object.entries(rows)) await t.set(k, row);
  return db;
}

/** The key each row of `rows` has in table t, found by content (the rows differ). */
function keysByContent(db, rows) {
  const all = Object.fromEntries(db.table("t").entries());
  return rows.map((row) => Object.keys(all).filter((k) => all[k] === row));
}

test("keys and entries follow query: order, ranges, limit, offset, reverse", async () => {
  const db = await filled();
  const t = db.table("t");
  const ix = db.index("byV");
  const cases = [
    [undefined, undefined],
    [above(1), undefined],
    [between(1, 3, { includeUpper: true }), { reverse: true }],
    [undefined, { offset: 1, limit: 3 }],
    [equals(3), { reverse: true, limit: 1 }],
    [undefined, { limit: 0 }],
  ];
  for (const [range, opts] of cases) {
    for (const view of [t, ix, db.index("byAB")]) {
      if (view === t && range && range.type !== "all" && typeof range.value === "number") continue;
      const rows = view.query(range, opts);
      const keys = view.keys(range, opts);
      const entries = view.entries(range, opts);
      assert.equal(keys.length, rows.length);
      assert.deepEqual(entries.map((e) => e[0]), keys);
      entries.forEach(([k, row], i) => {
        assert.equal(row, rows[i], "the same row objects as query");
        assert.equal(t.get(k), row, "each key is the row's key");
      });
    }
  }
  assert.deepEqual(t.keys(), ["k1", "k2", "k3", "k4", "k5", "k6", "k7"]);
  assert.deepEqual(t.keys(startsWith("k"), { reverse: true, offset: 5 }), ["k2", "k1"]);
  // Index order: v ascending, ties by row key; rows without a valid v are absent.
  assert.deepEqual(ix.keys(), ["k2", "k7", "k4", "k1", "k3"]);
  assert.deepEqual(ix.keys(equals(1)), ["k2", "k7"]);
  assert.deepEqual(db.index("byAB").keys(startsWith(["x"])), ["k2", "k7", "k1"]);
  assert.deepEqual(keysByContent(db, ix.query(equals(3))), [["k1"], ["k3"]]);
  assert.throws(() => ix.keys(/** @type {any} */ ({ type: "nope" })), TypeError);
  assert.throws(() => t.entries(undefined, { limit: -1 }), TypeError);
  db.close();
  assert.throws(() => t.keys(), ClosedError);
  assert.throws(() => ix.entries(), ClosedError);
});

test("db.keyOf names the key of every row object a read returned, and nothing else", async () => {
  const db = await filled();
  const t = db.table("t");
  const ix = db.index("byV");
  assert.equal(db.keyOf(t.get("k4")), "k4");
  for (const row of t.query()) assert.equal(t.get(/** @type {string} */ (db.keyOf(row))), row);
  for (const row of ix.query(above(0))) assert.ok(["k1", "k2", "k3", "k4", "k7"].includes(/** @type {string} */ (db.keyOf(row))));
  assert.equal(db.keyOf(ix.get(2)), "k4");
  for (const [k, row] of ix.entries()) assert.equal(db.keyOf(row), k);
  const iterated = [];
  for await (const row of t.iterate(undefined, { limit: 3 })) iterated.push(db.keyOf(row));
  assert.deepEqual(iterated, ["k1", "k2", "k3"]);

  /** @type {Array<string | undefined>} */
  let live = [];
  const stop = ix.subscribe(equals(2), (rows) => (live = rows.map((r) => db.keyOf(r))));
  assert.deepEqual(live, ["k4"]);
  await t.set("k8", { v: 2 });
  assert.deepEqual(live, ["k4", "k8"]);
  stop();

  // A row replaced by a write is a new object with the same key; the old object keeps it.
  const before = t.get("k4");
  await t.update("k4", { note: "edited" });
  assert.notEqual(t.get("k4"), before);
  assert.equal(db.keyOf(t.get("k4")), "k4");
  assert.equal(db.keyOf(before), "k4");

  // Anything else: copies, plain objects, primitives.
  assert.equal(db.keyOf({ ...t.get("k4") }), undefined);
  assert.equal(db.keyOf({ v: 2 }), undefined);
  for (const v of [undefined, null, 1, "k4", true]) assert.equal(db.keyOf(v), undefined);

  // Rows of another database are not this one's.
  const other = await filled();
  assert.equal(db.keyOf(other.table("t").get("k1")), undefined);
  other.close();
  db.close();
  assert.throws(() => db.keyOf(before), ClosedError);
});

test("inside a transaction keys, entries and keyOf see the transaction's writes", async () => {
  const db = await filled();
  await db.transaction(async (tx) => {
    const t = tx.table("t");
    const ix = tx.index("byV");
    await t.set("k0", { v: 0 });
    await t.delete("k2");
    await t.update("k3", { v: 0.5 });
    assert.deepEqual(ix.keys(), ["k0", "k3", "k7", "k4", "k1"]);
    assert.deepEqual(ix.keys(undefined, { reverse: true, limit: 2 }), ["k1", "k4"]);
    assert.deepEqual(t.keys(undefined, { limit: 3 }), ["k0", "k1", "k3"]);
    const entries = ix.entries(between(0, 1));
    assert.deepEqual(entries.map((e) => e[0]), ["k0", "k3"]);
    assert.deepEqual(entries.map((e) => e[1]), [{ v: 0 }, { v: 0.5, a: "y", b: 2 }]);
    for (const [k, row] of entries) assert.equal(db.keyOf(row), k);
    assert.equal(db.keyOf(t.get("k0")), "k0");
    assert.equal(db.keyOf(t.get("k5")), "k5", "an untouched row is the committed object");
    // Untouched tables answer from the committed state.
    assert.deepEqual(tx.table("other").keys(), []);
  });
  assert.deepEqual(db.index("byV").keys(), ["k0", "k3", "k7", "k4", "k1"]);
  db.close();
});
