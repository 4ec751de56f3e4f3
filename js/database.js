// CRDTDB: the database object of the public API (docs: shared/docs/api.md). A thin shell:
// options, the open/close state machine, and the views; the replica core (js/replica.js)
// holds the engine, the row cache and the fan-out of changes.
//
// State machine: "opening" (engine module loading; reads throw, writes reject) → "open" →
// "closed" (every call throws ClosedError). A failed open moves to "failed".
//
// Storage: "indexeddb" (the default where IndexedDB exists) persists through the storage
// adapter (js/storage/); "memory" keeps nothing; a MemoryStorage instance (or any adapter)
// keeps the database for as long as it lives. Opening a persistent database loads its row
// states and history records into a fresh engine (O(rows): nothing is replayed). The instance
// that claims the storage (claimDatabase) owns it: it reconciles the declared indexes with
// the stored ones, every call's changes reach storage through js/persistence.js, and it
// merges and writes what the other live instances hand it (js/storage_host.js). Those others
// hand their writes over (js/forwarder.js) and wait in line to take over (#takeOver).

import { Writer } from "./codec.js";
import { DEFAULT_MAX_PENDING_BYTES, Engine } from "./engine.js";
import { ClosedError, CRDTDBError, UnknownIndexError } from "./errors.js";
import { Index } from "./index_view.js";
import { init, loadEngineModule } from "./loader.js";
import { readChangeRecord } from "./record.js";
import { lockAfterRelease, tryLock, waitLock } from "./locks.js";
import { Forwarder } from "./forwarder.js";
import { Persister, readStorageRecord } from "./persistence.js";
import { Presence } from "./presence.js";
import { ackedVersions, keepAcked } from "./sync/acked.js";
import { Replica, reportListenerError, RowCache } from "./replica.js";
import { StorageHost } from "./storage_host.js";
import { emptyWrite, isEmptyWrite, rowBatches, STORAGE_FORMAT } from "./storage/adapter.js";
import { IndexedDBStorage } from "./storage/indexeddb.js";
import { Table } from "./table.js";
import { Transaction } from "./transaction.js";
import { checkName, checkPeerId, checkTableName, describe, isPlainObject } from "./validate.js";

const OPTION_NAMES = ["indexes", "storage", "peerId", "maxPendingBytes", "history"];

/** Databases being closed in this realm → settles once their last writes landed. */
const closing = new Map();

/**
 * @typedef {object} StorageContext what opening a persistent database and taking it over use
 * @property {any} module the engine module
 * @property {number} maxPendingBytes
 * @property {Uint8Array} defs encoded index definitions
 * @property {import("./storage/adapter.js").StorageAdapter} adapter
 * @property {() => void} closeAdapter closes an adapter this instance made
 * @property {string | undefined} explicitPeer the caller's peer id
 */

/** @type {WeakMap<object, string>} storage adapter → its id in lock and channel names */
const adapterIds = new WeakMap();
/** Tells this realm's adapters from those of other tabs and workers. */
const realm = Math.random().toString(36).slice(2);
let adapterCount = 0;

/**
 * What names a database's storage in locks and channels: IndexedDB databases are shared by
 * every tab and worker of the origin; an adapter object (e.g. a MemoryStorage) only by the
 * instances opened on it, whatever name they give.
 * @param {string} name
 * @param {"indexeddb" | import("./storage/adapter.js").StorageAdapter} storage
 */
function storageKey(name, storage) {
  if (storage === "indexeddb") {
    // Without Web Locks the lock is this realm's: so must the channel be, or instances of
    // other realms (workers) on other copies of the database would take each other's writes.
    return /** @type {any} */ (globalThis).navigator?.locks ? name : `${name}\u0000realm:${realm}`;
  }
  let id = adapterIds.get(storage);
  if (id === undefined) adapterIds.set(storage, (id = `${realm}.${++adapterCount}`));
  return `\u0000adapter:${id}`;
}

/** @param {string} key a storageKey */
const lockKey = (key) => `crdtdb:${key}`;

/**
 * Claims a persistent database's storage for one live instance, its owner: the only one that
 * writes it (other live instances hand their writes to it, js/forwarder.js). The claim is a
 * Web Lock where there is one (held until close, released by the browser when the tab or
 * worker dies), else a lock of this realm.
 * @param {string} storage its storageKey
 * @returns {Promise<(() => void) | null>} releases the claim; null: another live instance owns it
 */
