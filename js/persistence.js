// The write pipeline to storage: the engine notes every row a call changes; once per task the
// pipeline takes the engine's storage record (everything changed since the last take, as
// whole row states, materialized rows, index entries and history records) and hands it to
// the storage adapter as ONE atomic write. A write's promise resolves, and its `update` event
// fires, when that write is durable. One storage write is in flight at a time: the next
// record builds on the state the previous one made durable, so a failure rejects it and every
// write after it, and the replica reloads its durable state (Replica.recover).

import { CRDTDBError } from "./errors.js";
import { emptyWrite, isEmptyWrite } from "./storage/adapter.js";

/**
 * Runs `fn` in a later task (after every microtask of this one), so writes made in one task
 * share one storage write.
 * @type {(fn: () => void) => void}
 */
export const nextTask = (() => {
  const g = /** @type {any} */ (globalThis);
  if (typeof g.setImmediate === "function") return (fn) => g.setImmediate(fn);
  /** @type {Array<() => void>} */
  const queue = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => /** @type {() => void} */ (queue.shift())();
  return (fn) => {
    queue.push(fn);
    channel.port2.postMessage(0);
  };
})();

/**
 * Reads the engine's storage record (db/database.h, takeStorage) into a storage write.
 * Copies every byte out of WASM memory.
 * @param {import("./codec.js").Reader} r
 * @returns {import("./storage/adapter.js").StorageWrite}
 */
export function readStorageRecord(r) {
  const w = emptyWrite();
  const nRows = r.varint();
  for (let i = 0; i < nRows; i++) {
    const table = r.string();
    const key = r.string();
    const kind = r.u8();
    /** @type {Uint8Array | null} */
    let state = null;
    /** @type {Readonly<Record<string, unknown>> | null} */
    let row = null;
    if (kind !== 0) {
      state = r.bytes(r.varint()).slice();
      if (kind === 2) {
        r.varint();
        row = r.value();
      }
    }
    w.rows.push({ table, key, state, row });
  }
  for (const list of [w.indexDeletes, w.indexPuts]) {
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      r.varint();
      list.push(r.value());
    }
  }
  const nDel = r.varint();
  for (let i = 0; i < nDel; i++) w.eventDeletes.push([r.varint(), r.varint(), r.varint()]);
  const nPut = r.varint();
  for (let i = 0; i < nPut; i++) {
    const key = /** @type {[number, number]} */ ([r.varint(), r.varint()]);
    w.eventPuts.push([key, r.bytes(r.varint()).slice()]);
  }
  return w;
}

/**
 * @typedef {object} Batch calls that share one storage write
 * @property {Promise<void>} promise resolves once they are durable
 * @property {() => void} resolve
 * @property {(err: unknown) => void} reject
 * @property {Array<{ bytes: Uint8Array, origin: string | object }>} updates their update events
 * @property {Array<{ table: string, key: string }>} rows rows they changed
 */

/** @returns {Batch} */
export function newBatch() {
  /** @type {any} */
  const b = { updates: [], rows: [] };
  b.promise = new Promise((resolve, reject) => {
    b.resolve = resolve;
    b.reject = reject;
  });
  return b;
}

/**
 * Adds a committed call to a batch.
 * @param {Batch} b
 * @param {Uint8Array | null} update its encoded events, if anything listens
 * @param {string | object} origin
 * @param {Array<{ table: string, key: string }>} rows rows whose visible state it changed
 * @returns {Promise<void>} the batch's: resolves once it is durable
 */
export function addToBatch(b, update, origin, rows) {
  if (update !== null) b.updates.push({ bytes: update, origin });
  for (const r of rows) b.rows.push(r);
  return b.promise;
}

export class Persister {
  /** @type {import("./storage/adapter.js").StorageAdapter} */
  adapter;
  /** @type {() => import("./engine.js").Engine} the replica's current engine */
  #engine;
  /** @type {(updates: Batch["updates"]) => void} fires update events */
  #onDurable;
  /** @type {(err: CRDTDBError, rows: Batch["rows"]) => void} reloads the durable state */
  #onFailure;
  /** @type {Batch | null} calls not yet taken into a storage write */
  #batch = null;
  /** @type {Promise<void> | null} the storage write in flight */
  #inFlight = null;
  #closed = false;
  /** A write failed and the durable state is not reloaded yet: nothing more may be written. */
  #failed = false;

