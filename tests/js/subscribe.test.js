// Live queries: immediate call, once per relevant commit, none for irrelevant changes,
// remote merges, unsubscribe, errors in callbacks.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, CRDTDBError, above, between } from "crdtdb";
import { openDb, push } from "./helpers.js";

const indexes = { byAge: { table: "users", keys: ["age"] } };
const ages = (rows) => rows.map((r) => r.age);

test("index.subscribe: immediate, then once per commit that changes the result", async () => {
  const db = await openDb("a", { indexes });
  const u = db.table("users");
  await u.set("u1", { age: 10 });
  const calls = [];
  const stop = db.index("byAge").subscribe(above(18), (rows) => calls.push(ages(rows)));
  assert.deepEqual(calls, [[]], "called before subscribe returns");
  await u.set("u2", { age: 20 });
  assert.deepEqual(calls, [[], [20]]);
  await u.set("u1", { age: 12 }); // outside the range: no call
  await db.table("other").set("x", { age: 30 }); // other table: no call
  await u.delete("nope");
  assert.equal(calls.length, 2);
  await u.update("u2", { name: "n" }); // same key, new row object: call
  assert.equal(calls.length, 3);
  await u.update("u1", { age: 40 }); // moves into the range
  assert.deepEqual(calls.at(-1), [20, 40]);
  await db.transaction(async (tx) => {
    await tx.table("users").set("u3", { age: 50 });
    await tx.table("users").set("u4", { age: 60 });
    await tx.table("users").delete("u2");
  });
  assert.deepEqual(calls.slice(4), [[40, 50, 60]], "once per transaction");
  stop();
  stop(); // idempotent
  await u.set("u5", { age: 70 });
  assert.equal(calls.length, 5);
});

test("table.subscribe: all rows in key order", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  const calls = [];
  const stop = t.subscribe((rows) => calls.push(rows.map((r) => r.k)));
  await t.set("b", { k: "b" });
  await t.set("a", { k: "a" });
  await t.delete("b");
  assert.deepEqual(calls, [[], ["b"], ["a", "b"], ["a"]]);
  stop();
  assert.throws(() => t.subscribe(5), TypeError);
});

test("remote merges fire subscribers (origin remote), once per applyChanges", async () => {
  const a = await openDb("a", { indexes });
  const b = await openDb("b", { indexes });
  const calls = [];
  b.index("byAge").subscribe(between(0, 100), (rows) => calls.push(ages(rows)));
  await a.table("users").set("u1", { age: 5 });
  await a.table("users").set("u2", { age: 6 });
  push(a, b); // two transactions in one message
  assert.deepEqual(calls, [[], [5, 6]]);
  push(a, b); // duplicate delivery: nothing changes
  assert.equal(calls.length, 2);
  await a.table("users").set("u3", { age: 500 });
  push(a, b);
  assert.equal(calls.length, 2, "a remote change outside the range does not call");
});

test("errors in subscriber callbacks do not break commits or other subscribers", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  // Subscriber errors are reported asynchronously as uncaught exceptions (as for change
  // listeners): catch them here instead of the test runner's handler.
  const runnerHandlers = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  const uncaught = [];
  process.on("uncaughtException", (e) => uncaught.push(e));
  try {
    let good = 0;
    t.subscribe(() => {
      throw new Error("bad subscriber");
    });
    t.subscribe(() => good++);
    await t.set("a", { v: 1 });
    assert.equal(t.get("a").v, 1);
    assert.equal(good, 2);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(uncaught.length, 2); // the immediate call and the commit
    assert.ok(uncaught.every((e) => e.message === "bad subscriber"));
  } finally {
    process.removeAllListeners("uncaughtException");
    for (const h of runnerHandlers) process.on("uncaughtException", h);
  }
});

test("a subscriber may unsubscribe another or close the database", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  let second = 0;
  let stop2 = () => {};
  t.subscribe((rows) => {
    if (rows.length > 0) stop2();
  });
  stop2 = t.subscribe(() => second++);
  await t.set("a", { v: 1 });
  assert.equal(second, 1, "stopped before the round reached it");
  const db2 = await openDb("b");
  db2.table("t").subscribe((rows) => {
    if (rows.length > 0) db2.close();
  });
  let later = 0;
  db2.table("t").subscribe(() => later++);
  await db2.table("t").set("a", { v: 1 });
  assert.equal(later, 1);
  assert.ok(db2.closed);
});

test("subscribe before ready throws the await-ready error", async () => {
  const db = new CRDTDB("x", { indexes });
  assert.throws(() => db.table("users").subscribe(() => {}), (e) => e instanceof CRDTDBError && /ready/.test(e.message));
  await db.ready;
  db.close();
});
