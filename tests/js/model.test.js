// Randomized model test: random set/update/delete and transactions applied both to a database
// and to a plain JS model (Map + a sort implementing IndexedDB key order); every query and
// count must agree. Fixed seeds, so failures reproduce.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
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

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rank = (k) => (typeof k === "number" ? 0 : typeof k === "string" ? 1 : 2);
/** IndexedDB key comparison: numbers < strings (UTF-16 code units) < arrays (elementwise). */
function cmp(a, b) {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra < 2) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmp(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
const isKey = (v) =>
  (typeof v === "number" && Number.isFinite(v)) || typeof v === "string" || (Array.isArray(v) && v.every(isKey));

/** @param {any} range @param {any} k */
function inRange(range, k) {
  switch (range.type) {
    case "all":
      return true;
    case "equals":
      return cmp(k, range.value) === 0;
    case "above":
      return cmp(k, range.value) > 0;
    case "aboveOrEqual":
      return cmp(k, range.value) >= 0;
    case "below":
      return cmp(k, range.value) < 0;
    case "belowOrEqual":
      return cmp(k, range.value) <= 0;
    case "between": {
      const lo = cmp(k, range.lower);
      const hi = cmp(k, range.upper);
      return (lo > 0 || (range.includeLower && lo === 0)) && (hi < 0 || (range.includeUpper && hi === 0));
    }
    case "startsWith":
      if (typeof range.prefix === "string") return typeof k === "string" && k.startsWith(range.prefix);
      return Array.isArray(k) && k.length >= range.prefix.length && range.prefix.every((p, i) => cmp(k[i], p) === 0);
    case "anyOf":
      return range.values.some((v) => cmp(k, v) === 0);
    default:
      throw new Error(range.type);
  }
}

const STRINGS = ["", "a", "ab", "b", "B", "\u{1F600}", "\uE000", "\uFFFF", "é", "a\u0000"];
const NUMBERS = [0, -0, 1, -1, 2.5, 1e300, -1e300, 7];

function model(seed) {
  const r = rng(seed);
  const pick = (arr) => arr[Math.floor(r() * arr.length)];
  const scalarKey = () => (r() < 0.5 ? pick(NUMBERS) : pick(STRINGS));
  const keyValue = (depth = 0) => {
    const x = r();
    if (x < 0.8 || depth > 1) return scalarKey();
    return Array.from({ length: Math.floor(r() * 3) }, () => keyValue(depth + 1));
  };
  const columnValue = () => {
    const x = r();
    if (x < 0.8) return keyValue();
    return pick([true, null, { o: 1 }, [true]]);
  };
  const rowKey = () => pick(["k1", "k2", "k3", "k4", "k5", "k6", "K", "\u{1F600}", "\uE000", "k10"]);
  const row = () => {
    const out = { n: Math.floor(r() * 1000) };
    for (const c of ["v", "a", "b"]) if (r() < 0.85) out[c] = columnValue();
    return out;
  };
  const range = () => {
    switch (Math.floor(r() * 9)) {
      case 0: return undefined;
      case 1: return equals(keyValue());
      case 2: return above(keyValue());
      case 3: return aboveOrEqual(keyValue());
      case 4: return below(keyValue());
      case 5: return belowOrEqual(keyValue());
      case 6: return between(keyValue(), keyValue(), { includeLower: r() < 0.5, includeUpper: r() < 0.5 });
      case 7: return r() < 0.5 ? startsWith(pick(STRINGS)) : startsWith([scalarKey()].slice(0, Math.floor(r() * 2)));
      default: return anyOf(...Array.from({ length: Math.floor(r() * 4) }, keyValue));
    }
  };
  const rowKeyRange = () => {
    switch (Math.floor(r() * 5)) {
      case 0: return undefined;
      case 1: return above(rowKey());
      case 2: return between(rowKey(), rowKey(), { includeUpper: r() < 0.5 });
      case 3: return startsWith(pick(["k", "k1", "", "\u{1F600}"]));
      default: return anyOf(rowKey(), rowKey(), rowKey());
    }
  };
  const opts = () => {
    const o = {};
    if (r() < 0.4) o.limit = Math.floor(r() * 5);
    if (r() < 0.4) o.offset = Math.floor(r() * 5);
    if (r() < 0.5) o.reverse = r() < 0.5;
    return o;
  };
  return { r, pick, rowKey, row, range, rowKeyRange, opts, columnValue };
}

/** Expected rows (keys) of a model table for an index (null = primary key). */
function expected(rows, columns, range, opts = {}) {
  const entries = [];
  for (const [key, row] of rows) {
    let k;
    if (columns === null) k = key;
    else if (columns.length === 1) k = row[columns[0]];
    else k = columns.map((c) => row[c]);
    if (!isKey(k)) continue;
    if (range !== undefined && !inRange(range, k)) continue;
    entries.push([k, key]);
  }
  entries.sort((x, y) => cmp(x[0], y[0]) || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  let keys = entries.map((e) => e[1]);
  if (opts.reverse) keys.reverse();
  const offset = opts.offset ?? 0;
  keys = keys.slice(offset, opts.limit === undefined ? undefined : offset + opts.limit);
  return keys;
}

/** JSON round trip: -0 becomes 0 (the engine stores numbers as JSON); column order is ignored by deepEqual. */
const norm = (x) => JSON.parse(JSON.stringify(x));

const INDEXES = { byV: { table: "t", keys: ["v"] }, byAB: { table: "t", keys: ["a", "b"] } };
const COLUMNS = { byV: ["v"], byAB: ["a", "b"] };

for (let seed = 1; seed <= 30; seed++) {
  test(`model seed ${seed}`, async () => {
    const g = model(seed);
    const db = await openDb(`p${seed}`, { indexes: INDEXES });
    const t = db.table("t");
    /** @type {Map<string, Record<string, unknown>>} */
    const rows = new Map();
    const keyOf = new Map();
    const check = () => {
      for (let i = 0; i < 4; i++) {
        const name = g.pick(["byV", "byAB"]);
        const range = g.range();
        const o = g.opts();
        const got = db.index(name).query(range, o);
        const want = expected(rows, COLUMNS[name], range, o);
        assert.deepEqual(got.map((row) => keyOf.get(row)), want, `${name} ${JSON.stringify(range)} ${JSON.stringify(o)}`);
        assert.equal(db.index(name).count(range), expected(rows, COLUMNS[name], range).length);
        const pr = g.rowKeyRange();
        const po = g.opts();
        assert.deepEqual(t.query(pr, po).map((row) => keyOf.get(row)), expected(rows, null, pr, po), JSON.stringify(pr));
        assert.equal(t.count(pr), expected(rows, null, pr).length);
      }
      for (const [k, row] of rows) assert.deepEqual(norm(t.get(k)), norm(row));
    };
    const randomOp = () => {
      const key = g.rowKey();
      const x = g.r();
      if (x < 0.5) return { op: "set", key, row: g.row() };
      if (x < 0.75 && rows.has(key)) {
        const patch = {};
        for (const c of ["v", "a", "b", "n"]) if (g.r() < 0.5) patch[c] = g.columnValue();
        return { op: "update", key, patch };
      }
      return { op: "delete", key };
    };
    const applyModel = (m, op) => {
      if (op.op === "set") m.set(op.key, op.row);
      else if (op.op === "update") {
        if (m.has(op.key)) m.set(op.key, { ...m.get(op.key), ...op.patch });
      } else m.delete(op.key);
    };
    const index = () => {
      keyOf.clear();
      for (const [k] of rows) keyOf.set(t.get(k), k);
    };
    for (let step = 0; step < 40; step++) {
      if (g.r() < 0.2) {
        // A transaction of several ops; sometimes rolled back.
        const ops = Array.from({ length: 1 + Math.floor(g.r() * 4) }, randomOp);
        const commit = g.r() < 0.7;
        const staged = new Map(rows);
        try {
          await db.transaction(async (tx) => {
            const tt = tx.table("t");
            for (const op of ops) {
              if (op.op === "update" && !staged.has(op.key)) continue;
              if (op.op === "set") await tt.set(op.key, op.row);
              else if (op.op === "update") await tt.update(op.key, op.patch);
              else await tt.delete(op.key);
              applyModel(staged, op);
              const want = expected(staged, COLUMNS.byV, undefined);
              assert.deepEqual(norm(tx.index("byV").query()), norm(want.map((k) => staged.get(k))));
            }
            if (!commit) throw new Error("rollback");
          });
          for (const op of ops) applyModel(rows, op);
        } catch (err) {
          if (commit || err.message !== "rollback") throw err;
        }
      } else {
        const op = randomOp();
        if (op.op === "set") await t.set(op.key, op.row);
        else if (op.op === "update") await t.update(op.key, op.patch);
        else await t.delete(op.key);
        applyModel(rows, op);
      }
      index();
      if (step % 4 === 3) check();
    }
    check();
    db.close();
  });
}
