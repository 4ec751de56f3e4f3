// Row validation: anything that is not a plain JSON object is rejected with a TypeError that
// names the offending key or column path, as a rejected promise, and nothing is written.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import vm from "node:vm";
import { MAX_VALUE_DEPTH } from "../../js/validate.js";
import { Reader, Writer, writeColumns } from "../../js/codec.js";
import { openDb } from "./helpers.js";

class Point {
  constructor() {
    this.x = 1;
  }
}

function nested(depth, leaf) {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const cyclic = { a: { b: [0, 1, null] } };
cyclic.a.b[2] = cyclic.a;

const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays

/** [description, row, expected message fragment (the column path)] */
const BAD_ROWS = [
  ["NaN", { n: NaN }, /column "n" is NaN/],
  ["Infinity", { n: Infinity }, /column "n" is Infinity/],
  ["-Infinity in an array", { a: [1, -Infinity] }, /column "a\[1\]"/],
  ["undefined", { u: undefined }, /column "u" is undefined/],
  ["function", { f() {} }, /column "f" is a function/],
  ["Date", { when: new Date(0) }, /column "when" is a Date/],
  ["Map", { m: new Map() }, /column "m" is a Map/],
  ["Set deep inside", { a: { b: [0, 1, new Set()] } }, /column "a\.b\[2\]" is a Set/],
  ["class instance", { p: new Point() }, /column "p" is a Point/],
  ["typed array", { bytes: new Uint8Array(2) }, /column "bytes" is a Uint8Array/],
  ["bigint", { big: 10n }, /column "big" is a bigint/],
  ["symbol value", { s: Symbol("x") }, /column "s" is a symbol/],
  ["RegExp", { r: /x/ }, /column "r" is a RegExp/],
  ["cyclic object", cyclic, /column "a\.b\[2\]" is cyclic/],
  ["sparse array", { s: sparse }, /column "s\[1\]" is an empty slot/],
  ["lone surrogate string", { s: "a\uD800b" }, /column "s".*surrogate/],
  ["lone surrogate column name", { ["x\uDC00"]: 1 }, /surrogate/],
  ["symbol-keyed column", { [Symbol("k")]: 1 }, /symbol/],
  ["too deep", { d: nested(MAX_VALUE_DEPTH + 1, 0) }, /column "d(\[0\]){65}" is nested deeper than 64/],
  ["column name too long", { ["c".repeat(1025)]: 1 }, /longer than 1024/],
];

const BAD_CONTAINERS = [
  ["null", null],
  ["undefined", undefined],
  ["string", "row"],
  ["number", 1],
  ["array", [1, 2]],
  ["Date", new Date()],
  ["class instance", new Point()],
  ["Map", new Map([["a", 1]])],
];

describe("validation", () => {
  for (const [what, row, message] of BAD_ROWS) {
    test(`set rejects ${what} with a TypeError naming the column, writing nothing`, async () => {
      const db = await openDb();
      const t = db.table("t");
      await t.set("existing", { keep: true });
      const before = db.version();

      let promise;
      assert.doesNotThrow(() => {
        promise = t.set("k", row);
      }, "write methods never throw synchronously");
      await assert.rejects(promise, (err) => {
        assert.ok(err instanceof TypeError, `${err}`);
        assert.match(err.message, message);
        assert.match(err.message, /key "k" in table "t"/);
        return true;
      });
      await assert.rejects(t.update("existing", row), TypeError);
      assert.equal(t.has("k"), false);
      assert.deepEqual(t.get("existing"), { keep: true });
      assert.deepEqual(db.version(), before, "nothing was written");
      db.close();
    });
  }

  for (const [what, row] of BAD_CONTAINERS) {
    test(`a row that is ${what} is rejected`, async () => {
      const db = await openDb();
      await db.table("t").set("e", { a: 1 });
      const before = db.version();
      await assert.rejects(db.table("t").set("k", row), /row .* must be a plain object/);
      await assert.rejects(db.table("t").update("e", row), /patch .* must be a plain object/);
      assert.deepEqual(db.table("t").get("e"), { a: 1 });
      assert.equal(db.table("t").has("k"), false);
      assert.deepEqual(db.version(), before, "nothing was written");
      db.close();
    });
  }

  test("invalid keys are rejected as rejected promises (writes) or thrown (reads)", async () => {
    const db = await openDb();
    const t = db.table("t");
    const before = db.version();
    for (const key of ["", 1, null, undefined, {}, "a\uD800", "k".repeat(65537)]) {
      await assert.rejects(t.set(key, { a: 1 }), TypeError);
      await assert.rejects(t.update(key, { a: 1 }), TypeError);
      await assert.rejects(t.delete(key), TypeError);
      assert.throws(() => t.get(key), TypeError);
      assert.throws(() => t.has(key), TypeError);
      assert.throws(() => t.conflicts(key), TypeError);
    }
    assert.deepEqual(db.version(), before);
    // The longest allowed key (65536 UTF-8 bytes) works.
    await t.set("k".repeat(65536), { a: 1 });
    assert.equal(t.has("k".repeat(65536)), true);
    db.close();
  });

  test("accepted values: the whole JSON range, null-prototype and cross-realm objects", async () => {
    const db = await openDb();
    const t = db.table("t");
    const bare = Object.create(null);
    bare.x = 1;
    const foreign = vm.runInNewContext("({ y: [1, { z: 'w' }] })");
    const row = {
      s: "",
      n: 0,
      b: false,
      nil: null,
      arr: [],
      obj: {},
      bare,
      foreign,
      deepest: nested(MAX_VALUE_DEPTH, "leaf"),
      shared: [cyclic.a.b[0], cyclic.a.b[0]],
      __proto__column: 1,
    };
    Object.defineProperty(row, "__proto__", { value: { p: 1 }, enumerable: true });
    await t.set("k", row);
    const got = t.get("k");
    assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(row)));
    assert.deepEqual(Object.getOwnPropertyDescriptor(got, "__proto__").value, { p: 1 });
    db.close();
  });
});

describe("writeColumns (unit): rows are validated while they are encoded", () => {
  test("getters run once; the encoding reads back as the row", () => {
    let calls = 0;
    const src = {
      get g() {
        calls += 1;
        return calls;
      },
      a: [1, 2.5, "x", null, true, { b: -70 }],
    };
    const w = new Writer(8);
    writeColumns(w, src, { table: "t", key: "k", what: "row" });
    assert.equal(calls, 1);
    const r = new Reader(w.view());
    const n = r.varint();
    const back = {};
    for (let i = 0; i < n; i++) {
      assert.equal(r.varint(), 0, "names as strings when no ids are given");
      back[r.string()] = r.value();
    }
    assert.deepEqual(back, { g: 1, a: [1, 2.5, "x", null, true, { b: -70 }] });
    assert.equal(r.pos, w.pos, "every byte read");
  });

  test("known names are written as the engine's ids", () => {
    const w = new Writer();
    writeColumns(w, { a: 1, b: 2 }, { table: "t", key: "k", what: "row" }, new Map([["b", 7]]));
    const r = new Reader(w.view());
    assert.equal(r.varint(), 2);
    assert.equal(r.varint(), 0);
    assert.equal(r.string(), "a");
    assert.equal(r.value(), 1);
    assert.equal(r.varint(), 7, "b by its id");
    assert.equal(r.value(), 2);
  });

  test("the message says row or patch", () => {
    assert.throws(
      () => writeColumns(new Writer(), { a: NaN }, { table: "users", key: "u1", what: "patch" }),
      /^TypeError: invalid patch for key "u1" in table "users": column "a" is NaN/,
    );
  });
});
