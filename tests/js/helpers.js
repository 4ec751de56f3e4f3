// Shared helpers of the node:test suites (not a test file itself).

import assert from "node:assert/strict";
import { CRDTDB } from "crdtdb";

let counter = 0;

/**
 * Opens a ready in-memory database.
 * @param {string} [peerId]
 * @param {object} [opts]
 * @returns {Promise<CRDTDB>}
 */
export function openDb(peerId, opts = {}) {
  counter += 1;
  return CRDTDB.open(`test-${counter}`, { storage: "memory", ...(peerId ? { peerId } : {}), ...opts });
}

/**
 * Sends everything `from` has that `to` lacks (one direction).
 * @param {CRDTDB} from
 * @param {CRDTDB} to
 * @returns {{ applied: number, pending: number }}
 */
export function push(from, to) {
  return to.applyChanges(from.changesSince(to.version()));
}

/**
 * Syncs two replicas both ways.
 * @param {CRDTDB} a
 * @param {CRDTDB} b
 */
export function syncBoth(a, b) {
  push(a, b);
  push(b, a);
}

/**
 * Every key of `table` that a list of candidate keys shows, with its row: the visible state
 * of a table as seen through the public API.
 * @param {CRDTDB} db
 * @param {string} table
 * @param {string[]} keys
 */
export function snapshot(db, table, keys) {
  return Object.fromEntries(keys.map((k) => [k, db.table(table).get(k) ?? null]));
}

/**
 * Asserts two replicas show the same rows for `keys` and have identical version bytes.
 * @param {CRDTDB} a
 * @param {CRDTDB} b
 * @param {string} table
 * @param {string[]} keys
 */
export function assertConverged(a, b, table, keys) {
  assert.deepEqual(snapshot(a, table, keys), snapshot(b, table, keys));
  assert.deepEqual(a.version(), b.version(), "same changes seen => identical version bytes");
}

/**
 * A small deterministic generator (mulberry32): the same seed gives the same run.
 * @param {number} seed
 */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (/** @type {number} */ n) => Math.floor(next() * n);
  return { next, int, bytes: (/** @type {number} */ n) => Uint8Array.from({ length: n }, () => int(256)) };
}
