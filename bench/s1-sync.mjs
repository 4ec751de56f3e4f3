// S1 — sync between tabs (shared/docs/benchmarks.md), in headless Chromium: two tabs of one
// browser, crdtdb (IndexedDB storage + BroadcastChannelSync) side by side with Yjs over a
// BroadcastChannel (what y-webrtc does between tabs), through the in-page driver
// bench/pages/s1.js.
//
//   node bench/s1-sync.mjs                  full run (≈ 1–2 min)
//   node bench/s1-sync.mjs --n 100 --runs 1 quick check
//
// Each run: a fresh browser context; tab A opens first (crdtdb: it owns the storage), tab B
// second. The writer writes --n rows (3 columns), then --n single-column updates of them, one
// every --gap ms, each awaited (crdtdb: until durable); latency = the other tab's change event
// for that write minus the moment the writing call returned, on the browsers' shared clock
// (performance.timeOrigin + now()). crdtdb is measured both ways: written in the tab that owns
// the storage, and in the other one (its writes go through the owner's IndexedDB transaction
// before they are sent). Bytes: the update each write produced (crdtdb: the `update` event's
// bytes; yjs: the doc update), what crosses to the other tab plus a 1-byte frame type
// (crdtdb) and the channel's envelope. Medians over --runs (3). Writes bench/results/s1.json.
// WebRTC (S1's second half) comes with WebRTCSync.

import { rmSync } from "node:fs";
import { chromium } from "playwright-core";
import { startServer } from "../scripts/serve.mjs";
import { LAUNCH } from "../tests/e2e/harness.js";
import { median, opt, quantile, ratio, Report } from "./lib/common.mjs";
import { bundlePeers, pageMounts } from "./lib/pages.mjs";

const N = Number(opt("n", "300"));
const RUNS = Math.max(1, Number(opt("runs", "3")));
const GAP = Number(opt("gap", "10"));

const peersDir = await bundlePeers("crdtdb-s1-peers-", { "yjs.js": `export * from "yjs";` });
const server = await startServer({ port: 0, mounts: pageMounts(peersDir) });
const browser = await chromium.launch(LAUNCH);
const report = new Report("s1", "S1 — sync between tabs: crdtdb (BroadcastChannelSync) vs Yjs over a BroadcastChannel");

/**
 * One run: returns the latencies (ms) of every write and the bytes of each update.
 * @param {"crdtdb" | "yjs"} lib
 * @param {"A" | "B"} writer
 * @param {string} run
 */
async function once(lib, writer, run) {
  const context = await browser.newContext();
  try {
    const tabs = {};
    for (const name of ["A", "B"]) {
      const page = await context.newPage();
      const problems = [];
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(`${server.url}bench/s1.html`);
      await page.waitForFunction(() => "pageReady" in window);
      await page.evaluate((a) => window.setup(a), { lib, run });
      tabs[name] = { page, problems };
    }
    for (const t of Object.values(tabs)) await t.page.waitForFunction(() => window.peers() >= 1, null, { timeout: 10_000 });
    const w = tabs[writer].page;
    const r = tabs[writer === "A" ? "B" : "A"].page;
    const sent = await w.evaluate((a) => window.writeAll(a), { n: N, gapMs: GAP });
    await r.waitForFunction((n) => new Set(window.seen().map((s) => s.i)).size >= n, 2 * N, { timeout: 60_000 }).catch(() => {});
    const seen = await r.evaluate(() => window.seen());
    const first = new Map();
    for (const s of seen) if (!first.has(s.i)) first.set(s.i, s.seen);
    const lat = sent.filter((s) => first.has(s.i)).map((s) => first.get(s.i) - s.at);
    const bytes = await w.evaluate(() => window.updateBytes());
    // What the writer put on the wire per change (one frame per write, when it sends them).
    const wire = await w.evaluate(() => window.wireBytes());
    const sentMedian = (/** @type {number[]} */ xs) => (wire.length === 2 * N ? median(xs) : NaN);
    const problems = Object.values(tabs).flatMap((t) => t.problems);
    if (problems.length > 0) throw new Error(`${lib} ${writer}: ${problems.join("; ")}`);
    if (lat.length < 2 * N) throw new Error(`${lib} writer ${writer}: only ${lat.length} of ${2 * N} writes seen by the other tab`);
    return { lat, insertBytes: median(bytes.slice(0, N)), updateBytes: median(bytes.slice(N)), insertSent: sentMedian(wire.slice(0, N)), updateSent: sentMedian(wire.slice(N)) };
  } finally {
    await context.close();
  }
}

