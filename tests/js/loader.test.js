// CRDTDB.init(source): every kind of source, and load failures that name the URL, the HTTP
// status or content type and the fix. The engine loads once per process, so this file runs
// its failures first, then one successful load (node:test runs each file in its own process).

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { test } from "node:test";
import { CRDTDB, CRDTDBError } from "crdtdb";
import { setDefaultSource } from "../../js/loader.js";

const WASM = new URL("../../dist/crdtdb.wasm", import.meta.url);

/** A loopback server: /missing → 404, /page → an HTML 200 (an SPA fallback), /ok → the wasm. */
async function serve() {
  const wasm = await readFile(WASM);
  const server = createServer((req, res) => {
    if (req.url === "/page") {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><p>app</p>");
    } else if (req.url === "/ok") {
      res.writeHead(200, { "content-type": "application/wasm" }).end(wasm);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Asserts `p` rejects with a CRDTDBError whose message matches every pattern. */
async function rejectsWith(p, ...patterns) {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof CRDTDBError, `${err?.name}: ${err?.message}`);
    for (const re of patterns) assert.match(err.message, re);
    return true;
  });
}

test("load failures name the source, the status or content type, and the fix", async () => {
  const { base, close } = await serve();
  try {
    await rejectsWith(
      CRDTDB.init(`${base}/missing/crdtdb.wasm`),
      new RegExp(`${base}/missing/crdtdb\\.wasm`),
      /HTTP 404/,
      /text\/plain/,
      /CRDTDB\.init\(\)/,
      /application\/wasm/,
    );
    // An SPA's HTML fallback page answered with 200: named by its content type and first bytes.
    await rejectsWith(CRDTDB.init(new URL(`${base}/page`)), /\/page/, /text\/html/, /<!doctype html>/, /not WebAssembly/);
    await rejectsWith(CRDTDB.init(fetch(`${base}/missing`)), /\/missing/, /HTTP 404/);
    await rejectsWith(CRDTDB.init(new Uint8Array([1, 2, 3])), /the bytes given/, /not WebAssembly/);
    await rejectsWith(CRDTDB.init(new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9])), /did not compile/);
    await rejectsWith(CRDTDB.init(new URL("file:///nowhere/crdtdb.wasm")), /file:/, /node entry|readFile/);
    // Failures inside a source the caller gave are load errors too, not bare TypeErrors.
    await rejectsWith(CRDTDB.init(Promise.reject(new Error("boom"))), /the promise given/, /boom/);
    await rejectsWith(CRDTDB.init(fetch("http://127.0.0.1:1/crdtdb.wasm")), /the promise given/, /CRDTDB\.init\(\)/);
    const used = await fetch(`${base}/ok`);
    await used.arrayBuffer();
    await rejectsWith(CRDTDB.init(used), /\/ok/, /reading the response failed/);
    // The default source (the node entry's file read) names the file when it is missing or
    // is not the engine, and says what to pass instead.
    setDefaultSource("the installed file /nowhere/crdtdb.wasm", () => readFile("/nowhere/crdtdb.wasm"));
    await rejectsWith(CRDTDB.init(), /the installed file \/nowhere\/crdtdb\.wasm/, /ENOENT/, /Pass the bytes/);
    setDefaultSource("the installed file /lfs", () => Promise.resolve(new TextEncoder().encode("version https://git-lfs")));
    await rejectsWith(CRDTDB.open("x", { storage: "memory" }), /the installed file \/lfs/, /not WebAssembly/, /version https/);
    setDefaultSource("its default location", () => new URL("../dist/crdtdb.wasm", /** @type {any} */ (undefined)));
    await rejectsWith(CRDTDB.init(), /its default location/, /could not be resolved/);
    await assert.rejects(CRDTDB.init(/** @type {any} */ (42)), TypeError);
    await assert.rejects(CRDTDB.init(/** @type {any} */ (Promise.resolve("not a response"))), TypeError);
    // Nothing loaded: opening still fails with the default source working as usual afterwards.
    await CRDTDB.init(fetch(`${base}/ok`));
  } finally {
    await close();
  }
  const db = await CRDTDB.open("loaded", { storage: "memory" });
  await db.table("t").set("k", { ok: true });
  assert.deepEqual(db.table("t").get("k"), { ok: true });
  db.close();
});

test("once loaded, init() resolves and init(source) rejects (the first load wins)", async () => {
  await CRDTDB.init();
  await rejectsWith(CRDTDB.init(await readFile(WASM)), /already loaded/, /before the first open/);
  const db = await CRDTDB.open("again", { storage: "memory" });
  db.close();
});
