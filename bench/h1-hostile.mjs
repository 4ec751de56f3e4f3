// H1 — hostile but valid histories (shared/docs/benchmarks.md): merge cost at n and 4n
// transactions, printed as T(4n)/T(n) (linear 4, quadratic 16, cubic 64; target ≤ 5).
//
//   node bench/h1-hostile.mjs [--shapes a,b,c] [--only crdtdb,yjs,loro] [--runs 5]
//                             [--scale 0.1 | --n N]
//
// Every history is written through each library's public API by distinct, deterministic peers
// (crdtdb: a CRDTDB instance per peer with the peerId option, closed once its bytes are taken;
// yjs: Y.Doc with a fixed clientID; loro: LoroDoc.setPeerId), all writing column c of row r:
//   (a) n concurrent writes to one column: a base replica creates the row; n replicas each load
//       it and write c once, without syncing. Their messages are merged untimed into one
//       message (crdtdb: an intermediate replica's changesSince(); yjs: Y.mergeUpdates (pairwise)
//       applied to an intermediate doc, encodeStateAsUpdate; loro: importBatch into an intermediate doc,
//       export), and T is one apply of it into a fresh replica.
//   (b) the n roots of (a) + an n-long chain of two alternating peers (each chain event written
//       after applying the previous one, never seeing the roots) + n late writers (new peers)
//       that loaded only the chain and wrote once; merged untimed into one message as in (a); T
//       is one apply into a fresh replica. (Setup is O(n²): each late writer loads the chain.)
//   (c) n causally early events held while more arrive: one peer's n transactions (their update
//       events: one message per transaction) delivered last to first, one apply each into a
//       fresh replica; T is the total.
// Each library has its own n per shape (table N below, × --scale; --n sets all), chosen so T(n)
// is roughly 20–500 ms here; the table prints it. The final value is checked after each apply.
// Rounds: one untimed warm-up per size, then --runs timed rounds in which the libraries and the
// two sizes alternate; T is the median. A library whose T(n) exceeds 10 s is not run at 4n.
// Prints Markdown tables; writes bench/results/h1.json.

import * as Y from "yjs";
import { LoroDoc } from "loro-crdt";
import { CRDTDB } from "crdtdb";
import { gc, median, opt, ratio, Report } from "./lib/common.mjs";

const SCALE = Number(opt("scale", "1"));
const RUNS = Math.max(1, Number(opt("runs", "5")));
const SHAPES = opt("shapes", "a,b,c").split(",");
const ONLY = opt("only", "crdtdb,yjs,loro").split(",");
const FIXED_N = opt("n") ? Number(opt("n")) : null;
const CAP_MS = 10_000;
const TARGET = 5;

// n per library and shape (T(n) ≈ 20–500 ms on a 2-core machine)
const N = {
  a: { crdtdb: 20_000, yjs: 10_000, loro: 500 },
  b: { crdtdb: 2_000, yjs: 500, loro: 64 },
  c: { crdtdb: 10_000, yjs: 1_000, loro: 4_000 },
};

// ---------- adapters: open(id) → replica; write(rep, v) → that transaction's message ----------
const crdtdb = {
  name: "crdtdb",
  async open(id) {
    const db = await CRDTDB.open("h1", { storage: "memory", peerId: `p${id}` });
    const rep = { db, last: null };
    db.on("update", ({ bytes, origin }) => {
      if (origin === "local") rep.last = bytes;
    });
    return rep;
  },
  async write(rep, v) {
    const t = rep.db.table("t");
    rep.last = null;
    await (t.has("r") ? t.update("r", { c: v }) : t.set("r", { c: v }));
    if (rep.last === null) throw new Error("crdtdb: no update event for a local commit");
    return rep.last;
  },
  apply: (rep, bytes) => {
    const r = rep.db.applyChanges(bytes);
    rep.pending = r.pending;
  },
  full: (rep) => rep.db.changesSince(),
  read: (rep) => rep.db.table("t").get("r")?.c,
  close: (rep) => rep.db.close(),
  async merge(msgs) {
    const mid = await this.open(4);
    for (const m of msgs) this.apply(mid, m);
    const all = this.full(mid);
    this.close(mid);
    return all;
  },
};