async function claimDatabase(storage) {
  const key = lockKey(storage);
  // An instance of this realm that is closing hands the database over once its writes landed.
  let handedOver = false;
  while (closing.has(key)) {
    handedOver = true;
    await closing.get(key);
  }
  return handedOver ? lockAfterRelease(key) : tryLock(key);
}

/**
 * @param {string} name
 * @param {string} why
 */
const busy = (name, why) =>
  new CRDTDBError(`database "${name}" is open in another instance (this tab, another tab or a worker): ${why}`);

/**
 * Encodes index definitions for the engine (bindings/convert.h).
 * @param {Map<string, IndexDef>} indexes
 * @returns {Uint8Array}
 */
function encodeIndexDefs(indexes) {
  const w = new Writer(256);
  w.varint(indexes.size);
  for (const [name, def] of indexes) {
    w.string(name);
    w.string(def.table);
    w.varint(def.keys.length);
    for (const k of def.keys) w.string(k);
  }
  return w.view();
}
const PEER_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

/**
 * @param {unknown} v
 * @returns {v is string} whether `v` has the shape randomPeerId() gives
 */
const isRandomPeerId = (v) => typeof v === "string" && v.length === 16 && [...v].every((c) => PEER_ID_ALPHABET.includes(c));

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
 * @returns {{ peerId: string | undefined, maxPendingBytes: number, indexes: Map<string, IndexDef>,
 *   storage: "memory" | "indexeddb" | import("./storage/adapter.js").StorageAdapter }}
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
  /** @type {"memory" | "indexeddb" | import("./storage/adapter.js").StorageAdapter} */
  let storage;
  const hasIndexedDB = typeof globalThis.indexedDB === "object" && globalThis.indexedDB !== null;
  if (o.storage === undefined) {
    storage = hasIndexedDB ? "indexeddb" : "memory";
  } else if (o.storage === "memory") {
    storage = "memory";
  } else if (o.storage === "indexeddb") {
    if (!hasIndexedDB) {
      throw new CRDTDBError(
        'storage "indexeddb" needs IndexedDB, which this environment lacks; use storage: ' +
          '"memory" (in Node, fake-indexeddb provides IndexedDB for tests)',
      );
    }
    storage = "indexeddb";
  } else if (
    o.storage !== null && typeof o.storage === "object" &&
    ["load", "write", "close"].every((m) => typeof (/** @type {any} */ (o.storage))[m] === "function")
  ) {
    storage = /** @type {any} */ (o.storage);
  } else {
    throw new TypeError(
      `CRDTDB option storage must be "indexeddb", "memory" or a storage adapter ` +
        `(e.g. new MemoryStorage()), got ${describe(o.storage)}`,
    );
  }
  const peerId = o.peerId === undefined ? undefined : checkPeerId(o.peerId);
  let maxPendingBytes = DEFAULT_MAX_PENDING_BYTES;
  if (o.maxPendingBytes !== undefined) {
    if (!Number.isSafeInteger(o.maxPendingBytes) || /** @type {number} */ (o.maxPendingBytes) < 0) {
      throw new TypeError(
        `CRDTDB option maxPendingBytes must be a non-negative integer, got ${describe(o.maxPendingBytes)}`,
      );
    }
    maxPendingBytes = /** @type {number} */ (o.maxPendingBytes);
  }
  let historyMaxBytes = 0;
  if (o.history !== undefined) {
    const h = /** @type {any} */ (o.history);
    if (!isPlainObject(h) || Object.keys(h).some((k) => k !== "maxBytes")) {
      throw new TypeError(`CRDTDB option history must be { maxBytes }, got ${describe(o.history)}`);
    }
    if (h.maxBytes !== undefined) {
      if (!Number.isSafeInteger(h.maxBytes) || h.maxBytes < 1) {
        throw new TypeError(`CRDTDB option history.maxBytes must be a positive integer, got ${describe(h.maxBytes)}`);
      }
      historyMaxBytes = h.maxBytes;
    }
  }
  const indexes = parseIndexes(o.indexes);
  return { peerId, maxPendingBytes, historyMaxBytes, indexes, storage };
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
  /** @type {number} history budget in bytes (0: none) */
  #historyMaxBytes = 0;
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
   * @type {Promise<unknown> | null} settles once the running transaction no longer stages in
   *   the engine (committed or rolled back; it may still wait for durability)
   */
  #transactions = null;

  /**
   * Resolves (to this database) once the database is open and readable.
   * @type {Promise<CRDTDB>}
   */
  ready;

  /**
   * Creates the database and starts opening it; await `db.ready` before using it (or use
   * `CRDTDB.open`).
   * @param {string} name database name
   * @param {{ indexes?: Record<string, { table: string, keys: string[] }>,
   *   storage?: "indexeddb" | "memory" | import("./storage/adapter.js").StorageAdapter,
   *   peerId?: string, maxPendingBytes?: number, history?: { maxBytes?: number } }} [opts]
   *   `indexes`: secondary indexes by name (`keys` with more than one column: compound);
   *   `storage`: "indexeddb" (the default where IndexedDB exists), "memory" (the default
   *   elsewhere) or an adapter such as a MemoryStorage; `peerId`: this replica's id (by default
   *   a random one, persisted with the database); `maxPendingBytes`: bound on the memory
   *   held for changes whose causal predecessors have not arrived (default 16 MiB; any safe
   *   integer); `history.maxBytes`: a budget for the history kept (by default none): past it,
   *   the oldest history is folded down to half of it, as compact() does.
   * @throws {TypeError} for invalid arguments; {CRDTDBError} for unavailable features
   */
  constructor(name, opts) {
    this.#name = checkName(name, "database name");
    const { peerId, maxPendingBytes, historyMaxBytes, indexes, storage } = parseOptions(opts);
    this.#historyMaxBytes = historyMaxBytes;
    this.#peerId = peerId ?? (storage === "memory" ? randomPeerId() : "");
    this.#indexDefs = indexes;
    this.#core = { replica: () => this.#openReplica() };
    this.ready = this.#open(peerId, maxPendingBytes, storage).then(
      () => this,
      (err) => {
        if (this.#state !== "closed") {
          this.#state = "failed";
          this.#openError = err;
        }
        this.#release?.();
        this.#release = null;
        throw err;
      },
    );
  }

  /** @type {(() => void) | null} releases this instance's claim on its database */
  #release = null;
  /** The database was open before it failed (storage could not be reloaded). */
  #openedOnce = false;

  /**
   * @param {string | undefined} peerId
   * @param {number} maxPendingBytes
   * @param {"memory" | "indexeddb" | import("./storage/adapter.js").StorageAdapter} storage
   */
  async #open(peerId, maxPendingBytes, storage) {
    const module = await loadEngineModule();
    this.#assertOpening();
    const defs = encodeIndexDefs(this.#indexDefs);
    if (storage === "memory") {
      const engine = new Engine(module, this.#peerId, maxPendingBytes, this.#historyMaxBytes);
      try {
        engine.declareIndexes(defs);
      } catch (err) {
        engine.delete();
        throw err;
      }
      this.#replica = new Replica(engine);
      this.#state = "open";
      return;
    }
    this.#storageKey = storageKey(this.#name, storage);
    const release = await claimDatabase(this.#storageKey);
    if (this.#state === "closed") release?.();
    this.#assertOpening();
    if (release === null && typeof BroadcastChannel !== "function") {
      throw busy(this.#name, "without BroadcastChannel here, one instance at a time can open it");
    }
    this.#release = release;
    const adapter = storage === "indexeddb" ? new IndexedDBStorage(this.#name) : storage;
    const closeAdapter = () => {
      if (storage === "indexeddb") adapter.close();
    };
    let state;
    try {
      state = await this.#readStorage(adapter);
      this.#assertOpening();
      this.#checkFormat(state);
    } catch (err) {
      closeAdapter();
      throw err;
    }
    /** @type {StorageContext} */
    const ctx = { module, maxPendingBytes, defs, adapter, closeAdapter, explicitPeer: peerId };
    if (release === null) {
      await this.#openFollower(ctx, state);
      return;
    }
    let opened;
    try {
      opened = await this.#ownStorage(ctx, state, true);
      this.#assertOpening();
    } catch (err) {
      opened?.engine.delete();
      closeAdapter();
      throw err;
    }
    const replica = new Replica(opened.engine);
    replica.install(opened.names, opened.cache);
    replica.persistTo(adapter, this.#reloader(ctx, () => true), this.#fatal);
    this.#replica = replica;
    this.#state = "open";
    this.#host(replica);
    if (storage === "indexeddb") {
      // Ask the browser not to evict this origin's data under storage pressure.
      /** @type {any} */ (globalThis).navigator?.storage?.persist?.().catch(() => {});
    }
  }

  /** Storage cannot even be read back: close, and say why on every later call. */
  #fatal = (/** @type {CRDTDBError} */ err) => {
    if (this.#state !== "open") return;
    this.#openedOnce = true;
    this.#state = "failed";
    this.#openError = err;
    this.#replica?.close();
    this.#replica = null;
    this.#stopWaiting?.();
    this.#stopWaiting = null;
    this.#closeFollowerAdapter?.();
    this.#closeFollowerAdapter = null;
    this.#storageHost?.close(Promise.resolve());
    this.#storageHost = null;
    this.#release?.();
    this.#release = null;
  };

  /**
   * Everything an open needs from storage (and how many rows, if progress is followed).
   * @param {import("./storage/adapter.js").StorageAdapter} adapter
   */
  #readStorage(adapter) {
    return adapter.load({ countRows: this.#progressListeners.size > 0 });
  }

  /** @param {import("./storage/adapter.js").StoredState} state */
  #checkFormat(state) {
    const format = state.meta.get("format");
    if (format !== undefined && format !== STORAGE_FORMAT) {
      throw new CRDTDBError(
        `database "${this.#name}" is stored in format ${String(format)}, which this version of ` +
          `crdtdb (format ${STORAGE_FORMAT}) cannot read: upgrade crdtdb`,
      );
    }
  }

  /**
   * Loads storage into an engine that tracks it, as its owner: sets the peer id, writes the
   * meta storage lacks and brings the stored index entries in line with the declared ones.
   * @param {StorageContext} ctx
   * @param {import("./storage/adapter.js").StoredState} state
   * @param {boolean} opening at open (else: taking over from an owner that left, keeping this
   *   instance's id)
   */
  async #ownStorage(ctx, state, opening) {
    // The peer id: the caller's, else the one this database made for default opens (the
    // database lock makes this instance its only holder), else a new one. Reusing it after a
    // crash is safe because own events leave (update events, changesSince) only once durable,
    // so no seq that left is ever reissued with other content.
    const listed = state.meta.get("peers");
    const peers = /** @type {string[]} */ (Array.isArray(listed) ? listed : []);
    const stored = state.meta.get("defaultPeer");
    const reusable = isRandomPeerId(stored) ? stored : undefined;
    const claimsDefault = opening && ctx.explicitPeer === undefined;
    if (opening) this.#peerId = ctx.explicitPeer ?? reusable ?? randomPeerId();
    const write = emptyWrite();
    if (state.meta.get("format") === undefined) write.meta.push(["format", STORAGE_FORMAT]);
    if (!peers.includes(this.#peerId)) write.meta.push(["peers", [...peers, this.#peerId]]);
    if (claimsDefault && reusable === undefined) write.meta.push(["defaultPeer", this.#peerId]);
    const opened = await this.#loadEngine(ctx, state, true);
    try {
      this.#reconcileIndexes(opened.engine, state.meta.get("indexes"), write);
      const entries = write.indexPuts.length;
      let reported = -1;
      const progress = (/** @type {number} */ n) => {
        if (n <= reported) return;
        reported = n;
        this.#progress({ phase: "indexes", done: n, total: entries });
      };
      if (entries > 0) progress(0);
      if (!isEmptyWrite(write)) await ctx.adapter.write(write, entries > 0 ? progress : undefined);
      if (entries > 0) progress(entries); // (if the adapter did not say)
    } catch (err) {
      opened.engine.delete();
      throw err;
    }
    return opened;
  }

  /**
   * Opens the durable state again after a storage failure (tracking storage if this
   * instance owns it).
   * @param {StorageContext} ctx
   * @param {() => boolean} keepId whether the peer id may go on (else a new one)
   */
  #reloader(ctx, keepId) {
    return async () => {
      const s = await this.#readStorage(ctx.adapter);
      const owner = this.#replica?.persister instanceof Persister;
      if (!keepId()) {
        // This instance's events that were not durable may have left through changesSince
        // (only an owner holds them back): they must never be reissued with other content.
        if (ctx.explicitPeer !== undefined) {
          throw new CRDTDBError(`peer id "${ctx.explicitPeer}" may not go on after its writes were lost`);
        }
        this.#peerId = randomPeerId();
      }
      return this.#loadEngine(ctx, s, owner);
    };
  }

  /** @type {Set<(e: OpenProgress) => void>} */
  #progressListeners = new Set();

  /**
   * Tells progress listeners how far a long step got.
   * @param {OpenProgress} e
   */
  #progress(e) {
    if (this.#progressListeners.size === 0) return;
    const event = Object.freeze(e);
    for (const cb of [...this.#progressListeners]) {
      try {
        cb(event);
      } catch (err) {
        reportListenerError(err);
      }
    }
  }

  /** Names this database's storage in locks and channels (storageKey). */
  #storageKey = "";
  /** @type {StorageHost | null} takes the writes of the other live instances (owner) */
  #storageHost = null;
  /** @type {(() => void) | null} stops waiting to own the storage (another instance owns it) */
  #stopWaiting = null;
  /** @type {(() => void) | null} closes the adapter a non-owner reads storage with */
  #closeFollowerAdapter = null;

  /**
   * Takes the writes the other live instances of this database hand over (js/storage_host.js).
   * @param {Replica} replica
   */
  #host(replica) {
    if (typeof BroadcastChannel !== "function") return;
    const host = new StorageHost(this.#storageKey, (bytes) => (replica.recovering ? null : replica.mergeForwarded(bytes)));
    // Writes that came while it reloaded were not taken: the senders send them again.
    replica.onRecovered = () => host.announce();
    this.#storageHost = host;
  }

  /**
   * Opens as one more live instance of a database another one owns: its own peer id, the
   * stored state, writes handed to the owner; and waits in line to own it.
   * @param {StorageContext} ctx
   * @param {import("./storage/adapter.js").StoredState} state
   */
  async #openFollower(ctx, state) {
    this.#peerId = ctx.explicitPeer ?? randomPeerId();
    let opened;
    try {
      opened = await this.#loadEngine(ctx, state, false);
      if (this.#state === "closed") opened.engine.delete();
      this.#assertOpening();
    } catch (err) {
      ctx.closeAdapter();
      throw err;
    }
    const replica = new Replica(opened.engine);
    replica.install(opened.names, opened.cache);
    replica.forwardTo(this.#storageKey, this.#reloader(ctx, () => false), this.#fatal);
    this.#replica = replica;
    this.#state = "open";
    this.#closeFollowerAdapter = ctx.closeAdapter;
    const wait = new AbortController();
    this.#stopWaiting = () => wait.abort();
    waitLock(lockKey(this.#storageKey), wait.signal).then(
      (release) => this.#takeOver(ctx, replica, release),
      () => {},
    );
  }

  /**
   * The owner left (closed, or its tab died): this instance owns the storage from now on.
   * A closing instance only writes what the old owner did not acknowledge.
   * @param {StorageContext} ctx
   * @param {Replica} replica
   * @param {() => void} release
   */
  async #takeOver(ctx, replica, release) {
    this.#stopWaiting = null;
    this.#closeFollowerAdapter = null;
    const forwarder = /** @type {Forwarder} */ (replica.persister);
    const idle = async () => {
      // A reload after a failure, or a transaction staged in the engine, would be lost with
      // the engine: move once neither runs.
      for (;;) {
        if (replica.recovery !== null) await replica.recovery;
        else if (this.#transactions !== null && !replica.closed) await this.#transactions;
        else return;
      }
    };
    let fresh;
    try {
      await idle();
      if (replica.closed && !forwarder.outstanding) {
        release();
        ctx.closeAdapter();
        return;
      }
      const state = await this.#readStorage(ctx.adapter);
      this.#checkFormat(state);
      fresh = await this.#ownStorage(ctx, state, false);
      await idle();
    } catch (err) {
      fresh?.engine.delete();
      release();
      const error = new CRDTDBError(
        `the instance that owned database "${this.#name}" left, and its storage could not be taken over: ${/** @type {any} */ (err)?.message ?? err}`,
        { cause: err },
      );
      for (const b of forwarder.handOver()) b.reject(error);
      if (replica.closed) ctx.closeAdapter();
      else this.#fatal(error);
      return;
    }
    if (replica.closed) {
      // (the old owner may have acknowledged everything meanwhile, and the engine is gone)
      if (forwarder.outstanding) await this.#finalWrite(ctx, replica, fresh.engine, forwarder);
      else {
        fresh.engine.delete();
        ctx.closeAdapter();
      }
      release();
      return;
    }
    this.#release = release;
    // This instance's events that were not durable may have left through changesSince while
    // it did not own storage: until its first write as owner lands, a failure renews its id.
    let landed = false;
    replica.takeOver(fresh, ctx.adapter, this.#reloader(ctx, () => landed), this.#fatal);
    replica.persister?.note(null, "storage", []).then(
      () => (landed = true),
      () => {},
    );
    this.#host(replica);
  }

  /**
   * A closing instance took over: writes what the old owner did not acknowledge, then closes.
   * @param {StorageContext} ctx
   * @param {Replica} replica closed, its engine kept until this settles
   * @param {Engine} fresh storage's state, tracking storage
   * @param {Forwarder} forwarder
   */
  async #finalWrite(ctx, replica, fresh, forwarder) {
    const pending = forwarder.handOver();
    try {
      fresh.apply(replica.engine.changesSince(fresh.version()), false);
      await ctx.adapter.write(readStorageRecord(fresh.takeStorage()));
      for (const b of pending) b.resolve();
    } catch (err) {
      for (const b of pending) b.reject(err);
    } finally {
      fresh.delete();
      ctx.closeAdapter();
    }
  }

  #assertOpening() {
    if (this.#state === "closed") {
      throw new ClosedError(`database "${this.#name}" was closed before it finished opening`);
    }
  }

  /**
   * A fresh engine holding the stored state, its indexes declared (and storage tracked).
   * @param {StorageContext} ctx
   * @param {import("./storage/adapter.js").StoredState} state
   * @param {boolean} track whether it writes storage (its owner)
   */
  async #loadEngine(ctx, state, track) {
    const engine = new Engine(ctx.module, this.#peerId, ctx.maxPendingBytes, this.#historyMaxBytes);
    try {
      const names = [""];
      // Rows handed out before a reload stay known to db.keyOf.
      const cache = new RowCache(this.#replica?.keyOfRow ?? new WeakMap());
      engine.loadHistory(state.events);
      // Declared before the rows: each batch enters the indexes while storage reads the next.
      engine.declareIndexes(ctx.defs);
      let done = 0;
      for await (const batch of rowBatches(state.rows)) {
        cache.add(readChangeRecord(engine.loadRows(batch), names, () => undefined).rows);
        done += batch.length;
        this.#progress({ phase: "rows", done, total: state.rowCount });
      }
      engine.loadFinish();
      if (track) engine.trackStorage(true);
      return { engine, names, cache };
    } catch (err) {
      engine.delete();
      throw err;
    }
  }

  /**
   * Brings the stored index entries in line with the declared indexes: a new (or redefined)
   * index gets every entry the engine computes from the rows; a removed one's are deleted.
   * @param {Engine} engine
   * @param {unknown} stored the index definitions stored in meta
   * @param {import("./storage/adapter.js").StorageWrite} write
   */
  #reconcileIndexes(engine, stored, write) {
    /** @type {Record<string, { table: string, keys: string[] }>} */
    const before = stored !== null && typeof stored === "object" ? /** @type {any} */ (stored) : {};
    /** @type {Record<string, { table: string, keys: string[] }>} */
    const now = {};
    let changed = false;
    for (const [name, def] of this.#indexDefs) {
      now[name] = { table: def.table, keys: [...def.keys] };
      const old = before[name];
      if (old && old.table === def.table && JSON.stringify(old.keys) === JSON.stringify(def.keys)) continue;
      changed = true;
      if (old) write.dropIndexes.push([old.table, name]);
      const r = engine.indexEntries(name);
      const n = r.varint();
      for (let i = 0; i < n; i++) {
        r.varint();
        write.indexPuts.push(r.value());
      }
    }
    for (const [name, old] of Object.entries(before)) {
      if (!this.#indexDefs.has(name)) {
        changed = true;
        write.dropIndexes.push([old.table, name]);
      }
    }
    if (changed || stored === undefined) write.meta.push(["indexes", now]);
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
   * @param {{ indexes?: Record<string, { table: string, keys: string[] }>,
   *   storage?: "indexeddb" | "memory" | import("./storage/adapter.js").StorageAdapter,
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

  /**
   * @returns {string} this replica's peer id; with persistent storage and no `peerId` option,
   *   the database's own random id, known once `ready` resolved ("" before)
   */
  get peerId() {
    return this.#peerId;
  }

  /**
   * This replica's presence map: ephemeral peer states (who is here, cursors) that every sync
   * provider shares and nothing persists.
   * @returns {Presence}
   */
  get presence() {
    this.#presence ??= new Presence(() => this.#peerId);
    return this.#presence;
  }

  /** @type {Presence | null} */
  #presence = null;

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
    /** @type {() => void} */
    let staged = () => {};
    const inEngine = new Promise((resolve) => {
      staged = () => {
        if (this.#transactions === inEngine) this.#transactions = null;
        resolve(undefined);
      };
    });
    this.#transactions = inEngine;
    return this.#runTransaction(callback, staged).finally(() => {
      this.#inTransaction = false;
      staged();
    });
  }

  /**
   * @template T
   * @param {(tx: Transaction) => T | Promise<T>} callback
   * @param {() => void} staged called once nothing is staged in the engine any more
   * @returns {Promise<T>}
   */
  async #runTransaction(callback, staged) {
    await this.ready;
    const { generation } = this.#openReplica();
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
    let durable;
    try {
      if (replica.generation !== generation) {
        throw new CRDTDBError(
          "storage failed while the transaction ran and the database reloaded its durable " +
            "state: the transaction was not committed; run it again",
        );
      }
      durable = replica.commitStaged(tx._takeBatch());
    } catch (err) {
      this.#rollback();
      throw err;
    }
    staged();
    await durable;
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
   * Every change the holder of `version` lacks, encoded for `applyChanges`. With persistent
   * storage, this replica's own changes come out once durable (once their write resolved), so
   * a crash can never make its reused peer id issue a sequence number twice.
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
   * @param {{ origin?: string | object }} [opts] `origin` (a string or an object) is passed to
   *   the `change` and `update` events this merge fires (a sync provider passes itself, to
   *   skip its own echo); "remote" when omitted
   * @returns {{ applied: number, pending: number }}
   * @throws {DecodeError} | {QuotaError} when held changes would exceed maxPendingBytes
   */
  applyChanges(bytes, opts) {
    const replica = this.#openReplica();
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`applyChanges expects a Uint8Array, got ${describe(bytes)}`);
    }
    /** @type {string | object} */
    let origin = "remote";
    if (opts !== undefined) {
      if (opts === null || typeof opts !== "object") {
        throw new TypeError(`applyChanges options must be an object, got ${describe(opts)}`);
      }
      // A string, or an object: a sync provider passes itself, and its events compare equal.
      const o = /** @type {{ origin?: unknown }} */ (opts).origin;
      if (o !== undefined) {
        if (typeof o !== "string" && (o === null || typeof o !== "object")) {
          throw new TypeError(`applyChanges option origin must be a string or an object, got ${describe(o)}`);
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
   *   with `{ bytes, origin }`: exactly its new events, encoded for a peer's applyChanges;
   * - "progress": how far a long step of opening got (register before `ready`), with
   *   `{ phase, done, total }`: "rows" after each batch of stored rows taken in (total: the
   *   rows stored, when storage says), "indexes" as the entries of newly declared indexes
   *   reach storage (from 0 to total).
   * A listener that throws does not stop the write or the other listeners; its error is
   * reported like a DOM event listener's.
   * @param {"change" | "update" | "progress"} event
   * @param {(e: any) => void} callback
   * @returns {() => void} unsubscribes (calling it again does nothing)
   */
  on(event, callback) {
    this.#assertNotClosed();
    if (event !== "change" && event !== "update" && event !== "progress") {
      throw new TypeError(`unknown event ${JSON.stringify(event)} (known: "change", "update", "progress")`);
    }
    if (typeof callback !== "function") {
      throw new TypeError(`on(${JSON.stringify(event)}) expects a function, got ${describe(callback)}`);
    }
    if (event === "progress") {
      const cb = /** @type {(e: OpenProgress) => void} */ (callback);
      this.#progressListeners.add(cb);
      return () => this.#progressListeners.delete(cb);
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
    this.#presence?.close();
    const stored = this.#replica?.close() ?? Promise.resolve();
    this.#replica = null;
    this.#storageHost?.close(stored);
    this.#storageHost = null;
    // Another instance owns the storage: once it acknowledged every write, stop waiting to
    // own it (if it leaves first, this instance takes over to write them).
    const stop = this.#stopWaiting;
    if (stop) {
      stored.then(() => {
        if (this.#stopWaiting !== stop) return; // taking over
        this.#stopWaiting = null;
        stop();
        this.#closeFollowerAdapter?.();
      });
    }
    // The database is released once its last writes landed: a next instance loads them.
    const release = this.#release;
    this.#release = null;
    if (release) {
      const key = lockKey(this.#storageKey);
      const handedOver = stored.then(release, release).then(() => {
        if (closing.get(key) === handedOver) closing.delete(key);
      });
      closing.set(key, handedOver);
    }
  }

  /**
   * Folds row history into state: rows, indexes and the version do not change, history
   * stops growing without bound, and a peer that later asks for changes from before this
   * point receives a snapshot of every row's state instead (joined state-based). Folds all
   * of it, or, once sync providers heard from peers, only what every one of them has
   * acknowledged. With persistent storage the fold is written like a transaction.
   * @returns {Promise<void>} resolves once the fold is durable
   */
  async compact() {
    const replica = this.#openReplica();
    // Only what every peer a sync provider heard from has: they catch up with events.
    if (ackedVersions(this).length > 0) {
      try {
        replica.engine.compactAcked(ackedVersions(this));
      } catch (err) {
        if (!(err instanceof CRDTDBError) || err instanceof ClosedError) throw err;
        // A peer acknowledged bytes that are not a version (or too many to take in at once):
        // forget the ones that do not decode, fold by the rest.
        keepAcked(this, (v) => {
          try {
            replica.engine.changesSince(v);
            return true;
          } catch {
            return false;
          }
        });
        replica.engine.compactAcked(ackedVersions(this));
      }
    } else {
      replica.engine.compact(0);
    }
    await replica.persister?.note(null, "local", []);
  }

  /**
   * How much storage this origin uses and may use (the browser's estimate; absent values are
   * undefined, e.g. in Node), and the encoded size of the history this database holds.
   * @returns {Promise<{ usage: number | undefined, quota: number | undefined, historyBytes: number }>}
   */
  async storageEstimate() {
    const historyBytes = this.#openReplica().engine.historyBytes();
    /** @type {{ usage?: number, quota?: number }} */
    let estimate = {};
    try {
      estimate = (await /** @type {any} */ (globalThis).navigator?.storage?.estimate?.()) ?? {};
    } catch {
      // no estimate here (an opaque origin, a worker without StorageManager)
    }
    return { usage: estimate.usage, quota: estimate.quota, historyBytes };
  }

  /**
   * Deletes everything a database persisted (its IndexedDB database). Close its open
   * instance first: while one is open (here, in another tab or a worker) this rejects.
   * @param {string} name
   * @returns {Promise<void>} rejects with CRDTDBError when an instance holds the database or
   *   the deletion stays blocked
   */
  static deleteDatabase(name) {
    try {
      checkName(name, "database name");
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof globalThis.indexedDB !== "object" || globalThis.indexedDB === null) return Promise.resolve();
    // Not under an open instance: it would go on writing into a database that is gone. An
    // instance of this realm that is closing hands it over once its last writes landed.
    return claimDatabase(storageKey(name, "indexeddb")).then((release) => {
      if (release === null) throw busy(name, "close every instance of it before deleting it");
      return IndexedDBStorage.delete(name).finally(release);
    });
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
          `database "${this.#name}" ${this.#openedOnce ? "failed" : "failed to open"}: ${
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
