// M1 — memory (shared/docs/benchmarks.md). Every figure is taken in a fresh child process
// (node:child_process fork of this script), so WASM memory grown by one measurement cannot hide
// another.
//
//   node bench/m1-memory.mjs [--scale 0.1] [--runs 3] [--only rows,messages]
//
// (a) rows: R1's 10,000 inserts (8 columns, the R1 workload) into an empty replica.
//     crdtdb: WASM heap per row from the engine's allocator (module._crdtdb_heap_used(): bytes
//     malloc'ed on the WASM heap, whole module; before opening the replica vs after the inserts,
//     the only replica in the process), the JS heap of the row cache beside it (heapUsed delta
//     after gc), and how much the WASM memory (memory.buffer) grew. One op per transaction and
//     100 ops per transaction. Peers: yjs (JS heap: heapUsed + external delta after gc) and
//     loro-crdt (its WASM memory.buffer growth + JS heap delta). Median of --runs children,
//     libraries alternating. Target: crdtdb WASM ≤ 300 B per row.
// (b) messages: peak WASM heap while applying one message into a fresh replica, as a multiple
//     of the message's size. The messages are written with the public API by replicas in this
//     (parent) process, saved to temp files, and each is applied in its own fresh child:
//       R1 history       R1 insert + update + delete, one op per transaction, db.changesSince()
//       10M nulls        one row whose value is an array of 10,000,000 nulls
//       tiny rows        200,000 rows { v: i }, 1,000 per transaction
//       wide row         one row with 100,000 columns
//       held             R1 history without its first transaction (causally early: all held),
//                        then "release": the first transaction arrives and everything applies
//       held, reversed   R1 insert's 10,000 transactions as per-transaction messages (the
//                        update events), delivered last to first (each held until the first)
//     Figures per step: retained = heap_used after − before (the allocator's current bytes);
//     peak ≤ memory.buffer.byteLength after the call − the heap in use before it (the heap end
//     estimated as the heap base + heap_used); Emscripten grows memory 20 % beyond each request,
//     and a fresh module starts with 16 MiB, so this bound is loose for small messages ("no
//     growth": the peak fit in the initial memory). peak ≥ the largest size the heap asked to grow
//     to (emscripten_resize_heap, observed by wrapping the import) − the heap in use before.
//     Target: peak ≤ 8× the message's size.
// Prints Markdown tables; writes bench/results/m1.json.

import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gc, median, opt, ratio, Report } from "./lib/common.mjs";
import { COLS, crdtdbApply, makeWorkload, r1Counts } from "./lib/r1-workload.mjs";

const SCALE = Number(opt("scale", "1"));
const RUNS = Math.max(1, Number(opt("runs", "3")));
const ONLY = opt("only", "rows,messages").split(",");
const SELF = fileURLToPath(import.meta.url);
const TARGET_ROW = 300;
const TARGET_PEAK = 8;

// ======================= child side =======================

/**
 * Makes WASM memory growth exact and observable: wraps the emscripten_resize_heap import (found
 * by its function name) to record each requested heap size, and the module memory's grow() so
 * that it grows to exactly that size (rounded up to a 64 KiB page) instead of Emscripten's 20 %
 * beyond it. memory.buffer.byteLength then tracks the heap's high-water mark.
 */
function exactGrowth() {
  const state = { maxRequest: 0, lastRequest: 0, hooked: false, exact: false };
  const orig = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source, imports) {
    for (const mod of Object.values(imports ?? {})) {
      for (const [k, f] of Object.entries(mod)) {
        if (typeof f === "function" && f.name === "_emscripten_resize_heap") {
          mod[k] = (req) => {
            state.lastRequest = req >>> 0;
            state.maxRequest = Math.max(state.maxRequest, req >>> 0);
            return f(req);
          };
          state.hooked = true;
        }
      }
    }
    const res = await orig.call(this, source, imports);
    const inst = res instanceof WebAssembly.Instance ? res : res.instance;
    for (const mem of Object.values(inst.exports)) {
      if (!(mem instanceof WebAssembly.Memory) || !state.hooked) continue;
      const grow = mem.grow;
      mem.grow = (pages) => {
        const need = Math.ceil(state.lastRequest / 65536) - mem.buffer.byteLength / 65536;
        return grow.call(mem, need > 0 ? Math.min(need, pages) : pages);
      };
      state.exact = true;
    }
    return res;
  };
  return state;
}

const jsHeap = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
};

