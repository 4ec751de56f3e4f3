// Tabs syncing one IndexedDB database through BroadcastChannelSync in real Chromium: three
// tabs converge (rows, version, index), a write is posted once and never loops, a tab opened
// later catches up (and sees the others' presence), and a tab whose renderer is killed
// mid-stream breaks nothing: the others converge and hold every write it had acknowledged.
// A tab and a module worker on one database sync both ways.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startHarness } from "./harness.js";

/** @type {Awaited<ReturnType<typeof startHarness>>} */
let h;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

/** @param {import("playwright-core").BrowserContext} context */
async function tab(context) {
  const page = await context.newPage();
  /** @type {string[]} */
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`);
  });
  await page.goto(`${h.url}e2e/sync.html`);
  await page.waitForFunction(() => "pageReady" in window, null, { timeout: 20_000 });
  const peerId = await page.evaluate(() => /** @type {any} */ (window).startSync());
  return { page, problems, peerId };
}

/** @param {import("playwright-core").Page} page */
const snapshot = (page) => page.evaluate(() => /** @type {any} */ (window).snapshot());

/**
 * Waits until every page shows the same rows and version.
 * @param {import("playwright-core").Page[]} pages
 * @param {string} what
 */
async function converged(pages, what) {
  const end = Date.now() + 20_000;
  for (;;) {
    const snaps = await Promise.all(pages.map(snapshot));
    const same = snaps.every((s) => JSON.stringify([s.rows, s.version, s.byTab]) === JSON.stringify([snaps[0].rows, snaps[0].version, snaps[0].byTab]));
    if (same) return snaps;
    if (Date.now() > end) throw new Error(`${what}: the tabs did not converge: ${JSON.stringify(snaps.map((s) => s.rows.length))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("three tabs converge, a write is posted once, a late tab catches up, a killed tab breaks nothing", async () => {
  const context = await h.browser.newContext();
  try {
    const a = await tab(context);
    const b = await tab(context);
    const c = await tab(context);
    await Promise.all([a, b, c].map((t, i) => t.page.evaluate(([name]) => /** @type {any} */ (window).writeRows(name, 15), [`t${i}`])));
    let snaps = await converged([a.page, b.page, c.page], "three tabs");
    assert.equal(snaps[0].rows.length, 45);
    assert.equal(snaps[0].byTab.length, 45);
    for (const s of snaps) assert.equal(s.peers.length, 2, JSON.stringify(s.peers));

    // One write: at most two posts (the writer's; and the storage owner's, when a follower
    // wrote through it), and nothing after: no loops.
    const count = () => c.page.evaluate(() => /** @type {any} */ (window).framesSeen());
    const before = await count();
    await b.page.evaluate(() => /** @type {any} */ (window).writeRows("once", 1));
    await converged([a.page, b.page, c.page], "one write");
    await new Promise((r) => setTimeout(r, 300));
    const afterOne = await count();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await count(), afterOne, "frames kept coming after one write");
    assert.ok(afterOne - before >= 1 && afterOne - before <= 2, `one write posted ${afterOne - before} times`);

    // A tab opened later catches up from the others, and sees who is here.
    await a.page.evaluate(() => /** @type {any} */ (window).setPresence({ name: "tab a" }));
    const d = await tab(context);
    snaps = await converged([a.page, b.page, c.page, d.page], "the late tab");
    assert.equal(snaps[3].rows.length, 46);
    await d.page.waitForFunction((id) => /** @type {any} */ (window).presence()[id]?.name === "tab a", a.peerId, { timeout: 10_000 });

    // c writes continuously and its renderer is killed mid-stream.
    let acked = -1;
    c.page.on("console", (m) => {
      const match = /^ack \S+ (\d+)$/.exec(m.text());
      if (match) acked = Math.max(acked, Number(match[1]));
    });
    c.page.evaluate(() => /** @type {any} */ (window).writeForever("c")).catch(() => {});
    while (acked < 20) await new Promise((r) => setTimeout(r, 10));
    const cdp = await context.newCDPSession(c.page);
    const crashed = new Promise((r) => c.page.once("crash", r));
    cdp.send("Page.crash").catch(() => {});
    await crashed;
    await a.page.evaluate(() => /** @type {any} */ (window).writeRows("after", 3));
    snaps = await converged([a.page, b.page, d.page], "after the crash");
    const rows = new Map(snaps[0].rows);
    for (let i = Math.max(0, acked - 49); i <= acked; i++) {
      const row = rows.get(`c-live-${i % 50}`);
      assert.ok(row && row.i >= i, `c's acknowledged write ${i} is missing: ${JSON.stringify(row)}`);
    }
    assert.equal(rows.get("after-2")?.i, 2);
    for (const t of [a, b, d]) assert.deepEqual(t.problems, []);
  } finally {
    await context.close();
  }
});

test("a tab and a module worker with the same database sync both ways", async () => {
  const context = await h.browser.newContext();
  try {
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${h.url}e2e/sync.html`);
    await page.waitForFunction(() => "pageReady" in window, null, { timeout: 20_000 });
    await page.evaluate(() => /** @type {any} */ (window).startSync("tab-worker"));
    const workerId = await page.evaluate(() => /** @type {any} */ (window).workerCall({ op: "start", name: "tab-worker" }));
    assert.equal(typeof workerId, "string");
    await page.evaluate(() => /** @type {any} */ (window).writeRows("page", 5));
    await page.evaluate(() => /** @type {any} */ (window).workerCall({ op: "write", key: "from-worker", row: { tab: "worker", i: 1 } }));
    const end = Date.now() + 20_000;
    for (;;) {
      const pageRows = JSON.stringify(await page.evaluate(() => /** @type {any} */ (window).snapshot().rows));
      const workerRows = JSON.stringify(await page.evaluate(() => /** @type {any} */ (window).workerCall({ op: "rows" })));
      if (pageRows === workerRows && JSON.parse(pageRows).length === 6) break;
      if (Date.now() > end) throw new Error(`page ${pageRows} vs worker ${workerRows}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
