// Queries over a table's primary key or a secondary index (api.md "Indexes and queries",
// "Live queries and change events"): option validation, the Index handle, paged iteration.
//
// The engine orders and filters (IndexedDB key order, ties by row key, rows without a valid
// indexed key absent) and answers with row ids; JS maps them to the cached row objects.

import { checkKey as checkIndexKey, checkRange, equals } from "./range.js";
import { describe } from "./validate.js";

/** Rows fetched per engine call by `iterate`. */
export const PAGE_SIZE = 100;

/**
 * Validates `{ limit, offset, reverse }`.
 * @param {unknown} opts
 * @returns {{ limit: number, offset: number, reverse: boolean }} limit -1 = no limit
 */
export function checkQueryOptions(opts) {
  if (opts === undefined) return { limit: -1, offset: 0, reverse: false };
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`query options must be an object, got ${describe(opts)}`);
  }
  const o = /** @type {Record<string, unknown>} */ (opts);
  let limit = -1;
  if (o.limit !== undefined && o.limit !== Infinity) {
    if (!Number.isSafeInteger(o.limit) || /** @type {number} */ (o.limit) < 0) {
      throw new TypeError(`query option limit must be a non-negative integer, got ${describe(o.limit)}`);
    }
    limit = /** @type {number} */ (o.limit);
  }
  let offset = 0;
  if (o.offset !== undefined) {
    if (!Number.isSafeInteger(o.offset) || /** @type {number} */ (o.offset) < 0) {
      throw new TypeError(`query option offset must be a non-negative integer, got ${describe(o.offset)}`);
    }
    offset = /** @type {number} */ (o.offset);
  }
  if (o.reverse !== undefined && typeof o.reverse !== "boolean") {
    throw new TypeError(`query option reverse must be a boolean, got ${describe(o.reverse)}`);
  }
  return { limit, offset, reverse: o.reverse === true };
}

/**
 * @param {unknown} cb
 * @returns {(rows: any[]) => void}
 */
export function checkCallback(cb) {
  if (typeof cb !== "function") {
    throw new TypeError(`subscribe expects a callback function, got ${describe(cb)}`);
  }
  return /** @type {(rows: any[]) => void} */ (cb);
}

/**
 * Pages through a query, PAGE_SIZE keys per engine call, without materialising the range.
 *
 * Semantics under writes between pages (keyset paging): each page continues strictly after
 * the index entry (index key, row key) of the last key the previous page returned, in the
 * order of the range at that moment. So a row that stays in place is visited exactly once
 * whatever is written elsewhere meanwhile; rows inserted (or moved by an update) ahead of the
 * cursor are visited, rows inserted or moved behind it are not; each row is yielded as it is
 * in memory when it is reached, and a row deleted before it is reached is not yielded. No row
 * is yielded twice (a row moved ahead of the cursor after being yielded is skipped).
 * Iteration always terminates: the cursor only moves forward, and it stops at the first short
 * page or once `limit` rows were yielded.
 * @param {import("./table.js").ViewCore} core
 * @param {string} table
 * @param {string} index
 * @param {object} range validated
 * @param {{ limit: number, offset: number, reverse: boolean }} opts validated
 * @returns {AsyncGenerator<Readonly<Record<string, unknown>>, void, undefined>}
 */
export async function* iterateRows(core, table, index, range, opts) {
  const { limit, reverse } = opts;
  let offset = opts.offset;
  /** @type {Set<string>} */
  const yielded = new Set();
  let cursor = new Uint8Array(0); // empty: from the start
  for (;;) {
    if (limit >= 0 && yielded.size >= limit) return;
    const replica = core.replica();
    const page = replica.queryIds(table, index, range, PAGE_SIZE, offset, reverse, cursor);
    offset = 0; // the offset counts from the start of the range only
    cursor = page.cursor;
    // Row ids are reused once a row is gone: remember keys, look rows up when reached.
    const keys = page.rowIds.map((id) => replica.cached(id).key);
    for (const key of keys) {
      if (limit >= 0 && yielded.size >= limit) return;
      if (yielded.has(key)) continue;
      const row = core.replica().rowsOf(table).get(key);
      if (row === undefined) continue; // deleted since the page was fetched
      yielded.add(key);
      yield row;
    }
    if (page.rowIds.length < PAGE_SIZE) return;
  }
}

/** A declared secondary index: `db.index(name)`. */
export class Index {
  /** @type {import("./table.js").ViewCore} */
  #core;
  /** @type {string} */
  #name;
  /** @type {string} */
  #table;
  /** @type {readonly string[]} */
  #columns;

  /**
   * Obtain indexes with `db.index(name)`; not constructed directly.
   * @param {import("./table.js").ViewCore} core
   * @param {string} name
   * @param {string} table
   * @param {readonly string[]} keys
   */
  constructor(core, name, table, keys) {
    this.#core = core;
    this.#name = name;
    this.#table = table;
    this.#columns = Object.freeze([...keys]);
  }

  /** @returns {string} the index name */
  get name() {
    return this.#name;
  }

  /** @returns {string} the indexed table */
  get table() {
    return this.#table;
  }

  /** @returns {readonly string[]} the indexed columns (more than one: compound) */
  get columns() {
    return this.#columns;
  }

  /**
   * The first row (lowest row key) whose index key equals `key`.
   * @param {unknown} key a number, string, or (compound index) an array of those
   * @returns {Readonly<Record<string, unknown>> | undefined}
   * @throws {TypeError} for an invalid key
   */
  get(key) {
    const replica = this.#core.replica();
    checkIndexKey(key, "index key");
    return replica.query(this.#table, this.#name, equals(key), 1, 0, false)[0];
  }

  /**
   * Rows in index order (ties by row key).
   * @param {object} [range] built with equals, above, …; omitted: every indexed row
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts] `reverse` flips
   *   the order first; `offset` and `limit` then apply to the reversed order
   * @returns {Array<Readonly<Record<string, unknown>>>}
   */
  query(range, opts) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return replica.query(this.#table, this.#name, r, limit, offset, reverse);
  }

  /**
   * Row keys in index order: the keys of the rows `query` returns for the same arguments.
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {string[]}
   */
  keys(range, opts) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return replica.keys(this.#table, this.#name, r, limit, offset, reverse);
  }

  /**
   * `[key, row]` pairs in index order (what `query` returns, with each row's key).
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  entries(range, opts) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return replica.entries(this.#table, this.#name, r, limit, offset, reverse);
  }

  /**
   * @param {object} [range]
   * @returns {number} how many rows the range holds
   */
  count(range) {
    return this.#core.replica().count(this.#table, this.#name, checkRange(range));
  }

  /**
   * Iterates rows in index order, fetching them in pages. See iterateRows for what happens
   * when writes land between pages (no row twice; always terminates; rows inserted before the
   * cursor are not visited).
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {AsyncGenerator<Readonly<Record<string, unknown>>, void, undefined>}
   */
  iterate(range, opts) {
    this.#core.replica();
    const r = checkRange(range);
    const o = checkQueryOptions(opts);
    return iterateRows(this.#core, this.#table, this.#name, r, o);
  }

  /**
   * Live query: calls `cb(rows)` now (before returning), then synchronously after every
   * committed local transaction or merged remote change that changes the result, once per
   * transaction.
   * @param {object | undefined} range
   * @param {(rows: Array<Readonly<Record<string, unknown>>>) => void} cb
   * @returns {() => void} stops the subscription (idempotent)
   */
  subscribe(range, cb) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    return replica.subscribe(this.#table, this.#name, r, checkCallback(cb));
  }
}
