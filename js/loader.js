// Loading of the WebAssembly engine, once per process (or page, or worker).
//
// The browser path has no bare imports: dist/crdtdb.mjs is imported relative to this file and
// the .wasm is located relative to this module's own URL. Only the Node path imports
// node:fs, dynamically.

import { CRDTDBError } from "./errors.js";

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
 * Loads and instantiates the WebAssembly module. The promise is cached: the module loads once.
 * A failed load is not cached, so a later call retries.
 * @returns {Promise<any>} the Emscripten module with the raw exports
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
