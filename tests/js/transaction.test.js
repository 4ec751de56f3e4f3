// db.transaction: atomic commit / rollback, reads of own writes, queueing, outside writes,
// one causal batch for sync.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDBError, NotFoundError, UnknownIndexError, above, equals } from "crdtdb";
import { openDb, push } from "./helpers.js";

const indexes = { byAge: { table: "users", keys: ["age"] } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("commit: all writes visible at once, one change round, value returned", async () => {
  const db = await openDb("a", { indexes });
  const users = db.table("users");
  await users.set("u1", { age: 30, visits: 1 });
  const events = [];
  db.on("change", (e) => events.push([e.table, e.key, e.origin, users.get("u2")?.age]));
  const result = await db.transaction(async (tx) => {
    const t = tx.table("users");
    const user = t.get("u1");
    await t.set("u1", { ...user, visits: user.visits + 1 });
    await t.set("u2", { age: 20 });
    await sleep(5); // awaiting non-db promises is fine
    await tx.table("logs").set("l1", { msg: "hi" });
    assert.equal(users.get("u1").visits, 1, "others do not see staged writes");
    assert.equal(users.get("u2"), undefined);
    assert.deepEqual(events, []);
    return "done";
  });
  assert.equal(result, "done");
  assert.equal(users.get("u1").visits, 2);
  assert.equal(users.get("u2").age, 20);
  assert.deepEqual(db.index("byAge").query().map((r) => r.age), [20, 30]);
  assert.deepEqual(events.map((e) => e.slice(0, 3)).sort(), [
    ["logs", "l1", "local"], ["users", "u1", "local"], ["users", "u2", "local"],
  ]);
  assert.ok(events.every((e) => e[3] === 20), "listeners see the whole transaction");
});

test("reads through tx see own writes (get, has, query, count, index)", async () => {
  const db = await openDb("a", { indexes });
  await db.table("users").set("u1", { age: 30 });
  await db.table("users").set("u3", { age: 50 });
  await db.transaction(async (tx) => {
    const t = tx.table("users");
    await t.set("u2", { age: 40 });
    await t.update("u1", { age: 45 });
    await t.delete("u3");
    assert.equal(t.get("u1").age, 45);
    assert.ok(t.has("u2"));
    assert.ok(!t.has("u3"));
    assert.equal(t.get("u3"), undefined);
    assert.deepEqual(t.query().map((r) => r.age), [45, 40]);
    assert.equal(t.count(), 2);
    assert.deepEqual(tx.index("byAge").query(above(0)).map((r) => r.age), [40, 45]);
    assert.equal(tx.index("byAge").get(40).age, 40);
    assert.equal(tx.index("byAge").count(equals(50)), 0);
    assert.throws(() => tx.index("nope"), UnknownIndexError);
    // committed view unchanged
    assert.deepEqual(db.index("byAge").query().map((r) => r.age), [30, 50]);
    await assert.rejects(t.update("zz", { a: 1 }), NotFoundError);
    await assert.rejects(t.set("k", { bad: undefined }), TypeError);
    await t.delete("never-there");
  });
  assert.deepEqual(db.index("byAge").query().map((r) => r.age), [40, 45]);
});

test("rollback: nothing visible, no events, no subscriber call, nothing to sync", async () => {
  const db = await openDb("a", { indexes });
  await db.table("users").set("u1", { age: 30 });
  const version = db.version();
  let events = 0;
  db.on("change", () => events++);
  let calls = 0;
  db.index("byAge").subscribe(undefined, () => calls++);
  const boom = new Error("boom");
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.table("users").set("u2", { age: 1 });
      await tx.table("users").update("u1", { age: 99 });
      throw boom;
    }),
    (e) => e === boom,
  );
  // synchronous throw too
  await assert.rejects(db.transaction((tx) => { tx.table("users").set("u3", { age: 3 }); throw boom; }), (e) => e === boom);
  // a rejected write that propagates fails the whole transaction
  await assert.rejects(db.transaction(async (tx) => {
    await tx.table("users").set("u4", { age: 4 });
    await tx.table("users").set("u5", { bad: NaN });
  }), TypeError);
  assert.equal(db.table("users").get("u1").age, 30);
  assert.equal(db.table("users").get("u2"), undefined);
  assert.equal(db.table("users").count(), 1);
  assert.equal(events, 0);
  assert.equal(calls, 1);
  assert.deepEqual(db.version(), version);
  const peer = await openDb("b");
  push(db, peer);
  assert.equal(peer.table("users").count(), 1);
  // the database still works after rollbacks
  await db.transaction(async (tx) => tx.table("users").set("u9", { age: 9 }));
  assert.equal(db.table("users").get("u9").age, 9);
});

