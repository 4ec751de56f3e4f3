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

/**
 * The source used when `init` gets none, and how messages name it.
 * @type {{ where: string, load: () => EngineSource }}
 */
let defaultSource = {
  where: "its default location (dist/crdtdb.wasm beside the package's js/ folder)",
  load: () => new URL("../dist/crdtdb.wasm", import.meta.url),
};

/** @type {Promise<any> | null} */
let modulePromise = null;

const FIX_URL =
  "Serve crdtdb's dist/crdtdb.wasm (exported as \"crdtdb/crdtdb.wasm\") at that URL with " +
  "Content-Type application/wasm, or pass its URL, a Response, its bytes or a compiled " +
  "WebAssembly.Module to CRDTDB.init() before the first open (see docs/bundlers.md).";
const FIX_BYTES =
  "Pass the bytes of the installed package's dist/crdtdb.wasm (exported as " +
  "\"crdtdb/crdtdb.wasm\"), its URL, a Response or a compiled WebAssembly.Module to " +
  "CRDTDB.init() before the first open (see docs/bundlers.md).";
const FIX_FILE_URL =
  "In Node, import \"crdtdb\" (its node entry reads the file) or pass the bytes: " +
  "CRDTDB.init(await readFile(...)) (see docs/node.md).";

/** TypeErrors for a source of the wrong type: passed on as they are, not as load failures. */
const badSources = new WeakSet();

/**
 * Replaces the default source (the Node entry reads the file).
 * @param {string} where how error messages name it
 * @param {() => EngineSource} load
 */
export function setDefaultSource(where, load) {
  defaultSource = { where, load };
}

/** @param {unknown} err */
function messageOf(err) {
  return String(/** @type {any} */ (err)?.message ?? err);
}

/**
 * @param {string} where
 * @param {string} what
 * @param {string} fix
 * @param {unknown} [cause]
 */
function loadError(where, what, fix, cause) {
  return new CRDTDBError(`could not load the crdtdb engine from ${where}: ${what}. ${fix}`, { cause });
}

/**
 * @param {Uint8Array} bytes
 * @param {string} where
 * @param {string} fix
 * @param {string} [contentType]
 */
async function compileBytes(bytes, where, fix, contentType) {
  const magic = bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (!magic) {
    const head = new TextDecoder().decode(bytes.subarray(0, 16)).replace(/\s+/g, " ").trim();
    const type = contentType ? `content type ${contentType}, ` : "";
    throw loadError(where, `got ${bytes.length} bytes (${type}starting ${JSON.stringify(head)}), not WebAssembly`, fix);
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    throw loadError(where, `the WebAssembly did not compile (${messageOf(err)})`, fix, err);
  }
}

/** @param {unknown} v @returns {v is PromiseLike<unknown>} */
function isThenable(v) {
  return v !== null && typeof v === "object" && typeof (/** @type {any} */ (v).then) === "function";
}

function sourceTypeError() {
  const err = new TypeError(
    "CRDTDB.init() takes a URL, a Response or a promise of one, an ArrayBuffer or typed array, " +
      "or a WebAssembly.Module",
  );
  badSources.add(err);
  return err;
}

/**
 * @param {unknown} source
 * @param {string} [where] how to name a source that does not name itself
 * @returns {Promise<WebAssembly.Module>}
 */
async function compile(source, where) {
  if (source instanceof WebAssembly.Module) return source;
  if (isThenable(source)) {
    let v;
    try {
      v = await source;
    } catch (err) {
      throw loadError(where ?? "the promise given", `it failed (${messageOf(err)})`, where ? FIX_BYTES : FIX_URL, err);
    }
    if (typeof v === "string" || v instanceof URL || isThenable(v)) throw sourceTypeError();
    return compile(v, where);
  }
  if (source instanceof ArrayBuffer) return compileBytes(new Uint8Array(source), where ?? "the bytes given", FIX_BYTES);
  if (ArrayBuffer.isView(source)) {
    const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return compileBytes(bytes, where ?? "the bytes given", FIX_BYTES);
  }
  /** @type {unknown} */
  let res = source;
  let at = where ?? "the Response given";
  if (typeof source === "string" || source instanceof URL) {
    at = String(source);
    if (at.startsWith("file:")) throw loadError(at, "a file: URL cannot be fetched", FIX_FILE_URL);
    try {
      res = await fetch(source);
    } catch (err) {
      throw loadError(at, `the request failed (${messageOf(err)})`, FIX_URL, err);
    }
  }
  if (typeof Response === "undefined" || !(res instanceof Response)) throw sourceTypeError();
  if (res.url) at = res.url;
  const type = res.headers.get("content-type") ?? "";
  if (!res.ok) throw loadError(at, `HTTP ${res.status} ${res.statusText}${type ? ` (${type})` : ""}`.trim(), FIX_URL);
  let body;
  try {
    body = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    throw loadError(at, `reading the response failed (${messageOf(err)})`, FIX_URL, err);
  }
  return compileBytes(body, at, FIX_URL, type);
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
  const p = (async () => {
    if (source !== undefined) return compile(source);
    let src;
    try {
      src = defaultSource.load();
    } catch (err) {
      throw loadError(defaultSource.where, `it could not be resolved (${messageOf(err)})`, FIX_URL, err);
    }
    return compile(src, defaultSource.where);
  })().then(instantiate);
  modulePromise = p.catch((err) => {
    modulePromise = null;
    throw err instanceof CRDTDBError || badSources.has(err)
      ? err
      : new CRDTDBError(`could not start the crdtdb engine: ${messageOf(err)}`, { cause: err });
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