async function childRows(lib, batch) {
  const { insert } = makeWorkload(undefined, SCALE);
  const n = insert.length;
  if (lib === "crdtdb") {
    const { CRDTDB } = await import("crdtdb");
    const { loadEngineModule } = await import("../js/loader.js");
    const m = await loadEngineModule();
    const w0 = m._crdtdb_heap_used();
    const b0 = m.HEAPU8.buffer.byteLength;
    const j0 = jsHeap();
    const db = await CRDTDB.open("m1", { storage: "memory", peerId: "m1rows" });
    await crdtdbApply(db, insert, batch);
    const j1 = jsHeap();
    const out = {
      rows: n,
      wasm: m._crdtdb_heap_used() - w0,
      wasmMemoryGrowth: m.HEAPU8.buffer.byteLength - b0,
      js: j1.heap - j0.heap,
      check: db.table("rows").count(),
    };
    db.close();
    out.afterClose = m._crdtdb_heap_used() - w0;
    return out;
  }
  if (lib === "yjs") {
    const Y = await import("yjs");
    const j0 = jsHeap();
    const doc = new Y.Doc();
    const rows = doc.getMap("rows");
    for (const op of insert) doc.transact(() => rows.set(op.key, new Y.Map(Object.entries(op.row))));
    const j1 = jsHeap();
    return { rows: n, wasm: 0, wasmMemoryGrowth: 0, js: j1.heap - j0.heap + j1.external - j0.external, check: rows.size };
  }
  if (lib === "loro") {
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const { LoroDoc, LoroMap } = require("loro-crdt");
    // the same module instance loro-crdt's node entry uses (require cache)
    const wasm = require(join(require.resolve("loro-crdt"), "../loro_wasm.js"));
    const memory = wasm.__wasm.memory;
    new LoroDoc().free(); // module initialised before the baseline
    const b0 = memory.buffer.byteLength;
    const j0 = jsHeap();
    const doc = new LoroDoc();
    doc.setPeerId(1);
    const rows = doc.getMap("rows");
    for (const op of insert) {
      const mm = rows.setContainer(op.key, new LoroMap());
      for (const c of COLS) mm.set(c, op.row[c]);
      doc.commit();
    }
    const j1 = jsHeap();
    return { rows: n, wasm: null, wasmMemoryGrowth: memory.buffer.byteLength - b0, js: j1.heap - j0.heap, check: rows.size };
  }
  throw new Error(`unknown library ${lib}`);
}

/** Reads a file of length-prefixed messages ([u32 length][bytes]…). */
function readMessages(file) {
  const buf = readFileSync(file);
  const out = [];
  for (let p = 0; p < buf.length; ) {
    const len = buf.readUInt32LE(p);
    out.push(new Uint8Array(buf.buffer, buf.byteOffset + p + 4, len));
    p += 4 + len;
  }
  return out;
}

async function childMessage(stepsJson) {
  const steps = JSON.parse(stepsJson);
  const growth = exactGrowth();
  const { CRDTDB } = await import("crdtdb");
  const { loadEngineModule } = await import("../js/loader.js");
  const m = await loadEngineModule();
  const used = () => m._crdtdb_heap_used();
  const size = () => m.HEAPU8.buffer.byteLength;
  const db = await CRDTDB.open("m1msg", { storage: "memory", peerId: "m1reader" });
  const fillers = [];
  const results = [];
  let cumulative = 0;
  for (const step of steps) {
    const msgs = readMessages(step.file);
    const bytes = msgs.reduce((a, x) => a + x.length, 0);
    cumulative += bytes;
    // Fill the free memory at the top of the heap, so that whatever the call needs beyond
    // the (small) holes below grows the memory: the growth is then the call's peak.
    const probe = m._malloc(1 << 20);
    const top = size() - probe;
    m._free(probe);
    if (top > 64 * 1024) fillers.push(m._malloc(top - 32 * 1024));
    const usedBefore = used();
    const sizeBefore = size();
    const t0 = performance.now();
    let r;
    let error = null;
    try {
      for (const msg of msgs) r = db.applyChanges(msg);
    } catch (err) {
      error = `${err?.name}: ${err?.message}`;
    }
    const ms = performance.now() - t0;
    results.push({
      label: step.label,
      messages: msgs.length,
      bytes,
      cumulative,
      ms,
      applied: r?.applied,
      pending: r?.pending,
      error,
      retained: used() - usedBefore,
      peak: size() - sizeBefore,
      exact: growth.exact,
    });
  }
  for (const f of fillers) m._free(f);
  db.close();
  return results;
}

if (process.argv[2] === "--child") {
  const [, , , kind, a, b] = process.argv;
  const result = kind === "rows" ? await childRows(a, Number(b)) : await childMessage(a);
  process.send(result, () => process.exit(0));
} else {
  await main();
}

