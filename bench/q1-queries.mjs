// Q1 — indexed queries (shared/docs/benchmarks.md), through the public JS API.
//
//   node bench/q1-queries.mjs            (needs the `indexes` option and db.index(); exits 0
//                                         with a message when this build of js/ lacks them)
//
// Data: 100,000 rows in table "users" (8 columns), seeded PRNG. Indexes: byAge ["age"],
// byScore ["score"] (single) and byName ["firstname", "lastname"] (compound).
// Queries (each verified against the baseline):
//   top50   byScore.query(above(x), { limit: 50 })            2,000 random x
//   count   byAge.count(between(lo, hi))                        2,000 random ranges
//   get     byName.get([first, last])                          10,000 random existing pairs
// Baseline: per index a JS array of entries sorted by (index key, row key) with binary search
// (the practical limit for an in-memory index). Figures: µs per query, median of 5 rounds
// (each round runs the query set 10 times).
// Index maintenance: R1 insert (10,000 rows × 8 columns, one op per transaction and 100 ops
// per transaction) with the three indexes declared vs none, median of 3 (alternating).
// crdtdb and the array alternate round by round. Options: --scale 0.1 (fewer rows, quick
// check), --rounds N. Prints Markdown tables; writes bench/results/q1.json.

import * as api from "crdtdb";
import { gc, median, mulberry32, opt, Report } from "./lib/common.mjs";

const { CRDTDB } = api;
if (typeof CRDTDB.prototype.index !== "function" || typeof api.above !== "function") {
  console.log("Q1 needs the index API (the `indexes` option, db.index(), above/between ranges), " +
    "which this build of js/ does not have yet: nothing measured.");
  process.exit(0);
}
try {
  const probe = await CRDTDB.open("q1-probe", {
    storage: "memory",
    indexes: { p: { table: "t", keys: ["a"] } },
  });
  probe.close();
} catch (err) {
  console.log(`Q1 needs the index API; opening a database with indexes failed: ${err.message}`);
  process.exit(0);
}
const { above, between } = api;

const SCALE = Number(opt("scale", "1")) || 1;
const N = Math.round(100_000 * SCALE);
const N_TOP = 2_000;
const N_COUNT = 2_000;
const N_GET = 10_000;
const ROUNDS = Math.max(1, Number(opt("rounds", "5")));
const INSERT_ROWS = Math.min(10_000, N); // R1 insert (fewer only at --scale below 0.1)

const rnd = mulberry32(777);
const int = (n) => Math.floor(rnd() * n);
const FIRST = Array.from({ length: 300 }, (_, i) => "f" + i.toString(36).padStart(3, "0"));
const LAST = Array.from({ length: 1000 }, (_, i) => "l" + i.toString(36).padStart(3, "0"));
function makeRow() {
  return {
    age: int(100),
    score: int(10_000_000),
    firstname: FIRST[int(FIRST.length)],
    lastname: LAST[int(LAST.length)],
    city: "c" + int(500),
    active: rnd() < 0.5,
    note: "n" + int(2 ** 31).toString(36),
    visits: int(1000),
  };
}
const keys = Array.from({ length: N }, (_, i) => "u" + String(i).padStart(7, "0"));
const rows = keys.map(() => makeRow());

const INDEXES = {
  byAge: { table: "users", keys: ["age"] },
  byScore: { table: "users", keys: ["score"] },
  byName: { table: "users", keys: ["firstname", "lastname"] },
};

