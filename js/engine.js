// One engine replica: a handle on the WASM module's raw exports (bindings/bindings.cpp) and
// the only code that calls them. Every call writes its input into the handle's input buffer,
// calls one export, and reads one result: a status kept apart from the data. A non-zero
// status becomes the matching CRDTDBError subclass here; data comes back as a Reader over a
// view of WASM memory, valid until the next call (so callers read it at once).

import { ClosedError, CRDTDBError, errorFromStatus } from "./errors.js";
import { Reader, Writer } from "./codec.js";

/** Bytes the engine may hold for causally early changes unless told otherwise (16 MiB). */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

const utf8 = new TextDecoder();

// Backstop only: a replica dropped without close() still frees its WASM memory once garbage
// collected. Owners release handles explicitly.
const leaked = new FinalizationRegistry((/** @type {{ module: any, handle: number }} */ h) => {
  try {
    h.module._crdtdb_close(h.handle);
  } catch {
    // the module is gone: nothing left to free
  }
});

/** One engine replica. Must be released with `delete()`. */
/**
 * Frames records for the engine (bindings/convert.h, record lists).
 * @param {Uint8Array[]} list
 */
function recordList(list) {
  let size = 10;
  for (const b of list) size += b.length + 5;
  const w = new Writer(size);
  w.varint(list.length);
  for (const b of list) {
    w.varint(b.length);
    w.bytes(b);
  }
  return w.view();
}

export class Engine {
  /** @type {any} */
  #m;
  /** @type {number} */
  #h;
  /** @type {number} address of the result header (three u32: status, data, length) */
  #hdr;
  /** Scratch writer for inputs (reused: calls are synchronous). */
  writer = new Writer(1024);
  /** The engine's input buffer (address and capacity), asked for again only to grow. */
  #inPtr = 0;
  #inCap = 0;

  /**
   * @param {any} module the loaded module
   * @param {string} peerId
   * @param {number} [maxPendingBytes]
   * @param {number} [historyMaxBytes] history budget (0: none)
   */
  constructor(module, peerId, maxPendingBytes = DEFAULT_MAX_PENDING_BYTES, historyMaxBytes = 0) {
    this.#m = module;
    const seed = new Uint32Array(2);
    globalThis.crypto.getRandomValues(seed);
    const bytes = new TextEncoder().encode(peerId);
    const ptr = module._malloc(bytes.length + 1);
    if (!ptr) throw new CRDTDBError("out of memory: could not create the engine replica");
    module.HEAPU8.set(bytes, ptr);
    const h = module._crdtdb_open(ptr, bytes.length, maxPendingBytes, seed[0], seed[1], historyMaxBytes);
    module._free(ptr);
    if (!h) {
      const err = module._crdtdb_open_error();
      const msg = err ? utf8.decode(module.HEAPU8.subarray(err, module.HEAPU8.indexOf(0, err))) : "";
      throw new TypeError(msg || "could not create the engine replica");
    }
    this.#h = h;
    this.#hdr = module._crdtdb_result(h) >>> 2;
    leaked.register(this, { module, handle: h }, this);
  }

  /** @returns {number} */
  get #handle() {
    if (this.#h === 0) throw new ClosedError("the engine replica was released");
    return this.#h;
  }