const yjs = {
  name: "yjs",
  async open(id) {
    const doc = new Y.Doc();
    doc.clientID = id;
    const rep = { doc, last: null };
    doc.on("update", (u, origin) => {
      if (origin === "local") rep.last = u;
    });
    return rep;
  },
  async write(rep, v) {
    rep.doc.transact(() => rep.doc.getMap("r").set("c", v), "local");
    return rep.last;
  },
  apply: (rep, bytes) => Y.applyUpdate(rep.doc, bytes),
  full: (rep) => Y.encodeStateAsUpdate(rep.doc),
  read: (rep) => rep.doc.getMap("r").get("c"),
  close: (rep) => rep.doc.destroy(),
  async merge(msgs) {
    // Y.mergeUpdates pairwise, as a tree (one call over all n updates, or n incremental
    // applies, is quadratic); one apply into a doc then gives the doc's own full-state
    // encoding, what a peer would send
    let list = msgs;
    while (list.length > 1) {
      const next = [];
      for (let i = 0; i < list.length; i += 2) {
        next.push(i + 1 < list.length ? Y.mergeUpdates([list[i], list[i + 1]]) : list[i]);
      }
      list = next;
    }
    const mid = await this.open(4);
    this.apply(mid, list[0]);
    const all = this.full(mid);
    this.close(mid);
    return all;
  },
};

const loro = {
  name: "loro",
  async open(id) {
    const doc = new LoroDoc();
    doc.setPeerId(id);
    const rep = { doc, last: null };
    doc.subscribeLocalUpdates((u) => (rep.last = u));
    return rep;
  },
  async write(rep, v) {
    rep.doc.getMap("r").set("c", v);
    rep.doc.commit();
    return rep.last;
  },
  apply: (rep, bytes) => rep.doc.import(bytes),
  full: (rep) => rep.doc.export({ mode: "update" }),
  read: (rep) => rep.doc.getMap("r").get("c"),
  close: (rep) => rep.doc.free(),
  async merge(msgs) {
    const mid = await this.open(4);
    mid.doc.importBatch(msgs);
    const all = this.full(mid);
    this.close(mid);
    return all;
  },
};

const ADAPTERS = [crdtdb, yjs, loro].filter((a) => ONLY.includes(a.name));

// ---------- histories ----------
// Peer ids: 1 base/writer, 2 and 3 the chain, 4 the intermediate, 5 fresh replicas,
// 1,000+i roots, 10,000,000+i late writers.
async function roots(ad, n, msgs) {
  const base = await ad.open(1);
  const baseMsg = await ad.write(base, "base");
  ad.close(base);
  msgs.push(baseMsg);
  for (let i = 0; i < n; i++) {
    const r = await ad.open(1000 + i);
    ad.apply(r, baseMsg);
    msgs.push(await ad.write(r, `root${i}`));
    ad.close(r);
  }
  return baseMsg;
}

const BUILD = {
  async a(ad, n) {
    const msgs = [];
    await roots(ad, n, msgs);
    return { one: await ad.merge(msgs), expect: (v) => typeof v === "string" && v.startsWith("root") };
  },
  async b(ad, n) {
    const msgs = [];
    const baseMsg = await roots(ad, n, msgs);
    const x = await ad.open(2);
    const y = await ad.open(3);
    ad.apply(x, baseMsg);
    ad.apply(y, baseMsg);
    for (let i = 0; i < n; i++) {
      const [w, other] = i % 2 === 0 ? [x, y] : [y, x];
      const m = await ad.write(w, `chain${i}`);
      ad.apply(other, m);
      msgs.push(m);
    }
    const chain = ad.full(x);
    ad.close(x);
    ad.close(y);
    for (let i = 0; i < n; i++) {
      const r = await ad.open(10_000_000 + i);
      ad.apply(r, chain);
      msgs.push(await ad.write(r, `late${i}`));
      ad.close(r);
    }
    // a late writer or a root wins (they are concurrent; crdtdb and loro order by Lamport time,
    // so a late writer; yjs by its list order); never the base or a chain event, seen by all late writers
    return { one: await ad.merge(msgs), expect: (v) => typeof v === "string" && /^(late|root)/.test(v) };
  },
  async c(ad, n) {
    const w = await ad.open(1);
    const msgs = [];
    for (let i = 0; i < n; i++) msgs.push(await ad.write(w, `v${i}`));
    ad.close(w);
    msgs.reverse();
    return { each: msgs, expect: (v) => v === `v${n - 1}` };
  },
};

