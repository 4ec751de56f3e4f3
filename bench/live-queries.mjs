// Live queries: the cost of a write with 1,000 subscriptions on ranges it does not touch,
// against the same write with none (issue 7 target: <= 2x). The engine stabs each changed
// index entry into an interval tree of subscribed ranges, so untouched subscriptions cost
// a few comparisons and no query re-run.
//
//   node bench/live-queries.mjs [--writes 20000] [--rounds 5]

import { CRDTDB, between } from "crdtdb";
import { median, Report } from "./lib/common.mjs";

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.includes(`--${n}`) ? Number(argv[argv.indexOf(`--${n}`) + 1]) : d);
const WRITES = arg("writes", 20000);
const ROUNDS = arg("rounds", 5);
const SUBS = 1000;

async function fresh(subs) {
  const db = await CRDTDB.open("lq", { indexes: { byV: { table: "t", keys: ["v"] } } });
  const t = db.table("t");
  for (let i = 0; i < 1000; i++) await t.set(`k${i}`, { v: i, w: 0 });
  for (let s = 0; s < subs; s++) {
    // Ranges above every value the writes use: never touched.
    db.index("byV").subscribe(between(10_000 + s * 10, 10_000 + s * 10 + 5), () => {});
  }
  return db;
}

async function timeWrites(db) {
  const t = db.table("t");
  const t0 = performance.now();
  for (let i = 0; i < WRITES; i++) await t.update(`k${i % 1000}`, { v: i % 1000, w: i });
  return ((performance.now() - t0) * 1000) / WRITES; // µs per write
}

const none = [];
const many = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first so machine load hits both alike.
  for (const which of r % 2 === 0 ? ["none", "many"] : ["many", "none"]) {
    const db = await fresh(which === "none" ? 0 : SUBS);
    (which === "none" ? none : many).push(await timeWrites(db));
    db.close();
  }
}
const report = new Report("lq", "Live queries");
const base = median(none);
const loaded = median(many);
report.table(
  `Live queries — µs per write, ${WRITES} writes, median of ${ROUNDS} rounds (alternating)`,
  ["subscriptions", "µs per write", "ratio"],
  [
    ["none", base.toFixed(2), "1.00×"],
    ["1,000 on ranges the writes do not touch", loaded.toFixed(2), `${(loaded / base).toFixed(2)}×`],
  ],
  "target (issue 7): ≤ 2×",
);
report.set("usPerWrite", { none, many });
report.save();
