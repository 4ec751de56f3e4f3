// T2 (benchmarks.md): cold merge of a whole concurrent editing history (the Eg-walker paper's
// sets S1 S2 S3 C1 C2 A1) into an empty replica, through each library's public JS API, side by
// side: crdtdb, diamond-types-node, loro-crdt, yjs and @automerge/automerge. Every library's
// merged text is checked against the trace before any figure is printed.
//
//   node bench/t2-merge.mjs [--sets S1,S2,S3,C1,C2,A1] [--only crdtdb,yjs,...] [--runs 3]
//
// What each library merges: the paper's own encodings of the history for diamond-types
// (X.dt: Doc.fromBytes, which loads the event graph and checks the text out), yjs (X.yjs:
// applyUpdateV2) and automerge (X.am: load). The folder has no encoding for crdtdb or loro:
// theirs are made here by replaying the trace through their public APIs with one replica per
// agent, each brought to exactly a transaction's parents (by one message per transaction of
// that history) before typing it, so the history has the trace's concurrency; the merged
// history is then crdtdb's changesSince() and loro's export({ mode: "update" }) (the op log
// alone, no snapshot state: importing it is a merge, as for the others). That replay is not
// timed and is kept in bench/results/t2-cache/ (rebuilt when the package's WASM changes).
// C1 and C2 ship only as .dt: their traces come from bench/lib/dt-trace.mjs.
//
// Figures: merge (median of --runs, text read back included), the encoding's size, and
// crdtdb's WASM heap in use after the merge, once a small call has released the merge's call
// buffers (the engine's allocator, exact; the peers' memory is not read here: M1 does that,
// in child processes).
// Prints Markdown tables; writes bench/results/t2.json.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import * as Automerge from "@automerge/automerge";
import { LoroDoc } from "loro-crdt";
import * as Y from "yjs";
import { CRDTDB } from "crdtdb";
import { loadEngineModule } from "../js/loader.js";
import { traceFromDt } from "./lib/dt-trace.mjs";
import { fmtNum, gc, median, opt, ratio, Report } from "./lib/common.mjs";

const require = createRequire(import.meta.url);
const dt = require("diamond-types-node");

const SET_DIR = new URL("../../shared/data/editing-traces/egwalker-paper/", import.meta.url);
const CACHE = new URL("results/t2-cache/", import.meta.url);
const SETS = opt("sets", "S1,S2,S3,C1,C2,A1").split(",");
const ONLY = opt("only", "crdtdb,diamond-types,loro,yjs,automerge").split(",");
const RUNS = Number(opt("runs", "3"));

/** @typedef {{ endContent: string, numAgents: number, txns: { parents: number[], agent: number, patches: [number, number, string][] }[] }} Trace */

/** @param {string} set @returns {Trace} */
function loadTrace(set) {
  const json = new URL(`${set}.json.gz`, SET_DIR);
  const trace = existsSync(json)
    ? JSON.parse(gunzipSync(readFileSync(json)).toString("utf8"))
    : traceFromDt(readFileSync(new URL(`${set}.dt`, SET_DIR)));
  return trace;
}

const ASTRAL = /[\u{10000}-\u{10ffff}]/u;

/**
 * Positions in the traces count code points; crdtdb and loro count UTF-16 units. This maps
 * one to the other on a replica's text by where its characters beyond the BMP (two units
 * each) are: few, so a sorted list of their unit positions does.
 */
class UnitMap {
  /** @param {string} text */
  constructor(text) {
    /** @type {number[]} unit positions of the characters beyond the BMP, ascending */
    this.astral = [];
    this.add(0, text);
  }

  /** @param {number} cp a code point position @returns {number} the same position in units */
  units(cp) {
    let u = cp;
    for (let k = 0; k < this.astral.length && this.astral[k] - k < cp; k++) u++;
    return u;
  }

  /** Units [u, u + len) were deleted. @param {number} u @param {number} len */
  remove(u, len) {
    this.astral = this.astral.filter((a) => a < u || a >= u + len).map((a) => (a >= u ? a - len : a));
  }

  /** `ins` went in at unit u. @param {number} u @param {string} ins */
  add(u, ins) {
    const mine = [];
    for (let i = 0; i < ins.length; i++) {
      const c = ins.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00) mine.push(u + i++);
    }
    const shifted = this.astral.map((a) => (a >= u ? a + ins.length : a));
    this.astral = [...shifted, ...mine].sort((x, y) => x - y);
  }
}

/** The peers' own encodings of a set. @param {string} set @param {string} ext */
const setFile = (set, ext) => new Uint8Array(readFileSync(new URL(`${set}.${ext}`, SET_DIR)));

/**
 * Replays a concurrent trace with one replica per agent. `lib.open(i)` makes agent i's replica:
 * { apply(bytes), text(), edit(pos, del, ins) in UTF-16 units, take() → one message of what it made since the last take }.
 * Returns every transaction's message, in trace order.
 * @param {Trace} trace
 * @param {{ open(i: number): Promise<{ apply(b: Uint8Array): void, text(): string, edit(p: number, d: number, s: string): void, take(): Uint8Array }> }} lib
 */
