// Loading of the WebAssembly engine, once per page, worker or process.
//
// Nothing here is Node-specific: the default source is `new URL("../dist/crdtdb.wasm",
// import.meta.url)`, written out literally so Vite, webpack 5, Rollup and Parcel see it, emit
// the file and rewrite the URL. The package's `node` entry (index.node.js) replaces the
// default with a file read. `CRDTDB.init(source)` takes any other source.

import createCrdtdbModule from "../dist/crdtdb.mjs";
import { CRDTDBError } from "./errors.js";

/**
 * @typedef {string | URL | Response | PromiseLike<Response> | ArrayBuffer | ArrayBufferView |
 *   WebAssembly.Module} EngineSource
 */

/** @type {() => EngineSource | PromiseLike<EngineSource>} */
let defaultSource = () => new URL("../dist/crdtdb.wasm", import.meta.url);

/** @type {Promise<any> | null} */
let modulePromise = null;

const FIX =
  "Serve crdtdb's dist/crdtdb.wasm (exported as \"crdtdb/crdtdb.wasm\") at that URL with " +
  "Content-Type application/wasm, or pass its URL, a Response, its bytes or a compiled " +
  "WebAssembly.Module to CRDTDB.init() before the first open (see docs/bundlers.md).";

/**
 * Replaces the source used when `init` gets none (the Node entry reads the file).
 * @param {() => EngineSource | PromiseLike<EngineSource>} source
 */
export function setDefaultSource(source) {
  defaultSource = source;
}

/**
 * @param {string} where
 * @param {string} what
 * @param {unknown} [cause]
 */
function loadError(where, what, cause) {
  return new CRDTDBError(`could not load the crdtdb engine from ${where}: ${what}. ${FIX}`, {
    cause,
  });
}

/**
 * @param {Uint8Array} bytes
 * @param {string} where
 * @param {string} [contentType]
 */
async function compileBytes(bytes, where, contentType) {
  const magic = bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (!magic) {
    const head = new TextDecoder().decode(bytes.subarray(0, 16)).replace(/\s+/g, " ").trim();
    const type = contentType ? `content type ${contentType}, ` : "";
    throw loadError(where, `got ${bytes.length} bytes (${type}starting ${JSON.stringify(head)}), not WebAssembly`);
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    throw loadError(where, `the WebAssembly did not compile (${/** @type {any} */ (err)?.message ?? err})`, err);
  }
}

/** @param {unknown} v @returns {v is PromiseLike<unknown>} */
function isThenable(v) {
  return v !== null && typeof v === "object" && typeof (/** @type {any} */ (v).then) === "function";
}

function sourceTypeError() {
  return new TypeError(
    "CRDTDB.init() takes a URL, a Response or a promise of one, an ArrayBuffer or typed array, " +
      "or a WebAssembly.Module",
  );
}

/**
 * @param {EngineSource} source
 * @returns {Promise<WebAssembly.Module>}
 */
async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (isThenable(source)) {
    const v = await source;
    if (typeof v === "string" || v instanceof URL || isThenable(v)) throw sourceTypeError();
    return compile(v);
  }
  if (source instanceof ArrayBuffer) return compileBytes(new Uint8Array(source), "the bytes given");
  if (ArrayBuffer.isView(source)) {
    return compileBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), "the bytes given");
  }
  /** @type {unknown} */
  let res = source;
  let where = "the Response given";
  if (typeof source === "string" || source instanceof URL) {
    where = String(source);
    if (where.startsWith("file:")) {
      throw loadError(
        where,
        "a file: URL cannot be fetched; in Node, import \"crdtdb\" (its node entry reads the file) " +
          "or pass the bytes: CRDTDB.init(await readFile(...))",
      );
    }
    try {
      res = await fetch(source);
    } catch (err) {
      throw loadError(where, `the request failed (${/** @type {any} */ (err)?.message ?? err})`, err);
    }
  }
  if (typeof Response === "undefined" || !(res instanceof Response)) throw sourceTypeError();
  if (res.url) where = res.url;
  const type = res.headers.get("content-type") ?? "";
  if (!res.ok) throw loadError(where, `HTTP ${res.status} ${res.statusText}${type ? ` (${type})` : ""}`.trim());
  return compileBytes(new Uint8Array(await res.arrayBuffer()), where, type);
}

/**
 * @param {WebAssembly.Module} wasm
 * @returns {Promise<any>}
 */
function instantiate(wasm) {
  return new Promise((resolve, reject) => {
    createCrdtdbModule({
      instantiateWasm(/** @type {any} */ imports, /** @type {(i: WebAssembly.Instance, m: WebAssembly.Module) => void} */ receive) {
        WebAssembly.instantiate(wasm, imports).then((instance) => receive(instance, wasm), reject);
        return {};
      },
    }).then(resolve, reject);
  });
}

/**
 * Loads the engine from `source` (or the default source). The first call wins; a failed load
 * is forgotten, so a later call can retry.
 * @param {EngineSource} [source]
 * @returns {Promise<void>}
 */
export function init(source) {
  if (modulePromise !== null) {
    if (source !== undefined) {
      return Promise.reject(
        new CRDTDBError(
          "the crdtdb engine is already loaded (or loading): call CRDTDB.init(source) once, before the first open",
        ),
      );
    }
    return modulePromise.then(() => undefined);
  }
  const p = (async () => compile(source ?? (await defaultSource())))().then(instantiate);
  modulePromise = p.catch((err) => {
    modulePromise = null;
    throw err instanceof CRDTDBError || err instanceof TypeError
      ? err
      : new CRDTDBError(`could not start the crdtdb engine: ${err?.message ?? err}`, { cause: err });
  });
  return modulePromise.then(() => undefined);
}

/**
 * The loaded engine module, loading it from the default source on first use.
 * @returns {Promise<any>} the Emscripten module with the raw exports
 */
export function loadEngineModule() {
  if (modulePromise === null) init().catch(() => {});
  return /** @type {Promise<any>} */ (modulePromise);
}
