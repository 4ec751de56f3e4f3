// An esbuild bundle, as docs/bundlers.md says: esbuild does not copy the wasm, so it is copied
// beside the bundle and its URL handed to CRDTDB.init.
import * as crdtdb from "crdtdb";
import { report } from "../common/exercise.js";

await crdtdb.CRDTDB.init(new URL("./crdtdb.wasm", import.meta.url));
globalThis.__result = await report(crdtdb, "esbuild");
