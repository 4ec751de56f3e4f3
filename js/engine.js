// Loading of the WebAssembly engine (once per process) and the thin wrapper around its raw
// Embind API (class RawDB, see the header comment of bindings/bindings.cpp). This is the only
// file that calls RawDB: it parses the JSON results, turns engine error records into JS
// errors (js/errors.js) and copies every byte view out of WASM memory at once (a view dies
// when memory grows).
//
// The browser path has no bare imports: dist/crdtdb.mjs is imported relative to this file and
// the .wasm is located relative to this module's own URL. Only the Node path imports
// node:fs, dynamically.

import { ClosedError, CRDTDBError, errorFromEngine } from "./errors.js";

/** Bytes the engine may hold for causally early changes unless told otherwise (16 MiB). */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** @type {Promise<any> | null} */
let modulePromise = null;

/** @returns {boolean} true when running under Node.js (not a browser or worker). */
function isNode() {
  const proc = /** @type {any} */ (globalThis).process;
  return typeof proc === "object" && proc !== null && typeof proc.versions?.node === "string";
}

async function instantiate() {
  const { default: createCrdtdbModule } = await import("../dist/crdtdb.mjs");
  const wasmUrl = new URL("../dist/crdtdb.wasm", import.meta.url);
  if (isNode()) {
    // Node's fetch rejects file: URLs and the module is built for web/worker: hand it the bytes.
    const { readFile } = await import("node:fs/promises");
    return createCrdtdbModule({ wasmBinary: await readFile(wasmUrl) });
  }
  return createCrdtdbModule({
    locateFile: (/** @type {string} */ path) => new URL(path, wasmUrl).href,
  });
}

/**
 * Loads and instantiates the WebAssembly module. The promise is cached: the module loads once
 * per process (or page/worker). A failed load is not cached, so a later call retries.
 * @returns {Promise<any>} the Emscripten module exposing `RawDB`
 */
export function loadEngineModule() {
  if (modulePromise === null) {
    modulePromise = instantiate().catch((err) => {
      modulePromise = null;
      throw new CRDTDBError(`failed to load the crdtdb WebAssembly engine: ${err?.message ?? err}`, {
        cause: err,
      });
    });
  }
  return modulePromise;
}

/**
 * Parses a JSON result of a guarded engine call; throws the mapped error for an error record.
 * An error record is exactly `{"error":{"code":string,"message":string}}`; results of
 * successful calls never have that shape (they hold "changes", or arrays of losers).
 * @param {string} text
 * @returns {any}
 */
function parseResult(text) {
  const value = JSON.parse(text);
  if (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof value.error === "object" &&
    value.error !== null &&
    !Array.isArray(value.error) &&
    typeof value.error.code === "string" &&
    Object.keys(value).length === 1
  ) {
    throw errorFromEngine(value.error);
  }
  return value;
}

/**
 * Runs a raw call; anything thrown that is not already one of our errors (e.g. a C++ exception
 * escaping an unguarded binding) becomes a CRDTDBError.
 * @template T
 * @param {string} what
 * @param {() => T} fn
 * @returns {T}
 */
function call(what, fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CRDTDBError || err instanceof TypeError) throw err;
    const detail = /** @type {any} */ (err)?.message ?? String(err);
    throw new CRDTDBError(`internal engine error in ${what}: ${detail}`, {
      cause: err,
    });
  }
}

/**
 * @typedef {[table: string, key: string, row: Record<string, unknown> | null]} RowChange
 * A row whose visible value changed; `null` means the row is now absent.
 */

// Backstop only: a replica dropped without close()/delete() still frees its WASM memory once
// garbage collected. Owners release handles explicitly.
const leaked = new FinalizationRegistry((/** @type {any} */ raw) => {
  try {
    raw.delete();
  } catch {
    // already deleted, or the module is gone: nothing left to free
  }
});

/** One engine replica (a RawDB handle). Must be released with `delete()`. */
export class Engine {
  /** @type {any} */
  #raw;

