// R1 — rows (shared/docs/benchmarks.md), crdtdb side by side with yjs and loro-crdt in one run.
//
//   node bench/r1-rows.mjs                      full run: both modes, 3 runs, median
//   node bench/r1-rows.mjs --mode 1 --runs 1 --only crdtdb --scale 0.2   (profiling / quick)
//
// Workload (seeded PRNG, every library performs exactly the same operations):
//   insert   10,000 rows × 8 columns (c0..c7: even columns integers, odd columns short strings)
//   update   100,000 random single-cell updates
//   delete   1,000 random row deletes
//   merge    replica B = copy of A (untimed); A and B each make 50,000 updates to the same
//            cells (the same cell list, different values; timed separately as "conc upd");
//            then A merges B's changes — "merge" is the time to encode B's delta for A's
//            version plus A applying it. Both are then synced the other way (untimed) and
//            checked to converge.
//   encoded  bytes of the full state of the converged replica A
//   load+scan a fresh empty replica imports the full state, then every row key is read and
//            every column value of every row touched (point reads: get(key) then each column)
//
// Modes: one op per transaction (crdtdb: each write awaited; yjs: each write its own
// doc.transact; loro: commit() after each write) and 100 ops per transaction (yjs: one transact
// per 100 writes; loro: commit() every 100 writes; crdtdb: db.transaction when it exists).
//
// Each figure is the median of 3 runs with fresh instances; libraries interleave within a run
// (the order rotates per run). Options: --mode 1|100 (default both), --runs N, --only
// crdtdb,yjs,loro, --scale 0.1 (shrinks every count, quick check), --seed N.
// Prints Markdown tables; writes bench/results/r1.json.

import { CRDTDB } from "crdtdb";
import * as Y from "yjs";
import { LoroDoc, LoroMap } from "loro-crdt";
import { gc, median, opt, ratio, Report } from "./lib/common.mjs";
import { COLS, crdtdbApply, makeWorkload, r1Counts, R1_SEED } from "./lib/r1-workload.mjs";

// ---------- options ----------
const SCALE = Number(opt("scale", "1"));
const RUNS = Math.max(1, Number(opt("runs", "3")));
const MODES = opt("mode", "1,100").split(",").map(Number);
const ONLY = opt("only", "crdtdb,yjs,loro").split(",");
const SEED = Number(opt("seed", String(R1_SEED)));

const { rows: N_ROWS, updates: N_UPDATES, deletes: N_DELETES, conc: N_CONC } = r1Counts(SCALE);

// ---------- adapters ----------
// Each adapter: create() → replica, apply(rep, ops, batch), clone(rep) → replica (untimed
// copy), version/delta/merge, fullState(rep), load(bytes) → replica, read(rep, key), free(rep).

let dbCounter = 0;
const crdtdb = {
  name: "crdtdb",
  batchSupported: () => typeof CRDTDB.prototype.transaction === "function",
  async create() {
    return CRDTDB.open(`r1-${dbCounter++}`, { storage: "memory" });
  },
  apply: crdtdbApply,
  async clone(db) {
    const b = await this.create();
    b.applyChanges(db.changesSince());
    return b;
  },
  // A merges B's changes: delta for A's version, applied to A.
  merge(a, b) {
    const delta = b.changesSince(a.version());
    a.applyChanges(delta);
    return delta.length;
  },
  fullState: (db) => db.changesSince(),
  async emptyForLoad() {
    return this.create();
  },
  load(db, bytes) {
    db.applyChanges(bytes);
  },
  scan(db, keys) {
    const t = db.table("rows");
    let n = 0;
    for (const k of keys) {
      const r = t.get(k);
      if (r !== undefined) for (const c of COLS) if (r[c] !== undefined) n++;
    }
    return n;
  },
  read(db, key) {
    return db.table("rows").get(key);
  },
  sameVersion: (a, b) => Buffer.from(a.version()).equals(Buffer.from(b.version())),
  free(db) {
    db.close();
  },
};

const yjs = {
  name: "yjs",
  batchSupported: () => true,
  async create() {
    return new Y.Doc();
  },
  apply(doc, ops, batch) {
    const rows = doc.getMap("rows");
    const one = (op) => {
      if (op.t === 1) rows.get(op.key).set(op.col, op.v);
      else if (op.t === 0) rows.set(op.key, new Y.Map(Object.entries(op.row)));
      else rows.delete(op.key);
    };
    if (batch === 1) {
      for (const op of ops) doc.transact(() => one(op));
      return;
    }
    for (let i = 0; i < ops.length; i += batch) {
      const end = Math.min(i + batch, ops.length);
      doc.transact(() => {
        for (let j = i; j < end; j++) one(ops[j]);
      });
    }
  },
  async clone(doc) {
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(doc));
    return b;
  },
  merge(a, b) {
    const delta = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
    Y.applyUpdate(a, delta);
    return delta.length;
  },
  fullState: (doc) => Y.encodeStateAsUpdate(doc),
  async emptyForLoad() {
    return new Y.Doc();
  },
  load(doc, bytes) {
    Y.applyUpdate(doc, bytes);
  },
  scan(doc, keys) {
    const rows = doc.getMap("rows");
    let n = 0;
    for (const k of keys) {
      const m = rows.get(k);
      if (m !== undefined) for (const c of COLS) if (m.get(c) !== undefined) n++;
    }
    return n;
  },
  read(doc, key) {
    const m = doc.getMap("rows").get(key);
    return m === undefined ? undefined : m.toJSON();
  },
  sameVersion: (a, b) =>
    Buffer.from(Y.encodeStateVector(a)).equals(Buffer.from(Y.encodeStateVector(b))),
  free(doc) {
    doc.destroy();
  },
};

