// How crdtdb's "load + scan" (a fresh replica applyChanges(full state)) scales with history,
// and a CPU profile of the load alone.
//
//   node bench/r1-load-profile.mjs [--scales 0.05,0.1,0.2] [--profile /tmp/load.cpuprofile]
//   node bench/profile-summary.mjs /tmp/load.cpuprofile
//
// For each scale s: an R1-shaped history (10,000·s rows × 8 columns inserted, 100,000·s
// single-cell updates, one op per transaction) is built untimed; then a fresh replica
// applies the full state (timed: applyChanges, split from the scan of every row with get()).
// With --profile, the load at the largest scale is profiled (node:inspector), nothing else.

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { CRDTDB } from "crdtdb";

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
const SCALES = arg("scales", "0.05,0.1,0.2").split(",").map(Number);
const PROFILE = arg("profile", "");
// --history: "local" (insert + updates, one peer), "conc" (+ a second replica making
// 50,000·s concurrent updates to the same cells, merged both ways), "r1" (conc + 1,000·s
// row deletes before the concurrent phase, as in r1-rows.mjs)
const HISTORY = arg("history", "local");
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

console.log(`history: ${HISTORY}`);
console.log("| scale | rows | events | full state B | applyChanges ms | µs / event | scan ms |");
console.log("| ----- | ---- | ------ | ------------ | --------------- | ---------- | ------- |");
for (let si = 0; si < SCALES.length; si++) {
  const s = SCALES[si];
  const rnd = mulberry32(42);
  const int = (n) => Math.floor(rnd() * n);
  const nRows = Math.round(10_000 * s);
  const nUpd = Math.round(100_000 * s);
  const keys = Array.from({ length: nRows }, (_, i) => "row" + String(i).padStart(6, "0"));
  const src = await CRDTDB.open(`src-${s}`, { storage: "memory" });
  const t = src.table("rows");
  for (const k of keys) {
    const row = {};
    COLS.forEach((c, j) => (row[c] = j % 2 ? "s" + int(1e9).toString(36) : int(1e6)));
    await t.set(k, row);
  }
  for (let i = 0; i < nUpd; i++) {
    const j = int(8);
    await t.update(keys[int(nRows)], { [COLS[j]]: j % 2 ? "u" + i : i });
  }
  if (HISTORY === "r1") {
    for (let i = 0; i < Math.round(1000 * s); i++) await t.delete(keys[int(nRows)]);
  }
  if (HISTORY !== "local") {
    const b = await CRDTDB.open(`b-${s}`, { storage: "memory" });
    b.applyChanges(src.changesSince());
    const tb = b.table("rows");
    const live = keys.filter((k) => t.has(k));
    for (let i = 0; i < Math.round(50_000 * s); i++) {
      const k = live[int(live.length)];
      const c = COLS[int(8)];
      await t.update(k, { [c]: "a" + i });
      await tb.update(k, { [c]: "b" + i });
    }
    src.applyChanges(b.changesSince(src.version()));
    b.close();
  }
  const full = src.changesSince();
  const liveKeys = keys.filter((k) => t.has(k));
  src.close();

  const dst = await CRDTDB.open(`dst-${s}`, { storage: "memory" });
  const last = si === SCALES.length - 1;
  let session;
  if (PROFILE && last) {
    session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 200 });
    await session.post("Profiler.start");
  }
  const t0 = performance.now();
  const { applied } = dst.applyChanges(full);
  const t1 = performance.now();
  const dt = dst.table("rows");
  let n = 0;
  for (const k of keys) {
    const r = dt.get(k);
    if (r) for (const c of COLS) if (r[c] !== undefined) n++;
  }
  const t2 = performance.now();
  if (session) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(PROFILE, JSON.stringify(profile));
    session.disconnect();
  }
  if (n !== liveKeys.length * COLS.length) throw new Error(`scan read ${n} values`);
  dst.close();
  console.log(
    `| ${s} | ${nRows} | ${applied} | ${full.length.toLocaleString("en-US")} | ${Math.round(t1 - t0)} | ${(((t1 - t0) * 1000) / applied).toFixed(1)} | ${(t2 - t1).toFixed(1)} |`,
  );
}
if (PROFILE) console.log(`profile of the last load written to ${PROFILE}`);