async function replay(trace, lib) {
  const n = trace.txns.length;
  const astral = trace.txns.some((t) => t.patches.some((p) => ASTRAL.test(p[2])));
  const agents = [];
  for (let i = 0; i < trace.numAgents; i++) agents.push({ r: await lib.open(i), has: new Uint8Array(n) });
  /** @type {Uint8Array[]} */
  const records = [];
  for (const [i, txn] of trace.txns.entries()) {
    const agent = agents[txn.agent];
    // What the agent lacks of the transaction's parents and their history, oldest first
    // (parents precede their children in the file).
    const missing = [];
    const stack = [...txn.parents];
    while (stack.length > 0) {
      const t = /** @type {number} */ (stack.pop());
      if (agent.has[t]) continue;
      agent.has[t] = 1;
      missing.push(t);
      stack.push(...trace.txns[t].parents);
    }
    missing.sort((x, y) => x - y);
    for (const t of missing) agent.r.apply(records[t]);
    agent.r.take();
    if (!astral) {
      for (const [pos, del, ins] of txn.patches) agent.r.edit(pos, del, ins);
    } else {
      const map = new UnitMap(agent.r.text());
      for (const [pos, del, ins] of txn.patches) {
        const u = map.units(pos);
        const len = map.units(pos + del) - u;
        agent.r.edit(u, len, ins);
        map.remove(u, len);
        map.add(u, ins);
      }
    }
    records.push(agent.r.take());
    agent.has[i] = 1;
  }
  return records;
}

/** The WASM file crdtdb loads, hashed: a cached history is rebuilt when the engine changes. */
function engineHash() {
  const wasm = new URL("../dist/crdtdb.wasm", import.meta.url);
  return existsSync(wasm) ? createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16) : "none";
}

/**
 * A library's encoding of the set's whole history, made by `make` or read from the cache.
 * @param {string} set @param {string} lib @param {() => Promise<Uint8Array>} make
 */
async function cached(set, lib, make) {
  const key = lib === "crdtdb" ? engineHash() : "v1";
  const file = new URL(`${set}.${lib}.${key}.bin`, CACHE);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const bytes = await make();
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(file, bytes);
  return bytes;
}

/** Each library: encoding(set, trace) → bytes; merge(bytes) → text. */
const LIBS = {
  crdtdb: {
    /** @param {string} set @param {Trace} trace */
    encoding: (set, trace) =>
      cached(set, "crdtdb", async () => {
        const base = await CRDTDB.open(`t2-base-${Math.random()}`, { storage: "memory", peerId: "t2-base" });
        await base.table("docs").set("d", {});
        // The text is made once, before anyone types: replicas that each made it would hold
        // concurrent texts of which one wins (api.md, text()).
        base.table("docs").text("d", "body");
        const start = base.changesSince();
        const dbs = [];
        const records = await replay(trace, {
          async open(i) {
            const db = await CRDTDB.open(`t2-${set}-${i}`, { storage: "memory", peerId: `t2-agent-${i}` });
            db.applyChanges(start);
            dbs.push(db);
            const h = db.table("docs").text("d", "body");
            let since = db.version();
            return {
              apply: (b) => db.applyChanges(b),
              text: () => h.toString(),
              edit(pos, del, ins) {
                if (del > 0) h.delete(pos, del);
                if (ins !== "") h.insert(pos, ins);
              },
              take() {
                const b = db.changesSince(since);
                since = db.version();
                return b;
              },
            };
          },
        });
        for (const b of records) base.applyChanges(b);
        if (base.table("docs").get("d")?.body !== trace.endContent) throw new Error(`crdtdb: the replay of ${set} ends in another text`);
        const bytes = base.changesSince();
        await Promise.all([base, ...dbs].map((d) => d.close()));
        return bytes;
      }),
    /** @param {Uint8Array} bytes */
    async merge(bytes) {
      const db = await CRDTDB.open(`t2-merge-${Math.random()}`, { storage: "memory", peerId: "t2-reader" });
      db.applyChanges(bytes);
      const text = /** @type {string} */ (db.table("docs").get("d")?.body);
      return {
        text,
        // A call with a small message: the engine lets go of the merge's input and output
        // buffers (it keeps them for the next call of a like size).
        idle: () => db.applyChanges(db.changesSince(db.version())),
        close: () => db.close(),
      };
    },
  },
  "diamond-types": {
    encoding: (/** @type {string} */ set) => setFile(set, "dt"),
    /** @param {Uint8Array} bytes */
    async merge(bytes) {
      const doc = dt.Doc.fromBytes(bytes);
      return { text: doc.get(), close: () => doc.free() };
    },
  },
  loro: {
    /** @param {string} set @param {Trace} trace */
    encoding: (set, trace) =>
      cached(set, "loro", async () => {
        const records = await replay(trace, {
          async open(i) {
            const doc = new LoroDoc();
            doc.setPeerId(BigInt(i + 1));
            const text = doc.getText("text");
            let since = doc.oplogVersion();
            return {
              apply: (b) => doc.import(b),
              text: () => text.toString(),
              edit(pos, del, ins) {
                if (del > 0) text.delete(pos, del);
                if (ins !== "") text.insert(pos, ins);
              },
              take() {
                doc.commit();
                const b = doc.export({ mode: "update", from: since });
                since = doc.oplogVersion();
                return b;
              },
            };
          },
        });
        const all = new LoroDoc();
        for (const b of records) all.import(b);
        if (all.getText("text").toString() !== trace.endContent) throw new Error(`loro: the replay of ${set} ends in another text`);
        return all.export({ mode: "update" });
      }),
    /** @param {Uint8Array} bytes */
    async merge(bytes) {
      const doc = new LoroDoc();
      doc.import(bytes);
      return { text: doc.getText("text").toString(), close: () => doc.free() };
    },
  },
  yjs: {
    encoding: (/** @type {string} */ set) => setFile(set, "yjs"),
    /** @param {Uint8Array} bytes */
    async merge(bytes) {
      const doc = new Y.Doc();
      Y.applyUpdateV2(doc, bytes);
      return { text: doc.getText("text").toString(), close: () => doc.destroy() };
    },
  },
  automerge: {
    encoding: (/** @type {string} */ set) => setFile(set, "am"),
    /** @param {Uint8Array} bytes */
    async merge(bytes) {
      const doc = Automerge.load(bytes);
      return { text: /** @type {any} */ (doc).text, close: () => {} };
    },
  },
};