const loro = {
  name: "loro",
  batchSupported: () => true,
  async create() {
    return new LoroDoc();
  },
  apply(doc, ops, batch) {
    const rows = doc.getMap("rows");
    let i = 0;
    for (const op of ops) {
      if (op.t === 1) rows.get(op.key).set(op.col, op.v);
      else if (op.t === 0) {
        const m = rows.setContainer(op.key, new LoroMap());
        for (const c of COLS) m.set(c, op.row[c]);
      } else rows.delete(op.key);
      if (++i % batch === 0) doc.commit();
    }
    doc.commit();
  },
  async clone(doc) {
    const b = new LoroDoc();
    b.import(doc.export({ mode: "snapshot" }));
    return b;
  },
  merge(a, b) {
    const delta = b.export({ mode: "update", from: a.version() });
    a.import(delta);
    return delta.length;
  },
  fullState: (doc) => doc.export({ mode: "snapshot" }),
  async emptyForLoad() {
    return new LoroDoc();
  },
  load(doc, bytes) {
    doc.import(bytes);
  },
  scan(doc, keys) {
    const rows = doc.getMap("rows");
    let n = 0;
    for (const k of keys) {
      const m = rows.get(k);
      if (m !== undefined) for (const c of COLS) if (m.get(c) !== undefined) n++;
    }
    return n;
  },
  read(doc, key) {
    const m = doc.getMap("rows").get(key);
    return m === undefined ? undefined : m.toJSON();
  },
  sameVersion: (a, b) => {
    const vv = (d) => JSON.stringify([...d.oplogVersion().toJSON()].sort());
    return vv(a) === vv(b);
  },
  free(doc) {
    doc.free?.();
  },
};

const ADAPTERS = [crdtdb, yjs, loro].filter((a) => ONLY.includes(a.name));

