// The package surface: runtime exports of js/index.js equal the value exports that the
// hand-written js/index.d.ts declares, and package.json points at both.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import * as api from "../../js/index.js";

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
  assert.deepEqual(pkg.exports["."], {
    types: "./js/index.d.ts",
    browser: "./js/index.js",
    node: "./js/index.js",
    default: "./js/index.js",
  });
  assert.equal(pkg.types, "./js/index.d.ts");
  assert.equal(pkg.dependencies, undefined, "no runtime dependencies");
  assert.deepEqual(pkg.files.sort(), ["README.md", "dist/crdtdb.mjs", "dist/crdtdb.wasm", "js/"]);
});

test("the browser entry graph has no bare imports (loads from plain static files)", () => {
  const files = readdirSync(new URL("../../js/", import.meta.url)).filter((f) => f.endsWith(".js"));
  assert.ok(files.includes("index.js") && files.includes("engine.js"));
  for (const f of files) {
    const src = read(`js/${f}`);
    for (const m of src.matchAll(/\bimport\s*(?:[^"'()]*?\bfrom\s*)?\(?\s*["']([^"']+)["']/g)) {
      const spec = m[1];
      const ok = spec.startsWith("./") || spec.startsWith("../") || spec === "node:fs/promises";
      assert.ok(ok, `js/${f} imports "${spec}"`);
      if (spec.startsWith("node:")) {
        // Only dynamically, on the Node path.
        assert.match(src, /await import\("node:fs\/promises"\)/, `js/${f}: node: import must be dynamic`);
        assert.doesNotMatch(src, /^import[^;]*"node:/m, `js/${f}: no static node: import`);
      }
    }
  }
});
