// A handle on one table of a CRDTDB. Tables are schema-less and need no declaration.
//
// Reads (`get`, `has`) are synchronous and served from the replica's cache of frozen row
// objects; writes validate while they are encoded, commit to the engine at once (so a `get`
// right after a `set` sees it) and never throw synchronously: every error is a rejected promise.

import { NotFoundError } from "./errors.js";
import { checkCallback, checkQueryOptions, iterateRows } from "./index_view.js";
import { ALL, checkRange } from "./range.js";
import { checkColumnName } from "./codec.js";
import { ADD_TO_SET, DELETE, INCREMENT, OP_NAMES, REMOVE_FROM_SET, SET, TEXT_CREATE, UPDATE, writeOp } from "./replica.js";
import { TextHandle } from "./text.js";
import { checkKey } from "./validate.js";

/**
 * @typedef {object} ViewCore
 * What table and index views need from their database (internal; see js/database.js).
 * @property {() => import("./replica.js").Replica} replica the open replica (throws
 *   ClosedError / the not-ready CRDTDBError otherwise)
 */

/**
 * Runs a write synchronously and reports its outcome as a promise (write methods never throw
 * synchronously): `fn`'s durability promise, or a resolved one. Shared with js/transaction.js.
 * @param {() => Promise<void> | void} fn
 * @returns {Promise<void>}
 */
