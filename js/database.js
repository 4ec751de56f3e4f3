// CRDTDB: the database object of the public API (docs: shared/docs/api.md).
//
// State machine: "opening" (engine module loading; reads throw, writes reject) → "open" →
// "closed" (every call throws ClosedError). A failed open moves to "failed".
//
// The JS side keeps a cache of every visible row as frozen plain objects, per table, updated
// from the `changes` lists the engine returns on commit and on applyChanges; reads never call
// into WASM. Change listeners run synchronously after the cache holds the whole transaction.
//
// Storage: only "memory" exists in this version (IndexedDB persistence comes later).

import { DEFAULT_MAX_PENDING_BYTES, Engine, loadEngineModule } from "./engine.js";
import { ClosedError, CRDTDBError, UnknownIndexError } from "./errors.js";
import { Index } from "./query.js";
import { Table } from "./table.js";
import { Transaction } from "./transaction.js";
import { checkName, checkPeerId, checkTableName, describe, isPlainObject } from "./validate.js";

const OPTION_NAMES = ["indexes", "storage", "peerId", "maxPendingBytes"];
const PEER_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

/**
 * A random peer id: 16 base32 characters (80 bits) from crypto.getRandomValues.
 * @returns {string}
 */
export function randomPeerId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let id = "";
  for (const b of bytes) id += PEER_ID_ALPHABET[b & 31];
  return id;
}

/**
 * Freezes a JSON value and everything inside it.
 * @template T
 * @param {T} value
 * @returns {Readonly<T>}
 */
