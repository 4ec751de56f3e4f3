// Memory storage: the adapter interface (js/storage/adapter.js) over ordered in-memory maps.
// Nothing survives the process; an instance shared by several opens (one after another)
// keeps a database across close and reopen, e.g. in tests or server-side rendering.

import { CRDTDBError } from "../errors.js";

/**
 * IndexedDB's key order (numbers < strings < arrays; arrays element by element), for the
 * events store's load order and the contract suite's checks.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {number}
 */
export function compareKeys(a, b) {
  const rank = (/** @type {unknown} */ v) => (typeof v === "number" ? 0 : typeof v === "string" ? 1 : 2);
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return /** @type {number} */ (a) - /** @type {number} */ (b);
  if (ra === 1) return a === b ? 0 : /** @type {string} */ (a) < /** @type {string} */ (b) ? -1 : 1;
  const x = /** @type {unknown[]} */ (a), y = /** @type {unknown[]} */ (b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareKeys(x[i], y[i]);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/**
 * Throws unless `k` is a valid key (a number that is not NaN, a string, or an array of keys),
 * as IndexedDB's DataError would: a write with a bad key changes nothing.
 * @param {unknown} k
 */
function checkKey(k) {
  if (typeof k === "number" ? !Number.isNaN(k) : typeof k === "string") return;
  if (Array.isArray(k)) {
    for (const e of k) checkKey(e);
    return;
  }
  throw new CRDTDBError(`memory storage: ${String(k)} is not a valid key; nothing was written`);
}

/** @param {unknown} k */
const id = (k) => JSON.stringify(k);

/** @implements {import("./adapter.js").StorageAdapter} */
export class MemoryStorage {
  /** @type {Record<string, Map<string, { key: unknown, value: unknown }>>} */
  #stores = {
    crdt_rows: new Map(),
    materialized: new Map(),
    indexes: new Map(),
    events: new Map(),
    meta: new Map(),
  };
  /** A failure to inject into the next write (tests of the error path). */
  /** @type {Error | null} */
  failNextWrite = null;

  /** @returns {Promise<import("./adapter.js").StoredState>} */
  async load() {
    const events = [...this.#stores.events.values()].sort((a, b) => compareKeys(a.key, b.key));
    return {
      meta: new Map([...this.#stores.meta.values()].map((e) => [/** @type {string} */ (e.key), e.value])),
      events: events.map((e) => /** @type {Uint8Array} */ (e.value)),
      rows: [...this.#stores.crdt_rows.values()].map((e) => /** @type {Uint8Array} */ (e.value)),
      rowCount: this.#stores.crdt_rows.size,
    };
  }

  /**
   * @param {import("./adapter.js").StorageWrite} w
   * @returns {Promise<void>}
   */
  async write(w) {
    if (this.failNextWrite) {
      const err = this.failNextWrite;
      this.failNextWrite = null;
      throw err;
    }
    // Validate everything first: a write lands whole or not at all.
    for (const r of w.rows) checkKey([r.table, r.key]);
    for (const k of [...w.indexDeletes, ...w.indexPuts]) checkKey(k);
    for (const [chunk, from, to] of w.eventDeletes) {
      checkKey([chunk, from]);
      checkKey([chunk, to]);
      if (compareKeys([chunk, from], [chunk, to]) > 0) {
        throw new CRDTDBError(`memory storage: events range [${chunk}, ${from}]…[${chunk}, ${to}] is empty; nothing was written`);
      }
    }
    for (const [k] of [...w.eventPuts, ...w.meta]) checkKey(k);
    const s = this.#stores;
    for (const r of w.rows) {
      const key = [r.table, r.key];
      if (r.state === null) s.crdt_rows.delete(id(key));
      else s.crdt_rows.set(id(key), { key, value: r.state.slice() });
      if (r.row === null) s.materialized.delete(id(key));
      else s.materialized.set(id(key), { key, value: structuredClone(r.row) });
    }
    for (const [table, index] of w.dropIndexes) {
      for (const [k, e] of s.indexes) {
        const key = /** @type {unknown[]} */ (e.key);
        if (key[0] === table && key[1] === index) s.indexes.delete(k);
      }
    }
    for (const k of w.indexDeletes) s.indexes.delete(id(k));
    for (const k of w.indexPuts) s.indexes.set(id(k), { key: k, value: null });
    for (const [chunk, from, to] of w.eventDeletes) {
      for (const [k, e] of s.events) {
        if (compareKeys(e.key, [chunk, from]) >= 0 && compareKeys(e.key, [chunk, to]) <= 0) s.events.delete(k);
      }
    }
    for (const [k, v] of w.eventPuts) s.events.set(id(k), { key: k, value: v.slice() });
    for (const [k, v] of w.meta) s.meta.set(id(k), { key: k, value: structuredClone(v) });
  }

  /**
   * Every key and value of a store in key order (tests and tools; IndexedDB has the same).
   * @param {"crdt_rows" | "materialized" | "indexes" | "events" | "meta"} store
   * @returns {Promise<Array<[unknown, unknown]>>}
   */
  async entries(store) {
    const list = [...this.#stores[store].values()].sort((a, b) => compareKeys(a.key, b.key));
    return list.map((e) => [e.key, e.value]);
  }

  close() {}
}