// ---------- helpers ----------
function canon(row) {
  if (row === undefined) return "-";
  return COLS.map((c) => JSON.stringify(row[c])).join(",");
}
function digest(ad, rep, keys) {
  let h = 2166136261;
  for (const k of keys) {
    const s = k + "=" + canon(ad.read(rep, k)) + ";";
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return (h >>> 0).toString(16);
}
function assert(cond, msg) {
  if (!cond) {
    console.error("ASSERTION FAILED: " + msg);
    process.exit(1);
  }
}
const memNow = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external; // external includes ArrayBuffers and WebAssembly memories
};
async function timed(fn) {
  gc();
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

// ---------- one run of one library ----------
async function runOnce(ad, w, batch) {
  const out = {};
  const a = await ad.create();
  [out.insert] = await timed(() => ad.apply(a, w.insert, batch));
  [out.update] = await timed(() => ad.apply(a, w.update, batch));
  [out.delete] = await timed(() => ad.apply(a, w.del, batch));
  const localDigest = digest(ad, a, w.keys);

  const b = await ad.clone(a);
  [out.conc] = await timed(async () => {
    await ad.apply(a, w.concA, batch);
    await ad.apply(b, w.concB, batch);
  });
  [out.merge, out.delta] = await timed(() => ad.merge(a, b));
  ad.merge(b, a); // the other way, untimed
  // convergence: every row equal on both replicas; versions equal
  for (const k of w.keys) {
    assert(canon(ad.read(a, k)) === canon(ad.read(b, k)), `${ad.name}: replicas differ at ${k}`);
  }
  assert(ad.sameVersion(a, b), `${ad.name}: versions differ after syncing both ways`);
  // each concurrently written cell holds A's or B's value
  const lastA = new Map();
  const lastB = new Map();
  for (const op of w.concA) lastA.set(op.key + "/" + op.col, op.v);
  for (const op of w.concB) lastB.set(op.key + "/" + op.col, op.v);
  for (const [cell, va] of lastA) {
    const [k, c] = cell.split("/");
    const v = ad.read(a, k)[c];
    assert(v === va || v === lastB.get(cell), `${ad.name}: ${cell} = ${v}, neither A's nor B's`);
  }

  const full = ad.fullState(a);
  out.encoded = full.length;
  ad.free(b);
  ad.free(a);

  const mem0 = memNow();
  const c = await ad.emptyForLoad();
  let scanned;
  [out.load, scanned] = await timed(() => {
    ad.load(c, full);
    return ad.scan(c, w.keys);
  });
  out.heap = memNow() - mem0;
  assert(scanned === (N_ROWS - N_DELETES) * COLS.length, `${ad.name}: scan read ${scanned} values`);
  ad.free(c);
  return { out, localDigest };
}

// ---------- main ----------
const COLUMNS = [
  ["insert", "insert ms"],
  ["update", "update ms"],
  ["delete", "delete ms"],
  ["merge", "merge 50k ms"],
  ["encoded", "encoded B"],
  ["load", "load+scan ms"],
  ["conc", "2×50k upd ms"],
  ["delta", "merge delta B"],
  ["heap", "heap Δ MB"],
];
const fmt = (k, v) => {
  if (v === undefined) return "n/a";
  if (k === "heap") return (v / 2 ** 20).toFixed(1);
  if (k === "encoded" || k === "delta") return v.toLocaleString("en-US");
  return v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US");
};
const report = new Report("r1", "R1 — rows, crdtdb vs yjs vs loro-crdt");
function table(title, results) {
  const names = Object.keys(results);
  const rows = names.map((n) => [n, ...COLUMNS.map(([k]) => fmt(k, results[n]?.[k]))]);
  const peers = names.filter((n) => n !== "crdtdb");
  let note;
  if (results.crdtdb && peers.length) {
    rows.push([
      "**crdtdb / best peer**",
      ...COLUMNS.map(([k]) => ratio(results.crdtdb[k] / Math.min(...peers.map((p) => results[p][k])))),
    ]);
    note =
      "target (benchmarks.md): ≤ the best peer first, then ≤ 0.33× of it, on insert, update, delete, " +
      "merge, encoded (≤ 1×), load+scan";
  }
  report.table(title, ["", ...COLUMNS.map(([, h]) => h)], rows, note);
}

report.log(
  `R1 rows — node ${process.version}, ${N_ROWS} rows × ${COLS.length} cols, ${N_UPDATES} updates, ` +
    `${N_DELETES} deletes, 2 × ${N_CONC} concurrent updates; median of ${RUNS} run(s); seed ${SEED}`,
);
report.set("config", { scale: SCALE, runs: RUNS, modes: MODES, only: ONLY, seed: SEED, N_ROWS, N_UPDATES, N_DELETES, N_CONC });
const w = makeWorkload(SEED, SCALE);

// warm-up (JIT and WASM tier-up): a small workload through every adapter, untimed
{
  const small = {
    keys: w.keys.slice(0, 500),
    insert: w.insert.slice(0, 500),
    update: w.update.filter((o) => w.keys.indexOf(o.key) < 500).slice(0, 2000),
    del: [],
  };
  for (const ad of ADAPTERS) {
    for (const batch of MODES) {
      if (batch !== 1 && !ad.batchSupported()) continue;
      const r = await ad.create();
      await ad.apply(r, small.insert, batch);
      await ad.apply(r, small.update, batch);
      const c = await ad.emptyForLoad();
      ad.load(c, ad.fullState(r));
      ad.scan(c, small.keys);
      ad.free(c);
      ad.free(r);
    }
  }
}

const digests = {};
for (const batch of MODES) {
  const perLib = {};
  const skipped = [];
  for (let run = 0; run < RUNS; run++) {
    // rotate the order per run so no library always runs first
    const order = ADAPTERS.map((_, i) => ADAPTERS[(i + run) % ADAPTERS.length]);
    for (const ad of order) {
      if (batch !== 1 && !ad.batchSupported()) {
        if (run === 0) skipped.push(ad.name);
        continue;
      }
      const { out, localDigest } = await runOnce(ad, w, batch);
      (perLib[ad.name] ??= []).push(out);
      (digests[localDigest] ??= new Set()).add(ad.name);
    }
  }
  const results = {};
  for (const ad of ADAPTERS) {
    const runs = perLib[ad.name];
    if (!runs) continue;
    results[ad.name] = Object.fromEntries(COLUMNS.map(([k]) => [k, median(runs.map((r) => r[k]))]));
  }
  const desc =
    batch === 1
      ? "one op per transaction (crdtdb: each write awaited; yjs: own transact; loro: commit after each)"
      : `${batch} ops per transaction (crdtdb: db.transaction; yjs: transact per ${batch}; loro: commit every ${batch})`;
  table(`R1, ${desc}, median of ${RUNS}`, results);
  report.set(`mode${batch}`, { results, runs: perLib });
  for (const s of skipped) {
    report.note(
      `${s}: ${batch}-op mode not measurable yet — db.transaction does not exist in this build of js/`,
    );
  }
}
const dk = Object.keys(digests);
assert(dk.length === 1, `libraries disagree on the state after insert/update/delete: ${JSON.stringify(Object.fromEntries(dk.map((d) => [d, [...digests[d]]])))}`);
report.note(
  `checks passed: same state after insert/update/delete in every library (digest ${dk[0]}); ` +
    `each pair of replicas converged (rows and versions) after syncing both ways; ` +
    `concurrently written cells hold one side's value; load+scan read every value.`,
);
report.note(
  `heap Δ MB: heapUsed+external after loading the full state vs before (after gc), rough — ` +
    `a WASM memory that already grew in an earlier run is reused and not counted again.`,
);
report.save();
