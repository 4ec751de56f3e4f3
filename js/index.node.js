// Package entry of crdtdb under Node (the `node` export condition): the browser entry plus a
// default engine source that reads dist/crdtdb.wasm from the installed package. Everything
// else is shared with js/index.js.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { setDefaultSource } from "./loader.js";

const file = new URL("../dist/crdtdb.wasm", import.meta.url);
setDefaultSource(`the installed file ${fileURLToPath(file)}`, () => readFile(file));

export * from "./index.js";
