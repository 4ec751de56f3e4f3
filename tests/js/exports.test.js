// The package surface: runtime exports of js/index.js equal the value exports that the
// hand-written js/index.d.ts declares, and package.json points at both.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import * as api from "crdtdb";

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

test("js/index.js exports exactly the values js/index.d.ts declares", () => {
  const dts = read("js/index.d.ts");
  const declared = [
    ...dts.matchAll(/^export\s+(?:declare\s+)?(?:abstract\s+)?(?:class|function|const|let)\s+(\w+)/gm),
  ].map((m) => m[1]);
  assert.deepEqual(Object.keys(api).sort(), [...new Set(declared)].sort());
});

test("every export is what it claims to be", () => {
  assert.equal(typeof api.CRDTDB, "function");
  assert.equal(typeof api.CRDTDB.open, "function");
  for (const name of ["CRDTDBError", "UnknownIndexError", "NotFoundError", "DecodeError", "ClosedError", "QuotaError"]) {
    assert.equal(api[name].name, name);
    assert.ok(new api[name]("x") instanceof api.CRDTDBError);
  }
});

test("package.json exports map, types and files", () => {
  const pkg = JSON.parse(read("package.json"));
  assert.equal(pkg.name, "crdtdb");
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.exports, {
    ".": { types: "./js/index.d.ts", node: "./js/index.node.js", default: "./js/index.js" },
    "./crdtdb.wasm": "./dist/crdtdb.wasm",
    "./server": "./js/server/server.js",
    "./package.json": "./package.json",
  });
  assert.equal(pkg.types, "./js/index.d.ts");
  // One runtime dependency, for crdtdb-server only (the browser entry never imports it).
  assert.deepEqual(Object.keys(pkg.dependencies), ["ws"]);
  assert.deepEqual(pkg.bin, { "crdtdb-server": "js/server/cli.js" });
  // require() of an ES module without a flag: Node 20.19+ (and 22.12+).
  assert.equal(pkg.engines.node, ">=20.19");
  for (const f of ["README.md", "LICENSE", "docs/", "dist/crdtdb.mjs", "dist/crdtdb.wasm", "js/"]) {
    assert.ok(pkg.files.includes(f), `files lists ${f}`);
  }
});

test("the browser entry's module graph has no bare and no node: imports", () => {
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = read(file);
    // import … from, export … from, import "…", import("…")
    for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)) {
      const spec = m[1];
      assert.ok(spec.startsWith("./") || spec.startsWith("../"), `${file} imports "${spec}"`);
      walk(new URL(spec, new URL(`file:///${file}`)).pathname.slice(1));
    }
  };
  walk("js/index.js");
  assert.ok(seen.has("js/loader.js") && seen.has("dist/crdtdb.mjs"), [...seen].join(" "));
  assert.ok(!seen.has("js/index.node.js"));
  // The wasm is found with the literal pattern bundlers rewrite.
  assert.match(read("js/loader.js"), /new URL\("\.\.\/dist\/crdtdb\.wasm", import\.meta\.url\)/);
});

test("the node entry is the browser entry plus a file read", async () => {
  const node = await import("../../js/index.node.js");
  const browser = await import("../../js/index.js");
  assert.deepEqual(Object.keys(node).sort(), Object.keys(browser).sort());
  for (const k of Object.keys(browser)) assert.equal(node[k], browser[k], k);
  assert.equal(import.meta.resolve("crdtdb"), new URL("../../js/index.node.js", import.meta.url).href);
});