function deepFreeze(value) {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * @typedef {{ table: string, keys: readonly string[] }} IndexDef
 */

/**
 * Validates the `indexes` option: `{ name: { table: string, keys: string[] (non-empty) } }`.
 * @param {unknown} indexes
 * @returns {Map<string, IndexDef>}
 * @throws {TypeError} naming the offending index
 */
function parseIndexes(indexes) {
  /** @type {Map<string, IndexDef>} */
  const defs = new Map();
  if (indexes === undefined) return defs;
  if (!isPlainObject(indexes)) {
    throw new TypeError(`CRDTDB option indexes must be a plain object, got ${describe(indexes)}`);
  }
  for (const [name, def] of Object.entries(indexes)) {
    const what = `index ${JSON.stringify(name)}`;
    checkName(name, "index name", 1024);
    if (!isPlainObject(def)) {
      throw new TypeError(`${what} must be { table: string, keys: string[] }, got ${describe(def)}`);
    }
    for (const k of Object.keys(def)) {
      if (k !== "table" && k !== "keys") {
        throw new TypeError(`${what} has unknown property "${k}" (known: table, keys)`);
      }
    }
    let table;
    try {
      table = checkTableName(def.table);
    } catch (err) {
      throw new TypeError(`${what}: ${/** @type {Error} */ (err).message}`);
    }
    if (!Array.isArray(def.keys) || def.keys.length === 0) {
      throw new TypeError(`${what}: keys must be a non-empty array of column names, got ${describe(def.keys)}`);
    }
    const keys = def.keys.map((k, i) => {
      try {
        return checkName(k, `column name keys[${i}]`, 1024);
      } catch (err) {
        throw new TypeError(`${what}: ${/** @type {Error} */ (err).message}`);
      }
    });
    if (new Set(keys).size !== keys.length) {
      throw new TypeError(`${what}: keys name the same column twice`);
    }
    defs.set(name, Object.freeze({ table, keys: Object.freeze(keys) }));
  }
  return defs;
}

/**
 * Validates the constructor options.
 * @param {unknown} opts
 * @returns {{ peerId: string, maxPendingBytes: number, indexes: Map<string, IndexDef> }}
 */
function parseOptions(opts) {
  if (opts === undefined) opts = {};
  if (!isPlainObject(opts)) {
    throw new TypeError(`CRDTDB options must be a plain object, got ${describe(opts)}`);
  }
  const o = /** @type {Record<string, unknown>} */ (opts);
  for (const name of Object.keys(o)) {
    if (!OPTION_NAMES.includes(name)) {
      throw new TypeError(`unknown CRDTDB option "${name}" (known: ${OPTION_NAMES.join(", ")})`);
    }
  }
  if (o.storage === "indexeddb") {
    throw new CRDTDBError(
      'storage "indexeddb" is not available yet in this version of crdtdb; use storage: ' +
        '"memory" (the default) — persistence across reloads arrives with IndexedDB storage',
    );
  }
  if (o.storage !== undefined && o.storage !== "memory") {
    throw new TypeError(`CRDTDB option storage must be "memory", got ${describe(o.storage)}`);
  }
  const peerId = o.peerId === undefined ? randomPeerId() : checkPeerId(o.peerId);
  let maxPendingBytes = DEFAULT_MAX_PENDING_BYTES;
  if (o.maxPendingBytes !== undefined) {
    if (!Number.isSafeInteger(o.maxPendingBytes) || /** @type {number} */ (o.maxPendingBytes) < 0) {
      throw new TypeError(
        `CRDTDB option maxPendingBytes must be a non-negative integer, got ${describe(o.maxPendingBytes)}`,
      );
    }
    maxPendingBytes = /** @type {number} */ (o.maxPendingBytes);
  }
  const indexes = parseIndexes(o.indexes);
  return { peerId, maxPendingBytes, indexes };
}

/**
 * @typedef {{ table: string, key: string, origin: "local" | "remote" }} ChangeEvent
 */

/**
 * A local-first database replica. Every open instance is its own peer.
 *
 * ```js
 * const db = await CRDTDB.open("mydb", { storage: "memory" });
 * await db.table("users").set("u1", { name: "Ada" });
 * ```
 */
export class CRDTDB {
  /** @type {string} */
  #name;
  /** @type {string} */
  #peerId;
  /** @type {"opening" | "open" | "failed" | "closed"} */
  #state = "opening";
  /** @type {unknown} why the open failed (state "failed") */
  #openError = undefined;
  /** @type {Engine | null} */
  #engine = null;
  /** @type {Map<string, Map<string, Readonly<Record<string, unknown>>>>} table → key → row */
  #rows = new Map();
  /** @type {Map<string, Table>} */
  #tables = new Map();
  /** @type {Set<{ cb: (e: ChangeEvent) => void }>} */
  #changeListeners = new Set();
  /** @type {import("./table.js").TableCore} */
  #core;
  /** @type {Map<string, IndexDef>} declared indexes */
  #indexDefs;
  /** @type {Map<string, Index>} */
  #indexes = new Map();
  /**
   * Live queries.
   * @type {Set<{ table: string, index: string, range: object,
   *   cb: (rows: Array<Readonly<Record<string, unknown>>>) => void,
   *   keys: string[], rows: Array<Readonly<Record<string, unknown>>> }>}
   */
  #subscriptions = new Set();
  /** @type {Promise<unknown>} tail of the queue of transactions (they run one at a time) */
  #txQueue = Promise.resolve();

  /**
   * Resolves (to this database) once the database is open and readable.
   * @type {Promise<CRDTDB>}
   */
  ready;

  /**
   * Creates the database and starts opening it; await `db.ready` before using it (or use
   * `CRDTDB.open`).
   * @param {string} name database name
   * @param {{ indexes?: Record<string, { table: string, keys: string[] }>, storage?: "memory",
   *   peerId?: string, maxPendingBytes?: number }} [opts]
   *   `indexes`: secondary indexes by name (`keys` with more than one column: compound);
   *   `storage`: only "memory" is available in this version ("indexeddb" throws CRDTDBError);
   *   `peerId`: this replica's id, random when omitted; `maxPendingBytes`: bound on memory held
   *   for changes whose causal predecessors have not arrived (default 16 MiB).
   * @throws {TypeError} for invalid arguments; {CRDTDBError} for unavailable features
   */
  constructor(name, opts) {
    this.#name = checkName(name, "database name");
    const { peerId, maxPendingBytes, indexes } = parseOptions(opts);
    this.#peerId = peerId;
    this.#indexDefs = indexes;
    /** @type {import("./query.js").QueryCore} */
    const queries = {
      assertReadable: () => this.#assertReadable(),
      page: (table, index, range, limit, offset, reverse, cursor) =>
        this.#readyEngine().queryPage(table, index, range, limit, offset, reverse, cursor),
      query: (table, index, range, limit, offset, reverse) =>
        this.#rowsForKeys(
          table,
          this.#readyEngine().query(table, index, range, limit, offset, reverse, false),
        ),
      count: (table, index, range) => this.#readyEngine().count(table, index, range, false),
      row: (table, key) => this.#rowsOf(table).get(key),
      subscribe: (table, index, range, cb) => this.#subscribe(table, index, range, cb),
    };
    this.#core = {
      assertReadable: () => this.#assertReadable(),
      rowsOf: (table) => this.#rowsOf(table),
      commit: (ops) => this.#commit(ops),
      conflicts: (table, key) => /** @type {Engine} */ (this.#engine).conflicts(table, key),
      queries,
    };
    this.ready = loadEngineModule().then(
      (module) => {
        if (this.#state === "closed") {
          throw new ClosedError(`database "${this.#name}" was closed before it finished opening`);
        }
        const engine = new Engine(module, peerId, maxPendingBytes);
        try {
          engine.declareIndexes(
            [...indexes].map(([name, def]) => ({ name, table: def.table, keys: [...def.keys] })),
          );
        } catch (err) {
          engine.delete();
          throw err;
        }
        this.#engine = engine;
        this.#state = "open";
        return this;
      },
      (err) => {
        if (this.#state !== "closed") {
          this.#state = "failed";
          this.#openError = err;
        }
        throw err;
      },
    );
  }

  /**
   * Creates a database and waits until it is ready.
   * @param {string} name
   * @param {{ indexes?: Record<string, { table: string, keys: string[] }>, storage?: "memory",
   *   peerId?: string, maxPendingBytes?: number }} [opts]
   * @returns {Promise<CRDTDB>} rejects (never throws) on invalid options
   */
  static open(name, opts) {
    try {
      return new CRDTDB(name, opts).ready;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** @returns {string} the database name */
  get name() {
    return this.#name;
  }

  /** @returns {string} this replica's peer id */
  get peerId() {
    return this.#peerId;
  }

  /** @returns {boolean} whether `close()` was called */
  get closed() {
    return this.#state === "closed";
  }

  /**
   * The handle on table `name` (tables need no declaration). May be called before `ready`;
   * reading through it before then throws.
   * @param {string} name non-empty string
   * @returns {Table}
   */
  table(name) {
    this.#assertNotClosed();
    const n = checkTableName(name);
    let t = this.#tables.get(n);
    if (t === undefined) {
      t = new Table(this.#core, n);
      this.#tables.set(n, t);
    }
    return t;
  }

  /**
   * The handle on a declared index. Like reads, it throws the "await db.ready" CRDTDBError
   * before the database is ready (and ClosedError after close).
   * @param {string} name a name declared in the `indexes` option
   * @returns {Index}
   * @throws {UnknownIndexError} when no index of that name was declared
   */
  index(name) {
    this.#assertReadable();
    const def = typeof name === "string" ? this.#indexDefs.get(name) : undefined;
    if (def === undefined) {
      const known = [...this.#indexDefs.keys()].map((n) => JSON.stringify(n)).join(", ");
      throw new UnknownIndexError(
        `no index named ${typeof name === "string" ? JSON.stringify(name) : describe(name)} ` +
          `was declared (declared: ${known || "none"}); declare it in the indexes option`,
      );
    }
    let ix = this.#indexes.get(name);
    if (ix === undefined) {
      ix = new Index(this.#core.queries, name, def.table, def.keys);
      this.#indexes.set(name, ix);
    }
    return ix;
  }

  /**
   * Runs `callback(tx)` as one atomic transaction. Transactions run one at a time: one
   * started while another runs waits for it. Writes through `tx` are staged and resolve as
   * soon as they are staged; reads through `tx` see them, nobody else does until commit.
   * When the callback fulfils, everything commits as ONE causal transaction (one event batch
   * for sync), change events and live queries fire once, and the promise resolves with the
   * callback's value. When it throws or rejects, nothing it wrote is kept and the promise
   * rejects with the same error. Using `tx` after the callback settled throws CRDTDBError.
   *
   * Writes made outside the transaction (`db.table(t).set`, …) while it is open are not part
   * of it: they commit at once, as their own transaction, and a rollback does not undo them.
   * The commit re-validates the staged batch against them (e.g. an `update` of a row that
   * was deleted meanwhile makes the commit reject with NotFoundError, keeping nothing).
   * Do not await `db.transaction` inside a transaction callback: it waits for the running one
   * (this callback) to finish, so it would never settle.
   * @template T
   * @param {(tx: Transaction) => T | Promise<T>} callback
   * @returns {Promise<T>}
   */
  transaction(callback) {
    try {
      this.#assertNotClosed();
      if (typeof callback !== "function") {
        throw new TypeError(`transaction expects a callback function, got ${describe(callback)}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const run = () => this.#runTransaction(callback);
    const result = this.#txQueue.then(run, run);
    this.#txQueue = result.catch(() => {});
    return result;
  }

  /**
   * @template T
   * @param {(tx: Transaction) => T | Promise<T>} callback
   * @returns {Promise<T>}
   */
  async #runTransaction(callback) {
    await this.ready;
    this.#readyEngine();
    const tx = new Transaction({
      engine: () => this.#readyEngine(),
      rowsOf: (table) => this.#rowsOf(table),
      indexDef: (name) => {
        this.index(name);
        return /** @type {IndexDef} */ (this.#indexDefs.get(name));
      },
    });
    /** @type {T} */
    let value;
    try {
      value = await callback(tx);
    } catch (err) {
      tx._finish();
      this.#rollback();
      throw err;
    }
    tx._finish();
    const engine = this.#readyEngine();
    let changes;
    try {
      ({ changes } = engine.commitStaged());
    } catch (err) {
      this.#rollback();
      throw err;
    }
    this.#applyChangeList(changes, "local");
    return value;
  }

  #rollback() {
    if (this.#engine !== null && this.#state === "open") this.#engine.rollbackStaged();
  }

  /**
   * A compact, canonical summary of what this replica has seen (same changes seen ⇒
   * identical bytes). Pass it to a peer's `changesSince`.
   * @returns {Uint8Array}
   */
  version() {
    return this.#readyEngine().version();
  }

  /**
   * Every change the holder of `version` lacks, encoded for `applyChanges`.
   * @param {Uint8Array} [version] a peer's `version()`; omitted: every change
   * @returns {Uint8Array}
   * @throws {DecodeError} when `version` is malformed
   */
  changesSince(version) {
    const engine = this.#readyEngine();
    if (version !== undefined && !(version instanceof Uint8Array)) {
      throw new TypeError(`changesSince expects a Uint8Array version, got ${describe(version)}`);
    }
    return engine.changesSince(version);
  }

  /**
   * Merges changes from a peer (idempotent; any order). Validates everything first: on
   * malformed, truncated or hostile input it throws DecodeError and changes nothing. Changes
   * whose causal predecessors are missing are held until they arrive (`pending`). Change
   * listeners have all run when this returns.
   * @param {Uint8Array} bytes output of a peer's `changesSince`
   * @returns {{ applied: number, pending: number }}
   * @throws {DecodeError} | {QuotaError} when held changes would exceed maxPendingBytes
   */
  applyChanges(bytes) {
    const engine = this.#readyEngine();
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`applyChanges expects a Uint8Array, got ${describe(bytes)}`);
    }
    const { applied, pending, changes } = engine.applyChanges(bytes);
    this.#applyChangeList(changes, "remote");
    return { applied, pending };
  }

  /**
   * Subscribes to an event. "change" fires once per changed row, synchronously when a local
   * transaction commits or remote changes merge, with `{ table, key, origin }`.
   * @param {"change"} event
   * @param {(e: ChangeEvent) => void} callback
   * @returns {() => void} unsubscribes (calling it again does nothing)
   */
  on(event, callback) {
    this.#assertNotClosed();
    if (event !== "change") throw new TypeError(`unknown event ${JSON.stringify(event)}`);
    if (typeof callback !== "function") {
      throw new TypeError(`on("change") expects a function, got ${describe(callback)}`);
    }
    const entry = { cb: callback };
    this.#changeListeners.add(entry);
    return () => {
      this.#changeListeners.delete(entry);
    };
  }

  /**
   * Closes the database and releases the engine's memory. Every later call on the database or
   * its tables throws ClosedError. Closing twice does nothing.
   */
  close() {
    if (this.#state === "closed") return;
    if (this.#state === "opening") {
      // `ready` will reject with ClosedError; the caller asked for this, so do not report it
      // as an unhandled rejection (an explicit `await db.ready` still sees it).
      this.ready.catch(() => {});
    }
    this.#state = "closed";
    this.#engine?.delete();
    this.#engine = null;
    this.#rows.clear();
    this.#changeListeners.clear();
    this.#subscriptions.clear();
  }

  #assertNotClosed() {
    if (this.#state === "closed") throw new ClosedError(`database "${this.#name}" is closed`);
  }

  #assertReadable() {
    switch (this.#state) {
      case "open":
        return;
      case "closed":
        throw new ClosedError(`database "${this.#name}" is closed`);
      case "failed":
        throw new CRDTDBError(
          `database "${this.#name}" failed to open: ${
            /** @type {any} */ (this.#openError)?.message ?? this.#openError
          }`,
          { cause: this.#openError },
        );
      default:
        throw new CRDTDBError(
          `database "${this.#name}" is not ready yet: await db.ready (or use CRDTDB.open) ` +
            `before reading or writing`,
        );
    }
  }

  /** @returns {Engine} */
  #readyEngine() {
    this.#assertReadable();
    return /** @type {Engine} */ (this.#engine);
  }

  /**
   * @param {string} table
   * @returns {Map<string, Readonly<Record<string, unknown>>>}
   */
  #rowsOf(table) {
    let m = this.#rows.get(table);
    if (m === undefined) {
      m = new Map();
      this.#rows.set(table, m);
    }
    return m;
  }

  /**
   * @param {string} table
   * @param {string[]} keys from an engine query of the committed state
   * @returns {Array<Readonly<Record<string, unknown>>>}
   */
  #rowsForKeys(table, keys) {
    const rows = this.#rowsOf(table);
    return keys.map((k) => {
      const row = rows.get(k);
      if (row === undefined) {
        throw new CRDTDBError(`internal error: the engine returned row ${JSON.stringify(k)} of table ` +
          `${JSON.stringify(table)}, which is not in memory`);
      }
      return row;
    });
  }

  /**
   * @param {string} table
   * @param {string} index "" for the primary key
   * @param {object} range
   * @param {(rows: Array<Readonly<Record<string, unknown>>>) => void} cb
   * @returns {() => void}
   */
  #subscribe(table, index, range, cb) {
    const keys = this.#readyEngine().query(table, index, range, -1, 0, false, false);
    const rows = this.#rowsForKeys(table, keys);
    const sub = { table, index, range, cb, keys, rows };
    this.#subscriptions.add(sub);
    try {
      cb(rows.slice());
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
    return () => {
      this.#subscriptions.delete(sub);
    };
  }

  /** @param {object[]} ops one transaction */
  #commit(ops) {
    const { changes } = this.#readyEngine().commit(ops);
    this.#applyChangeList(changes, "local");
  }

  /**
   * Updates the row cache with a whole transaction's changes, then fires the listeners.
   * @param {import("./engine.js").RowChange[]} changes
   * @param {"local" | "remote"} origin
   */
  #applyChangeList(changes, origin) {
    for (const [table, key, row] of changes) {
      const rows = this.#rowsOf(table);
      if (row === null) rows.delete(key);
      else rows.set(key, deepFreeze(row));
    }
    /** @type {unknown[]} */
    const errors = [];
    this.#fireListeners(changes, origin, errors);
    this.#fireSubscriptions(changes, errors);
    // The transaction is committed whatever a listener does: report listener errors
    // asynchronously (like an event handler) instead of failing the write.
    for (const err of errors) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  /**
   * Re-runs every live query on a table the transaction touched; calls back those whose
   * result changed (other keys, or a row object replaced by the cache).
   * @param {import("./engine.js").RowChange[]} changes
   * @param {unknown[]} errors
   */
  #fireSubscriptions(changes, errors) {
    if (this.#subscriptions.size === 0 || changes.length === 0) return;
    if (this.#engine === null) return; // a change listener closed the database
    const tables = new Set(changes.map((c) => c[0]));
    for (const sub of [...this.#subscriptions]) {
      // A subscription stopped by an earlier callback in this round is not called.
      if (!this.#subscriptions.has(sub) || !tables.has(sub.table)) continue;
      let keys;
      let rows;
      try {
        keys = /** @type {Engine} */ (this.#engine).query(sub.table, sub.index, sub.range, -1, 0, false, false);
        rows = this.#rowsForKeys(sub.table, keys);
      } catch (err) {
        errors.push(err);
        continue;
      }
      const same =
        rows.length === sub.rows.length &&
        rows.every((r, i) => r === sub.rows[i] && keys[i] === sub.keys[i]);
      if (same) continue;
      sub.keys = keys;
      sub.rows = rows;
      try {
        sub.cb(rows.slice());
      } catch (err) {
        errors.push(err);
      }
    }
  }

  /**
   * @param {import("./engine.js").RowChange[]} changes
   * @param {"local" | "remote"} origin
   * @param {unknown[]} errors
   */
  #fireListeners(changes, origin, errors) {
    if (this.#changeListeners.size === 0) return;
    const listeners = [...this.#changeListeners];
    for (const [table, key] of changes) {
      const event = Object.freeze({ table, key, origin });
      for (const entry of listeners) {
        // A listener removed by an earlier one in this round is not called.
        if (!this.#changeListeners.has(entry)) continue;
        try {
          entry.cb(event);
        } catch (err) {
          errors.push(err);
        }
      }
    }
  }
}
