// Where the time of one crdtdb write goes (R1 insert and update, one op per transaction).
//
//   node bench/r1-breakdown.mjs
//
// Re-runs the steps of the public write path (js/table.js → js/database.js → js/engine.js)
// one step at a time, each as its own loop over the same ops, so the cost of each is visible:
//   validate   checkKey + copyRow (js/validate.js)
//   stringify  JSON.stringify of the op list handed to the engine
//   engine     RawDB.commit(json): UTF-8 copy into WASM, C++ JSON parse, CRDT commit,
//              result JSON built in C++ and copied back out as a JS string (Embind)
//   parse      JSON.parse of the engine's result ({"changes":[[table,key,row]]})
//   cache      deepFreeze of the returned row + Map.set (the JS row cache)
//   public     the whole public call, `await t.set/update(...)`, for comparison
// Internal modules are imported read-only for this; nothing in js/ is changed.

import v8 from "node:v8";
import vm from "node:vm";
import { CRDTDB } from "../js/index.js";
import { loadEngineModule } from "../js/engine.js";
import { checkKey, copyRow } from "../js/validate.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

const N_ROWS = 10_000;
const N_UPD = 100_000;
const COLS = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];
function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(1);
const int = (n) => Math.floor(rnd() * n);
const value = (c) => (c % 2 === 0 ? int(1_000_000) : "s" + int(2 ** 31).toString(36));
const keys = Array.from({ length: N_ROWS }, (_, i) => "row" + String(i).padStart(6, "0"));
const rows = keys.map(() => Object.fromEntries(COLS.map((c, j) => [c, value(j)])));
const upd = Array.from({ length: N_UPD }, () => {
  const j = int(8);
  return { key: keys[int(N_ROWS)], patch: { [COLS[j]]: value(j) } };
});

function deepFreeze(v) {
  if (typeof v === "object" && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
function time(fn) {
  gc();
  const s = performance.now();
  fn();
  return performance.now() - s;
}
async function timeAsync(fn) {
  gc();
  const s = performance.now();
  await fn();
  return performance.now() - s;
}

const module = await loadEngineModule();
const result = {};
for (const phase of ["insert", "update"]) {
  const ops =
    phase === "insert"
      ? keys.map((k, i) => ({ kind: "set", key: k, body: rows[i] }))
      : upd.map((u) => ({ kind: "update", key: u.key, body: u.patch }));
  const r = {};
  // warm-up of the JS steps on a slice
  for (const o of ops.slice(0, 2000)) copyRow(o.body, { table: "rows", key: checkKey(o.key), what: "row" });

  let copies;
  r.validate = time(() => {
    copies = ops.map((o) =>
      copyRow(o.body, { table: "rows", key: checkKey(o.key), what: o.kind === "set" ? "row" : "patch" }),
    );
  });
  let jsons;
  r.stringify = time(() => {
    jsons = ops.map((o, i) =>
      JSON.stringify([
        o.kind === "set"
          ? { op: "set", table: "rows", key: o.key, row: copies[i] }
          : { op: "update", table: "rows", key: o.key, patch: copies[i] },
      ]),
    );
  });
  const raw = new module.RawDB("bench-peer-a", 16 * 2 ** 20);
  if (phase === "update") {
    for (let i = 0; i < N_ROWS; i++) {
      raw.commit(JSON.stringify([{ op: "set", table: "rows", key: keys[i], row: rows[i] }]));
    }
  }
  let outs = new Array(ops.length);
  r.engine = time(() => {
    for (let i = 0; i < jsons.length; i++) outs[i] = raw.commit(jsons[i]);
  });
  raw.delete();
  r.inBytes = jsons.reduce((s, j) => s + j.length, 0) / jsons.length;
  r.outBytes = outs.reduce((s, j) => s + j.length, 0) / outs.length;
  let parsed;
  r.parse = time(() => {
    parsed = outs.map((o) => JSON.parse(o));
  });
  outs = null;
  const cache = new Map();
  r.cache = time(() => {
    for (const p of parsed) for (const [, key, row] of p.changes) cache.set(key, deepFreeze(row));
  });
  parsed = null;

  const db = await CRDTDB.open("breakdown-" + phase, { storage: "memory" });
  const t = db.table("rows");
  if (phase === "update") for (let i = 0; i < N_ROWS; i++) await t.set(keys[i], rows[i]);
  r.public = await timeAsync(async () => {
    if (phase === "insert") for (const o of ops) await t.set(o.key, o.body);
    else for (const o of ops) await t.update(o.key, o.body);
  });
  db.close();
  result[phase] = r;
}

console.log("== crdtdb write path, one op per transaction: ms per phase (µs per op) ==");
console.log("| step                       | insert 10k rows       | update 100k cells     |");
console.log("| -------------------------- | --------------------- | --------------------- |");
const steps = [
  ["validate", "JS validation (copyRow)"],
  ["stringify", "JSON.stringify ops"],
  ["engine", "RawDB.commit (WASM)"],
  ["parse", "JSON.parse result"],
  ["cache", "deepFreeze + row cache"],
];
const cell = (phase, k) => {
  const n = phase === "insert" ? N_ROWS : N_UPD;
  const ms = result[phase][k];
  return `${ms.toFixed(0).padStart(6)} ms (${((ms * 1000) / n).toFixed(2).padStart(5)} µs)`.padEnd(21);
};
let sums = { insert: 0, update: 0 };
for (const [k, label] of steps) {
  console.log(`| ${label.padEnd(26)} | ${cell("insert", k)} | ${cell("update", k)} |`);
  sums.insert += result.insert[k];
  sums.update += result.update[k];
}
console.log(
  `| ${"sum of steps".padEnd(26)} | ${`${sums.insert.toFixed(0).padStart(6)} ms`.padEnd(21)} | ${`${sums.update.toFixed(0).padStart(6)} ms`.padEnd(21)} |`,
);
console.log(`| ${"public API, awaited".padEnd(26)} | ${cell("insert", "public")} | ${cell("update", "public")} |`);
console.log(
  `| ${"JSON in / out per op, chars".padEnd(26)} | ${`${result.insert.inBytes.toFixed(0)} / ${result.insert.outBytes.toFixed(0)}`.padEnd(21)} | ${`${result.update.inBytes.toFixed(0)} / ${result.update.outBytes.toFixed(0)}`.padEnd(21)} |`,
);