  /**
   * Copies `bytes` into the engine's input buffer.
   * @param {Uint8Array} bytes
   * @returns {number} the length
   */
  #input(bytes) {
    const h = this.#handle;
    if (bytes.length > this.#inCap || (this.#inCap > 1 << 20 && bytes.length < this.#inCap >> 2)) {
      // Grow the input buffer, or after a large call let the engine shrink it back (WASM
      // memory never shrinks, but the allocator reuses what is freed).
      const want = Math.max(bytes.length, 1024);
      const ptr = this.#m._crdtdb_input(h, want) >>> 0;
      if (ptr === 0) {
        this.#inCap = 0;
        throw new CRDTDBError("out of memory: the WebAssembly heap could not hold the call's input");
      }
      this.#inPtr = ptr;
      this.#inCap = want;
    }
    this.#m.HEAPU8.set(bytes, this.#inPtr);
    return bytes.length;
  }

  /**
   * Reads the result of the call that just returned `status`.
   * @param {number} status
   * @returns {Reader}
   */
  #result(status) {
    const heap32 = this.#m.HEAPU32;
    const ptr = heap32[this.#hdr + 1] >>> 0;
    const len = heap32[this.#hdr + 2] >>> 0;
    const heap = this.#m.HEAPU8;
    if (status !== 0) throw errorFromStatus(status, utf8.decode(heap.subarray(ptr, ptr + len)));
    return new Reader(heap, ptr, ptr + len);
  }

  /**
   * @param {string} fn export name
   * @param {Uint8Array} input
   * @param {number} [flags]
   * @returns {Reader}
   */
  #call(fn, input, flags = 0) {
    const len = this.#input(input);
    return this.#result(this.#m[fn](this.#h, len, flags));
  }

  /** Commits one transaction of encoded ops; returns the change record. */
  commit(/** @type {Uint8Array} */ ops, /** @type {boolean} */ wantUpdate) {
    return this.#call("_crdtdb_commit", ops, wantUpdate ? 1 : 0);
  }

  /** Merges a Changes message; returns the change record. */
  apply(/** @type {Uint8Array} */ bytes, /** @type {boolean} */ wantUpdate) {
    return this.#call("_crdtdb_apply", bytes, wantUpdate ? 1 : 0);
  }

  /** Adds encoded ops to the staged transaction. */
  stage(/** @type {Uint8Array} */ ops) {
    this.#call("_crdtdb_stage", ops);
  }

  /** Commits the staged transaction plus `ops`; returns the change record. */
  commitStaged(/** @type {Uint8Array} */ ops, /** @type {boolean} */ wantUpdate) {
    return this.#call("_crdtdb_commit_staged", ops, wantUpdate ? 1 : 0);
  }

  rollbackStaged() {
    this.#result(this.#m._crdtdb_rollback_staged(this.#handle));
  }

  /** Reverts the last mutating call (its record could not be taken in). */
  undoLast() {
    this.#result(this.#m._crdtdb_undo_last(this.#handle));
  }

  declareIndexes(/** @type {Uint8Array} */ defs) {
    this.#call("_crdtdb_declare_indexes", defs);
  }

  /** @returns {Uint8Array} a copy */
  version() {
    return this.#result(this.#m._crdtdb_version(this.#handle)).rest();
  }

  /**
   * @param {Uint8Array | undefined} version
   * @returns {Uint8Array} a copy
   */
  changesSince(version) {
    const len = this.#input(version ?? new Uint8Array(0));
    const r = this.#result(this.#m._crdtdb_changes_since(this.#h, len, version ? 1 : 0));
    return r.rest();
  }

  query(/** @type {Uint8Array} */ q) {
    return this.#call("_crdtdb_query", q);
  }

  count(/** @type {Uint8Array} */ q) {
    return this.#call("_crdtdb_count", q).varint();
  }

  stagedRow(/** @type {Uint8Array} */ q) {
    return this.#call("_crdtdb_staged_row", q);
  }

  conflicts(/** @type {Uint8Array} */ q) {
    return this.#call("_crdtdb_conflicts", q);
  }

  textState(/** @type {Uint8Array} */ q) {
    return this.#call("_crdtdb_text_state", q);
  }

  /** @returns {number} the subscription id */
  subscribe(/** @type {Uint8Array} */ q) {
    return this.#call("_crdtdb_subscribe", q).varint();
  }

  unsubscribe(/** @type {number} */ id) {
    this.#result(this.#m._crdtdb_unsubscribe(this.#handle, id));
  }

  /**
   * Starts loading stored state into this fresh replica: the history records.
   * @param {Uint8Array[]} events the events store's values, in key order
   */
  loadHistory(events) {
    this.#call("_crdtdb_load_history", recordList(events));
  }

  /**
   * Loads a batch of stored rows (after loadHistory, before loadFinish); returns the change
   * record listing each of its visible rows as new.
   * @param {Uint8Array[]} rows crdt_rows values
   */
  loadRows(rows) {
    return this.#call("_crdtdb_load_rows", recordList(rows));
  }

  /** Ends a load: builds the tables' order and indexes. */
  loadFinish() {
    this.#result(this.#m._crdtdb_load_finish(this.#handle));
  }

  /** Starts (or stops) recording what storage must write. */
  trackStorage(/** @type {boolean} */ on) {
    this.#result(this.#m._crdtdb_track_storage(this.#handle, on ? 1 : 0));
  }

  /** @returns {Reader} the storage record of everything changed since the last take */
  takeStorage() {
    return this.#result(this.#m._crdtdb_take_storage(this.#handle));
  }

  /**
   * Folds the oldest history so that at most `keepBytes` stay (0: all of it).
   * @returns {number} events folded
   */
  compact(/** @type {number} */ keepBytes) {
    return this.#result(this.#m._crdtdb_compact(this.#handle, keepBytes)).varint();
  }

  /**
   * Folds the history every one of `versions` (peers' acknowledged versions) holds.
   * @param {Uint8Array[]} versions
   * @returns {number} events folded
   */
  compactAcked(versions) {
    return this.#call("_crdtdb_compact_acked", recordList(versions)).varint();
  }

  /** Storage made the last take durable: own events up to it may now leave in changesSince. */
  storageDurable() {
    this.#m._crdtdb_storage_durable(this.#handle);
  }

  /** @returns {Reader} every storage entry of a declared index (varint n, n × bytes) */
  indexEntries(/** @type {string} */ name) {
    return this.#call("_crdtdb_index_entries", new TextEncoder().encode(name));
  }

  /** @returns {number} encoded bytes of the history this replica holds */
  historyBytes() {
    const n = this.#m._crdtdb_history_bytes(this.#handle);
    if (n < 0) throw new CRDTDBError("out of memory: the history size could not be computed");
    return n;
  }

  /** @returns {number} bytes allocated on the WASM heap (all replicas of this module) */
  heapUsed() {
    return this.#m._crdtdb_heap_used();
  }

  /** Releases the WASM-side replica. Safe to call twice. */
  // (the cached input buffer dies with it)
  delete() {
    if (this.#h !== 0) {
      const h = this.#h;
      this.#h = 0;
      leaked.unregister(this);
      this.#m._crdtdb_close(h);
    }
  }
}