// ---------- baseline: sorted arrays + binary search ----------
const cmpKey = (a, b) => {
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
};
function buildSorted(cols) {
  const arr = keys.map((id, i) => ({
    k: cols.length === 1 ? rows[i][cols[0]] : cols.map((c) => rows[i][c]),
    id,
    row: rows[i],
  }));
  arr.sort((x, y) => cmpKey(x.k, y.k) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return arr;
}
// first index whose key is > k (strict) or >= k
function bound(arr, k, strict) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = cmpKey(arr[mid].k, k);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
const base = {
  top50: (arr, x) => {
    const i = bound(arr, x, true);
    return arr.slice(i, i + 50).map((e) => e.row);
  },
  count: (arr, lo, hi) => bound(arr, hi, false) - bound(arr, lo, false),
  get: (arr, k) => {
    const i = bound(arr, k, false);
    return i < arr.length && cmpKey(arr[i].k, k) === 0 ? arr[i].row : undefined;
  },
};

// ---------- query sets ----------
const qTop = Array.from({ length: N_TOP }, () => int(10_000_000));
const qCount = Array.from({ length: N_COUNT }, () => {
  const a = int(100);
  const b = int(100);
  return [Math.min(a, b), Math.max(a, b) + 1];
});
const qGet = Array.from({ length: N_GET }, () => {
  const r = rows[int(N)];
  return [r.firstname, r.lastname];
});

// ---------- load crdtdb ----------
async function fill(db, n, batch) {
  const t = db.table("users");
  if (batch === 1) {
    for (let i = 0; i < n; i++) await t.set(keys[i], rows[i]);
    return;
  }
  for (let i = 0; i < n; i += batch) {
    await db.transaction(async (tx) => {
      const tt = tx.table("users");
      const ps = [];
      for (let j = i; j < Math.min(i + batch, n); j++) ps.push(tt.set(keys[j], rows[j]));
      await Promise.all(ps);
    });
  }
}
const hasTx = typeof CRDTDB.prototype.transaction === "function";

const report = new Report("q1", "Q1 — indexed queries vs a sorted JS array; index maintenance");
report.log(`Q1 indexed queries — node ${process.version}, ${N} rows, median of ${ROUNDS} rounds`);
report.set("config", { scale: SCALE, rows: N, rounds: ROUNDS });
let t0 = performance.now();
const db = await CRDTDB.open("q1", { storage: "memory", indexes: INDEXES });
await fill(db, N, hasTx ? 1000 : 1);
console.log(
  `(setup: loaded ${N} rows with 3 indexes in ${Math.round(performance.now() - t0)} ms, ` +
    `${hasTx ? "1,000 rows per db.transaction" : "one row per write"})`,
);
t0 = performance.now();
const sorted = {
  byAge: buildSorted(["age"]),
  byScore: buildSorted(["score"]),
  byName: buildSorted(["firstname", "lastname"]),
};
console.log(`(setup: sorted arrays built in ${Math.round(performance.now() - t0)} ms)`);

// ---------- verify ----------
const ixAge = db.index("byAge");
const ixScore = db.index("byScore");
const ixName = db.index("byName");
// rows compare by content (the engine returns columns in its own order)
const canon = (v) =>
  v === undefined
    ? "-"
    : Array.isArray(v)
      ? "[" + v.map(canon).join(",") + "]"
      : JSON.stringify(Object.keys(v).sort().map((k) => [k, v[k]]));
function same(a, b) {
  return canon(a) === canon(b);
}
for (let i = 0; i < 200; i++) {
  const got = ixScore.query(above(qTop[i]), { limit: 50 });
  const want = base.top50(sorted.byScore, qTop[i]);
  if (!same(got, want)) throw new Error(`top50 above(${qTop[i]}) differs from the baseline`);
  const [lo, hi] = qCount[i];
  const c = ixAge.count(between(lo, hi));
  if (c !== base.count(sorted.byAge, lo, hi)) throw new Error(`count between(${lo},${hi}) differs`);
  const g = ixName.get(qGet[i]);
  if (!same(g, base.get(sorted.byName, qGet[i]))) throw new Error(`get(${qGet[i]}) differs`);
}

// ---------- measure: crdtdb and the array alternate, round by round ----------
let sink = 0;
const QUERIES = {
  top50: {
    n: N_TOP,
    label: `byScore.query(above(x), {limit: 50}) ×${N_TOP}`,
    crdtdb: () => { for (const x of qTop) sink += ixScore.query(above(x), { limit: 50 }).length; },
    array: () => { for (const x of qTop) sink += base.top50(sorted.byScore, x).length; },
  },
  count: {
    n: N_COUNT,
    label: `byAge.count(between(lo, hi)) ×${N_COUNT}`,
    crdtdb: () => { for (const [lo, hi] of qCount) sink += ixAge.count(between(lo, hi)); },
    array: () => { for (const [lo, hi] of qCount) sink += base.count(sorted.byAge, lo, hi); },
  },
  get: {
    n: N_GET,
    label: `byName.get([first, last]) ×${N_GET}`,
    crdtdb: () => { for (const k of qGet) sink += ixName.get(k) ? 1 : 0; },
    array: () => { for (const k of qGet) sink += base.get(sorted.byName, k) ? 1 : 0; },
  },
};
// Each timed round runs its query set REPEAT times: one pass of 2,000 counts takes ~3 ms,
// short enough for timer and GC noise to double a figure from one run to the next.
const REPEAT = 10;
function timeOnce(fn) {
  gc();
  const s = performance.now();
  for (let i = 0; i < REPEAT; i++) fn();
  return (performance.now() - s) / REPEAT;
}
const res = {};
for (const [name, q] of Object.entries(QUERIES)) {
  q.crdtdb(); // warm-up
  q.array();
  const t = { crdtdb: [], array: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ["crdtdb", "array"] : ["array", "crdtdb"];
    for (const who of order) t[who].push(timeOnce(q[who]) / q.n);
  }
  res[name] = { crdtdb: median(t.crdtdb), array: median(t.array), rounds: t };
}
db.close();

const us = (ms) => (ms * 1000).toFixed(2);
report.table(
  `Q1 queries, µs per query, ${N.toLocaleString("en-US")} rows (median of ${ROUNDS} rounds)`,
  ["query", "crdtdb µs", "sorted array µs", "crdtdb / array"],
  Object.entries(QUERIES).map(([k, q]) => [
    q.label,
    us(res[k].crdtdb),
    us(res[k].array),
    (res[k].crdtdb / res[k].array).toFixed(1) + "×",
  ]),
  "target (benchmarks.md): within 3× of the sorted array",
);
report.set("queries", res);

// ---------- index maintenance: R1 insert with 3 indexes vs none ----------
let dbn = 0;
async function insertTime(withIndexes, batch) {
  const d = await CRDTDB.open(`q1-ins-${dbn++}`, {
    storage: "memory",
    ...(withIndexes ? { indexes: INDEXES } : {}),
  });
  gc();
  const s = performance.now();
  await fill(d, INSERT_ROWS, batch);
  const ms = performance.now() - s;
  d.close();
  return ms;
}
const maint = [];
for (const batch of hasTx ? [1, 100] : [1]) {
  await insertTime(false, batch); // warm-up
  const none = [];
  const three = [];
  for (let r = 0; r < ROUNDS; r++) {
    none.push(await insertTime(false, batch));
    three.push(await insertTime(true, batch));
  }
  const a = median(none);
  const b = median(three);
  maint.push({ batch, none: a, three: b, overhead: (b - a) / a, rounds: { none, three } });
}
report.table(
  `Index maintenance: insert ${INSERT_ROWS.toLocaleString("en-US")} rows × 8 columns, ms (median of ${ROUNDS}, alternating)`,
  ["mode", "no index ms", "3 indexes ms", "overhead"],
  maint.map((m) => [
    m.batch === 1 ? "one op per txn" : `${m.batch} ops per txn`,
    Math.round(m.none),
    Math.round(m.three),
    `${(m.overhead * 100).toFixed(0)} %`,
  ]),
  "target (benchmarks.md): index maintenance adds ≤ 30 % to R1 insert time",
);
report.set("maintenance", maint);
if (sink === -1) console.log(sink);
report.save();
