// CRDTDB.init with a compiled WebAssembly.Module (its own process: the engine loads once).

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { CRDTDB } from "crdtdb";

test("init accepts a compiled WebAssembly.Module", async () => {
  const module = await WebAssembly.compile(await readFile(new URL("../../dist/crdtdb.wasm", import.meta.url)));
  await CRDTDB.init(module);
  const db = await CRDTDB.open("compiled", { storage: "memory" });
  await db.table("t").set("k", { n: 1 });
  assert.deepEqual(db.table("t").get("k"), { n: 1 });
  db.close();
});
