// Live queries: the cost of a write with 1,000 subscriptions on ranges it does not touch,
// against the same write with none (issue 7 target: <= 2x). The engine stabs each changed
// index entry into an interval tree of subscribed ranges, so untouched subscriptions cost
// a few comparisons and no query re-run.
//
//   node bench/live-queries.mjs [--writes 20000] [--rounds 5]

import { writeFileSync, mkdirSync } from "node:fs";
import { CRDTDB, between } from "../js/index.js";

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
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const result = {
  writes: WRITES,
  rounds: ROUNDS,
  usPerWriteNoSubs: median(none),
  usPerWrite1000Subs: median(many),
  ratio: median(many) / median(none),
};
console.log("Live queries — a write with 1,000 subscriptions on untouched ranges vs none");
console.log("| subscriptions | µs per write | ratio |");
console.log("| ------------: | -----------: | ----: |");
console.log(`| 0 | ${result.usPerWriteNoSubs.toFixed(2)} | 1.00× |`);
console.log(`| 1,000 (untouched) | ${result.usPerWrite1000Subs.toFixed(2)} | ${result.ratio.toFixed(2)}× |`);
console.log("(target: <= 2x)");
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/live-queries.json", import.meta.url), JSON.stringify(result, null, 2));
