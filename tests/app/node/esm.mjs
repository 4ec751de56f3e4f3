// Node, ES modules: import "crdtdb" (the package's node entry reads the wasm from disk).
import assert from "node:assert/strict";
import * as crdtdb from "crdtdb";
import { EXPECTED, report } from "../common/exercise.js";

const r = await report(crdtdb, "node-esm");
assert.deepEqual(r, { ok: true, ...EXPECTED });
assert.match(import.meta.resolve("crdtdb"), /node_modules\/crdtdb\/js\/index\.node\.js$/);
console.log("node ESM:", JSON.stringify(r));