export function asWrite(fn) {
  try {
    return fn() ?? Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * @param {string} table
 * @param {string} key
 * @param {string} [op] the write that needs the row: "update", "addToSet", "removeFromSet",
 *   "increment", "text"
 * @returns {NotFoundError}
 */
export function notFound(table, key, op = "update") {
  const what = op === "update" ? "update row" : op === "text" ? "edit a text on row" : `${op} on row`;
  return new NotFoundError(
    `cannot ${what} ${JSON.stringify(key)} of table ${JSON.stringify(table)}: ` +
      `it does not exist (use set to create it)`,
  );
}

/**
 * Whether a write of `kind` needs its row to exist (NotFoundError otherwise).
 * @param {number} kind
 * @returns {boolean}
 */
export function needsRow(kind) {
  return kind === UPDATE || kind === ADD_TO_SET || kind === REMOVE_FROM_SET || kind === INCREMENT;
}

export class Table {
  /** @type {ViewCore} */
  #core;
  /** @type {string} */
  #name;

  /**
   * Obtain tables with `db.table(name)`; not constructed directly.
   * @param {ViewCore} core
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
   * @param {number} kind
   * @param {unknown} key
   * @param {unknown} value
   * @returns {Promise<void>}
   */
  #write(kind, key, value) {
    return asWrite(() => {
      const replica = this.#core.replica();
      const k = checkKey(key);
      const exists = replica.rowsOf(this.#name).has(k);
      // A delete only removes what this replica has observed: of an absent row, nothing.
      if (kind === DELETE && !exists) return;
      const w = replica.engine.writer.reset();
      w.varint(1);
      writeOp(w, kind, this.#name, k, value, replica.nameIds);
      if (needsRow(kind) && !exists) throw notFound(this.#name, k, OP_NAMES[kind]);
      // (the engine checks what the JS cache cannot tell: that a set op's column is missing
      // or a set, an increment's missing or a number (a counter), not another type;
      // TypeError otherwise, and nothing changes)
      return replica.commit(w.view());
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
    return this.#write(SET, key, row);
  }

  /**
   * Writes only the columns named in `patch`; the other columns keep their values.
   * @param {string} key
   * @param {Record<string, unknown>} patch plain JSON object of columns to write
   * @returns {Promise<void>} rejects with NotFoundError when the row is absent, TypeError for
   *   an invalid key or patch (nothing is written), ClosedError after close
   */
  update(key, patch) {
    return this.#write(UPDATE, key, patch);
  }

  /**
   * Adds `value` to the add-wins set in `column` (creating the set when the column is
   * missing). Adding an element the set holds changes nothing visible. An add concurrent with
   * a remove of the same element wins. Reads return a set as an array of its elements in
   * IndexedDB key order (numbers < strings < arrays), other values after them in canonical
   * JSON order; an index on a set column has one entry per key-valid element (multiEntry).
   * @param {string} key
   * @param {string} column
   * @param {unknown} value the element: a JSON value (as for a column value)
   * @returns {Promise<void>} resolves once the write is durable; rejects with NotFoundError
   *   when the row is absent, TypeError for an invalid key, column name or element, or when
   *   the column holds something other than a set (nothing is written), ClosedError after
   *   close
   */
  addToSet(key, column, value) {
    return this.#write(ADD_TO_SET, key, { column, element: value });
  }

  /**
   * Removes `value` from the add-wins set in `column`: the adds of it this replica has
   * observed (a concurrent add elsewhere wins). Removing an element the set does not hold
   * changes nothing visible.
   * @param {string} key
   * @param {string} column
   * @param {unknown} value the element: a JSON value
   * @returns {Promise<void>} rejects like addToSet
   */
  removeFromSet(key, column, value) {
    return this.#write(REMOVE_FROM_SET, key, { column, element: value });
  }

  /**
   * Adds `delta` to the counter in `column`. Concurrent increments add up on every replica; a
   * `set` or `update` of the column (or a `set` or `delete` of the row) replaces exactly the
   * increments it has seen, so increments made concurrently with it elsewhere still count.
   * Reads show the counter as a plain number: the column's last plain value (0 when the
   * column is missing) plus the increments not replaced; an index on the column indexes that
   * number. An increment is not a write of the column: it never shows in `conflicts()`.
   * @param {string} key
   * @param {string} column
   * @param {number} [delta] a safe integer (Number.isSafeInteger), negative to decrement;
   *   default 1
   * @returns {Promise<void>} resolves once the write is durable; rejects with NotFoundError
   *   when the row is absent, TypeError for an invalid key, column name or delta, or when the
   *   column holds something other than a number (nothing is written), ClosedError after
   *   close
   */
  increment(key, column, delta = 1) {
    return this.#write(INCREMENT, key, { column, delta });
  }

  /**
   * A handle on the collaborative text in `column` (merged with Eg-walker: concurrent edits
   * all apply, none is lost). A missing column becomes an empty text and a plain string
   * column a text holding that string (a write of the column, committed at once); a column
   * that already holds a text is just opened. Reads of the row show the text's string. A
   * `set`/`update` of the column (or a `set` of the row without it) replaces the text.
   * @param {string} key
   * @param {string} column
   * @returns {TextHandle}
   * @throws {NotFoundError} when the row is absent
   * @throws {TypeError} for an invalid key or column name, or a column that holds something
   *   other than a string or a text (nothing is written)
   */
  text(key, column) {
    const replica = this.#core.replica();
    const k = checkKey(key);
    checkColumnName(column, `text for key ${JSON.stringify(k)} in table ${JSON.stringify(this.#name)}`);
    if (!replica.rowsOf(this.#name).has(k)) throw notFound(this.#name, k, "text");
    if (!replica.isText(this.#name, k, column)) {
      // (the engine refuses a column of another type: TypeError naming it, nothing written)
      const durable = replica.commitOp(TEXT_CREATE, this.#name, k, { column, edit: null });
      // A create that fails to persist is rolled back with the rest; the handle's next edit
      // then reports what the column holds.
      durable.catch(() => {});
    }
    return new TextHandle(this.#core, this.#name, k, column);
  }

  /**
   * Removes the row stored under `key`. Removing an absent row does nothing: a delete only
   * removes what this replica has observed.
   * @param {string} key
   * @returns {Promise<void>}
   */
  delete(key) {
    return this.#write(DELETE, key, undefined);
  }

  /**
   * The current row under `key`, from memory. The object is frozen (deeply): copy it to edit,
   * e.g. `t.set(k, { ...t.get(k), visits: 2 })`.
   * @param {string} key
   * @returns {Readonly<Record<string, unknown>> | undefined}
   * @throws {TypeError} for a key that is not a non-empty string
   */
  get(key) {
    return this.#core.replica().rowsOf(this.#name).get(checkKey(key));
  }

  /**
   * @param {string} key
   * @returns {boolean} whether a row is stored under `key`
   */
  has(key) {
    return this.#core.replica().rowsOf(this.#name).has(checkKey(key));
  }

  /**
   * Rows in primary-key order (row keys compare as IndexedDB strings: UTF-16 code units).
   * @param {object} [range] on the row key, built with equals, above, …; omitted: all rows
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts] `reverse` flips
   *   the order first; `offset` and `limit` then apply to the reversed order
   * @returns {Array<Readonly<Record<string, unknown>>>}
   */
  query(range, opts) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return replica.query(this.#name, "", r, limit, offset, reverse);
  }

  /**
   * Row keys in primary-key order: the keys of the rows `query` returns for the same arguments.
   * @param {object} [range] on the row key
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {string[]}
   */
  keys(range, opts) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return replica.keys(this.#name, "", r, limit, offset, reverse);
  }

  /**
   * `[key, row]` pairs in primary-key order (what `query` returns, with each row's key).
   * @param {object} [range] on the row key
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  entries(range, opts) {
    const replica = this.#core.replica();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return replica.entries(this.#name, "", r, limit, offset, reverse);
  }

  /**
   * @param {object} [range] on the row key
   * @returns {number}
   */
  count(range) {
    return this.#core.replica().count(this.#name, "", checkRange(range));
  }

  /**
   * Iterates rows in primary-key order, fetching them in pages (see iterateRows in
   * js/index_view.js: no row twice; always terminates; rows inserted before the cursor are
   * not visited).
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {AsyncGenerator<Readonly<Record<string, unknown>>, void, undefined>}
   */
  iterate(range, opts) {
    this.#core.replica();
    const r = checkRange(range);
    const o = checkQueryOptions(opts);
    return iterateRows(this.#core, this.#name, "", r, o);
  }

  /**
   * Live query over all rows in key order: `cb(rows)` now, then after every committed
   * transaction or merged remote change that changes them (once per transaction).
   * @param {(rows: Array<Readonly<Record<string, unknown>>>) => void} cb
   * @returns {() => void} stops the subscription (idempotent)
   */
  subscribe(cb) {
    const replica = this.#core.replica();
    return replica.subscribe(this.#name, "", ALL, checkCallback(cb));
  }

  /**
   * The values that last-writer-wins hid: for each column of the row that has concurrent
   * losing writes, those losing values. `{}` when there are none (or the row is absent).
   * @param {string} key
   * @returns {Record<string, unknown[]>}
   */
  conflicts(key) {
    const replica = this.#core.replica();
    return replica.conflicts(this.#name, checkKey(key));
  }
}