/** One timed merge into a fresh replica; checks the value read afterwards. */
async function timeMerge(ad, h, what) {
  const f = await ad.open(5);
  gc();
  const t0 = performance.now();
  if (h.one) ad.apply(f, h.one);
  else for (const m of h.each) ad.apply(f, m);
  const ms = performance.now() - t0;
  const v = ad.read(f);
  if (!h.expect(v) || f.pending > 0) {
    throw new Error(`${ad.name} ${what}: after the merge c = ${JSON.stringify(v)}${f.pending ? `, ${f.pending} pending` : ""}`);
  }
  ad.close(f);
  return ms;
}

const SHAPE_TITLE = {
  a: "(a) n concurrent writes to one column",
  b: "(b) n roots + n-long chain of 2 alternating peers + n late writers",
  c: "(c) n causally early transactions, delivered last to first",
};
const progress = (s) => process.stderr.write(`  [h1] ${s}\n`);

const report = new Report("h1", "H1 — hostile but valid histories: T(4n)/T(n)");
report.log(`H1 hostile histories — node ${process.version}, median of ${RUNS} rounds, scale ${SCALE}`);
report.set("config", { scale: SCALE, runs: RUNS, n: FIXED_N ?? N, capMs: CAP_MS });
const all = {};
for (const shape of SHAPES) {
  const per = {};
  for (const ad of ADAPTERS) {
    const n = FIXED_N ?? Math.max(2, Math.round(N[shape][ad.name] * SCALE));
    let t = performance.now();
    const hn = await BUILD[shape](ad, n);
    const setupN = performance.now() - t;
    const warm = await timeMerge(ad, hn, `n=${n}`);
    per[ad.name] = { n, hn, setupN, bytesN: hn.one?.length ?? hn.each.reduce((a, m) => a + m.length, 0), tn: [], t4n: [] };
    progress(`${shape} ${ad.name} n=${n}: setup ${Math.round(setupN)} ms, warm-up T ${warm.toFixed(1)} ms`);
    if (warm > CAP_MS) continue;
    t = performance.now();
    const h4n = await BUILD[shape](ad, 4 * n);
    per[ad.name].setup4n = performance.now() - t;
    per[ad.name].h4n = h4n;
    per[ad.name].bytes4n = h4n.one?.length ?? h4n.each.reduce((a, m) => a + m.length, 0);
    const warm4 = await timeMerge(ad, h4n, `4n=${4 * n}`);
    progress(`${shape} ${ad.name} 4n=${4 * n}: setup ${Math.round(per[ad.name].setup4n)} ms, warm-up T ${warm4.toFixed(1)} ms`);
  }
  for (let r = 0; r < RUNS; r++) {
    const order = ADAPTERS.map((_, i) => ADAPTERS[(i + r) % ADAPTERS.length]);
    for (const ad of order) {
      const p = per[ad.name];
      const sizes = r % 2 === 0 ? ["n", "4n"] : ["4n", "n"];
      for (const s of sizes) {
        const h = s === "n" ? p.hn : p.h4n;
        if (h) p[s === "n" ? "tn" : "t4n"].push(await timeMerge(ad, h, s));
      }
    }
  }
  const rows = [];
  all[shape] = {};
  for (const ad of ADAPTERS) {
    const p = per[ad.name];
    const tn = median(p.tn);
    const t4n = p.t4n.length ? median(p.t4n) : null;
    const q = t4n === null ? null : t4n / tn;
    all[shape][ad.name] = { n: p.n, bytesN: p.bytesN, bytes4n: p.bytes4n ?? null, tn, t4n, ratio: q, runsN: p.tn, runs4n: p.t4n, setupN: p.setupN, setup4n: p.setup4n ?? null };
    rows.push([
      ad.name,
      p.n.toLocaleString("en-US"),
      p.bytesN.toLocaleString("en-US"),
      tn < 10 ? tn.toFixed(2) : tn.toFixed(1),
      t4n === null ? `skipped (T(n) > ${CAP_MS / 1000} s)` : t4n < 10 ? t4n.toFixed(2) : t4n.toFixed(1),
      q === null ? "n/a" : ratio(q, 1),
      q === null ? "" : q <= TARGET ? "yes" : "**no**",
    ]);
  }
  report.table(
    `H1 ${SHAPE_TITLE[shape]} — merge into a fresh replica, median of ${RUNS}`,
    ["", "n", "bytes at n", "T(n) ms", "T(4n) ms", "T(4n)/T(n)", `≤ ${TARGET}?`],
    rows,
    shape === "c" ? "bytes: all n per-transaction messages together. Linear 4×, quadratic 16×, cubic 64×." : "Linear 4×, quadratic 16×, cubic 64×.",
  );
  for (const ad of ADAPTERS) delete per[ad.name];
}
report.set("results", all);
report.save();