// ======================= parent side =======================

function runChild(args) {
  return new Promise((resolve, reject) => {
    const scaleArgs = ["--scale", String(SCALE)];
    const child = fork(SELF, ["--child", ...args, ...scaleArgs], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let got;
    child.on("message", (msg) => (got = msg));
    child.on("exit", (code) => (got !== undefined ? resolve(got) : reject(new Error(`child ${args[0]} exited with ${code}`))));
  });
}

function packMessages(file, msgs) {
  const parts = [];
  for (const msg of msgs) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(msg.length);
    parts.push(len, Buffer.from(msg.buffer, msg.byteOffset, msg.length));
  }
  writeFileSync(file, Buffer.concat(parts));
}

async function rowsPart(report) {
  const n = r1Counts(SCALE).rows;
  const libs = [["crdtdb", 1], ["crdtdb", 100], ["yjs", 1], ["loro", 1]];
  const runs = new Map(libs.map((l) => [l.join("/"), []]));
  for (let r = 0; r < RUNS; r++) {
    const order = libs.map((_, i) => libs[(i + r) % libs.length]);
    for (const [lib, batch] of order) runs.get(`${lib}/${batch}`).push(await runChild(["rows", lib, String(batch)]));
  }
  const med = (key, k) => median(runs.get(key).map((x) => x[k] ?? 0));
  const per = (v) => (v === null ? "n/a" : (v / n).toFixed(0));
  const res = {};
  for (const [lib, batch] of libs) {
    const key = `${lib}/${batch}`;
    const rs = runs.get(key);
    if (rs.some((x) => x.check !== n)) throw new Error(`${key}: holds ${rs.map((x) => x.check)} rows, expected ${n}`);
    const wasm = lib === "loro" ? med(key, "wasmMemoryGrowth") : med(key, "wasm");
    res[key] = { lib, batch, wasm, wasmAllocator: lib === "crdtdb" ? wasm : null, wasmMemoryGrowth: med(key, "wasmMemoryGrowth"), js: med(key, "js"), total: wasm + med(key, "js"), afterClose: lib === "crdtdb" ? med(key, "afterClose") : null, runs: rs };
  }
  const best = Math.min(res["yjs/1"].total, res["loro/1"].total);
  const label = { "crdtdb/1": "crdtdb, 1 op/txn", "crdtdb/100": "crdtdb, 100 ops/txn", "yjs/1": "yjs, 1 op/txn", "loro/1": "loro-crdt, 1 op/txn" };
  report.table(
    `M1 (a): memory per R1 row after ${n.toLocaleString("en-US")} inserts × 8 columns, bytes per row (median of ${RUNS} fresh processes)`,
    ["", "WASM heap (allocator)", "WASM memory grown", "JS heap", "total (WASM + JS)", "total / best peer"],
    Object.entries(res).map(([k, v]) => [
      label[k],
      v.wasmAllocator === null ? "n/a" : per(v.wasmAllocator),
      per(v.wasmMemoryGrowth),
      per(v.js),
      per(v.total),
      ratio(v.total / best),
    ]),
    `target (benchmarks.md): crdtdb WASM ≤ ${TARGET_ROW} B per R1 row (the JS row cache reported beside it). ` +
      `Totals: crdtdb = allocator bytes + JS heap; loro = its memory.buffer growth + JS heap (the only WASM figure it offers: ` +
      `includes free space of its allocator); yjs = JS heapUsed + external. A fresh crdtdb module starts with 16 MiB of ` +
      `WASM memory, so its "memory grown" is 0 until that fills. crdtdb heap left after close(): ` +
      `${per(res["crdtdb/1"].afterClose)} B/row (1 op/txn).`,
  );
  report.set("rows", res);
}

