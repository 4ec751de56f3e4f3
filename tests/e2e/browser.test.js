// The package in real headless Chromium: the entry loads from plain static files (no bundler),
// the .wasm is fetched next to the module and served as application/wasm, and rows and sync
// work in the page.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openPage, startHarness } from "./harness.js";

/** @type {Awaited<ReturnType<typeof startHarness>>} */
let h;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

test("a page importing /js/index.js sets, gets and syncs rows between two databases", async () => {
  const { context, page, problems, types } = await openPage(h.browser);
  try {
    await page.goto(`${h.url}e2e/basic.html`);
    await page.waitForFunction(() => "testResult" in window, null, { timeout: 20_000 });
    const result = await page.evaluate(() => window.testResult);
    assert.equal(result.error, undefined, result.error);

    const ada = { name: "Ada", tags: ["math", "poetry"], n: 1.5 };
    assert.deepEqual(result.readBeforeAwait, ada);
    assert.deepEqual(result.get, ada);
    assert.equal(result.frozen, true);
    assert.deepEqual(result.updated, { ...ada, n: 2 });

    assert.deepEqual(result.applyToOther, { applied: 2, pending: 0 });
    assert.deepEqual(result.applyToFirst, { applied: 1, pending: 0 });
    assert.deepEqual(result.otherU1, { ...ada, n: 2 });
    assert.deepEqual(result.firstU2, { name: "Grace" });
    assert.deepEqual(result.remoteEvents, [{ table: "users", key: "u1", origin: "remote" }]);
    assert.equal(result.sameVersion, true);
    assert.equal(result.decodeError, "DecodeError");

    assert.equal(types.get("/dist/crdtdb.wasm"), "application/wasm");
    assert.match(types.get("/dist/crdtdb.mjs") ?? "", /^text\/javascript/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("the package runs in a module worker; its changes apply in the page", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await page.goto(`${h.url}e2e/worker.html`);
    await page.waitForFunction(() => "testResult" in window, null, { timeout: 20_000 });
    const result = await page.evaluate(() => window.testResult);
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(result.workerRow, { from: "worker", n: 7 });
    assert.deepEqual(result.applied, { applied: 1, pending: 0 });
    assert.deepEqual(result.pageRow, { from: "worker", n: 7 });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("the static server refuses paths outside its mounts", async () => {
  for (const path of ["/e2e/../../../package.json", "/js/..%2f..%2fpackage.json", "/src/db/database.h", "/%2e%2e/package.json"]) {
    const res = await fetch(`${h.url.slice(0, -1)}${path}`);
    assert.equal(res.status, 404, path);
    await res.arrayBuffer();
  }
  const res = await fetch(`${h.url}dist/crdtdb.wasm`, { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/wasm");
});
