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
import { ClosedError, CRDTDBError } from "./errors.js";
import { Table } from "./table.js";
import { checkName, checkPeerId, checkTableName, describe, isPlainObject } from "./validate.js";

const OPTION_NAMES = ["storage", "peerId", "maxPendingBytes"];
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
 * Validates the constructor options.
 * @param {unknown} opts
 * @returns {{ peerId: string, maxPendingBytes: number }}
 */
function parseOptions(opts) {
  if (opts === undefined) opts = {};
  if (!isPlainObject(opts)) {
    throw new TypeError(`CRDTDB options must be a plain object, got ${describe(opts)}`);
  }
  const o = /** @type {Record<string, unknown>} */ (opts);
  if (o.indexes !== undefined) {
    throw new CRDTDBError(
      "the indexes option is not available yet in this version of crdtdb (secondary indexes " +
        "and queries arrive in a later release)",
    );
  }
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
  return { peerId, maxPendingBytes };
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

  /**
   * Resolves (to this database) once the database is open and readable.
   * @type {Promise<CRDTDB>}
   */
  ready;

  /**
   * Creates the database and starts opening it; await `db.ready` before using it (or use
   * `CRDTDB.open`).
   * @param {string} name database name
   * @param {{ storage?: "memory", peerId?: string, maxPendingBytes?: number }} [opts]
   *   `storage`: only "memory" is available in this version ("indexeddb" throws CRDTDBError);
   *   `peerId`: this replica's id, random when omitted; `maxPendingBytes`: bound on memory held
   *   for changes whose causal predecessors have not arrived (default 16 MiB).
   * @throws {TypeError} for invalid arguments; {CRDTDBError} for unavailable features
   */
  constructor(name, opts) {
    this.#name = checkName(name, "database name");
    const { peerId, maxPendingBytes } = parseOptions(opts);
    this.#peerId = peerId;
    this.#core = {
      assertReadable: () => this.#assertReadable(),
      rowsOf: (table) => this.#rowsOf(table),
      commit: (ops) => this.#commit(ops),
      conflicts: (table, key) => /** @type {Engine} */ (this.#engine).conflicts(table, key),
    };
    this.ready = loadEngineModule().then(
      (module) => {
        if (this.#state === "closed") {
          throw new ClosedError(`database "${this.#name}" was closed before it finished opening`);
        }
        this.#engine = new Engine(module, peerId, maxPendingBytes);
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
   * @param {{ storage?: "memory", peerId?: string, maxPendingBytes?: number }} [opts]
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
    if (this.#changeListeners.size === 0) return;
    const listeners = [...this.#changeListeners];
    /** @type {unknown[]} */
    const errors = [];
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
    // The transaction is committed whatever a listener does: report listener errors
    // asynchronously (like an event handler) instead of failing the write.
    for (const err of errors) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
