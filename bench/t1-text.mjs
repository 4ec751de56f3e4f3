// T1 (benchmarks.md): local editing replay of a sequential trace, one keystroke per
// transaction, through each library's public JS API, side by side: crdtdb (TextHandle on a
// row's text column), diamond-types-node, loro-crdt, yjs and @automerge/automerge. Every
// library's final text is checked against the trace before any figure is printed.
//
//   node bench/t1-text.mjs [--traces seph-blog1,automerge-paper] [--only crdtdb,yjs,...]
//                          [--runs 1] [--scale 1] [--updates 5000]
//
// Figures: apply (the timed replay, no update listeners), the encoded document (crdtdb:
// changesSince(); dt: toBytes; loro: snapshot; yjs: encodeStateAsUpdate; automerge: save),
// load of that encoding into a fresh document (text read back and checked), and the average
// update a peer would be sent per keystroke over the first --updates keystrokes (crdtdb:
// on("update") bytes; dt: getPatchSince the previous version; loro: subscribeLocalUpdates;
// yjs: on("update"); automerge: getLastLocalChange). Traces come from
// ../shared/data/editing-traces/sequential_traces/ascii_only (code points = UTF-16 units).
// Prints Markdown tables; writes bench/results/t1.json.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import * as Automerge from "@automerge/automerge";
import { LoroDoc } from "loro-crdt";
import * as Y from "yjs";
import { CRDTDB } from "crdtdb";
import { fmtNum, gc, median, opt, ratio, Report } from "./lib/common.mjs";

const require = createRequire(import.meta.url);
const dt = require("diamond-types-node");

const TRACE_DIR = new URL("../../shared/data/editing-traces/sequential_traces/ascii_only/", import.meta.url);
const TRACES = opt("traces", "seph-blog1,automerge-paper").split(",");
const ONLY = opt("only", "crdtdb,diamond-types,loro,yjs,automerge").split(",");
const RUNS = Number(opt("runs", "1"));
const SCALE = Number(opt("scale", "1"));
const UPDATES = Number(opt("updates", "5000"));
const PEER = "bench-peer-00001"; // a 16-character peer id, as real ones are

/**
 * The trace as a flat list of keystrokes [pos, del, ins], and the text they end in.
 * @param {string} name
 */
function loadTrace(name) {
  const trace = JSON.parse(gunzipSync(readFileSync(new URL(`${name}.json.gz`, TRACE_DIR))).toString("utf8"));
  /** @type {[number, number, string][]} */
  const edits = [];
  for (const txn of trace.txns) for (const p of txn.patches) edits.push(p);
  if (SCALE >= 1) return { edits, end: trace.endContent };
  const cut = edits.slice(0, Math.max(1, Math.floor(edits.length * SCALE)));
  let s = "";
  for (const [pos, del, ins] of cut) s = s.slice(0, pos) + ins + s.slice(pos + del);
  return { edits: cut, end: s };
}

/**
 * Each library: make(updates?) → { edit(pos, del, ins), text(), encode(), onUpdate? };
 * load(bytes) → text.
 */
const LIBS = {
  crdtdb: {
    async make(/** @type {((n: number) => void) | null} */ onUpdate) {
      const db = await CRDTDB.open(`t1-${Math.random()}`, { storage: "memory", peerId: PEER });
      const docs = db.table("docs");
      await docs.set("d", {});
      const h = docs.text("d", "body");
      if (onUpdate) db.on("update", ({ bytes }) => onUpdate(bytes.length));
      return {
        edit(/** @type {number} */ pos, /** @type {number} */ del, /** @type {string} */ ins) {
          if (del > 0) h.delete(pos, del);
          if (ins !== "") h.insert(pos, ins);
        },
        text: () => h.toString(),
        encode: () => db.changesSince(),
        close: () => db.close(),
      };
    },
    async load(/** @type {Uint8Array} */ bytes) {
      const db = await CRDTDB.open(`t1-load-${Math.random()}`, { storage: "memory", peerId: "loader" });
      db.applyChanges(bytes);
      const s = /** @type {string} */ (db.table("docs").get("d")?.body);
      await db.close();
      return s;
    },
  },
  "diamond-types": {
    async make(/** @type {((n: number) => void) | null} */ onUpdate) {
      const doc = new dt.Doc(PEER);
      let version = doc.getLocalVersion();
      return {
        edit(/** @type {number} */ pos, /** @type {number} */ del, /** @type {string} */ ins) {
          if (del > 0) doc.del(pos, del);
          if (ins !== "") doc.ins(pos, ins);
          if (onUpdate) {
            onUpdate(doc.getPatchSince(version).length);
            version = doc.getLocalVersion();
          }
        },
        text: () => doc.get(),
        encode: () => doc.toBytes(),
        close: () => doc.free(),
      };
    },
    async load(/** @type {Uint8Array} */ bytes) {
      const doc = dt.Doc.fromBytes(bytes);
      const s = doc.get();
      doc.free();
      return s;
    },
  },
  loro: {
    async make(/** @type {((n: number) => void) | null} */ onUpdate) {
      const doc = new LoroDoc();
      doc.setPeerId(1n);
      const text = doc.getText("t");
      if (onUpdate) doc.subscribeLocalUpdates((u) => onUpdate(u.length));
      return {
        edit(/** @type {number} */ pos, /** @type {number} */ del, /** @type {string} */ ins) {
          if (del > 0) text.delete(pos, del);
          if (ins !== "") text.insert(pos, ins);
          doc.commit();
        },
        text: () => text.toString(),
        encode: () => doc.export({ mode: "snapshot" }),
        close: () => {},
      };
    },
    async load(/** @type {Uint8Array} */ bytes) {
      const doc = new LoroDoc();
      doc.import(bytes);
      return doc.getText("t").toString();
    },
  },
  yjs: {
    async make(/** @type {((n: number) => void) | null} */ onUpdate) {
      const doc = new Y.Doc();
      doc.clientID = 1;
      const text = doc.getText("t");
      if (onUpdate) doc.on("update", (/** @type {Uint8Array} */ u) => onUpdate(u.length));
      return {
        edit(/** @type {number} */ pos, /** @type {number} */ del, /** @type {string} */ ins) {
          doc.transact(() => {
            if (del > 0) text.delete(pos, del);
            if (ins !== "") text.insert(pos, ins);
          });
        },
        text: () => text.toString(),
        encode: () => Y.encodeStateAsUpdate(doc),
        close: () => doc.destroy(),
      };
    },
    async load(/** @type {Uint8Array} */ bytes) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, bytes);
      return doc.getText("t").toString();
    },
  },
  automerge: {
    async make(/** @type {((n: number) => void) | null} */ onUpdate) {
      let doc = Automerge.change(Automerge.init({ actor: "00000001" }), (d) => {
        /** @type {any} */ (d).t = "";
      });
      return {
        edit(/** @type {number} */ pos, /** @type {number} */ del, /** @type {string} */ ins) {
          doc = Automerge.change(doc, (d) => Automerge.splice(d, ["t"], pos, del, ins));
          if (onUpdate) onUpdate(/** @type {Uint8Array} */ (Automerge.getLastLocalChange(doc)).length);
        },
        text: () => /** @type {any} */ (doc).t,
        encode: () => Automerge.save(doc),
        close: () => {},
      };
    },
    async load(/** @type {Uint8Array} */ bytes) {
      return /** @type {any} */ (Automerge.load(bytes)).t;
    },
  },
};

