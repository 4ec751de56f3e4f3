// CRDTDB: the database object of the public API (docs: shared/docs/api.md). A thin shell:
// options, the open/close state machine, and the views; the replica core (js/replica.js)
// holds the engine, the row cache and the fan-out of changes.
//
// State machine: "opening" (engine module loading; reads throw, writes reject) → "open" →
// "closed" (every call throws ClosedError). A failed open moves to "failed".
//
// Storage: only "memory" exists in this version (IndexedDB persistence comes later).

import { Writer } from "./codec.js";
import { DEFAULT_MAX_PENDING_BYTES, Engine } from "./engine.js";
import { ClosedError, CRDTDBError, UnknownIndexError } from "./errors.js";
import { Index } from "./index_view.js";
import { init, loadEngineModule } from "./loader.js";
import { Replica } from "./replica.js";
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
  /** @type {Replica | null} */
  #replica = null;
  /** @type {Map<string, Table>} */
  #tables = new Map();
  /** @type {Map<string, IndexDef>} declared indexes */
  #indexDefs;
  /** @type {Map<string, Index>} */
  #indexes = new Map();
  /** @type {import("./table.js").ViewCore} */
  #core;
  /** Whether a transaction callback is running (another one rejects at once). */
  #inTransaction = false;

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
   *   `peerId`: this replica's id, random when omitted; `maxPendingBytes`: bound on the memory
   *   held for changes whose causal predecessors have not arrived (default 16 MiB; any safe
   *   integer).
   * @throws {TypeError} for invalid arguments; {CRDTDBError} for unavailable features
   */
  constructor(name, opts) {
    this.#name = checkName(name, "database name");
    const { peerId, maxPendingBytes, indexes } = parseOptions(opts);
    this.#peerId = peerId;
    this.#indexDefs = indexes;
    this.#core = { replica: () => this.#openReplica() };
    this.ready = loadEngineModule().then(
      (module) => {
        if (this.#state === "closed") {
          throw new ClosedError(`database "${this.#name}" was closed before it finished opening`);
        }
        const engine = new Engine(module, peerId, maxPendingBytes);
        try {
          const w = new Writer(256);
          w.varint(indexes.size);
          for (const [name, def] of indexes) {
            w.string(name);
            w.string(def.table);
            w.varint(def.keys.length);
            for (const k of def.keys) w.string(k);
          }
          engine.declareIndexes(w.view());
        } catch (err) {
          engine.delete();
          throw err;
        }
        this.#replica = new Replica(engine);
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
   * Loads the WebAssembly engine from `source`; optional, and only before the first open.
   * Without it the engine is loaded from `crdtdb.wasm` next to the package's own module (in
   * Node, read from the installed package).
   * @param {string | URL | Response | PromiseLike<Response> | ArrayBuffer | ArrayBufferView |
   *   WebAssembly.Module} [source] where the engine's `crdtdb.wasm` comes from
   * @returns {Promise<void>} rejects with a CRDTDBError naming the URL, the HTTP status or
   *   content type and the fix when the engine cannot be loaded
   */
  static init(source) {
    return init(source);
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
   * The row key of a row object that a read of this database returned (`get`, `query`,
   * `entries`, `iterate`, `subscribe`, and the same reads inside a transaction).
   * @param {unknown} row
   * @returns {string | undefined} undefined for any other value (copies of rows included)
   */
  keyOf(row) {
    const replica = this.#openReplica();
    return row !== null && typeof row === "object" ? replica.keyOfRow.get(row) : undefined;
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
    this.#openReplica();
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
      ix = new Index(this.#core, name, def.table, def.keys);
      this.#indexes.set(name, ix);
    }
    return ix;
  }

  /**
   * Runs `callback(tx)` as one atomic transaction. Writes through `tx` are validated as they
   * are made and resolve at once; reads through `tx` see them, nobody else does until commit.
   * When the callback fulfils, everything commits as ONE causal transaction (one event batch
   * for sync), change events and live queries fire once, and the promise resolves with the
   * callback's value. When it throws or rejects, nothing it wrote is kept and the promise
   * rejects with the same error. Using `tx` after the callback settled throws CRDTDBError.
   *
   * One transaction runs at a time: calling `db.transaction` while a callback runs (from
   * inside it, or concurrently) rejects at once with a CRDTDBError that says to use `tx`; it
   * never waits, so a nested call cannot deadlock. Writes made outside the transaction
   * (`db.table(t).set`, …) while it runs commit at once, as their own transaction; the commit
   * re-validates the batch against them (e.g. an `update` of a row deleted meanwhile makes
   * the commit reject with NotFoundError, keeping nothing).
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
      if (this.#inTransaction) {
        throw new CRDTDBError(
          "a transaction is already running on this database: inside a transaction callback, " +
            "read and write through its tx handle (tx.table(…)) instead of starting another " +
            "transaction; elsewhere, await the running transaction first",
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    this.#inTransaction = true;
    return this.#runTransaction(callback).finally(() => {
      this.#inTransaction = false;
    });
  }

  /**
   * @template T
   * @param {(tx: Transaction) => T | Promise<T>} callback
   * @returns {Promise<T>}
   */
  async #runTransaction(callback) {
    await this.ready;
    this.#openReplica();
    const tx = new Transaction({
      replica: () => this.#openReplica(),
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
    const replica = this.#openReplica();
    try {
      replica.commitStaged(tx._takeBatch());
    } catch (err) {
      this.#rollback();
      throw err;
    }
    return value;
  }

  #rollback() {
    if (this.#replica !== null && this.#state === "open") this.#replica.engine.rollbackStaged();
  }

  /**
   * A compact, canonical summary of what this replica has seen (same changes seen ⇒
   * identical bytes). Pass it to a peer's `changesSince`.
   * @returns {Uint8Array}
   */
  version() {
    return this.#openReplica().engine.version();
  }

  /**
   * Every change the holder of `version` lacks, encoded for `applyChanges`.
   * @param {Uint8Array} [version] a peer's `version()`; omitted: every change
   * @returns {Uint8Array}
   * @throws {DecodeError} when `version` is malformed
   */
  changesSince(version) {
    const replica = this.#openReplica();
    if (version !== undefined && !(version instanceof Uint8Array)) {
      throw new TypeError(`changesSince expects a Uint8Array version, got ${describe(version)}`);
    }
    return replica.engine.changesSince(version);
  }

  /**
   * Merges changes from a peer (idempotent; any order). Validates everything first: on
   * malformed, truncated or hostile input it throws DecodeError and changes nothing. Changes
   * whose causal predecessors are missing are held until they arrive (`pending`). Change
   * listeners have all run when this returns.
   * @param {Uint8Array} bytes output of a peer's `changesSince` (or an `update` event)
   * @param {{ origin?: string }} [opts] `origin` is passed to the `change` and `update`
   *   events this merge fires (a sync provider passes itself, to skip its own echo);
   *   "remote" when omitted
   * @returns {{ applied: number, pending: number }}
   * @throws {DecodeError} | {QuotaError} when held changes would exceed maxPendingBytes
   */
  applyChanges(bytes, opts) {
    const replica = this.#openReplica();
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`applyChanges expects a Uint8Array, got ${describe(bytes)}`);
    }
    let origin = "remote";
    if (opts !== undefined) {
      if (opts === null || typeof opts !== "object") {
        throw new TypeError(`applyChanges options must be an object, got ${describe(opts)}`);
      }
      const o = /** @type {{ origin?: unknown }} */ (opts).origin;
      if (o !== undefined) {
        if (typeof o !== "string") {
          throw new TypeError(`applyChanges option origin must be a string, got ${describe(o)}`);
        }
        origin = o;
      }
    }
    return replica.apply(bytes, origin);
  }

  /**
   * Subscribes to an event:
   * - "change": once per changed row, synchronously when a local transaction commits or
   *   remote changes merge, with `{ table, key, origin }` ("local", or applyChanges's origin);
   * - "update": once per committed local transaction or merged remote message, once durable,
   *   with `{ bytes, origin }`: exactly its new events, encoded for a peer's applyChanges.
   * A listener that throws does not stop the write or the other listeners; its error is
   * reported like a DOM event listener's.
   * @param {"change" | "update"} event
   * @param {(e: any) => void} callback
   * @returns {() => void} unsubscribes (calling it again does nothing)
   */
  on(event, callback) {
    this.#assertNotClosed();
    if (event !== "change" && event !== "update") {
      throw new TypeError(`unknown event ${JSON.stringify(event)} (known: "change", "update")`);
    }
    if (typeof callback !== "function") {
      throw new TypeError(`on(${JSON.stringify(event)}) expects a function, got ${describe(callback)}`);
    }
    const entry = { cb: callback };
    const replica = this.#replica;
    let removed = false;
    const set = () => {
      const r = /** @type {Replica} */ (this.#replica);
      return event === "change" ? r.changeListeners : r.updateListeners;
    };
    if (replica !== null) {
      set().add(entry);
    } else {
      // Before ready: register once the replica exists.
      this.ready.then(() => {
        if (!removed && this.#replica !== null) set().add(entry);
      }, () => {});
    }
    return () => {
      removed = true;
      if (this.#replica !== null) set().delete(entry);
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
    this.#replica?.close();
    this.#replica = null;
  }

  #assertNotClosed() {
    if (this.#state === "closed") throw new ClosedError(`database "${this.#name}" is closed`);
  }

  /** @returns {Replica} the open replica; throws ClosedError or the not-ready CRDTDBError */
  #openReplica() {
    switch (this.#state) {
      case "open":
        return /** @type {Replica} */ (this.#replica);
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
}