const targets = [
  { id: "crdtdb-owner", lib: "crdtdb", writer: "A", label: "crdtdb, written in the tab owning the storage" },
  { id: "crdtdb-follower", lib: "crdtdb", writer: "B", label: "crdtdb, written in the other tab" },
  { id: "yjs", lib: "yjs", writer: "A", label: "Yjs over a BroadcastChannel" },
];
report.log(`S1 tabs — ${N} inserts + ${N} single-column updates, one every ${GAP} ms, runs ${RUNS}`);
const res = Object.fromEntries(targets.map((t) => [t.id, []]));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const t of targets) {
      const r = await once(/** @type {any} */ (t.lib), /** @type {any} */ (t.writer), `${run}-${t.id}-${Date.now()}`);
      const p50 = quantile(r.lat, 0.5);
      const p95 = quantile(r.lat, 0.95);
      console.log(`  run ${run + 1} ${t.id.padEnd(16)} p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${Math.max(...r.lat).toFixed(1)} ms, insert ${r.insertBytes} B (sent ${r.insertSent}), update ${r.updateBytes} B (sent ${r.updateSent})`);
      res[t.id].push({ p50, p95, max: Math.max(...r.lat), insertBytes: r.insertBytes, updateBytes: r.updateBytes, insertSent: r.insertSent, updateSent: r.updateSent });
    }
  }
  const med = (id, k) => median(res[id].map((x) => x[k]));
  // The tab not owning the storage hands its writes to the owner, which sends them: "—".
  const sent = (id, k) => (Number.isFinite(med(id, k)) ? med(id, k) : "—");
  report.table(
    `S1 — write-to-visible latency between two tabs and bytes per update, median of ${RUNS} runs`,
    ["", "p50 ms", "p95 ms", "max ms", "insert (3 columns) B: update / sent", "single-column update B: update / sent"],
    [
      ...targets.map((t) => [t.label, med(t.id, "p50").toFixed(2), med(t.id, "p95").toFixed(2), med(t.id, "max").toFixed(1), `${med(t.id, "insertBytes")} / ${sent(t.id, "insertSent")}`, `${med(t.id, "updateBytes")} / ${sent(t.id, "updateSent")}`]),
      ["**crdtdb (owner) / Yjs**", ratio(med("crdtdb-owner", "p50") / med("yjs", "p50")), ratio(med("crdtdb-owner", "p95") / med("yjs", "p95")), "", `sent ${ratio(med("crdtdb-owner", "insertSent") / med("yjs", "insertSent"))}`, `sent ${ratio(med("crdtdb-owner", "updateSent") / med("yjs", "updateSent"))}`],
    ],
    "target (benchmarks.md): p95 ≤ 16 ms between tabs, bytes ≤ Yjs. \"update\": the update event's bytes (Yjs: the doc update); \"sent\": the frame the writer posted (crdtdb: a delta against its previous post once the other tab has it). crdtdb writes are durable (IndexedDB) before they are sent; Yjs here persists nothing.",
  );
  report.set("s1", { n: N, gapMs: GAP, res });
  report.note(`S1 checks passed: every write reached the other tab (${2 * N} per run and target).`);
  report.save();
} finally {
  await browser.close();
  await server.close();
  rmSync(peersDir, { recursive: true, force: true });
}