/**
 * @param {keyof typeof LIBS} name
 * @param {{ edits: [number, number, string][], end: string }} trace
 */
async function measure(name, trace) {
  const lib = LIBS[name];
  const applyMs = [];
  const loadMs = [];
  let size = 0;
  for (let run = 0; run < RUNS; run++) {
    gc();
    const doc = await lib.make(null);
    const t0 = performance.now();
    for (const [pos, del, ins] of trace.edits) doc.edit(pos, del, ins);
    const t1 = performance.now();
    if (doc.text() !== trace.end) throw new Error(`${name}: the replayed text differs from the trace's`);
    applyMs.push(t1 - t0);
    const bytes = doc.encode();
    size = bytes.length;
    doc.close();
    gc();
    const t2 = performance.now();
    const loaded = await lib.load(bytes);
    loadMs.push(performance.now() - t2);
    if (loaded !== trace.end) throw new Error(`${name}: the loaded text differs from the trace's`);
  }
  // Update sizes on a prefix (not timed: measuring them slows some libraries down).
  let updateBytes = 0;
  let updates = 0;
  const doc = await lib.make((n) => {
    updateBytes += n;
    updates++;
  });
  const n = Math.min(UPDATES, trace.edits.length);
  for (const [pos, del, ins] of trace.edits.slice(0, n)) doc.edit(pos, del, ins);
  doc.close();
  return { apply: median(applyMs), size, load: median(loadMs), perKeystroke: updateBytes / n, updates };
}

async function main() {
  const report = new Report("t1", "T1 — local text editing replay");
  report.log(`T1 text — node ${process.version}, runs ${RUNS}, scale ${SCALE}`);
  for (const name of TRACES) {
    const trace = loadTrace(name);
    /** @type {Record<string, Awaited<ReturnType<typeof measure>>>} */
    const res = {};
    for (const lib of ONLY) {
      if (!(lib in LIBS)) throw new Error(`unknown library ${lib}`);
      report.log(`${name}: ${lib}…`);
      res[lib] = await measure(/** @type {keyof typeof LIBS} */ (lib), trace);
    }
    const libs = Object.keys(res);
    const base = res["diamond-types"];
    const row = (/** @type {string} */ label, /** @type {(r: any) => number} */ f, digits = 1) => [
      label,
      ...libs.map((l) => fmtNum(f(res[l]), digits)),
      base && res.crdtdb ? ratio(f(res.crdtdb) / f(base)) : "n/a",
    ];
    report.table(
      `T1 ${name}: ${trace.edits.length.toLocaleString("en-US")} keystrokes, final text ${trace.end.length.toLocaleString("en-US")} chars`,
      ["", ...libs, "crdtdb / diamond-types"],
      [
        row("apply, ms", (r) => r.apply),
        row("encoded size, bytes", (r) => r.size, 0),
        row("load of the encoding, ms", (r) => r.load, 2),
        row(`avg update per keystroke (first ${Math.min(UPDATES, trace.edits.length)}), bytes`, (r) => r.perKeystroke),
      ],
      "Target (benchmarks.md): crdtdb at or below diamond-types-node on apply and size, load ≤ 2 ms, ≤ 20 B per keystroke update.",
    );
    report.set(name, res);
  }
  report.save();
}

await main();
