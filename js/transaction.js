// Transactions (api.md "Transactions"): `db.transaction(async (tx) => …)`.
//
// Writes through `tx` are validated in JS and staged in the engine's single staged
// transaction (RawDB.stage); reads through `tx` see them (stagedRow, staged queries). The
// database commits the staged batch as one causal transaction when the callback fulfils, or
// rolls it back when it throws or rejects (js/database.js, CRDTDB#transaction).

import { CRDTDBError } from "./errors.js";
import { checkQueryOptions } from "./query.js";
import { checkKey as checkIndexKey, checkRange, equals } from "./range.js";
import { asWrite, buildWrite } from "./table.js";
import { checkKey, checkTableName } from "./validate.js";

/**
 * @typedef {object} TxCore
 * @property {() => import("./engine.js").Engine} engine the ready engine
 * @property {(table: string) => Map<string, Readonly<Record<string, unknown>>>} rowsOf cache
 * @property {(name: string) => { table: string, keys: readonly string[] }} indexDef
 *   throws UnknownIndexError
 */

/**
 * Freezes a JSON value deeply.
 * @template T
 * @param {T} v
 * @returns {T}
 */
function freeze(v) {
  if (typeof v === "object" && v !== null) {
    for (const x of Object.values(v)) freeze(x);
    Object.freeze(v);
  }
  return v;
}

/** The `tx` handle passed to a `db.transaction` callback. Usable only until it settles. */
export class Transaction {
  /** @type {TxCore} */
  #core;
  #active = true;
  /** @type {Set<string>} "table\0key" of every row this transaction staged a write for */
  #staged = new Set();
  /** @type {Map<string, TxTable>} */
  #tables = new Map();

  /** @param {TxCore} core */
  constructor(core) {
    this.#core = core;
  }

  /** Called by the database when the callback settled; later use throws CRDTDBError. */
  _finish() {
    this.#active = false;
  }

  /** @returns {import("./engine.js").Engine} */
  _engine() {
    if (!this.#active) {
      throw new CRDTDBError(
        "this transaction has already finished: use the tx handle only inside its callback " +
          "(and await its writes there)",
      );
    }
    return this.#core.engine();
  }

  /**
   * The row as this transaction sees it.
   * @param {string} table
   * @param {string} key
   * @returns {Readonly<Record<string, unknown>> | undefined}
   */
  _row(table, key) {
    const engine = this._engine();
    if (this.#staged.has(`${table}\0${key}`)) return freeze(engine.stagedRow(table, key));
    return this.#core.rowsOf(table).get(key);
  }

  /**
   * @param {string} table
   * @param {object} op
   * @param {string} key
   */
  _stage(table, key, op) {
    this._engine().stage([op]);
    this.#staged.add(`${table}\0${key}`);
  }

  /** @param {string} name @returns {{ table: string, keys: readonly string[] }} */
  _indexDef(name) {
    this._engine();
    return this.#core.indexDef(name);
  }

  /**
   * A table as this transaction sees it.
   * @param {string} name
   * @returns {TxTable}
   */
  table(name) {
    this._engine();
    const n = checkTableName(name);
    let t = this.#tables.get(n);
    if (t === undefined) {
      t = new TxTable(this, n);
      this.#tables.set(n, t);
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

/**
 * Keys → rows as the transaction sees them.
 * @param {Transaction} tx
 * @param {string} table
 * @param {string[]} keys
 */
function rowsFor(tx, table, keys) {
  /** @type {Array<Readonly<Record<string, unknown>>>} */
  const out = [];
  for (const k of keys) {
    const row = tx._row(table, k);
    if (row !== undefined) out.push(row);
  }
  return out;
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
   * @param {"set" | "update" | "delete"} op
   * @param {unknown} key
   * @param {unknown} value
   * @returns {Promise<void>}
   */
  #write(op, key, value) {
    return asWrite(() => {
      this.#tx._engine();
      const w = buildWrite(op, this.#name, key, value, (k) => this.#tx._row(this.#name, k) !== undefined);
      if (w !== null) this.#tx._stage(this.#name, w.key, w);
    });
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
    return this.#write("set", key, row);
  }

  /**
   * Stages a partial write; rejects NotFoundError when the row is absent as the transaction
   * sees it.
   * @param {string} key
   * @param {Record<string, unknown>} patch
   * @returns {Promise<void>}
   */
  update(key, patch) {
    return this.#write("update", key, patch);
  }

  /**
   * Stages a delete (nothing when the row is absent as the transaction sees it).
   * @param {string} key
   * @returns {Promise<void>}
   */
  delete(key) {
    return this.#write("delete", key, undefined);
  }

  /**
   * @param {string} key
   * @returns {Readonly<Record<string, unknown>> | undefined} the row as the transaction sees it
   */
  get(key) {
    this.#tx._engine();
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
    const engine = this.#tx._engine();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    return rowsFor(this.#tx, this.#name, engine.query(this.#name, "", r, limit, offset, reverse, true));
  }

  /** @param {object} [range] @returns {number} */
  count(range) {
    const engine = this.#tx._engine();
    return engine.count(this.#name, "", checkRange(range), true);
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
    const engine = this.#tx._engine();
    const r = checkRange(range);
    const { limit, offset, reverse } = checkQueryOptions(opts);
    const keys = engine.query(this.#table, this.#name, r, limit, offset, reverse, true);
    return rowsFor(this.#tx, this.#table, keys);
  }

  /** @param {object} [range] @returns {number} */
  count(range) {
    const engine = this.#tx._engine();
    return engine.count(this.#table, this.#name, checkRange(range), true);
  }
}