  /**
   * @param {import("./storage/adapter.js").StorageAdapter} adapter
   * @param {() => import("./engine.js").Engine} engine
   * @param {(updates: Batch["updates"]) => void} onDurable
   * @param {(err: CRDTDBError, rows: Batch["rows"]) => void} onFailure
   */
  constructor(adapter, engine, onDurable, onFailure) {
    this.adapter = adapter;
    this.#engine = engine;
    this.#onDurable = onDurable;
    this.#onFailure = onFailure;
  }

  /**
   * Registers a committed call.
   * @param {Uint8Array | null} update its encoded events, if anything listens
   * @param {string | object} origin
   * @param {Array<{ table: string, key: string }>} rows rows whose visible state it changed
   * @returns {Promise<void>} resolves once the call is durable
   */
  note(update, origin, rows) {
    let b = this.#batch;
    if (b === null) {
      b = this.#batch = newBatch();
      if (this.#inFlight === null) nextTask(() => this.#flush());
    }
    return addToBatch(b, update, origin, rows);
  }

  /** @returns {Promise<void>} resolves once everything noted so far is durable (or failed) */
  async settled() {
    while (this.#inFlight !== null || this.#batch !== null) {
      const p = this.#inFlight ?? this.#batch?.promise;
      await p?.catch(() => {});
      if (this.#inFlight === null && this.#batch !== null) this.#flush();
    }
  }

  #flush() {
    const b = this.#batch;
    if (b === null || this.#inFlight !== null || this.#closed) return;
    this.#batch = null;
    /** @type {import("./storage/adapter.js").StorageWrite} */
    let w;
    try {
      w = readStorageRecord(this.#engine().takeStorage());
    } catch (err) {
      this.#fail(err, b);
      return;
    }
    // (a custom adapter that throws instead of rejecting fails the same way)
    const done = (isEmptyWrite(w) ? Promise.resolve() : Promise.resolve().then(() => this.adapter.write(w))).then(
      () => {
        this.#inFlight = null;
        // Own events up to this take may now leave through changesSince (the engine is freed
        // once closed: nothing asks it any more).
        if (!this.#closed) this.#engine().storageDurable();
        b.resolve();
        this.#onDurable(b.updates);
        if (this.#batch !== null) this.#flush();
      },
      (err) => {
        this.#inFlight = null;
        this.#fail(err, b);
      },
    );
    this.#inFlight = done;
  }

  /**
   * @param {unknown} err
   * @param {Batch} b
   */
  #fail(err, b) {
    const error =
      err instanceof CRDTDBError
        ? err
        : new CRDTDBError(`storage write failed: ${/** @type {any} */ (err)?.message ?? err}`, { cause: err });
    // Later calls were built on the failed ones: none of them can become durable either.
    const failed = [b];
    if (this.#batch !== null) failed.push(this.#batch);
    this.#batch = null;
    const rows = failed.flatMap((x) => x.rows);
    for (const x of failed) x.reject(error);
    this.#failed = true;
    if (!this.#closed) this.#onFailure(error, rows);
  }

  /** The replica reloaded its durable state after a failure: writing may go on. */
  recovered() {
    this.#failed = false;
  }

  /**
   * Takes what is not yet written (the engine is released right after), writes it after the
   * write in flight, then closes the adapter. Pending calls still resolve or reject.
   * @returns {Promise<void>} settles once storage is closed
   */
  close() {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const b = this.#batch;
    this.#batch = null;
    /** @type {import("./storage/adapter.js").StorageWrite | null} */
    let w = null;
    if (this.#failed) {
      // The engine still holds what failed to persist: none of it may reach storage now.
      b?.reject(new CRDTDBError("storage failed before close: these writes were not made durable"));
      this.adapter.close();
      return Promise.resolve();
    }
    if (b !== null) {
      try {
        w = readStorageRecord(this.#engine().takeStorage());
      } catch (err) {
        b.reject(new CRDTDBError(`storage write failed at close: ${/** @type {any} */ (err)?.message ?? err}`, { cause: err }));
      }
    }
    const prev = this.#inFlight ?? Promise.resolve();
    return prev
      .then(async () => {
        if (w === null || b === null) return;
        if (this.#failed) {
          b.reject(new CRDTDBError("storage write failed before close: these writes were not made durable"));
          return;
        }
        try {
          await this.adapter.write(w);
          b.resolve();
        } catch (err) {
          b.reject(err);
        }
      })
      .finally(() => this.adapter.close());
  }
}
