// The replica core behind a CRDTDB: the engine handle, the JS cache of every visible row, the
// write pipeline and the fan-out of each committed call to change listeners, live queries and
// update listeners. Tables, indexes and transactions are thin views over it.
//
// Every mutating engine call returns one change record (js/record.js). The record is read in
// full (new row objects built aside) before the cache changes; if it cannot be read the engine
// undoes the call, so the engine and the cache never disagree.

import { writeColumns, writeIncrement, writeName, writeRange, writeSetElement, writeTextOp, Writer } from "./codec.js";
import { CRDTDBError } from "./errors.js";
import { LiveQueries } from "./live_query.js";
import { Forwarder } from "./forwarder.js";
import { Persister } from "./persistence.js";
import { GONE, NEW, readChangeRecord, readConflicts, readQuery } from "./record.js";

const DURABLE = Promise.resolve();

export const SET = 1;
export const UPDATE = 2;
export const DELETE = 3;
/** Adds one element to an add-wins set column (value: `{ column, element }`). */
export const ADD_TO_SET = 4;
/** Removes one element (the adds this replica has observed) from a set column. */
export const REMOVE_FROM_SET = 5;
/**
 * Adds a safe integer to a counter column (value: `{ column, delta }`). Kind 7 (a counter
 * reset) is made by the engine alone and never sent from JS.
 */
export const INCREMENT = 6;
/** Makes a column a collaborative text (value: `{ column, edit: null }`); commits at once. */
export const TEXT_CREATE = 8;
/** Inserts into or deletes from a column's text (value: `{ column, edit }`); commits at once. */
export const TEXT_EDIT = 9;

/**
 * The public name of each op kind, for messages.
 * @type {Readonly<Record<number, string>>}
 */
export const OP_NAMES = Object.freeze({
  [SET]: "set",
  [UPDATE]: "update",
  [DELETE]: "delete",
  [ADD_TO_SET]: "addToSet",
  [REMOVE_FROM_SET]: "removeFromSet",
  [INCREMENT]: "increment",
  [TEXT_CREATE]: "text",
  [TEXT_EDIT]: "text edit",
});

/**
 * Reports a listener's error the way DOM event listeners' errors are: without stopping the
 * caller (reportError where it exists, else an uncaught exception in a microtask).
 * @param {unknown} err
 */
