// Transactions (api.md "Transactions"): `db.transaction(async (tx) => …)`.
//
// Writes through `tx` are validated as they are made (TypeError, NotFoundError against the
// transaction's own view) and kept, encoded, on the JS side; they cross into the engine in
// one batch with the commit. A read through `tx` that must see them (a row or table the
// transaction wrote) first hands the batch so far to the engine's staged transaction
// (stage), then reads the staged view there. Set ops (addToSet, removeFromSet) and increments
// are staged at once: only the engine knows whether their column holds another type
// (TypeError). The database commits (engine commitStaged) when the callback fulfils, or rolls
// back when it throws or rejects (js/database.js).

import { CRDTDBError } from "./errors.js";
import { checkQueryOptions } from "./index_view.js";
import { Writer } from "./codec.js";
import { checkKey as checkIndexKey, checkRange, equals } from "./range.js";
import { readStagedColumns, readStagedQuery } from "./record.js";
import { ADD_TO_SET, DELETE, INCREMENT, OP_NAMES, REMOVE_FROM_SET, SET, UPDATE, writeOp, writeQuery } from "./replica.js";
import { asWrite, needsRow, notFound } from "./table.js";
import { checkKey, checkTableName } from "./validate.js";

/**
 * @typedef {object} TxCore
 * @property {() => import("./replica.js").Replica} replica the open replica
 * @property {(name: string) => { table: string, keys: readonly string[] }} indexDef
 *   throws UnknownIndexError
 */

/** The `tx` handle passed to a `db.transaction` callback. Usable only until it settles. */
export class Transaction {
  /** @type {TxCore} */
  #core;
  #active = true;
  /** Encoded ops not yet handed to the engine. */
  #pending = new Writer(256);
  #pendingCount = 0;
  /**
   * @type {Map<string, Map<string, boolean>>} table → key → exists after this transaction's
   *   writes; its tables are the tables this transaction wrote
   */
  #written = new Map();
  /** @type {Map<string, TxTable>} */
  #views = new Map();

  /** @param {TxCore} core */
  constructor(core) {
    this.#core = core;
  }

  /** Called by the database when the callback settled; later use throws CRDTDBError. */
  _finish() {
    this.#active = false;
  }

  /** @returns {import("./replica.js").Replica} */
  _replica() {
    if (!this.#active) {
      throw new CRDTDBError(
        "this transaction has already finished: use the tx handle only inside its callback " +
          "(and await its writes there)",
      );
    }
    return this.#core.replica();
  }

