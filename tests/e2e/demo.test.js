// The web demo (web-demo/, the task board) as a person uses it: add, edit, move and delete
// tasks; two tabs of one browser syncing over a BroadcastChannel and seeing each other in
// "who is here"; the inspector; loading offline from the service worker; and two browsers
// (separate contexts, so separate IndexedDB) syncing through a room on crdtdb-server's relay,
// with a password too. The pages use ?p2p=0: WebRTC is tested elsewhere (it needs a network
// namespace), so the demo starts only the relay provider here.
// Waits poll with deadlines; nothing asserts on time.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { CRDTDB, WebSocketSync } from "../../js/index.node.js";
import { startServer as startRelay } from "../../js/server/server.js";
import { openPage, startHarness } from "./harness.js";

/** @type {Awaited<ReturnType<typeof startHarness>>} */
let h;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

/** @typedef {import("playwright-core").Page} Page */

const READY = "body[data-ready=true]";

/**
 * Records what openPage records (console errors and warnings, page errors, failed requests,
 * HTTP errors) for another page of the same context.
 * @param {Page} page
 * @param {string[]} problems
 */
function watch(page, problems) {
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`requestfailed: ${req.url()}`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
}

/**
 * Retries `check` (assertions) until it passes; after the deadline its last failure is thrown.
 * @template T
 * @param {() => Promise<T>} check
 * @param {number} [ms]
 * @returns {Promise<T>}
 */