/** @param {keyof typeof LIBS} name @param {string} set @param {Trace} trace */
async function measure(name, set, trace) {
  const lib = LIBS[name];
  const bytes = await lib.encoding(set, trace);
  const engine = name === "crdtdb" ? await loadEngineModule() : null;
  const ms = [];
  /** @type {number | null} */
  let memory = null;
  for (let run = 0; run < RUNS; run++) {
    gc();
    const w0 = engine ? engine._crdtdb_heap_used() : 0;
    const t0 = performance.now();
    const doc = await lib.merge(bytes);
    ms.push(performance.now() - t0);
    if (doc.text !== trace.endContent) throw new Error(`${name}: the merged text of ${set} differs from the trace's`);
    if (engine) {
      doc.idle?.();
      memory = engine._crdtdb_heap_used() - w0;
    }
    await doc.close();
  }
  return { merge: median(ms), size: bytes.length, memory };
}

async function main() {
  const report = new Report("t2", "T2 — merge a whole concurrent history");
  report.log(`T2 merge — node ${process.version}, runs ${RUNS}`);
  /** @type {Record<string, Record<string, Awaited<ReturnType<typeof measure>>>>} */
  const all = {};
  const texts = {};
  for (const set of SETS) {
    const trace = loadTrace(set);
    texts[set] = trace.endContent.length;
    all[set] = {};
    for (const lib of ONLY) {
      if (!(lib in LIBS)) throw new Error(`unknown library ${lib}`);
      report.log(`${set}: ${lib}…`);
      all[set][lib] = await measure(/** @type {keyof typeof LIBS} */ (lib), set, trace);
    }
  }
  const libs = ONLY;
  const vs = (/** @type {string} */ set, /** @type {(r: any) => number} */ f) => {
    const a = all[set].crdtdb;
    const b = all[set]["diamond-types"];
    return a && b ? ratio(f(a) / f(b)) : "n/a";
  };
  report.table(
    "T2 cold merge of the whole history, ms (median of runs, text read back and checked)",
    ["set", ...libs, "crdtdb / diamond-types"],
    SETS.map((s) => [s, ...libs.map((l) => fmtNum(all[s][l].merge)), vs(s, (r) => r.merge)]),
    "Target (benchmarks.md): crdtdb faster than both yjs and diamond-types-node on every set.",
  );
  report.table(
    "T2 encoded history, bytes (dt/yjs/automerge: the paper's files; crdtdb: changesSince(); loro: export update)",
    ["set", ...libs, "crdtdb / diamond-types"],
    SETS.map((s) => [s, ...libs.map((l) => fmtNum(all[s][l].size, 0)), vs(s, (r) => r.size)]),
  );
  if (libs.includes("crdtdb")) {
    report.table(
      "T2 crdtdb's WASM heap in use after the merge, bytes",
      ["set", "text, chars", "heap", "beyond 2 B/char", "heap / encoding"],
      SETS.map((s) => {
        const r = all[s].crdtdb;
        return [s, fmtNum(texts[s], 0), fmtNum(r.memory ?? NaN, 0), fmtNum((r.memory ?? NaN) - 2 * texts[s], 0), ratio((r.memory ?? NaN) / r.size, 1)];
      }),
      "Target (benchmarks.md): a loaded document ≤ 1 MiB beyond the text itself.",
    );
  }
  report.set("sets", all);
  report.save();
}

await main();