  /**
   * @param {any} module the loaded module (from loadEngineModule)
   * @param {string} peerId
   * @param {number} [maxPendingBytes]
   */
  constructor(module, peerId, maxPendingBytes = DEFAULT_MAX_PENDING_BYTES) {
    this.#raw = call("RawDB constructor", () => new module.RawDB(peerId, maxPendingBytes));
    leaked.register(this, this.#raw, this);
  }

  /** @returns {any} the live RawDB handle */
  get #handle() {
    if (this.#raw === null) throw new ClosedError("the engine replica was released");
    return this.#raw;
  }

  /** @returns {string} */
  peerId() {
    return call("peerId", () => this.#handle.peerId());
  }

  /**
   * Commits one atomic causal transaction.
   * @param {Array<object>} ops `{op:"set",table,key,row}` | `{op:"update",table,key,patch}` |
   *   `{op:"delete",table,key}`
   * @returns {{ changes: RowChange[] }}
   */
  commit(ops) {
    const json = JSON.stringify(ops);
    return call("commit", () => parseResult(this.#handle.commit(json)));
  }

  /** @returns {Uint8Array} a copy of the encoded events of the last successful commit */
  lastEncoded() {
    return call("lastEncoded", () => this.#handle.lastEncoded().slice());
  }

  /**
   * Merges encoded changes from a peer. Throws DecodeError (nothing changed) on bad input.
   * @param {Uint8Array} bytes
   * @returns {{ applied: number, pending: number, changes: RowChange[] }}
   */
  applyChanges(bytes) {
    // A private copy: the caller's array could be a view that dies when WASM memory grows
    // while the binding copies it in.
    const copy = new Uint8Array(bytes);
    return call("applyChanges", () => parseResult(this.#handle.applyChanges(copy)));
  }

  /** @returns {Uint8Array} a copy of this replica's version */
  version() {
    return call("version", () => this.#handle.version().slice());
  }

  /**
   * @param {Uint8Array} [version] omitted: every change
   * @returns {Uint8Array} a copy of the encoded changes the holder of `version` lacks
   */
  changesSince(version) {
    return call("changesSince", () => {
      const result =
        version === undefined
          ? this.#handle.changesSince(new Uint8Array(0), true)
          : this.#handle.changesSince(new Uint8Array(version), false);
      if (typeof result === "string") {
        parseResult(result);
        throw new CRDTDBError(`changesSince returned an unexpected result: ${result}`);
      }
      return result.slice();
    });
  }

  /**
   * @param {string} table
   * @param {string} key
   * @returns {Record<string, unknown> | undefined}
   */
  row(table, key) {
    return call("row", () => {
      const text = this.#handle.row(table, key);
      return text === "" ? undefined : JSON.parse(text);
    });
  }

  /**
   * @param {string} table
   * @returns {Array<[string, Record<string, unknown>]>} every row of `table`, in key order
   */
  rows(table) {
    return call("rows", () => parseResult(this.#handle.rows(table)));
  }

  /**
   * @param {string} table
   * @param {string} key
   * @returns {Record<string, unknown[]>} column → losing concurrent values
   */
  conflicts(table, key) {
    return call("conflicts", () => parseResult(this.#handle.conflicts(table, key)));
  }

  /**
   * Declares the whole set of secondary indexes (replaces the previous set: new or changed
   * indexes are built from the rows, the others dropped).
   * @param {Array<{ name: string, table: string, keys: string[] }>} defs
   */
  declareIndexes(defs) {
    const json = JSON.stringify(defs);
    call("declareIndexes", () => parseResult(this.#handle.declareIndexes(json)));
  }

  /**
   * Row keys of `table` in range order of `index` ("" = primary key order).
   * @param {string} table
   * @param {string} index
   * @param {object} range a js/range.js range
   * @param {number} limit < 0: no limit
   * @param {number} offset
   * @param {boolean} reverse
   * @param {boolean} staged see the open staged transaction's writes
   * @returns {string[]}
   */
  query(table, index, range, limit, offset, reverse, staged) {
    const json = JSON.stringify(range);
    return call("query", () =>
      parseResult(this.#handle.query(table, index, json, limit, offset, reverse, staged)),
    );
  }

  /**
   * One page of row keys in range order, continuing strictly after `cursor` (keyset paging:
   * writes before the cursor do not shift what the next page returns).
   * @param {string} table
   * @param {string} index "" = primary key order
   * @param {object} range a js/range.js range
   * @param {number} limit
   * @param {number} offset applied after the cursor (first page only, in practice)
   * @param {boolean} reverse
   * @param {string} cursor "" for the first page, else the cursor of the previous page
   * @returns {{ keys: string[], cursor: string }}
   */
  queryPage(table, index, range, limit, offset, reverse, cursor) {
    const json = JSON.stringify(range);
    return call("queryPage", () =>
      parseResult(this.#handle.queryPage(table, index, json, limit, offset, reverse, cursor)),
    );
  }

  /**
   * @param {string} table
   * @param {string} index
   * @param {object} range
   * @param {boolean} staged
   * @returns {number}
   */
  count(table, index, range, staged) {
    const json = JSON.stringify(range);
    return call("count", () => parseResult(this.#handle.count(table, index, json, staged)));
  }

  /**
   * Adds ops to the staged transaction (all or nothing per call).
   * @param {Array<object>} ops same shape as for commit
   */
  stage(ops) {
    const json = JSON.stringify(ops);
    call("stage", () => parseResult(this.#handle.stage(json)));
  }

  /**
   * @param {string} table
   * @param {string} key
   * @returns {Record<string, unknown> | undefined} the row as the staged transaction sees it
   */
  stagedRow(table, key) {
    return call("stagedRow", () => {
      const text = this.#handle.stagedRow(table, key);
      // Plain JSON.parse, as in row(): a user row may itself look like an error record.
      return text === "" ? undefined : JSON.parse(text);
    });
  }

  /** @returns {{ changes: RowChange[] }} commits the staged transaction (like commit) */
  commitStaged() {
    return call("commitStaged", () => parseResult(this.#handle.commitStaged()));
  }

  /** Discards the staged transaction. */
  rollbackStaged() {
    call("rollbackStaged", () => {
      const r = this.#handle.rollbackStaged();
      if (typeof r === "string" && r !== "") parseResult(r);
    });
  }

  /** Releases the WASM-side replica. Safe to call twice. */
  delete() {
    if (this.#raw !== null) {
      const raw = this.#raw;
      this.#raw = null;
      leaked.unregister(this);
      raw.delete();
    }
  }
}
