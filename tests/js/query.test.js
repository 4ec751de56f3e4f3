// Table and index queries: every range operator, key order edge cases, options, errors,
// iterate (including writes between pages).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CRDTDB,
  CRDTDBError,
  ClosedError,
  UnknownIndexError,
  above,
  aboveOrEqual,
  anyOf,
  below,
  belowOrEqual,
  between,
  equals,
  startsWith,
} from "crdtdb";
import { openDb } from "./helpers.js";

const INDEXES = {
  byV: { table: "t", keys: ["v"] },
  byAB: { table: "t", keys: ["a", "b"] },
  other: { table: "o", keys: ["v"] },
};

/** @param {CRDTDB} db @param {Record<string, object>} rows */
async function fill(db, rows, table = "t") {
  for (const [k, row] of Object.entries(rows)) await db.table(table).set(k, row);
}
const keysOf = (rows) => rows.map((r) => r.id);

describe("index option and db.index", () => {
  test("validates definitions with a TypeError naming the index", () => {
    const bad = [
      { ix: null },
      { ix: { table: "t" } },
      { ix: { table: "", keys: ["a"] } },
      { ix: { table: "t", keys: [] } },
      { ix: { table: "t", keys: [1] } },
      { ix: { table: "t", keys: ["a", "a"] } },
      { ix: { table: "t", keys: ["a"], unique: true } },
    ];
    for (const indexes of bad) {
      assert.throws(() => new CRDTDB("x", { indexes }), (e) => e instanceof TypeError && /"ix"/.test(e.message));
    }
    assert.throws(() => new CRDTDB("x", { indexes: [] }), TypeError);
  });

  test("unknown index, before ready, after close", async () => {
    const db = new CRDTDB("x", { indexes: INDEXES });
    assert.throws(() => db.index("byV"), (e) => e instanceof CRDTDBError && /await db\.ready/.test(e.message));
    await db.ready;
    assert.equal(db.index("byV"), db.index("byV"));
    assert.equal(db.index("byV").table, "t");
    assert.deepEqual(db.index("byAB").columns, ["a", "b"]);
    assert.throws(() => db.index("nope"), UnknownIndexError);
    assert.throws(() => db.index(/** @type {any} */ (3)), UnknownIndexError);
    db.close();
    assert.throws(() => db.index("byV"), ClosedError);
    assert.throws(() => db.table("t").query(), ClosedError);
  });

  test("indexes cover rows written before any query, absent when the column is not a key", async () => {
    const db = await openDb(undefined, { indexes: INDEXES });
    await fill(db, {
      a: { id: "a", v: 2 },
      b: { id: "b", v: "x" },
      c: { id: "c" },
      d: { id: "d", v: true },
      e: { id: "e", v: null },
      f: { id: "f", v: { x: 1 } },
      g: { id: "g", v: [1, "y"] },
      h: { id: "h", v: [1, true] },
    });
    assert.deepEqual(keysOf(db.index("byV").query()), ["a", "b", "g"]);
    assert.equal(db.index("byV").count(), 3);
    assert.equal(db.table("t").count(), 8);
  });
});

