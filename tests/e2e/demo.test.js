// The web demo as a person uses it: add todos on two replicas, sync, edit concurrently, see
// last-writer-wins and the conflict note.

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

test("web demo: add, sync, concurrent edits, delete", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await page.goto(h.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    assert.match(await page.textContent("#notice"), /IndexedDB/);

    const alice = page.locator('[data-replica="alice"]');
    const bob = page.locator('[data-replica="bob"]');
    const titles = (side) => side.locator(".todos li .title").allTextContents();

    await alice.locator("input[name=title]").fill("buy milk");
    await alice.locator("button[type=submit]").click();
    await bob.locator("input[name=title]").fill("write tests");
    await bob.locator("button[type=submit]").click();
    assert.deepEqual(await titles(alice), ["buy milk"]);
    assert.deepEqual(await titles(bob), ["write tests"]);

    await page.click("#sync");
    assert.deepEqual(await titles(alice), ["buy milk", "write tests"]);
    assert.deepEqual(await titles(bob), ["buy milk", "write tests"]);
    assert.equal(await page.textContent("#sync-status"), "bob ← 1 change\nalice ← 1 change");

    // Concurrent edits of the same title: after sync both show the same winner, and the
    // loser appears as a conflict note.
    for (const [side, text] of [[alice, "oat milk"], [bob, "soy milk"]]) {
      await side.locator(".todos li .title").first().dblclick();
      await side.locator(".todos li input.title").fill(text);
      await side.locator(".todos li input.title").press("Enter");
    }
    await page.click("#sync");
    const a = await titles(alice);
    assert.deepEqual(await titles(bob), a);
    assert.ok(["oat milk", "soy milk"].includes(a[0]), a[0]);
    // Both replicas show the loser (the winner's replica saw no visible change, yet it lists it).
    const loser = a[0] === "oat milk" ? "soy milk" : "oat milk";
    for (const side of [alice, bob]) {
      assert.match(await side.locator(".todos li .conflict").first().textContent(), new RegExp(loser));
    }

    // Toggle done on bob, delete on alice; auto-sync carries both once each write is durable.
    const listed = (/** @type {string} */ selector, /** @type {number} */ n) =>
      page.waitForFunction(([sel, k]) => document.querySelectorAll(sel).length === k, [selector, n]);
    await page.check("#auto");
    await bob.locator(".todos li").nth(1).locator("input[type=checkbox]").check();
    await listed('[data-replica="alice"] .todos li.done', 1);
    await alice.locator(".todos li").first().locator("button").click();
    await listed('[data-replica="bob"] .todos li', 1);
    assert.equal(await alice.locator(".todos li").count(), 1);

    // Both replicas keep their rows across a reload (writes land in IndexedDB within a task
    // or two; give them a moment before unloading the page).
    const kept = [await titles(alice), await titles(bob)];
    await page.waitForTimeout(300);
    await page.reload();
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    assert.deepEqual([await titles(alice), await titles(bob)], kept);
    assert.match(await page.textContent("#status"), /hold 1 and 1 todos/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
