// The R1 workload (shared/docs/benchmarks.md), seeded: used by r1-rows.mjs and m1-memory.mjs so
// both measure exactly the same rows.
//   insert  10,000 rows × 8 columns (c0..c7: even columns integers, odd columns short strings)
//   update  100,000 random single-cell updates
//   del     1,000 random row deletes
//   concA/concB  50,000 updates each to the same cells (different values), for the merge
// op: { t: 0 set | 1 update | 2 delete, key, row?, col?, v? }

import { mulberry32 } from "./common.mjs";

export const COLS = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];
export const R1_SEED = 20261122;

/** The counts at a scale (1 = the benchmark's sizes). */
export function r1Counts(scale = 1) {
  return {
    rows: Math.round(10_000 * scale),
    updates: Math.round(100_000 * scale),
    deletes: Math.round(1_000 * scale),
    conc: Math.round(50_000 * scale),
  };
}

export function makeWorkload(seed = R1_SEED, scale = 1) {
  const { rows: N_ROWS, updates: N_UPDATES, deletes: N_DELETES, conc: N_CONC } = r1Counts(scale);
  const rnd = mulberry32(seed);
  const int = (n) => Math.floor(rnd() * n);
  const value = (c) => (c % 2 === 0 ? int(1_000_000) : "s" + int(2 ** 31).toString(36));
  const keys = [];
  for (let i = 0; i < N_ROWS; i++) keys.push("row" + String(i).padStart(6, "0"));
  const insert = keys.map((key) => {
    const row = {};
    COLS.forEach((c, j) => (row[c] = value(j)));
    return { t: 0, key, row };
  });
  const update = [];
  for (let i = 0; i < N_UPDATES; i++) {
    const j = int(COLS.length);
    update.push({ t: 1, key: keys[int(N_ROWS)], col: COLS[j], v: value(j) });
  }
  const idx = keys.map((_, i) => i);
  for (let i = 0; i < N_DELETES; i++) {
    const j = i + int(N_ROWS - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const deletedSet = new Set(idx.slice(0, N_DELETES).map((i) => keys[i]));
  const del = [...deletedSet].map((key) => ({ t: 2, key }));
  const live = keys.filter((k) => !deletedSet.has(k));
  const concA = [];
  const concB = [];
  for (let i = 0; i < N_CONC; i++) {
    const j = int(COLS.length);
    const key = live[int(live.length)];
    concA.push({ t: 1, key, col: COLS[j], v: j % 2 === 0 ? 2_000_000 + i : "a" + i });
    concB.push({ t: 1, key, col: COLS[j], v: j % 2 === 0 ? 3_000_000 + i : "b" + i });
  }
  return { keys, insert, update, del, concA, concB };
}

/**
 * Applies ops through crdtdb's public API: batch 1 = each write awaited (one op per
 * transaction), batch k = db.transaction per k ops.
 */
export async function crdtdbApply(db, ops, batch) {
  const t = db.table("rows");
  if (batch === 1) {
    for (const op of ops) {
      if (op.t === 1) await t.update(op.key, { [op.col]: op.v });
      else if (op.t === 0) await t.set(op.key, op.row);
      else await t.delete(op.key);
    }
    return;
  }
  for (let i = 0; i < ops.length; i += batch) {
    const end = Math.min(i + batch, ops.length);
    await db.transaction(async (tx) => {
      const tt = tx.table("rows");
      const ps = [];
      for (let j = i; j < end; j++) {
        const op = ops[j];
        if (op.t === 1) ps.push(tt.update(op.key, { [op.col]: op.v }));
        else if (op.t === 0) ps.push(tt.set(op.key, op.row));
        else ps.push(tt.delete(op.key));
      }
      await Promise.all(ps);
    });
  }
}