async function eventually(check, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** @param {Page} page @param {string} url */
async function open(page, url) {
  await page.goto(url);
  await page.waitForSelector(READY, { timeout: 20_000 });
}

/** The board as titles by column. @param {Page} page */
function board(page) {
  return page.evaluate(() => {
    /** @type {Record<string, string[]>} */
    const out = {};
    for (const col of document.querySelectorAll(".column")) {
      const status = /** @type {HTMLElement} */ (col).dataset.status ?? "";
      out[status] = [...col.querySelectorAll("li.task input.title")].map((i) => /** @type {HTMLInputElement} */ (i).value);
    }
    return out;
  });
}

/** @param {Page} page @param {string} title */
async function addTask(page, title) {
  await page.getByLabel("New task").fill(title);
  await page.getByRole("button", { name: "Add", exact: true }).click();
}

/** @param {Page} page @param {string} name */
const button = (page, name) => page.getByRole("button", { name, exact: true });

/** The card of the task titled `title` (by its input's value). @param {Page} page @param {string} title */
async function card(page, title) {
  const key = await page.evaluate(
    (t) => [...document.querySelectorAll("li.task")].find((li) => /** @type {HTMLInputElement} */ (li.querySelector("input.title")).value === t)?.getAttribute("data-key"),
    title,
  );
  assert.ok(key, `no task titled ${title}`);
  return page.locator(`li.task[data-key="${key}"]`);
}

/** Every write has become durable (the demo's saving indicator is idle). @param {Page} page */
const saved = (page) => page.waitForSelector("body[data-pending='0']", { timeout: 10_000 });

/** Names in "who is here". @param {Page} page */
const people = (page) => page.locator("#people .name").allTextContents();

/** @param {Page} page @param {string} name */
async function setName(page, name) {
  await page.getByLabel("Your name").fill(name);
}

/** @param {Page} page @param {{ room: string, password?: string }} opts */
async function connect(page, { room, password = "" }) {
  await page.getByLabel("Room").fill(room);
  await page.getByLabel("Password (optional)").fill(password);
  await button(page, "Connect").click();
  await page.waitForSelector("#status-relay[data-synced=true]", { timeout: 15_000 });
}

/** @param {Page} page */
async function disconnect(page) {
  await button(page, "Disconnect").click();
  await page.waitForSelector("#status-relay[data-connected=false]", { timeout: 5_000 });
}

test("board: add, edit, move and delete tasks; the inspector counts them; they survive a reload", async () => {
  const { context, page, problems } = await openPage(h.browser);
  try {
    await open(page, h.url);
    await addTask(page, "write the README");
    await addTask(page, "ship the demo");
    await page.getByLabel("New task").fill("fix the flaky test");
    await page.getByLabel("New task").press("Enter");
    assert.deepEqual(await board(page), { todo: ["write the README", "ship the demo", "fix the flaky test"], doing: [], done: [] });

    // Move with the card's buttons (named for screen readers), edit in place, delete.
    await button(page, "Move “ship the demo” to Doing").click();
    await button(page, "Move “ship the demo” to Done").click();
    await button(page, "Move “write the README” to Doing").click();
    const readme = (await card(page, "write the README")).locator("input.title");
    await readme.fill("write the docs");
    await readme.press("Enter");
    // Escape gives up an edit.
    await readme.fill("something else");
    await readme.press("Escape");
    await button(page, "Delete “fix the flaky test”").click();
    const expected = { todo: [], doing: ["write the docs"], done: ["ship the demo"] };
    assert.deepEqual(await board(page), expected);
    assert.deepEqual(await page.locator(".column .count").allTextContents(), ["0", "1", "1"]);
    assert.equal(await (await card(page, "write the docs")).locator(".by").textContent(), `by ${await page.getByLabel("Your name").inputValue()}`);

    // The inspector: the table and its rows, this replica's peer id and version, storage.
    await eventually(async () => assert.equal(await page.textContent('#ins-tables tr[data-table="tasks"] td.num'), "2"));
    assert.match(await page.textContent("#ins-peer"), /^[a-z0-9]{16}$/);
    assert.match(await page.textContent("#ins-version"), /^\d+ bytes: [0-9a-f]+/);
    await eventually(async () => assert.match(await page.textContent("#ins-storage"), /^history \d/));

    await saved(page);
    await page.reload();
    await page.waitForSelector(READY, { timeout: 20_000 });
    assert.deepEqual(await board(page), expected);
    assert.match(await page.textContent("#app-status"), /Opened from IndexedDB in \d+ ms with 2 tasks/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("two tabs sync over BroadcastChannel, see each other in who is here and in the inspector", async () => {
  const { context, page: a, problems } = await openPage(h.browser);
  const b = await context.newPage();
  watch(b, problems);
  try {
    await open(a, h.url);
    await open(b, h.url);
    await setName(a, "Alice");
    await setName(b, "Bob");

    await addTask(a, "from tab A");
    await eventually(async () => assert.deepEqual((await board(b)).todo, ["from tab A"]));
    await button(b, "Move “from tab A” to Doing").click();
    await eventually(async () => assert.deepEqual(await board(a), { todo: [], doing: ["from tab A"], done: [] }));

    // Who is here: each tab lists itself first, then the other.
    await eventually(async () => assert.deepEqual(await people(a), ["Alice", "Bob"]));
    await eventually(async () => assert.deepEqual(await people(b), ["Bob", "Alice"]));
    assert.equal(await a.locator("#people li").nth(1).locator(".where").textContent(), "another tab");
    // Editing shows on the other tab's card while it lasts.
    await (await card(b, "from tab A")).locator("input.title").focus();
    await eventually(async () => assert.equal(await (await card(a, "from tab A")).locator(".editing").textContent(), "✎ Bob"));
    await (await card(b, "from tab A")).locator("input.title").press("Escape");
    await eventually(async () => assert.equal(await (await card(a, "from tab A")).locator(".editing").count(), 0));

    // The inspector of each tab names the other tab's peer id.
    const idB = await b.textContent("#ins-peer");
    await eventually(async () => assert.match(await a.textContent('#ins-peers [data-provider="tabs"]'), new RegExp(String(idB))));
    await eventually(async () => assert.equal(await a.textContent("#status-tabs"), "1 other tab, synced"));

    await button(a, "Delete “from tab A”").click();
    await eventually(async () => assert.deepEqual(await board(b), { todo: [], doing: [], done: [] }));
    await eventually(async () => assert.equal(await b.textContent('#ins-tables tr[data-table="tasks"] td.num'), "0"));
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("offline: after one visit the app loads from the service worker, with its tasks", async () => {
  const { context, page, problems, types } = await openPage(h.browser);
  try {
    await open(page, h.url);
    await page.waitForSelector("body[data-offline-ready]", { timeout: 20_000 });
    assert.equal(await page.getAttribute("body", "data-offline-ready"), "true", await page.textContent("#ins-offline"));
    await addTask(page, "works offline");
    await saved(page);

    // Everything this visit loaded is in the service worker's cache (sw.js names the app
    // shell by hand: this is what keeps that list honest).
    const cached = await page.evaluate(async () => {
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        if (name.startsWith("crdtdb-taskboard-") && (await cache.match(".shell-complete"))) {
          return (await cache.keys()).map((r) => new URL(r.url).pathname);
        }
      }
      return [];
    });
    const loaded = [...types.keys()].filter((path) => path !== "/sw.js");
    assert.ok(loaded.includes("/dist/crdtdb.wasm") && loaded.includes("/js/index.js"), loaded.join(" "));
    assert.deepEqual(loaded.filter((path) => !cached.includes(path)), [], "loaded, but not in sw.js's SHELL");

    /** @type {string[]} */
    const fromNetwork = [];
    page.on("response", (res) => {
      if (!res.fromServiceWorker()) fromNetwork.push(res.url());
    });
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector(READY, { timeout: 20_000 });
    assert.deepEqual(await board(page), { todo: ["works offline"], doing: [], done: [] });
    assert.deepEqual(fromNetwork, []);
    assert.match(await page.textContent("#app-status"), /You are offline/);

    // Still a working app: writes land in IndexedDB.
    await addTask(page, "written offline");
    await saved(page);
    assert.deepEqual((await board(page)).todo, ["works offline", "written offline"]);
    await context.setOffline(false);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("two browsers sync through a room on crdtdb-server's relay; conflicts; a late joiner; a password", async () => {
  /** @type {string[]} */
  const relayLog = [];
  const relay = await startRelay({ port: 0, log: (m) => relayLog.push(m) });
  const url = `${h.url}?server=${relay.url}&p2p=0`;
  // Two contexts: two browsers, each with its own IndexedDB.
  const one = await openPage(h.browser);
  const two = await openPage(h.browser);
  const [a, b] = [one.page, two.page];
  /** @type {WebSocketSync | null} */
  let observer = null;
  const observerDb = await CRDTDB.open("observer", { storage: "memory" });
  try {
    await open(a, url);
    await open(b, url);
    assert.equal(await b.textContent("#status-p2p"), "off (?p2p=0)");
    await setName(a, "Alice");
    await setName(b, "Bob");
    await addTask(a, "from A");
    await addTask(b, "from B");

    await connect(a, { room: "r1" });
    await connect(b, { room: "r1" });
    await eventually(async () => assert.deepEqual(new Set((await board(a)).todo), new Set(["from A", "from B"])));
    await eventually(async () => assert.deepEqual((await board(b)).todo, (await board(a)).todo));
    // Presence goes through the relay too.
    await eventually(async () => assert.deepEqual(await people(a), ["Alice", "Bob"]));
    await eventually(async () => assert.deepEqual(await people(b), ["Bob", "Alice"]));
    assert.equal(await a.locator("#people li").nth(1).locator(".where").textContent(), "through the relay");
    assert.match(await a.textContent('#ins-peers [data-provider="relay"]'), /relay \(synced\)/);

    // Concurrent edits of one title while apart: after reconnecting both keep the same
    // winner and show the loser (conflicts()).
    await disconnect(a);
    await disconnect(b);
    for (const [page, title] of /** @type {const} */ ([[a, "A says hi"], [b, "B says hi"]])) {
      const input = (await card(page, "from A")).locator("input.title");
      await input.fill(title);
      await input.press("Enter");
      await saved(page);
    }
    await connect(a, { room: "r1" });
    await connect(b, { room: "r1" });
    const winner = await eventually(async () => {
      const [ta, tb] = [(await board(a)).todo, (await board(b)).todo];
      assert.deepEqual(ta, tb);
      const w = ta.find((t) => t.endsWith("says hi"));
      assert.ok(w, ta.join());
      return w;
    });
    const loser = winner === "A says hi" ? "B says hi" : "A says hi";
    for (const page of [a, b]) {
      await eventually(async () => assert.equal(await (await card(page, winner)).locator(".conflict").textContent(), `⚡ also “${loser}”`));
    }

    // A late joiner catches up from the relay while everyone else is offline.
    await disconnect(b);
    await addTask(a, "while B was away");
    // (Wait until the relay holds it, seen by a Node replica in the room, before A leaves.)
    observer = new WebSocketSync(observerDb, { url: `${relay.url}/sync/r1`, WebSocket });
    await eventually(async () => assert.ok(observerDb.table("tasks").query().some((t) => t.title === "while B was away")));
    observer.destroy();
    await disconnect(a);
    await connect(b, { room: "r1" });
    await eventually(async () => assert.ok((await board(b)).todo.includes("while B was away")));
    await eventually(async () => assert.deepEqual(await people(b), ["Bob"]));

    // A room with a password: the relay stores only sealed payloads; both still converge.
    await disconnect(b);
    await connect(a, { room: "r2", password: "open sesame" });
    await connect(b, { room: "r2", password: "open sesame" });
    await addTask(b, "sealed");
    await eventually(async () => assert.ok((await board(a)).todo.includes("sealed")));
    await eventually(async () => assert.deepEqual((await board(a)).todo, (await board(b)).todo));
    assert.match(await a.textContent("#sync-message"), /sealed with the password/);

    assert.deepEqual(one.problems, []);
    assert.deepEqual(two.problems, []);
    assert.deepEqual(relayLog, []);
  } finally {
    observer?.destroy();
    observerDb.close();
    await one.context.close();
    await two.context.close();
    await relay.close();
  }
});