describe("range operators", async () => {
  const db = await openDb(undefined, { indexes: INDEXES });
  // v: numbers < strings < arrays; ties by row key.
  await fill(db, {
    r01: { id: "r01", v: -5 },
    r02: { id: "r02", v: 0 },
    r03: { id: "r03", v: -0 },
    r04: { id: "r04", v: 1.5 },
    r05: { id: "r05", v: 1e308 },
    r06: { id: "r06", v: -1e308 },
    r07: { id: "r07", v: "" },
    r08: { id: "r08", v: "apple" },
    r09: { id: "r09", v: "apricot" },
    r10: { id: "r10", v: "b" },
    r11: { id: "r11", v: "\u{1F600}" },
    r12: { id: "r12", v: "\uE000" },
    r13: { id: "r13", v: [1] },
    r14: { id: "r14", v: [1, 2] },
    r15: { id: "r15", v: ["a"] },
    r16: { id: "r16", v: [] },
    r17: { id: "r17", v: "apple" },
  });
  const ix = db.index("byV");
  const q = (r, o) => keysOf(ix.query(r, o));

  test("all, in IndexedDB order with ties by row key", () => {
    assert.deepEqual(q(), [
      "r06", "r01", "r02", "r03", "r04", "r05",
      "r07", "r08", "r17", "r09", "r10", "r11", "r12",
      "r16", "r13", "r14", "r15",
    ]);
  });
  test("astral chars sort before U+E000 (UTF-16 code units)", () => {
    assert.deepEqual(q(between("\uD7FF", "\uFFFF")), ["r11", "r12"]);
    assert.throws(() => between("\uD800", "\uFFFF"), TypeError); // lone surrogate
    assert.deepEqual(q(above("\u{1F600}")), ["r12", "r16", "r13", "r14", "r15"]);
  });
  test("equals, -0 equals 0, large numbers", () => {
    assert.deepEqual(q(equals(0)), ["r02", "r03"]);
    assert.deepEqual(q(equals(-0)), ["r02", "r03"]);
    assert.deepEqual(q(equals(1e308)), ["r05"]);
    assert.deepEqual(q(equals("apple")), ["r08", "r17"]);
    assert.deepEqual(q(equals([1, 2])), ["r14"]);
    assert.deepEqual(q(equals("nope")), []);
    assert.equal(ix.get("apple").id, "r08");
    assert.equal(ix.get(-0).id, "r02");
    assert.equal(ix.get(42), undefined);
  });
  test("above, aboveOrEqual, below, belowOrEqual", () => {
    assert.deepEqual(q(above(1.5)), ["r05", "r07", "r08", "r17", "r09", "r10", "r11", "r12", "r16", "r13", "r14", "r15"]);
    assert.deepEqual(q(aboveOrEqual([1])), ["r13", "r14", "r15"]);
    assert.deepEqual(q(below(0)), ["r06", "r01"]);
    assert.deepEqual(q(belowOrEqual(0)), ["r06", "r01", "r02", "r03"]);
    assert.deepEqual(q(below(-1e308)), []);
    assert.deepEqual(q(above(["z"])), []);
  });
  test("between with each include flag, equal and reversed bounds", () => {
    assert.deepEqual(q(between(0, 1.5)), ["r02", "r03"]);
    assert.deepEqual(q(between(0, 1.5, { includeUpper: true })), ["r02", "r03", "r04"]);
    assert.deepEqual(q(between(0, 1.5, { includeLower: false })), []);
    assert.deepEqual(q(between(0, 1.5, { includeLower: false, includeUpper: true })), ["r04"]);
    assert.deepEqual(q(between(0, 0)), []);
    assert.deepEqual(q(between(0, 0, { includeUpper: true })), ["r02", "r03"]);
    assert.deepEqual(q(between(0, 0, { includeLower: false, includeUpper: true })), []);
    assert.deepEqual(q(between(5, 1)), []);
    assert.equal(ix.count(between(5, 1, { includeUpper: true })), 0);
    assert.deepEqual(q(between(100, "a")), ["r05", "r07"]);
  });
  test("startsWith strings (empty prefix = all strings) and anyOf", () => {
    assert.deepEqual(q(startsWith("ap")), ["r08", "r17", "r09"]);
    assert.deepEqual(q(startsWith("")), ["r07", "r08", "r17", "r09", "r10", "r11", "r12"]);
    assert.deepEqual(q(startsWith("\u{1F600}")), ["r11"]);
    assert.throws(() => startsWith("\uD83D"), TypeError); // lone surrogate
    assert.deepEqual(q(anyOf(0, "b", [1], "b", 99)), ["r02", "r03", "r10", "r13"]);
    assert.deepEqual(q(anyOf()), []);
    assert.equal(ix.count(anyOf("apple", "apple")), 2);
  });
  test("limit, offset, reverse combinations", () => {
    const all = q();
    for (const reverse of [false, true]) {
      const order = reverse ? [...all].reverse() : all;
      for (const offset of [0, 1, 5, 16, 17, 30]) {
        for (const limit of [undefined, Infinity, 0, 1, 3, 100]) {
          const end = limit === undefined || limit === Infinity ? undefined : offset + limit;
          assert.deepEqual(q(undefined, { limit, offset, reverse }), order.slice(offset, end), `${reverse} ${offset} ${limit}`);
        }
      }
    }
    assert.deepEqual(q(above(0), { reverse: true, limit: 2, offset: 1 }), ["r14", "r13"]);
  });
  test("bad options, ranges and keys are TypeErrors", () => {
    for (const opts of [{ limit: -1 }, { limit: 1.5 }, { offset: -1 }, { offset: NaN }, { reverse: 1 }, null, 5, { limit: "3" }]) {
      assert.throws(() => ix.query(undefined, opts), TypeError, JSON.stringify(opts));
      assert.throws(() => ix.iterate(undefined, opts), TypeError);
    }
    for (const r of [null, 5, {}, { type: 3 }]) assert.throws(() => ix.query(r), TypeError);
    assert.throws(() => ix.query({ type: "bogus" }), TypeError); // engine validation
    assert.throws(() => ix.count({ type: "equals", value: true }), TypeError);
    for (const f of [() => equals(true), () => above(NaN), () => below(Infinity), () => between(1, null),
      () => startsWith(3), () => startsWith([{}]), () => anyOf(1, undefined), () => equals([1, [null]]),
      () => between(1, 2, { includeLower: "yes" })]) {
      assert.throws(f, TypeError);
    }
    assert.throws(() => ix.get(undefined), TypeError);
    assert.throws(() => ix.get({}), TypeError);
    assert.throws(() => ix.subscribe(undefined, "cb"), TypeError);
  });
});

