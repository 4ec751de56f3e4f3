// Summarises a V8 .cpuprofile (from `node --cpu-prof`) by where the self time goes.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/r1-rows.mjs --only crdtdb --mode 1 --runs 1
//   node bench/profile-summary.mjs /tmp/prof/*.cpuprofile
//
// Categories: "engine (WASM)" = wasm:// frames; "Embind glue (dist/crdtdb.mjs)" = the
// generated JS that marshals strings and arrays across the boundary; "crdtdb js/<file>" = the
// JS API; "peers" = yjs / loro-crdt; "bench" = this folder; GC; everything else.

import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node bench/profile-summary.mjs PROFILE.cpuprofile");
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
function category(cf) {
  const url = cf.url ?? "";
  if (url.startsWith("wasm://") || /^\$?wasm-function/.test(cf.functionName)) return "engine (WASM)";
  if (url.includes("/dist/crdtdb.mjs")) return "Embind glue (dist/crdtdb.mjs)";
  const m = url.match(/\/js\/([a-z_]+\.js)$/);
  if (m) return `crdtdb js/${m[1]}`;
  if (url.includes("node_modules/yjs") || url.includes("node_modules/lib0")) return "peers: yjs";
  if (url.includes("node_modules/loro-crdt")) return "peers: loro-crdt";
  if (url.includes("/bench/")) return "bench harness";
  if (cf.functionName === "(garbage collector)") return "GC";
  if (cf.functionName === "(idle)") return "idle";
  if (cf.functionName === "(program)") return "(program): V8 runtime / natives";
  if (cf.functionName === "JSON.parse" || cf.functionName === "parse") return "JSON.parse (native)";
  if (cf.functionName === "stringify") return "JSON.stringify (native)";
  if (url.startsWith("node:")) return "node internals";
  return `other natives`;
}
const cats = new Map();
const fns = new Map();
let total = 0;
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  const c = category(cf);
  cats.set(c, (cats.get(c) ?? 0) + us);
  const fname = `${cf.functionName || "(anonymous)"} ${cf.url ? cf.url.replace(/^.*\//, "") : ""}${cf.lineNumber >= 0 && cf.url ? ":" + (cf.lineNumber + 1) : ""}`;
  fns.set(fname, (fns.get(fname) ?? 0) + us);
  total += us;
}
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5) + " %";
console.log(`profile ${file}: ${(total / 1000).toFixed(0)} ms sampled`);
console.log("\nself time by category:");
for (const [c, us] of [...cats].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${c}`);
}
const TOP = Number(process.env.TOP ?? 25);
console.log(`\ntop ${TOP} functions by self time:`);
for (const [f, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
  console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${f}`);
}
