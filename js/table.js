// A handle on one table of a CRDTDB. Tables are schema-less and need no declaration.
//
// Reads (`get`, `has`) are synchronous and served from the database's JS-side cache of frozen
// row objects; writes validate in JS, commit to the engine at once (so a `get` right after a
// `set` sees it) and never throw synchronously: every error is a rejected promise.

import { NotFoundError } from "./errors.js";
import { checkCallback, checkQueryOptions, iterateRows } from "./query.js";
import { ALL, checkRange } from "./range.js";
import { checkKey, copyRow } from "./validate.js";

/**
 * @typedef {object} TableCore
 * What a Table needs from its database (internal; see js/database.js).
 * @property {() => void} assertReadable throws ClosedError / the not-ready CRDTDBError
 * @property {(table: string) => Map<string, Readonly<Record<string, unknown>>>} rowsOf
 * @property {(ops: object[]) => void} commit commits one transaction and fires change events
 * @property {(table: string, key: string) => Record<string, unknown[]>} conflicts
 * @property {import("./query.js").QueryCore} queries
 */

/**
 * Runs a write synchronously and reports its outcome as a promise (write methods never throw
 * synchronously). Shared with js/transaction.js.
 * @param {() => void} fn
 * @returns {Promise<void>}
 */
export function asWrite(fn) {
  try {
    fn();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Validates one write and builds its engine operation; shared by tables and the tables of a
 * transaction, which differ only in where the operation goes and how they see a row.
 * @param {"set" | "update" | "delete"} op
 * @param {string} table
 * @param {unknown} key
 * @param {unknown} value the row (set) or patch (update); ignored for delete
 * @param {(key: string) => boolean} exists whether the row exists as the writer sees it
 * @returns {{ op: string, table: string, key: string } | null} null: a delete of an absent
 *   row, nothing to write
 * @throws {TypeError} invalid key or value; {NotFoundError} update of an absent row
 */
export function buildWrite(op, table, key, value, exists) {
  const k = checkKey(key);
  if (op === "delete") return exists(k) ? { op, table, key: k } : null;
  const field = op === "set" ? "row" : "patch";
  const copy = copyRow(value, { table, key: k, what: field });
  if (op === "update" && !exists(k)) {
    throw new NotFoundError(
      `cannot update row ${JSON.stringify(k)} of table ${JSON.stringify(table)}: ` +
        `it does not exist (use set to create it)`,
    );
  }
  return { op, table, key: k, [field]: copy };
}

export class Table {
  /** @type {TableCore} */
  #core;
  /** @type {string} */
  #name;

  /**
   * Obtain tables with `db.table(name)`; not constructed directly.
   * @param {TableCore} core
   * @param {string} name
   */
  constructor(core, name) {
    this.#core = core;
    this.#name = name;
  }

  /** @returns {string} the table's name */
  get name() {
    return this.#name;
  }

  /**
   * @param {"set" | "update" | "delete"} op
   * @param {unknown} key
   * @param {unknown} value
   * @returns {Promise<void>}
   */
  #write(op, key, value) {
    return asWrite(() => {
      this.#core.assertReadable();
      const w = buildWrite(op, this.#name, key, value, (k) => this.#core.rowsOf(this.#name).has(k));
      if (w !== null) this.#core.commit([w]);
    });
  }

  /**
   * Inserts or replaces the whole row stored under `key`.
   * @param {string} key non-empty string
   * @param {Record<string, unknown>} row plain JSON object
   * @returns {Promise<void>} resolves once the write is durable (at once for memory storage);
   *   rejects with TypeError for an invalid key or row (nothing is written) or ClosedError
   */
  set(key, row) {
    return this.#write("set", key, row);
  }

  /**
   * Writes only the columns named in `patch`; the other columns keep their values.
   * @param {string} key
   * @param {Record<string, unknown>} patch plain JSON object of columns to write
   * @returns {Promise<void>} rejects with NotFoundError when the row is absent, TypeError for
   *   an invalid key or patch (nothing is written), ClosedError after close
   */
  update(key, patch) {
    return this.#write("update", key, patch);
  }

  /**
   * Removes the row stored under `key`. Removing an absent row does nothing: a delete only
   * removes what this replica has observed.
   * @param {string} key
   * @returns {Promise<void>}
   */
  delete(key) {
    return this.#write("delete", key, undefined);
  }

  /**
   * The current row under `key`, from memory. The object is frozen (deeply): copy it to edit,
   * e.g. `t.set(k, { ...t.get(k), visits: 2 })`.
   * @param {string} key
   * @returns {Readonly<Record<string, unknown>> | undefined}
   * @throws {TypeError} for a key that is not a non-empty string
   */
  get(key) {
    this.#core.assertReadable();
    return this.#core.rowsOf(this.#name).get(checkKey(key));
  }

  /**
   * @param {string} key
   * @returns {boolean} whether a row is stored under `key`
   */
  has(key) {
    this.#core.assertReadable();
    return this.#core.rowsOf(this.#name).has(checkKey(key));
  }

  /**
   * Rows in primary-key order (row keys compare as IndexedDB strings: UTF-16 code units).
   * @param {object} [range] on the row key, built with equals, above, …; omitted: all rows
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts] `reverse` flips
   *   the order first; `offset` and `limit` then apply to the reversed order
   * @returns {Array<Readonly<Record<string, unknown>>>}
   */
  query(range, opts) {
    this.#core.assertReadable();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return this.#core.queries.query(this.#name, "", r, limit, offset, reverse);
  }

  /**
   * @param {object} [range] on the row key
   * @returns {number}
   */
  count(range) {
    this.#core.assertReadable();
    return this.#core.queries.count(this.#name, "", checkRange(range));
  }

  /**
   * Iterates rows in primary-key order, fetching them in pages (see iterateRows in
   * js/query.js: no row twice; always terminates; rows inserted before the cursor are not
   * visited).
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {AsyncGenerator<Readonly<Record<string, unknown>>, void, undefined>}
   */
  iterate(range, opts) {
    this.#core.assertReadable();
    const r = checkRange(range);
    const o = checkQueryOptions(opts);
    return iterateRows(this.#core.queries, this.#name, "", r, o);
  }

  /**
   * Live query over all rows in key order: `cb(rows)` now, then after every committed
   * transaction or merged remote change that changes them (once per transaction).
   * @param {(rows: Array<Readonly<Record<string, unknown>>>) => void} cb
   * @returns {() => void} stops the subscription (idempotent)
   */
  subscribe(cb) {
    this.#core.assertReadable();
    return this.#core.queries.subscribe(this.#name, "", ALL, checkCallback(cb));
  }

  /**
   * The values that last-writer-wins hid: for each column of the row that has concurrent
   * losing writes, those losing values. `{}` when there are none (or the row is absent).
   * @param {string} key
   * @returns {Record<string, unknown[]>}
   */
  conflicts(key) {
    this.#core.assertReadable();
    return this.#core.conflicts(this.#name, checkKey(key));
  }
}