test("a committed transaction is one batch for sync; the remote subscriber fires once", async () => {
  const a = await openDb("a", { indexes });
  const b = await openDb("b", { indexes });
  const seen = [];
  b.index("byAge").subscribe(undefined, (rows) => seen.push(rows.map((r) => r.age)));
  const before = b.version();
  await a.transaction(async (tx) => {
    for (let i = 0; i < 5; i++) await tx.table("users").set(`u${i}`, { age: i });
  });
  const r = b.applyChanges(a.changesSince(before));
  assert.equal(r.pending, 0);
  assert.deepEqual(seen, [[], [0, 1, 2, 3, 4]]);
});

test("a transaction started while another runs rejects at once; sequential ones serialize", async () => {
  const db = await openDb("a");
  await db.table("c").set("n", { v: 0 });
  const inc = (id) => db.transaction(async (tx) => {
    const v = tx.table("c").get("n").v;
    await sleep(3);
    await tx.table("c").set("n", { v: v + 1 });
    return id;
  });
  const first = inc(1);
  const second = inc(2);
  await assert.rejects(second, (err) => err instanceof CRDTDBError && /tx handle/.test(err.message));
  assert.equal(await first, 1);
  for (let i = 2; i <= 4; i++) assert.equal(await inc(i), i);
  assert.equal(db.table("c").get("n").v, 4, "no lost update");
  // a failing transaction does not block the next one
  await assert.rejects(db.transaction(async () => { throw new Error("x"); }), /x/);
  assert.equal(await inc(5), 5);
});

test("a nested db.transaction rejects at once (never hangs) and the outer one goes on", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  let inner;
  const result = await db.transaction(async (tx) => {
    await tx.table("t").set("outer", { v: 1 });
    inner = db.transaction(async (tx2) => tx2.table("t").set("inner", { v: 2 }));
    await assert.rejects(inner, (err) => err instanceof CRDTDBError && /tx/.test(err.message));
    return "done";
  });
  assert.equal(result, "done");
  assert.equal(t.get("outer").v, 1);
  assert.equal(t.get("inner"), undefined, "the nested callback never ran");
  assert.equal(await db.transaction(async () => 7), 7, "later transactions run");
});

test("outside writes during an open transaction commit at once and survive its rollback", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await assert.rejects(db.transaction(async (tx) => {
    await tx.table("t").set("in", { v: 1 });
    await t.set("out", { v: 2 });
    assert.equal(t.get("out").v, 2, "visible at once");
    assert.equal(tx.table("t").get("out").v, 2, "the transaction sees committed outside writes");
    throw new Error("rollback");
  }));
  assert.equal(t.get("out").v, 2);
  assert.equal(t.get("in"), undefined);
});

test("commit re-validates: an update of a row deleted meanwhile rejects and keeps nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("r", { v: 1 });
  let events = 0;
  db.on("change", () => events++);
  await assert.rejects(db.transaction(async (tx) => {
    await tx.table("t").set("other", { v: 1 });
    await tx.table("t").update("r", { v: 2 });
    await t.delete("r");
  }), NotFoundError);
  assert.equal(events, 1); // only the outside delete
  assert.equal(t.get("other"), undefined);
  await db.transaction(async (tx) => tx.table("t").set("ok", { v: 1 }));
  assert.ok(t.has("ok"));
});

test("tx handle after the callback settled throws; argument validation", async () => {
  const db = await openDb("a");
  let saved;
  await db.transaction((tx) => { saved = tx; });
  assert.throws(() => saved.table("t"), CRDTDBError);
  const tt = await db.transaction((tx) => tx.table("t"));
  assert.throws(() => tt.get("k"), CRDTDBError);
  await assert.rejects(tt.set("k", { v: 1 }), CRDTDBError);
  assert.equal(db.table("t").get("k"), undefined);
  await assert.rejects(db.transaction("nope"), TypeError);
  db.close();
  await assert.rejects(db.transaction(async () => {}), CRDTDBError);
});

test("a row shaped like an engine error record reads back as a row inside a transaction", async () => {
  const db = await openDb("a");
  const row = { error: { code: "NotFound", message: "not really" } };
  await db.transaction(async (tx) => {
    await tx.table("t").set("k", row);
    assert.deepEqual(tx.table("t").get("k"), row);
  });
  assert.deepEqual(db.table("t").get("k"), row);
});