  /** @returns {Uint8Array} the pending ops as one batch (and forgets them) */
  _takeBatch() {
    const w = new Writer(this.#pending.pos + 10);
    w.varint(this.#pendingCount);
    w.bytes(this.#pending.view());
    this.#pending.reset();
    this.#pendingCount = 0;
    return w.view();
  }

  /** Hands the pending ops to the engine's staged transaction. */
  #flush() {
    if (this.#pendingCount === 0) return;
    this._replica().engine.stage(this._takeBatch());
  }

  /**
   * @param {string} table
   * @param {string} key
   * @returns {boolean} whether the row exists as this transaction sees it
   */
  _exists(table, key) {
    const w = this.#written.get(table)?.get(key);
    return w !== undefined ? w : this._replica().rowsOf(table).has(key);
  }

  /**
   * Validates and keeps one write.
   * @param {number} kind
   * @param {string} table
   * @param {unknown} key
   * @param {unknown} value
   */
  _write(kind, table, key, value) {
    this._replica();
    const k = checkKey(key);
    const exists = this._exists(table, k);
    if (kind === DELETE && !exists) return;
    // Only the engine can tell whether a set op's column holds something other than a set
    // (an increment's, something other than a number): what is pending is staged first, then
    // the op alone, so that its TypeError rejects this call (and stages nothing) rather than
    // the commit.
    const columnOp = kind === ADD_TO_SET || kind === REMOVE_FROM_SET || kind === INCREMENT;
    if (columnOp) this.#flush();
    const start = this.#pending.pos;
    try {
      writeOp(this.#pending, kind, table, k, value);
      if (needsRow(kind) && !exists) throw notFound(table, k, OP_NAMES[kind]);
    } catch (err) {
      this.#pending.pos = start; // a rejected write keeps nothing
      throw err;
    }
    this.#pendingCount++;
    if (columnOp) this.#flush(); // (a batch the engine refuses is staged not at all)
    let byKey = this.#written.get(table);
    if (byKey === undefined) this.#written.set(table, (byKey = new Map()));
    byKey.set(k, kind !== DELETE);
  }

  /**
   * The row as this transaction sees it.
   * @param {string} table
   * @param {string} key
   * @returns {Readonly<Record<string, unknown>> | undefined}
   */
  _row(table, key) {
    const replica = this._replica();
    if (!this.#written.get(table)?.has(key)) return replica.rowsOf(table).get(key);
    this.#flush();
    const w = replica.engine.writer.reset();
    w.string(table);
    w.string(key);
    const r = replica.engine.stagedRow(w.view());
    if (r.u8() !== 1) return undefined;
    const row = readStagedColumns(r);
    replica.keyOfRow.set(row, key);
    return row;
  }

  /**
   * Rows of a query as this transaction sees them.
   * @param {string} table the table the query is over
   * @param {string} index
   * @param {object} range
   * @param {{ limit: number, offset: number, reverse: boolean }} o
   */
  _query(table, index, range, o) {
    const replica = this._replica();
    if (!this.#written.has(table)) return replica.query(table, index, range, o.limit, o.offset, o.reverse);
    return this.#stagedEntries(table, index, range, o).map((e) => e[1]);
  }

  /**
   * `[key, row]` pairs of a query as this transaction sees them.
   * @param {string} table the table the query is over
   * @param {string} index
   * @param {object} range
   * @param {{ limit: number, offset: number, reverse: boolean }} o
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  _entries(table, index, range, o) {
    const replica = this._replica();
    if (!this.#written.has(table)) return replica.entries(table, index, range, o.limit, o.offset, o.reverse);
    return this.#stagedEntries(table, index, range, o);
  }

  /**
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {{ limit: number, offset: number, reverse: boolean }} o
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  #stagedEntries(table, index, range, o) {
    const replica = this._replica();
    this.#flush();
    const w = replica.engine.writer.reset();
    writeQuery(w, table, index, range, o.limit, o.offset, o.reverse, true);
    return readStagedQuery(replica.engine.query(w.view())).map((h) => {
      if ("rowId" in h) {
        const e = replica.cached(h.rowId);
        return /** @type {[string, Readonly<Record<string, unknown>>]} */ ([e.key, e.row]);
      }
      replica.keyOfRow.set(h.row, h.key);
      return /** @type {[string, Readonly<Record<string, unknown>>]} */ ([h.key, h.row]);
    });
  }

  /**
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @returns {number}
   */
  _count(table, index, range) {
    const replica = this._replica();
    if (!this.#written.has(table)) return replica.count(table, index, range);
    this.#flush();
    const w = replica.engine.writer.reset();
    writeQuery(w, table, index, range, -1, 0, false, true);
    return replica.engine.count(w.view());
  }

  /** @param {string} name @returns {{ table: string, keys: readonly string[] }} */
  _indexDef(name) {
    this._replica();
    return this.#core.indexDef(name);
  }

  /**
   * A table as this transaction sees it.
   * @param {string} name
   * @returns {TxTable}
   */
  table(name) {
    this._replica();
    const n = checkTableName(name);
    let t = this.#views.get(n);
    if (t === undefined) {
      t = new TxTable(this, n);
      this.#views.set(n, t);
    }
    return t;
  }

  /**
   * Read access to a declared index, seeing this transaction's writes.
   * @param {string} name
   * @returns {TxIndex}
   * @throws {UnknownIndexError}
   */
  index(name) {
    const def = this._indexDef(name);
    return new TxIndex(this, name, def.table);
  }
}

/** A table inside a transaction: reads see the transaction's writes. */
export class TxTable {
  /** @type {Transaction} */
  #tx;
  /** @type {string} */
  #name;

  /**
   * @param {Transaction} tx
   * @param {string} name
   */
  constructor(tx, name) {
    this.#tx = tx;
    this.#name = name;
  }

  /** @returns {string} */
  get name() {
    return this.#name;
  }

  /**
   * Stages a whole-row write. Resolves as soon as it is staged (it becomes visible to others
   * and durable when the transaction commits); rejects with TypeError for invalid input.
   * A rejected write stages nothing; if the callback lets the rejection propagate, the whole
   * transaction rolls back.
   * @param {string} key
   * @param {Record<string, unknown>} row
   * @returns {Promise<void>}
   */
  set(key, row) {
    return asWrite(() => this.#tx._write(SET, this.#name, key, row));
  }

  /**
   * Stages a partial write; rejects NotFoundError when the row is absent as the transaction
   * sees it.
   * @param {string} key
   * @param {Record<string, unknown>} patch
   * @returns {Promise<void>}
   */
  update(key, patch) {
    return asWrite(() => this.#tx._write(UPDATE, this.#name, key, patch));
  }

  /**
   * Stages an add of `value` to the add-wins set in `column` (see Table.addToSet); rejects
   * NotFoundError when the row is absent as the transaction sees it, TypeError for an invalid
   * column name or element or a column that holds something other than a set.
   * @param {string} key
   * @param {string} column
   * @param {unknown} value
   * @returns {Promise<void>}
   */
  addToSet(key, column, value) {
    return asWrite(() => this.#tx._write(ADD_TO_SET, this.#name, key, { column, element: value }));
  }

  /**
   * Stages a removal of `value` from the add-wins set in `column` (see Table.removeFromSet);
   * rejects like addToSet.
   * @param {string} key
   * @param {string} column
   * @param {unknown} value
   * @returns {Promise<void>}
   */
  removeFromSet(key, column, value) {
    return asWrite(() => this.#tx._write(REMOVE_FROM_SET, this.#name, key, { column, element: value }));
  }

  /**
   * Stages an increment of the counter in `column` by `delta` (see Table.increment); reads
   * through the transaction show the staged sum. Rejects NotFoundError when the row is absent
   * as the transaction sees it, TypeError for an invalid column name or delta (not a safe
   * integer) or a column that holds something other than a number; a rejected increment
   * stages nothing.
   * @param {string} key
   * @param {string} column
   * @param {number} [delta] a safe integer; default 1
   * @returns {Promise<void>}
   */
  increment(key, column, delta = 1) {
    return asWrite(() => this.#tx._write(INCREMENT, this.#name, key, { column, delta }));
  }

  /**
   * Stages a delete (nothing when the row is absent as the transaction sees it).
   * @param {string} key
   * @returns {Promise<void>}
   */
  delete(key) {
    return asWrite(() => this.#tx._write(DELETE, this.#name, key, undefined));
  }

  /**
   * @param {string} key
   * @returns {Readonly<Record<string, unknown>> | undefined} the row as the transaction sees it
   */
  get(key) {
    this.#tx._replica();
    return this.#tx._row(this.#name, checkKey(key));
  }

  /** @param {string} key @returns {boolean} */
  has(key) {
    return this.get(key) !== undefined;
  }

  /**
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   */
  query(range, opts) {
    this.#tx._replica();
    return this.#tx._query(this.#name, "", checkRange(range), checkQueryOptions(opts));
  }

  /**
   * Row keys in primary-key order, as the transaction sees them.
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {string[]}
   */
  keys(range, opts) {
    return this.entries(range, opts).map((e) => e[0]);
  }

  /**
   * `[key, row]` pairs in primary-key order, as the transaction sees them.
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  entries(range, opts) {
    this.#tx._replica();
    return this.#tx._entries(this.#name, "", checkRange(range), checkQueryOptions(opts));
  }

  /** @param {object} [range] @returns {number} */
  count(range) {
    this.#tx._replica();
    return this.#tx._count(this.#name, "", checkRange(range));
  }
}

/** A declared index inside a transaction (read only; sees the transaction's writes). */
export class TxIndex {
  /** @type {Transaction} */
  #tx;
  /** @type {string} */
  #name;
  /** @type {string} */
  #table;

  /**
   * @param {Transaction} tx
   * @param {string} name
   * @param {string} table
   */
  constructor(tx, name, table) {
    this.#tx = tx;
    this.#name = name;
    this.#table = table;
  }

  /** @param {unknown} key */
  get(key) {
    checkIndexKey(key, "index key");
    return this.query(equals(key), { limit: 1 })[0];
  }

  /**
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   */
  query(range, opts) {
    this.#tx._replica();
    return this.#tx._query(this.#table, this.#name, checkRange(range), checkQueryOptions(opts));
  }

  /**
   * Row keys in index order, as the transaction sees them.
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {string[]}
   */
  keys(range, opts) {
    return this.entries(range, opts).map((e) => e[0]);
  }

  /**
   * `[key, row]` pairs in index order, as the transaction sees them.
   * @param {object} [range]
   * @param {{ limit?: number, offset?: number, reverse?: boolean }} [opts]
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  entries(range, opts) {
    this.#tx._replica();
    return this.#tx._entries(this.#table, this.#name, checkRange(range), checkQueryOptions(opts));
  }

  /** @param {object} [range] @returns {number} */
  count(range) {
    this.#tx._replica();
    return this.#tx._count(this.#table, this.#name, checkRange(range));
  }
}
