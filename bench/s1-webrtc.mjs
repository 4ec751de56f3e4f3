// S1 — sync between two browsers over WebRTC on loopback (shared/docs/benchmarks.md): two
// headless Chromium processes, crdtdb (IndexedDB storage + WebRTCSync, signaled by
// crdtdb-server) side by side with Yjs over one RTCDataChannel (what y-webrtc does), through
// the in-page driver bench/pages/s1.js.
//
//   node bench/s1-webrtc.mjs                  full run (≈ 1–2 min)
//   node bench/s1-webrtc.mjs --n 100 --runs 1 quick check
//
// WebRTC runs only inside a private network namespace (shared/docs/toolchain.md): as root,
// this script re-runs itself under `unshare -n` with a veth, so no packet leaves the machine.
// Each run: fresh pages in both browsers; the writer writes --n rows (3 columns) then --n
// single-column updates, one every --gap ms, each awaited (crdtdb: until durable); latency =
// the other browser's change event minus the moment the writing call returned, on
// performance.timeOrigin + now(): both browsers read the one system clock of this machine.
// Bytes: the update each write produced. Medians over --runs (3). Writes bench/results/s1rtc.json.

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer as startRelay } from "../js/server/server.js";
import { startServer } from "../scripts/serve.mjs";
import { LAUNCH, netnsScript, netnsSettled } from "../tests/e2e/harness.js";
import { median, opt, quantile, ratio, Report } from "./lib/common.mjs";
import { bundlePeers, pageMounts } from "./lib/pages.mjs";

if (process.env.CRDTDB_NETNS !== "1") {
  const inner = netnsScript(`"${process.execPath}" "${fileURLToPath(import.meta.url)}" ${process.argv.slice(2).map((a) => `'${a}'`).join(" ")}`);
  const r = spawnSync("unshare", ["-n", "--", "sh", "-c", inner], { stdio: "inherit", env: { ...process.env, CRDTDB_NETNS: "1" } });
  process.exit(r.status ?? 1);
}
await netnsSettled();

const N = Number(opt("n", "300"));
const RUNS = Math.max(1, Number(opt("runs", "3")));
const GAP = Number(opt("gap", "10"));

const peersDir = await bundlePeers("crdtdb-s1rtc-peers-", { "yjs.js": `export * from "yjs";` });
const server = await startServer({ port: 0, mounts: pageMounts(peersDir) });
const relay = await startRelay({ port: 0, log: () => {} });
const browsers = [await chromium.launch(LAUNCH), await chromium.launch(LAUNCH)];
const report = new Report("s1rtc", "S1 — sync between two browsers over WebRTC: crdtdb (WebRTCSync) vs Yjs over an RTCDataChannel");

/**
 * One run: browser 0 writes, browser 1 watches.
 * @param {"crdtdb-rtc" | "yjs-rtc"} lib
 * @param {string} run
 */
async function once(lib, run) {
  const contexts = await Promise.all(browsers.map((b) => b.newContext()));
  try {
    const pages = [];
    const problems = [];
    for (const context of contexts) {
      const page = await context.newPage();
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(`${server.url}bench/s1.html`);
      await page.waitForFunction(() => "pageReady" in window);
      await page.evaluate((a) => window.setup(a), { lib, run, signaling: relay.url });
      pages.push(page);
    }
    const t0 = Date.now();
    for (const p of pages) await p.waitForFunction(() => window.peers() >= 1, null, { timeout: 30_000 });
    const connectMs = Date.now() - t0;
    const [w, r] = pages;
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
    if (problems.length > 0) throw new Error(`${lib}: ${problems.join("; ")}`);
    if (lat.length < 2 * N) throw new Error(`${lib}: only ${lat.length} of ${2 * N} writes seen by the other browser`);
    return { lat, connectMs, insertBytes: median(bytes.slice(0, N)), updateBytes: median(bytes.slice(N)), insertSent: sentMedian(wire.slice(0, N)), updateSent: sentMedian(wire.slice(N)) };
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
  }
}

const targets = [
  { id: "crdtdb-rtc", label: "crdtdb, WebRTCSync (IndexedDB: durable before it is sent)" },
  { id: "yjs-rtc", label: "Yjs over an RTCDataChannel (persists nothing)" },
];
report.log(`S1 WebRTC — ${N} inserts + ${N} single-column updates, one every ${GAP} ms, runs ${RUNS}, two browser processes on loopback`);
const res = Object.fromEntries(targets.map((t) => [t.id, []]));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const t of targets) {
      const r = await once(/** @type {any} */ (t.id), `${run}-${t.id}-${Date.now()}`);
      const p50 = quantile(r.lat, 0.5);
      const p95 = quantile(r.lat, 0.95);
      console.log(`  run ${run + 1} ${t.id.padEnd(11)} connected in ${r.connectMs} ms; p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${Math.max(...r.lat).toFixed(1)} ms, insert ${r.insertBytes} B (sent ${r.insertSent}), update ${r.updateBytes} B (sent ${r.updateSent})`);
      res[t.id].push({ p50, p95, max: Math.max(...r.lat), connectMs: r.connectMs, insertBytes: r.insertBytes, updateBytes: r.updateBytes, insertSent: r.insertSent, updateSent: r.updateSent });
    }
  }
  const med = (id, k) => median(res[id].map((x) => x[k]));
  report.table(
    `S1 — write-to-visible latency between two browsers over WebRTC (loopback) and bytes per update, median of ${RUNS} runs`,
    ["", "p50 ms", "p95 ms", "max ms", "connect ms", "insert (3 columns) B: update / sent", "single-column update B: update / sent"],
    [
      ...targets.map((t) => [t.label, med(t.id, "p50").toFixed(2), med(t.id, "p95").toFixed(2), med(t.id, "max").toFixed(1), med(t.id, "connectMs").toFixed(0), `${med(t.id, "insertBytes")} / ${med(t.id, "insertSent")}`, `${med(t.id, "updateBytes")} / ${med(t.id, "updateSent")}`]),
      ["**crdtdb / Yjs**", ratio(med("crdtdb-rtc", "p50") / med("yjs-rtc", "p50")), ratio(med("crdtdb-rtc", "p95") / med("yjs-rtc", "p95")), "", "", `sent ${ratio(med("crdtdb-rtc", "insertSent") / med("yjs-rtc", "insertSent"))}`, `sent ${ratio(med("crdtdb-rtc", "updateSent") / med("yjs-rtc", "updateSent"))}`],
    ],
    "target (benchmarks.md): p95 ≤ 50 ms over WebRTC on loopback, bytes ≤ Yjs. \"update\": the update event's bytes (Yjs: the doc update); \"sent\": the frame sent on the data channel (crdtdb: a delta against the previous one). Inside a private network namespace (unshare -n), two Chromium processes.",
  );
  report.set("s1rtc", { n: N, gapMs: GAP, res });
  report.note(`S1 WebRTC checks passed: every write reached the other browser (${2 * N} per run and target).`);
  report.save();
} finally {
  await Promise.all(browsers.map((b) => b.close()));
  await relay.close();
  await server.close();
  rmSync(peersDir, { recursive: true, force: true });
}