describe("compound index", async () => {
  const db = await openDb(undefined, { indexes: INDEXES });
  await fill(db, {
    k1: { id: "k1", a: "kalle", b: "kula" },
    k2: { id: "k2", a: "kalle", b: "anka" },
    k3: { id: "k3", a: "kalle", b: 3 },
    k4: { id: "k4", a: "olle", b: "kula" },
    k5: { id: "k5", a: "kalle" },
    k6: { id: "k6", a: ["x", 1], b: "n" },
    k7: { id: "k7", a: 1, b: [2, [3]] },
  });
  const ix = db.index("byAB");
  test("order, get, startsWith on a prefix", () => {
    assert.deepEqual(keysOf(ix.query()), ["k7", "k3", "k2", "k1", "k4", "k6"]);
    assert.equal(ix.get(["kalle", "kula"]).id, "k1");
    assert.equal(ix.get(["kalle"]), undefined);
    assert.deepEqual(keysOf(ix.query(startsWith(["kalle"]))), ["k3", "k2", "k1"]);
    assert.deepEqual(keysOf(ix.query(startsWith([]))), ["k7", "k3", "k2", "k1", "k4", "k6"]);
    assert.deepEqual(keysOf(ix.query(startsWith([["x", 1]]))), ["k6"]);
    assert.deepEqual(keysOf(ix.query(equals([1, [2, [3]]]))), ["k7"]);
    assert.deepEqual(keysOf(ix.query(between(["kalle", "b"], ["olle"]))), ["k1"]);
    assert.deepEqual(keysOf(ix.query(anyOf(["olle", "kula"], ["kalle", 3], ["olle", "kula"]))), ["k3", "k4"]);
  });
});