export function reportListenerError(err) {
  const report = /** @type {any} */ (globalThis).reportError;
  if (typeof report === "function") {
    report(err);
  } else {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/**
 * Appends one op to an ops batch (bindings/convert.h): kind, table, key, columns. Validates
 * the row or patch while writing it (TypeError naming the column). A set op (ADD_TO_SET,
 * REMOVE_FROM_SET) is laid out as an update of exactly one column whose value is the element;
 * an INCREMENT likewise, the column's value being the delta (a canonical integer).
 * @param {Writer} w
 * @param {number} kind SET | UPDATE | DELETE | ADD_TO_SET | REMOVE_FROM_SET | INCREMENT |
 *   TEXT_CREATE | TEXT_EDIT
 * @param {string} table
 * @param {string} key
 * @param {unknown} value the row (SET), the patch (UPDATE), nothing (DELETE), or
 *   `{ column, element }` (ADD_TO_SET, REMOVE_FROM_SET), `{ column, delta }` (INCREMENT), or
 *   `{ column, edit }` (TEXT_CREATE: edit null; TEXT_EDIT: see writeTextOp in js/codec.js)
 * @param {Map<string, number>} [ids] engine name ids, for ops committed at once (a staged
 *   op is written with plain names: the ids it would use could be undone before it commits)
 */
export function writeOp(w, kind, table, key, value, ids) {
  w.u8(kind);
  writeName(w, table, ids);
  w.string(key);
  if (kind === SET || kind === UPDATE) {
    writeColumns(w, value, { table, key, what: kind === SET ? "row" : "patch" }, ids);
  } else if (kind === ADD_TO_SET || kind === REMOVE_FROM_SET) {
    const { column, element } = /** @type {{ column: unknown, element: unknown }} */ (value);
    writeSetElement(w, column, element, { table, key, op: kind === ADD_TO_SET ? "addToSet" : "removeFromSet" }, ids);
  } else if (kind === INCREMENT) {
    const { column, delta } = /** @type {{ column: unknown, delta: unknown }} */ (value);
    writeIncrement(w, column, delta, { table, key }, ids);
  } else if (kind === TEXT_CREATE || kind === TEXT_EDIT) {
    const { column, edit } = /** @type {{ column: string, edit: any }} */ (value);
    writeTextOp(w, column, edit, ids);
  }
}

/**
 * Encodes a query (bindings/convert.h).
 * @param {Writer} w
 * @param {string} table
 * @param {string} index "" = the table's primary-key order
 * @param {object} range
 * @param {number} limit -1 = no limit
 * @param {number} offset
 * @param {boolean} reverse
 * @param {boolean} staged
 * @param {Uint8Array} [cursor] continue after it; given (even empty), a cursor comes back
 */
export function writeQuery(w, table, index, range, limit, offset, reverse, staged, cursor) {
  w.string(table);
  w.string(index);
  writeRange(w, range);
  w.f64(limit);
  w.f64(offset);
  w.u8((reverse ? 1 : 0) | (staged ? 2 : 0) | (cursor ? 4 : 0));
  w.varint(cursor ? cursor.length : 0);
  if (cursor) w.bytes(cursor);
}

/**
 * @typedef {{ table: string, key: string, origin: string | object }} ChangeEvent
 * @typedef {{ bytes: Uint8Array, origin: string | object }} UpdateEvent
 */

/**
 * The row cache of a replica being loaded, filled batch by batch (while storage reads the
 * next batch) and then taken over by Replica.install.
 */
export class RowCache {
  /** @type {Replica["byId"]} */
  byId = [];
  /** @type {Replica["rowById"]} */
  rowById = [];
  /** @type {Replica["tables"]} */
  tables = new Map();

  /** @param {WeakMap<object, string>} keyOfRow the replica's (rows it handed out stay known) */
  constructor(keyOfRow) {
    this.keyOfRow = keyOfRow;
  }

  /** @param {import("./record.js").ChangeRecord["rows"]} rows loaded rows (each new) */
  add(rows) {
    for (const c of rows) {
      const row = /** @type {Readonly<Record<string, unknown>>} */ (c.row);
      let m = this.tables.get(c.table);
      if (m === undefined) this.tables.set(c.table, (m = new Map()));
      m.set(c.key, row);
      this.keyOfRow.set(row, c.key);
      this.byId[c.id] = { table: c.table, key: c.key, row };
      this.rowById[c.id] = row;
    }
  }
}

export class Replica {
  /** @type {import("./engine.js").Engine} */
  engine;
  /** @type {string[]} engine name id → table or column name (id 0: reserved) */
  names = [""];
  /** @type {Map<string, number>} name → engine name id (the inverse of `names`) */
  nameIds = new Map();
  /** @type {Array<import("./record.js").CachedRow | undefined>} row id → cached row */
  byId = [];
  /**
   * @type {Array<Readonly<Record<string, unknown>> | undefined>} row id → cached row: queries
   * read rows from this dense array, one load per row instead of two dependent ones.
   */
  rowById = [];
  /** @type {WeakMap<object, string>} row object a read returned → its row key (db.keyOf) */
  keyOfRow = new WeakMap();
  /** @type {Map<string, Map<string, Readonly<Record<string, unknown>>>>} table → key → row */
  tables = new Map();
  /** @type {Set<{ cb: (e: ChangeEvent) => void }>} */
  changeListeners = new Set();
  /** @type {Set<{ cb: (e: UpdateEvent) => void }>} */
  updateListeners = new Set();
  live = new LiveQueries();
  closed = false;
  /**
   * @type {Persister | Forwarder | null} writes to storage, or hands writes to the instance
   *   that owns it (null: memory storage, durable at once)
   */
  persister = null;
  /** Storage failed and the durable state is being reloaded: writes are refused meanwhile. */
  recovering = false;
  /** @type {Promise<void> | null} settles once the reload after a storage failure is done */
  recovery = null;
  /** @type {() => void} called once a reload after a storage failure is done */
  onRecovered = () => {};
  /** Bumped when the engine is replaced by a reload (staged transactions die with the old). */
  generation = 0;

  /** @param {import("./engine.js").Engine} engine */
  constructor(engine) {
    this.engine = engine;
  }

  /**
   * Writes to `adapter` from now on.
   * @param {import("./storage/adapter.js").StorageAdapter} adapter
   * @param {() => Promise<{ engine: import("./engine.js").Engine, names: string[],
   *   cache: RowCache }>} reload opens the durable state again
   * @param {(err: CRDTDBError) => void} fatal the durable state could not be reloaded
   */
  persistTo(adapter, reload, fatal) {
    this.persister = new Persister(
      adapter,
      () => this.engine,
      (updates) => this.#fireUpdates(updates),
      (err, rows) => this.#startRecovery(err, rows, reload, fatal),
    );
  }

  /**
   * @param {CRDTDBError} err
   * @param {Array<{ table: string, key: string }>} rows
   * @param {() => Promise<{ engine: import("./engine.js").Engine, names: string[],
   *   cache: RowCache }>} reload
   * @param {(err: CRDTDBError) => void} fatal
   */
  #startRecovery(err, rows, reload, fatal) {
    this.recovering = true;
    this.recovery = this.#recover(err, rows, reload)
      .catch(fatal)
      .finally(() => {
        this.recovering = false;
        this.recovery = null;
        this.onRecovered();
      });
  }

  /**
   * Hands writes to the live instance that owns the database's storage (js/forwarder.js).
   * @param {string} key what names the storage
   * @param {() => Promise<{ engine: import("./engine.js").Engine, names: string[],
   *   cache: RowCache }>} reload opens the durable state again
   * @param {(err: CRDTDBError) => void} fatal the durable state could not be reloaded
   */
  forwardTo(key, reload, fatal) {
    this.persister = new Forwarder(
      key,
      () => this.engine,
      this.engine.version(),
      (updates) => this.#fireUpdates(updates),
      (err, rows) => this.#startRecovery(err, rows, reload, fatal),
    );
  }

  /**
   * This instance now owns the storage `fresh` was loaded from (the owner closed or died):
   * takes in what storage holds that it lacks (change events, origin "storage"), then moves
   * onto `fresh` with everything of its own that storage lacks, written by the first storage
   * write, which also settles the writes the old owner did not acknowledge.
   * @param {{ engine: import("./engine.js").Engine, names: string[],
   *   cache: RowCache }} fresh storage's state, tracking storage
   * @param {import("./storage/adapter.js").StorageAdapter} adapter
   * @param {() => Promise<{ engine: import("./engine.js").Engine, names: string[],
   *   cache: RowCache }>} reload
   * @param {(err: CRDTDBError) => void} fatal
   */
  takeOver(fresh, adapter, reload, fatal) {
    const forwarder = /** @type {Forwarder} */ (this.persister);
    const pending = forwarder.handOver();
    // What storage holds that this instance lacks: durable already (its events may leave at
    // once). Its listeners run below, once the new engine writes storage, so that a write
    // they make is durable before it resolves.
    this.persister = null;
    const caughtUp = this.take(this.engine.apply(fresh.engine.changesSince(this.engine.version()), this.wantUpdate), "storage", true);
    const extra = this.engine.changesSince(fresh.engine.version());
    const old = this.engine;
    this.engine = fresh.engine;
    old.delete();
    this.install(fresh.names, fresh.cache);
    this.generation++;
    this.persistTo(adapter, reload, fatal);
    const { durable } = this.take(this.engine.apply(extra, false), "storage", true);
    durable.then(
      () => {
        for (const b of pending) b.resolve();
        this.#fireUpdates(pending.flatMap((b) => b.updates));
      },
      (err) => {
        for (const b of pending) b.reject(err);
      },
    );
    /** @type {unknown[]} */
    const errors = [];
    this.#rebindLive(errors);
    this.#fireChanges(caughtUp.rows, "storage", errors);
    if (caughtUp.update !== null) this.#fireUpdates([{ bytes: caughtUp.update, origin: "storage" }], errors);
    for (const e of errors) reportListenerError(e);
  }

  /**
   * Registers every live query again with the current engine, calling back those whose
   * result changed.
   * @param {unknown[]} errors
   */
  #rebindLive(errors) {
    this.live.rebind((spec) => {
      const w = this.engine.writer.reset();
      writeQuery(w, spec.table, spec.index, spec.range, -1, 0, false, false);
      const id = this.engine.subscribe(w.view());
      return { id, rows: this.query(spec.table, spec.index, spec.range, -1, 0, false) };
    }, errors);
  }

  /**
   * Takes over the cache of a load; nothing fires.
   * @param {string[]} names the name table the load's records were read with
   * @param {RowCache} cache
   */
  install(names, cache) {
    this.names = names;
    this.nameIds = new Map(names.map((n, i) => [n, i]));
    this.tables = cache.tables;
    this.byId = cache.byId;
    this.rowById = cache.rowById;
    this.keyOfRow = cache.keyOfRow;
  }

  /**
   * Storage failed: the writes that were not durable were rejected. Replaces the engine by one
   * reloaded from storage, then tells change listeners about the rows those writes changed
   * (origin "storage") and calls back the live queries whose result changed.
   * @param {CRDTDBError} err
   * @param {Array<{ table: string, key: string }>} rows
   * @param {() => Promise<{ engine: import("./engine.js").Engine, names: string[],
   *   cache: RowCache }>} reload
   */
  async #recover(err, rows, reload) {
    const persister = this.persister;
    let fresh;
    try {
      fresh = await reload();
    } catch (reloadErr) {
      // Storage cannot even be read: nothing can be trusted in memory either (the owner
      // closes the database).
      throw new CRDTDBError(
        `storage failed (${err.message}) and could not be reloaded (${/** @type {any} */ (reloadErr)?.message ?? reloadErr}); the database was closed`,
        {
          cause: reloadErr,
        },
      );
    }
    if (this.closed || this.persister !== persister) {
      // (or this instance took over the storage meanwhile: its engine is storage's now)
      fresh.engine.delete();
      return;
    }
    const old = this.engine;
    this.engine = fresh.engine;
    old.delete();
    this.install(fresh.names, fresh.cache);
    this.generation++;
    this.recovering = false;
    this.persister?.recovered(this.engine.version());
    /** @type {unknown[]} */
    const errors = [];
    this.#rebindLive(errors);
    const seen = new Set();
    const unique = rows.filter(({ table, key }) => {
      const id = JSON.stringify([table, key]);
      return !seen.has(id) && seen.add(id);
    });
    this.#fireChanges(unique, "storage", errors);
    for (const e of errors) reportListenerError(e);
  }

  /**
   * Fires a change event per row, to the listeners registered now (one that an earlier
   * listener removed is skipped).
   * @param {Array<{ table: string, key: string }>} rows
   * @param {string | object} origin
   * @param {unknown[]} errors listener errors, reported by the caller
   */
  #fireChanges(rows, origin, errors) {
    if (this.changeListeners.size === 0 || rows.length === 0 || this.closed) return;
    const listeners = [...this.changeListeners];
    for (const { table, key } of rows) {
      const event = Object.freeze({ table, key, origin });
      for (const entry of listeners) {
        if (!this.changeListeners.has(entry)) continue; // removed by an earlier listener
        try {
          entry.cb(event);
        } catch (err) {
          errors.push(err);
        }
      }
    }
  }

  #refuseWhileRecovering() {
    if (this.recovering) {
      throw new CRDTDBError(
        "storage failed and the database is reloading its durable state: this write was not " +
          "made; retry once the database has recovered",
      );
    }
  }

  /**
   * Fires update events (once durable).
   * @param {Array<{ bytes: Uint8Array, origin: string | object }>} updates
   * @param {unknown[] | null} [errors] collects listener errors for the caller to report;
   *   null: this call reports them
   */
  #fireUpdates(updates, errors = null) {
    const collected = errors ?? [];
    for (const u of updates) {
      if (this.updateListeners.size === 0) break;
      const event = Object.freeze({ bytes: u.bytes, origin: u.origin });
      for (const entry of [...this.updateListeners]) {
        if (!this.updateListeners.has(entry)) continue;
        try {
          entry.cb(event);
        } catch (err) {
          collected.push(err);
        }
      }
    }
    // Without `errors` the caller leaves reporting to this call.
    if (errors === null) for (const err of collected) reportListenerError(err);
  }

  /**
   * @param {string} table
   * @returns {Map<string, Readonly<Record<string, unknown>>>}
   */
  rowsOf(table) {
    let m = this.tables.get(table);
    if (m === undefined) {
      m = new Map();
      this.tables.set(table, m);
    }
    return m;
  }

  /** @param {number} id @returns {Readonly<Record<string, unknown>>} */
  rowOfId = (id) => this.cached(id).row;

  /** @returns {boolean} whether anything listens for update events */
  get wantUpdate() {
    return this.updateListeners.size > 0;
  }

  /**
   * Commits one transaction of encoded ops and fans it out.
   * @param {Uint8Array} ops
   * @returns {Promise<void>} resolves once it is durable
   */
  commit(ops) {
    this.#refuseWhileRecovering();
    return this.take(this.engine.commit(ops, this.wantUpdate), "local").durable;
  }

  /**
   * Commits one op (see writeOp), written with this replica's name ids.
   * @param {number} kind
   * @param {string} table
   * @param {string} key
   * @param {unknown} value
   * @returns {Promise<void>} resolves once it is durable
   */
  commitOp(kind, table, key, value) {
    const w = this.engine.writer.reset();
    w.varint(1);
    writeOp(w, kind, table, key, value, this.nameIds);
    return this.commit(w.view());
  }

  /**
   * Merges a peer's changes and fans them out.
   * @param {Uint8Array} bytes
   * @param {string | object} origin
   * @returns {{ applied: number, pending: number }}
   */
  apply(bytes, origin) {
    this.#refuseWhileRecovering();
    const rec = this.take(this.engine.apply(bytes, this.wantUpdate), origin);
    // A merge that fails to persist is rolled back with the rest; sync asks for it again.
    rec.durable.catch(() => {});
    return { applied: rec.applied, pending: rec.pending };
  }

  /**
   * Merges changes another live instance of this database handed over (js/storage_host.js).
   * @param {Uint8Array} bytes
   * @returns {Promise<void>} resolves once they are durable
   */
  mergeForwarded(bytes) {
    this.#refuseWhileRecovering();
    return this.take(this.engine.apply(bytes, this.wantUpdate), "storage").durable;
  }

  /**
   * Commits the staged transaction plus `ops` and fans it out.
   * @param {Uint8Array} ops
   * @returns {Promise<void>} resolves once it is durable
   */
  commitStaged(ops) {
    this.#refuseWhileRecovering();
    return this.take(this.engine.commitStaged(ops, this.wantUpdate), "local").durable;
  }

  /**
   * Takes in a change record: cache, then change listeners, live queries, update listeners.
   * @param {import("./codec.js").Reader} reader
   * @param {string | object} origin
   * @param {boolean} [quiet] nothing visible changed (a move to another engine): fire nothing
   * @returns {import("./record.js").ChangeRecord & { durable: Promise<void> }}
   */
  take(reader, origin, quiet = false) {
    const namesBefore = this.names.length;
    let rec;
    try {
      rec = readChangeRecord(reader, this.names, (id) => this.byId[id]);
    } catch (err) {
      this.names.length = namesBefore;
      this.engine.undoLast();
      throw new CRDTDBError(`the change could not be taken in, so it was not made: ${/** @type {any} */ (err)?.message ?? err}`, {
        cause: err,
      });
    }
    for (let i = namesBefore; i < this.names.length; i++) this.nameIds.set(this.names[i], i);
    for (const c of rec.rows) {
      const rows = this.rowsOf(c.table);
      // (a listener may close the database below; the cache is complete before any runs)
      if (c.kind === GONE) {
        rows.delete(c.key);
        this.byId[c.id] = undefined;
        this.rowById[c.id] = undefined;
      } else {
        const row = /** @type {Readonly<Record<string, unknown>>} */ (c.row);
        rows.set(c.key, row);
        this.keyOfRow.set(row, c.key);
        if (c.kind === NEW) this.byId[c.id] = { table: c.table, key: c.key, row };
        else /** @type {import("./record.js").CachedRow} */ (this.byId[c.id]).row = row;
        this.rowById[c.id] = row;
      }
    }
    // Queue the storage write before any listener runs: a listener may close the database,
    // and close() writes what was queued.
    const durable =
      this.persister !== null && !this.closed ? this.persister.note(rec.update, origin, rec.rows) : DURABLE;
    if (quiet) return Object.assign(rec, { durable });
    /** @type {unknown[]} */
    const errors = [];
    this.#fireChanges(rec.rows, origin, errors);
    if (rec.subs.length > 0 && !this.closed) this.live.fire(rec.subs, this.rowOfId, errors);
    if (this.persister === null && rec.update !== null) {
      this.#fireUpdates([{ bytes: rec.update, origin }], errors); // memory: durable at once
    }
    // The change is committed whatever a listener does: report errors like DOM listeners'.
    for (const err of errors) reportListenerError(err);
    return Object.assign(rec, { durable });
  }

  /**
   * Row ids of a committed query, in result order, and (with `cursor`) the paging cursor.
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {number} limit
   * @param {number} offset
   * @param {boolean} reverse
   * @param {Uint8Array} [cursor]
   */
  queryIds(table, index, range, limit, offset, reverse, cursor) {
    const w = this.engine.writer.reset();
    writeQuery(w, table, index, range, limit, offset, reverse, false, cursor);
    return readQuery(this.engine.query(w.view()), cursor !== undefined);
  }

  /**
   * Rows of a committed query.
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {number} limit
   * @param {number} offset
   * @param {boolean} reverse
   */
  query(table, index, range, limit, offset, reverse) {
    const ids = this.queryIds(table, index, range, limit, offset, reverse).rowIds;
    const rowById = this.rowById;
    const rows = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const row = rowById[ids[i]];
      rows[i] = row !== undefined ? row : this.rowOfId(ids[i]);
    }
    return rows;
  }

  /**
   * Row keys of a committed query, in result order.
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {number} limit
   * @param {number} offset
   * @param {boolean} reverse
   * @returns {string[]}
   */
  keys(table, index, range, limit, offset, reverse) {
    const ids = this.queryIds(table, index, range, limit, offset, reverse).rowIds;
    const keys = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) keys[i] = this.cached(ids[i]).key;
    return keys;
  }

  /**
   * `[key, row]` pairs of a committed query, in result order.
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {number} limit
   * @param {number} offset
   * @param {boolean} reverse
   * @returns {Array<[string, Readonly<Record<string, unknown>>]>}
   */
  entries(table, index, range, limit, offset, reverse) {
    const ids = this.queryIds(table, index, range, limit, offset, reverse).rowIds;
    const out = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const e = this.cached(ids[i]);
      out[i] = [e.key, e.row];
    }
    return out;
  }

  /**
   * The cache entry of a row id the engine returned.
   * @param {number} id
   * @returns {import("./record.js").CachedRow}
   */
  cached(id) {
    const e = this.byId[id];
    if (e === undefined) throw new CRDTDBError(`internal error: the engine returned row ${id}, which is not cached`);
    return e;
  }

  /**
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @returns {number}
   */
  count(table, index, range) {
    const w = this.engine.writer.reset();
    writeQuery(w, table, index, range, -1, 0, false, false);
    return this.engine.count(w.view());
  }

  /**
   * Registers a live query and calls back once with the current result.
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {(rows: any[]) => void} cb
   * @returns {() => void} stops it (idempotent)
   */
  subscribe(table, index, range, cb) {
    const w = this.engine.writer.reset();
    writeQuery(w, table, index, range, -1, 0, false, false);
    const id = this.engine.subscribe(w.view());
    const rows = this.query(table, index, range, -1, 0, false);
    const q = this.live.add(id, rows, cb, { table, index, range });
    try {
      cb(rows.slice());
    } catch (err) {
      reportListenerError(err);
    }
    return () => {
      const current = this.live.remove(q);
      if (current !== undefined && !this.closed) this.engine.unsubscribe(current);
    };
  }

  /**
   * @param {string} table
   * @param {string} key
   * @returns {Record<string, unknown[]>}
   */
  conflicts(table, key) {
    const w = this.engine.writer.reset();
    w.string(table);
    w.string(key);
    return readConflicts(this.engine.conflicts(w.view()));
  }

  /**
   * @param {string} table
   * @param {string} key
   * @param {string} column
   * @returns {boolean} whether the column of the (visible) row shows a collaborative text
   */
  isText(table, key, column) {
    const w = this.engine.writer.reset();
    w.string(table);
    w.string(key);
    w.string(column);
    return this.engine.textState(w.view()).u8() === 1;
  }

  /**
   * Hands what is not yet durable to storage, releases the engine and drops the cache.
   * @returns {Promise<void>} settles once storage is closed
   */
  close() {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const p = this.persister;
    const stored = p?.close() ?? Promise.resolve();
    if (p instanceof Forwarder && p.outstanding) {
      // Kept until the owner acknowledged, or until this instance took over and wrote them.
      const engine = this.engine;
      stored.then(() => engine.delete());
    } else {
      this.engine.delete();
    }
    this.tables.clear();
    this.byId.length = 0;
    this.rowById.length = 0;
    this.changeListeners.clear();
    this.updateListeners.clear();
    this.live.clear();
    return stored;
  }
}
