// Rebuilds a concurrent editing trace ({ endContent, txns: [{ parents, agent, patches }] },
// the josephg/editing-traces format) from a diamond-types `.dt` file, through
// diamond-types-node. The Eg-walker paper's C1 and C2 sets ship only as .dt/.yjs/.am; this is
// how the T2 benches and bench/text_engine.cpp get them as JSON.
//
// Transactions are the graph's runs, cut wherever another event names a point inside one as
// its parent, so every parent is the end of a transaction. Positions stay in code points (the
// sets are ASCII).
import fs from "node:fs";
import zlib from "node:zlib";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * @param {Uint8Array} bytes a .dt file
 * @returns {{ endContent: string, numAgents: number, txns: Array<{ parents: number[], agent: number, patches: Array<[number, number, string]> }> }}
 */
export function traceFromDt(bytes) {
  const dt = require("diamond-types-node");
  const oplog = dt.OpLog.fromBytes(bytes);
  try {
    const ops = oplog.getOps(); // in LV order: { kind, start, end, fwd, content }
    const history = oplog.getHistory(); // { span: [from, to), parents: LV[] }
    // Cut points: run starts, and one past every LV that is somebody's parent.
    const cuts = new Set();
    for (const h of history) {
      cuts.add(h.span[0]);
      for (const p of h.parents) cuts.add(p + 1);
    }
    const total = history.length ? history[history.length - 1].span[1] : 0;
    const bounds = [...cuts].filter((c) => c < total).sort((a, b) => a - b);
    // LV -> transaction index, for parents.
    const txnStart = bounds;
    const txnOf = (lv) => {
      let lo = 0;
      let hi = txnStart.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (txnStart[mid] <= lv) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const parentsOf = new Map(history.map((h) => [h.span[0], h.parents]));
    const agents = new Map();
    const txns = [];
    let opIndex = 0;
    let opStartLv = 0;
    for (let t = 0; t < txnStart.length; t++) {
      const from = txnStart[t];
      const to = t + 1 < txnStart.length ? txnStart[t + 1] : total;
      const parents = parentsOf.has(from) ? parentsOf.get(from).map(txnOf) : [txnOf(from - 1)];
      const [[agentName]] = oplog.localToRemoteVersion(Uint32Array.of(from));
      if (!agents.has(agentName)) agents.set(agentName, agents.size);
      const patches = [];
      // Walk the ops covering [from, to).
      while (opIndex < ops.length) {
        const op = ops[opIndex];
        const len = op.end - op.start;
        const opEndLv = opStartLv + len;
        if (opStartLv >= to) break;
        const a = Math.max(from, opStartLv) - opStartLv; // offset of the piece in the op
        const b = Math.min(to, opEndLv) - opStartLv;
        const k = b - a;
        if (op.kind === "Ins" && !op.fwd) throw new Error("reversed insert runs are not supported");
        if (op.kind === "Ins") {
          patches.push([op.start + a, 0, [...op.content].slice(a, b).join("")]);
        } else if (op.fwd) {
          patches.push([op.start, k, ""]);
        } else {
          patches.push([op.end - b, k, ""]);
        }
        if (opEndLv <= to) {
          opIndex++;
          opStartLv = opEndLv;
        } else {
          break;
        }
      }
      txns.push({ parents, agent: agents.get(agentName), patches });
    }
    const endContent = oplog.checkout().get();
    return { endContent, numAgents: agents.size, txns };
  } finally {
    oplog.free();
  }
}

// CLI: node bench/lib/dt-trace.mjs in.dt out.json.gz
if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output] = process.argv.slice(2);
  const trace = traceFromDt(fs.readFileSync(input));
  fs.writeFileSync(output, zlib.gzipSync(JSON.stringify(trace)));
  console.log(`${output}: ${trace.txns.length} transactions, ${trace.endContent.length} chars`);
}