async function messagesPart(report) {
  const { CRDTDB } = await import("crdtdb");
  const dir = mkdtempSync(join(os.tmpdir(), "crdtdb-m1-"));
  const shapes = [];
  const open = (p) => CRDTDB.open(p, { storage: "memory", peerId: p });
  const save = (name, msgs) => {
    const file = join(dir, `${name}.bin`);
    packMessages(file, msgs);
    return file;
  };
  try {
    // R1 history, its first transaction, per-transaction messages of the insert
    const w = makeWorkload(undefined, SCALE);
    const r1 = await open("m1r1");
    const perTxn = [];
    const off = r1.on("update", ({ bytes }) => perTxn.push(bytes));
    await crdtdbApply(r1, w.insert.slice(0, 1), 1);
    const v1 = r1.version();
    await crdtdbApply(r1, w.insert.slice(1), 1);
    off();
    await crdtdbApply(r1, w.update, 1);
    await crdtdbApply(r1, w.del, 1);
    const history = r1.changesSince();
    const held = r1.changesSince(v1);
    r1.close();
    shapes.push({ name: "R1 history (1 op/txn)", steps: [{ label: "apply", file: save("r1", [history]) }] });
    shapes.push({
      name: "held: R1 history minus its 1st txn",
      steps: [
        { label: "apply (held)", file: save("held", [held]) },
        { label: "1st txn arrives (release)", file: save("first", [perTxn[0]]) },
      ],
    });
    shapes.push({
      name: `held, reversed: ${perTxn.length.toLocaleString("en-US")} per-txn msgs`,
      steps: [{ label: "apply all, last first", file: save("reversed", [...perTxn].reverse()) }],
    });
    gc();

    const nulls = await open("m1nulls");
    await nulls.table("t").set("big", { v: new Array(Math.round(10_000_000 * SCALE)).fill(null) });
    shapes.push({ name: `${Math.round(10_000_000 * SCALE).toLocaleString("en-US")} nulls in one value`, steps: [{ label: "apply", file: save("nulls", [nulls.changesSince()]) }] });
    nulls.close();
    gc();

    const tiny = await open("m1tiny");
    const nTiny = Math.round(200_000 * SCALE);
    for (let i = 0; i < nTiny; i += 1000) {
      await tiny.transaction(async (tx) => {
        const t = tx.table("t");
        const ps = [];
        for (let j = i; j < Math.min(i + 1000, nTiny); j++) ps.push(t.set("k" + j, { v: j }));
        await Promise.all(ps);
      });
    }
    shapes.push({ name: `${nTiny.toLocaleString("en-US")} tiny rows`, steps: [{ label: "apply", file: save("tiny", [tiny.changesSince()]) }] });
    tiny.close();
    gc();

    const wide = await open("m1wide");
    const nCols = Math.round(100_000 * SCALE);
    const row = {};
    for (let i = 0; i < nCols; i++) row["c" + i] = i;
    await wide.table("t").set("wide", row);
    shapes.push({ name: `one row × ${nCols.toLocaleString("en-US")} columns`, steps: [{ label: "apply", file: save("wide", [wide.changesSince()]) }] });
    wide.close();
    gc();

    const rows = [];
    const res = [];
    for (const shape of shapes) {
      const steps = await runChild(["msg", JSON.stringify(shape.steps)]);
      res.push({ name: shape.name, steps });
      for (const s of steps) {
        const mb = (x) => (x / 2 ** 20).toFixed(2);
        rows.push([
          shape.name,
          s.label,
          s.bytes.toLocaleString("en-US"),
          s.error ?? `${s.applied ?? "?"} / ${s.pending ?? "?"}`,
          Math.round(s.ms).toLocaleString("en-US"),
          mb(s.retained),
          mb(s.peak),
          ratio(s.peak / s.cumulative, 1) + (s.cumulative !== s.bytes ? " (of all so far)" : ""),
          ratio(s.retained / s.cumulative, 1),
        ]);
      }
    }
    if (res.some((r) => r.steps.some((s) => !s.exact))) {
      report.note("WARNING: the exact-growth hook did not attach (emscripten_resize_heap not found by name): " +
        "peaks include Emscripten's 20 % over-growth and may read 0 while the initial memory lasts.");
    }
    report.table(
      "M1 (b): WASM heap while applying a message into a fresh replica (each shape in a fresh process)",
      ["message", "step", "bytes", "applied / pending", "ms", "retained MiB", "peak MiB", "peak / size", "retained / size"],
      rows,
      `target (benchmarks.md): peak ≤ ${TARGET_PEAK}× the message's size. peak = how far the WASM heap grew during the ` +
        `call: the free memory at the top of the heap is filled before it and growth is made exact (64 KiB pages, no ` +
        `20 % over-growth), so it is the heap's high-water mark above what was in use (± 64 KiB, plus small free holes ` +
        `below the top). retained = allocator bytes after − before (includes the engine's copy of the input, kept ` +
        `for the next call). For a later step, sizes are those of all the shape's messages so far; default maxPendingBytes.`,
    );
    report.set("messages", res);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const report = new Report("m1", "M1 — memory: WASM heap per R1 row; peak heap while applying a message");
  report.log(`M1 memory — node ${process.version}, scale ${SCALE}, fresh child process per figure`);
  report.set("config", { scale: SCALE, runs: RUNS });
  if (ONLY.includes("rows")) await rowsPart(report);
  if (ONLY.includes("messages")) await messagesPart(report);
  report.save();
}
