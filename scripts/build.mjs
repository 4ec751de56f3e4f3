// Installs what is missing, then builds what changed: the native tree (build/native, Debug with
// sanitizers, Catch2 tests) and the WASM tree (build/wasm → dist/crdtdb.{mjs,wasm} and the
// Catch2 suite for node). Configures a tree only when its build.ninja is missing; ninja skips
// unchanged work. The two builds run one after the other (2 cores).
//
//   node scripts/build.mjs [--native-only | --wasm-only]      (CRDTDB_JOBS=N sets ninja -j)

import { bootstrap, build } from "./lib.mjs";

const args = process.argv.slice(2);
const kinds = args.includes("--native-only")
  ? ["native"]
  : args.includes("--wasm-only")
    ? ["wasm"]
    : ["native", "wasm"];

try {
  await bootstrap();
  for (const kind of kinds) await build(kind);
} catch (err) {
  console.error(`\nbuild failed: ${err.message}`);
  process.exit(1);
}
