// IndexedDB storage: one IndexedDB database per CRDTDB name holding exactly the five stores of
// js/storage/adapter.js, every key out-of-line. Each write is ONE readwrite transaction over
// the stores it touches and resolves on that transaction's `complete`.
//
// Connections: a connection that closes under us (another connection's versionchange, a
// deleteDatabase, Safari's "connection to Indexed Database server lost") is dropped and the
// next call opens a new one; a write that fails because its connection died is retried once
// on a new connection, never on the dead one. An open blocked by an old connection gives up
// after BLOCKED_TIMEOUT_MS instead of hanging.

import { CRDTDBError, QuotaError } from "../errors.js";
import { isEmptyWrite } from "./adapter.js";

export const STORES = /** @type {const} */ (["crdt_rows", "materialized", "indexes", "events", "meta"]);
const IDB_VERSION = 1;
const BLOCKED_TIMEOUT_MS = 10_000;

/**
 * The error a failed request or transaction reports, as the CRDTDBError the caller sees.
 * Quota errors often arrive as an AbortError whose transaction error is the real cause.
 * @param {string} name the database
 * @param {string} what what failed
 * @param {any} err
 * @returns {CRDTDBError}
 */
function storageError(name, what, err) {
  const cause = err ?? new Error("unknown IndexedDB failure");
  const msg = `${cause.name ?? "Error"}: ${cause.message ?? cause}`;
  if (cause.name === "QuotaExceededError") {
    return new QuotaError(`IndexedDB database "${name}": ${what} failed, storage quota exceeded (${msg}); nothing of it was written`, { cause });
  }
  return new CRDTDBError(`IndexedDB database "${name}": ${what} failed (${msg}); nothing of it was written`, { cause });
}

/**
 * @param {IDBRequest} req
 * @returns {Promise<any>}
 */
