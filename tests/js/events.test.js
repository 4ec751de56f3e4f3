// db.on("change"): fired synchronously, once per changed row, with origin local or remote.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDb, push } from "./helpers.js";

test("local writes fire change events synchronously, before the promise settles", async () => {
  const db = await openDb("peer-a");
  const t = db.table("users");
  /** @type {object[]} */
  const events = [];
  const off = db.on("change", (e) => {
    // Listeners see the new state already.
    events.push({ ...e, row: t.get(e.key) ?? null });
  });

  const p = t.set("u1", { name: "Ada" });
  assert.deepEqual(events, [{ table: "users", key: "u1", origin: "local", row: { name: "Ada" } }]);
  await p;
  await t.update("u1", { age: 36 });
  await t.delete("u1");
  assert.deepEqual(events.slice(1), [
    { table: "users", key: "u1", origin: "local", row: { name: "Ada", age: 36 } },
    { table: "users", key: "u1", origin: "local", row: null },
  ]);

  // Writes that fail or change nothing fire nothing.
  await assert.rejects(t.update("missing", { a: 1 }));
  await assert.rejects(t.set("bad", { a: NaN }));
  await t.delete("missing");
  assert.equal(events.length, 3);

  off();
  await t.set("u2", { name: "Grace" });
  assert.equal(events.length, 3, "no events after unsubscribing");
  off(); // idempotent
  db.close();
});

test("merged remote changes fire events with origin remote before applyChanges returns", async () => {
  const a = await openDb("peer-a");
  const b = await openDb("peer-b");
  await a.table("users").set("u1", { name: "Ada" });
  await a.table("posts").set("p1", { title: "Notes" });
  await a.table("users").set("u2", { name: "Grace" });
  await a.table("users").delete("u2");

  /** @type {object[]} */
  const seen = [];
  b.on("change", (e) => seen.push(e));
  const localOnA = [];
  a.on("change", (e) => localOnA.push(e));

  const result = push(a, b);
  assert.ok(result.applied > 0);
  const sorted = [...seen].sort((x, y) => (x.table + x.key).localeCompare(y.table + y.key));
  assert.deepEqual(sorted, [
    { table: "posts", key: "p1", origin: "remote" },
    { table: "users", key: "u1", origin: "remote" },
  ]);

  // Re-applying the same changes changes nothing and fires nothing.
  push(a, b);
  assert.equal(seen.length, 2);
  assert.equal(localOnA.length, 0);

  // A remote update and delete.
  await a.table("users").update("u1", { name: "Ada L." });
  await a.table("posts").delete("p1");
  push(a, b);
  assert.deepEqual(seen.slice(2).map((e) => [e.table, e.key, e.origin]).sort(), [
    ["posts", "p1", "remote"],
    ["users", "u1", "remote"],
  ]);
  assert.equal(b.table("posts").has("p1"), false);
  assert.deepEqual(b.table("users").get("u1"), { name: "Ada L." });
  a.close();
  b.close();
});

test("several listeners; one unsubscribing does not affect the others", async () => {
  const db = await openDb();
  const calls = [];
  const off1 = db.on("change", () => calls.push(1));
  db.on("change", () => calls.push(2));
  await db.table("t").set("k", { a: 1 });
  assert.deepEqual(calls, [1, 2]);
  off1();
  await db.table("t").set("k", { a: 2 });
  assert.deepEqual(calls, [1, 2, 2]);
  db.close();
});

test("a throwing listener does not undo the write or starve other listeners", async () => {
  const db = await openDb();
  const boom = new Error("listener bug");
  let second = 0;
  db.on("change", () => {
    throw boom;
  });
  db.on("change", () => {
    second += 1;
  });
  // The listener error is reported asynchronously, as an uncaught exception (like an event
  // handler's). Catch it here instead of the test runner's handler.
  const runnerHandlers = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  let reported;
  try {
    const caught = new Promise((resolve) => process.once("uncaughtException", resolve));
    await db.table("t").set("k", { a: 1 });
    reported = await caught;
  } finally {
    for (const h of runnerHandlers) process.on("uncaughtException", h);
  }
  assert.equal(reported, boom);
  assert.equal(second, 1);
  assert.deepEqual(db.table("t").get("k"), { a: 1 });
  db.close();
});

test("on() validates its arguments", async () => {
  const db = await openDb();
  assert.throws(() => db.on("changes", () => {}), TypeError);
  assert.throws(() => db.on("change", "not a function"), TypeError);
  db.close();
});