describe("table queries (primary key)", async () => {
  const db = await openDb(undefined, { indexes: INDEXES });
  await fill(db, { b: { id: "b" }, a: { id: "a" }, "\u{1F600}": { id: "\u{1F600}" }, "\uE000": { id: "\uE000" }, ab: { id: "ab" } });
  const t = db.table("t");
  test("query, count, ranges on the row key", () => {
    assert.deepEqual(keysOf(t.query()), ["a", "ab", "b", "\u{1F600}", "\uE000"]);
    assert.deepEqual(keysOf(t.query(startsWith("a"))), ["a", "ab"]);
    assert.deepEqual(keysOf(t.query(above("a"), { reverse: true, limit: 2 })), ["\uE000", "\u{1F600}"]);
    assert.equal(t.count(between("a", "b", { includeUpper: true })), 3);
    assert.equal(t.count(above(5)), 5); // every string key is above any number
    assert.deepEqual(t.query(equals("zz")), []);
    assert.equal(db.table("empty").count(), 0);
    assert.deepEqual(db.table("empty").query(), []);
  });
  test("rows are the cached frozen objects", () => {
    assert.equal(t.query(equals("a"))[0], t.get("a"));
    assert.ok(Object.isFrozen(t.query()[0]));
  });
});

describe("iterate", () => {
  test("pages through large ranges in order, honoring options", async () => {
    const db = await openDb(undefined, { indexes: INDEXES });
    for (let i = 0; i < 350; i++) await db.table("t").set(`k${String(i).padStart(3, "0")}`, { id: i, v: i % 7 });
    const all = db.index("byV").query();
    const seen = [];
    for await (const row of db.index("byV").iterate()) seen.push(row);
    assert.deepEqual(seen, all);
    const some = [];
    for await (const row of db.index("byV").iterate(above(2), { reverse: true, offset: 3, limit: 120 })) some.push(row);
    assert.deepEqual(some, db.index("byV").query(above(2), { reverse: true, offset: 3, limit: 120 }));
    const none = [];
    for await (const row of db.table("t").iterate(undefined, { limit: 0 })) none.push(row);
    assert.deepEqual(none, []);
    const tk = [];
    for await (const row of db.table("t").iterate(startsWith("k1"))) tk.push(row.id);
    assert.equal(tk.length, 100);
  });

  test("under concurrent writes: no row twice, terminates, deleted rows skipped", async () => {
    const db = await openDb(undefined, { indexes: INDEXES });
    const t = db.table("t");
    for (let i = 0; i < 300; i++) await t.set(`k${String(i).padStart(3, "0")}`, { v: i });
    const seen = new Set();
    let n = 0;
    for await (const row of db.index("byV").iterate()) {
      n++;
      const key = `k${String(row.v).padStart(3, "0")}`;
      assert.ok(!seen.has(key), `row ${key} yielded twice`);
      seen.add(key);
      // Insert before the cursor, move rows around, delete rows ahead.
      await t.set(`a${n}`, { v: -n });
      if (row.v + 50 < 300) await t.delete(`k${String(row.v + 50).padStart(3, "0")}`);
      if (n % 10 === 0) await t.update(key, { v: row.v }); // rewrite in place
      assert.ok(n < 10_000, "iteration terminates");
    }
    for (const k of seen) assert.ok(k.startsWith("k"));
    assert.ok(n > 0 && n <= 300);
    // Keyset paging: every row that stayed in place was visited, though rows were inserted
    // behind the cursor and deleted ahead of it on every step.
    const survivors = t.query().filter((r) => r.v >= 0).map((r) => `k${String(r.v).padStart(3, "0")}`);
    assert.deepEqual([...seen].sort(), survivors.sort());
  });

  test("iterate before ready / after close", async () => {
    const db = new CRDTDB("x", { indexes: INDEXES });
    assert.throws(() => db.table("t").iterate(), CRDTDBError);
    await db.ready;
    await db.table("t").set("a", { v: 1 });
    await db.table("t").set("b", { v: 2 });
    const it = db.index("byV").iterate();
    assert.equal((await it.next()).value.v, 1);
    db.close();
    await assert.rejects(it.next(), ClosedError);
  });
});