function requestDone(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Every key and value of one store of `tx`, in key order.
 * @param {IDBTransaction} tx
 * @param {string} store
 * @returns {Promise<Array<[unknown, unknown]>>}
 */
async function keyValues(tx, store) {
  const [keys, values] = await Promise.all([
    requestDone(tx.objectStore(store).getAllKeys()),
    requestDone(tx.objectStore(store).getAll()),
  ]);
  return keys.map((/** @type {unknown} */ k, /** @type {number} */ i) => [k, values[i]]);
}

/** Index puts between two progress reports of a write. */
const PROGRESS_EVERY = 5000;

/** Rows per batch of a load (a batch of row states is about 1.5 MB). */
const ROW_BATCH = 10_000;

/** @implements {import("./adapter.js").StorageAdapter} */
export class IndexedDBStorage {
  /** @type {string} */
  #name;
  /** @type {IDBFactory} */
  #factory;
  /** @type {Promise<IDBDatabase> | null} */
  #conn = null;
  #closed = false;
  /** A connection was opened before: finding no database now means it was deleted. */
  #existed = false;

  /**
   * @param {string} name the CRDTDB name (also the IndexedDB database name)
   * @param {IDBFactory} [factory] defaults to the global indexedDB
   */
  constructor(name, factory = globalThis.indexedDB) {
    if (!factory) {
      throw new CRDTDBError('IndexedDB is not available here: use storage: "memory"');
    }
    this.#name = name;
    this.#factory = factory;
  }

  /** @returns {Promise<IDBDatabase>} */
  #connect() {
    if (this.#closed) return Promise.reject(new CRDTDBError(`IndexedDB database "${this.#name}" was closed`));
    if (this.#conn !== null) return this.#conn;
    const conn = new Promise((resolve, reject) => {
      const req = this.#factory.open(this.#name, IDB_VERSION);
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      let deleted = false;
      req.onupgradeneeded = (e) => {
        if (this.#existed && e.oldVersion === 0) {
          // Deleted under this instance (deleteDatabase): recreating it empty and writing a
          // delta there would leave a database that can never be opened again.
          deleted = true;
          /** @type {IDBTransaction} */ (req.transaction).abort();
          return;
        }
        const db = req.result;
        for (const s of STORES) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
      };
      req.onblocked = () => {
        timer = setTimeout(() => {
          reject(new CRDTDBError(
            `IndexedDB database "${this.#name}" could not be opened: another connection ` +
              `(an older version of this app in another tab?) keeps it blocked; close it and retry`,
          ));
        }, BLOCKED_TIMEOUT_MS);
      };
      req.onsuccess = () => {
        clearTimeout(timer);
        this.#existed = true;
        const db = req.result;
        // Give way to upgrades and deletions; the next call reconnects.
        db.onversionchange = () => {
          db.close();
          if (this.#conn === conn) this.#conn = null;
        };
        db.onclose = () => {
          if (this.#conn === conn) this.#conn = null;
        };
        resolve(db);
      };
      req.onerror = (e) => {
        clearTimeout(timer);
        e.preventDefault(); // the rejection reports it
        reject(
          deleted
            ? new CRDTDBError(`IndexedDB database "${this.#name}" was deleted while open; nothing more is written to it`)
            : storageError(this.#name, "opening", req.error),
        );
      };
    });
    this.#conn = conn;
    conn.catch(() => {
      if (this.#conn === conn) this.#conn = null;
    });
    return conn;
  }

  /**
   * Reads meta, the history and the rows in one read-only transaction (one consistent
   * state). Where the browser has getAllRecords, rows come in batches, each asked for before
   * the one before is handed over: the engine takes in a batch while IndexedDB reads the
   * next (reading 100,000 small records costs about as much as taking them in).
   * @param {{ countRows?: boolean }} [opts] countRows: also count the rows (progress events)
   * @returns {Promise<import("./adapter.js").StoredState>}
   */
  async load(opts = {}) {
    const db = await this.#connect();
    const tx = db.transaction(["meta", "events", "crdt_rows"], "readonly");
    const store = tx.objectStore("crdt_rows");
    const batched = typeof (/** @type {any} */ (store).getAllRecords) === "function";
    // (promised at once: a request that completes before anyone listens never reports)
    const first = requestDone(batched ? /** @type {any} */ (store).getAllRecords({ count: ROW_BATCH }) : store.getAll());
    first.catch(() => {}); // reported where it is awaited
    const [meta, events, rowCount] = await Promise.all([
      keyValues(tx, "meta"),
      requestDone(tx.objectStore("events").getAll()),
      // (a count scans the keys: only when someone follows the progress)
      opts.countRows ? requestDone(store.count()) : undefined,
    ]).catch((err) => {
      throw storageError(this.#name, "loading", err);
    });
    const rows = batched
      ? this.#rowBatches(store, first)
      : await first.catch((err) => {
          throw storageError(this.#name, "loading", err);
        });
    return { meta: new Map(/** @type {Array<[string, unknown]>} */ (meta)), events, rows, rowCount };
  }

  /**
   * @param {IDBObjectStore} store crdt_rows, in the load's transaction
   * @param {Promise<any>} first the first batch
   * @returns {AsyncIterable<Uint8Array[]>}
   */
  async *#rowBatches(store, first) {
    let next = first;
    for (;;) {
      /** @type {Array<{ key: IDBValidKey, value: Uint8Array }>} */
      const records = await next.catch((err) => {
        throw storageError(this.#name, "loading", err);
      });
      const full = records.length === ROW_BATCH;
      if (full) {
        const after = IDBKeyRange.lowerBound(records[records.length - 1].key, true);
        next = requestDone(/** @type {any} */ (store).getAllRecords({ query: after, count: ROW_BATCH }));
        next.catch(() => {});
      }
      yield records.map((r) => r.value);
      if (!full) return;
    }
  }

  /**
   * @param {import("./adapter.js").StorageWrite} w
   * @returns {Promise<void>}
   */
  async write(w, progress) {
    if (isEmptyWrite(w)) return;
    let db = await this.#connect();
    let tx;
    try {
      tx = this.#begin(db, w, progress);
    } catch (err) {
      if (/** @type {any} */ (err)?.name !== "InvalidStateError") throw storageError(this.#name, "writing", err);
      // The connection died between writes: retry once on a new one.
      this.#conn = null;
      db = await this.#connect();
      try {
        tx = this.#begin(db, w, progress);
      } catch (err2) {
        throw storageError(this.#name, "writing", err2);
      }
    }
    await new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(undefined);
      // A failed request aborts the transaction (never prevented: the rest must not commit
      // without it); onabort reports the cause once.
      tx.onabort = () => reject(storageError(this.#name, "writing", tx.error));
    });
  }

  /**
   * Starts one transaction issuing every request of `w` (requests need no awaiting: the
   * transaction commits when they are done, or aborts on the first failure).
   * @param {IDBDatabase} db
   * @param {import("./adapter.js").StorageWrite} w
   * @param {(indexPutsDone: number) => void} [progress]
   * @returns {IDBTransaction}
   */
  #begin(db, w, progress) {
    // Only the stores it touches: a transaction waits for (and holds) every store in scope.
    /** @type {string[]} */
    const scope = [];
    if (w.rows.length > 0) scope.push("crdt_rows", "materialized");
    if (w.dropIndexes.length + w.indexDeletes.length + w.indexPuts.length > 0) scope.push("indexes");
    if (w.eventDeletes.length + w.eventPuts.length > 0) scope.push("events");
    if (w.meta.length > 0) scope.push("meta");
    const tx = db.transaction(scope, "readwrite", { durability: "relaxed" });
    try {
      if (w.rows.length > 0) this.#writeRows(tx, w.rows);
      if (scope.includes("indexes")) {
        const ix = tx.objectStore("indexes");
        for (const [table, index] of w.dropIndexes) {
          // Every [table, index, …] key sorts below [table, index + "\0"].
          ix.delete(IDBKeyRange.bound([table, index], [table, index + "\0"], false, true));
        }
        for (const k of w.indexDeletes) ix.delete(k);
        const puts = w.indexPuts;
        for (let i = 0; i < puts.length; i++) {
          const req = ix.put(null, puts[i]);
          // Requests complete in order: every PROGRESS_EVERY-th tells how far the write got.
          if (progress && ((i + 1) % PROGRESS_EVERY === 0 || i + 1 === puts.length)) {
            req.onsuccess = () => progress(i + 1);
          }
        }
      }
      if (scope.includes("events")) {
        const ev = tx.objectStore("events");
        for (const [chunk, from, to] of w.eventDeletes) {
          ev.delete(from === to ? [chunk, from] : IDBKeyRange.bound([chunk, from], [chunk, to]));
        }
        for (const [k, v] of w.eventPuts) ev.put(v, k);
      }
      if (w.meta.length > 0) {
        const meta = tx.objectStore("meta");
        for (const [k, v] of w.meta) meta.put(v, k);
      }
    } catch (err) {
      tx.abort();
      throw err;
    }
    return tx;
  }

  /**
   * @param {IDBTransaction} tx
   * @param {import("./adapter.js").StorageWrite["rows"]} list
   */
  #writeRows(tx, list) {
    const rows = tx.objectStore("crdt_rows");
    const mat = tx.objectStore("materialized");
    for (const r of list) {
      const key = [r.table, r.key];
      if (r.state === null) rows.delete(key);
      else rows.put(r.state, key);
      if (r.row === null) mat.delete(key);
      else mat.put(r.row, key);
    }
  }

  /**
   * Every key and value of a store in key order (tests and tools).
   * @param {(typeof STORES)[number]} store
   * @returns {Promise<Array<[unknown, unknown]>>}
   */
  async entries(store) {
    const db = await this.#connect();
    return keyValues(db.transaction([store], "readonly"), store);
  }

  close() {
    this.#closed = true;
    const conn = this.#conn;
    this.#conn = null;
    conn?.then((db) => db.close(), () => {});
  }

  /**
   * Deletes a database and everything in it.
   * @param {string} name
   * @param {IDBFactory} [factory]
   * @returns {Promise<void>}
   */
  static delete(name, factory = globalThis.indexedDB) {
    return new Promise((resolve, reject) => {
      const req = factory.deleteDatabase(name);
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      req.onsuccess = () => {
        clearTimeout(timer);
        resolve();
      };
      req.onerror = () => {
        clearTimeout(timer);
        reject(storageError(name, "deleting the database", req.error));
      };
      req.onblocked = () => {
        timer = setTimeout(() => {
          reject(new CRDTDBError(`IndexedDB database "${name}" could not be deleted: a connection to it stays open`));
        }, BLOCKED_TIMEOUT_MS);
      };
    });
  }
}
