// Counter columns (api.md "Rich column types"): increment on tables and in transactions,
// validation of deltas, merging (concurrent increments add up; a plain write replaces exactly
// the increments it has seen), deletes, conflicts, indexes, events and persistence.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, MemoryStorage, NotFoundError, above, equals } from "crdtdb";
import { assertConverged, openDb, push, syncBoth } from "./helpers.js";

const indexes = {
  byLikes: { table: "posts", keys: ["likes"] },
};

/** Deltas that are not safe integers. */
const BAD_DELTAS = [1.5, NaN, 2 ** 53, -(2 ** 53), Infinity, -Infinity, "1", null, true, 1n, {}, [1], () => 1];

/**
 * What a replica shows and has recorded, to check that a rejected call changed nothing.
 * @param {CRDTDB} db
 * @param {string} table
 */
function state(db, table) {
  return { rows: db.table(table).entries(), version: [...db.version()], history: [...db.changesSince()] };
}

test("increment shows in get() at once, as a plain number; a missing column starts from 0; delta defaults to 1", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x" });
  const p = t.increment("k", "likes");
  assert.deepEqual(t.get("k"), { name: "x", likes: 1 }, "applies to memory before it is awaited");
  await p;
  await t.increment("k", "likes", 5);
  assert.deepEqual(t.get("k"), { name: "x", likes: 6 });
  await t.increment("k", "likes", -10);
  assert.equal(t.get("k")?.likes, -4, "a negative delta decrements");
  await t.increment("k", "likes", 0);
  await t.increment("k", "likes", undefined);
  assert.equal(t.get("k")?.likes, -3, "an undefined delta is the default, 1; 0 changes nothing");
  assert.equal(typeof t.get("k")?.likes, "number");
  // Several counters on one row are independent; reads through query and entries agree.
  await t.increment("k", "views", 2);
  assert.deepEqual(t.query(), [{ name: "x", likes: -3, views: 2 }]);
  assert.deepEqual(t.entries(), [["k", { name: "x", likes: -3, views: 2 }]]);
  // The largest safe deltas are exact.
  await t.set("big", {});
  await t.increment("big", "n", Number.MAX_SAFE_INTEGER);
  assert.equal(t.get("big")?.n, Number.MAX_SAFE_INTEGER);
  await t.increment("big", "n", -Number.MAX_SAFE_INTEGER);
  await t.increment("big", "n", -Number.MAX_SAFE_INTEGER);
  assert.equal(t.get("big")?.n, -Number.MAX_SAFE_INTEGER);
});

test("large negative integers cross the engine boundary exactly, as values, deltas and index keys", async () => {
  // (zigzag past 2^53: an odd -2v - 1 once rounded to the code of a positive number)
  const db = await openDb("a", { indexes });
  const posts = db.table("posts");
  const values = [-(2 ** 53), -Number.MAX_SAFE_INTEGER, -(2 ** 52) - 1, -(2 ** 52), 2 ** 53, Number.MAX_SAFE_INTEGER];
  for (const [i, likes] of values.entries()) {
    await posts.set(`p${i}`, { likes, list: [likes] });
    assert.deepEqual(posts.get(`p${i}`), { likes, list: [likes] });
    assert.deepEqual(db.index("byLikes").keys(equals(likes)), [`p${i}`], `index key ${likes}`);
  }
  await posts.set("c", {});
  await posts.increment("c", "likes", -Number.MAX_SAFE_INTEGER);
  assert.equal(posts.get("c")?.likes, -Number.MAX_SAFE_INTEGER);
  await posts.increment("c", "likes", -(2 ** 52) - 1);
  await posts.increment("c", "likes", 2 ** 52 + 1);
  assert.equal(posts.get("c")?.likes, -Number.MAX_SAFE_INTEGER);
  // A replica receiving them reads the same numbers.
  const other = await openDb("b", { indexes });
  push(db, other);
  assertConverged(db, other, "posts", ["c", ...values.map((_, i) => `p${i}`)]);
});

test("increment adds to a plain number column, integer or not", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { likes: 5, score: 0.5 });
  await t.increment("k", "likes", 3);
  await t.increment("k", "score", 2);
  assert.deepEqual(t.get("k"), { likes: 8, score: 2.5 });
});

test("deltas that are not safe integers reject TypeError naming the delta (never a synchronous throw) and change nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { likes: 1 });
  const before = t.get("k");
  const was = state(db, "t");
  const updates = [];
  const changes = [];
  db.on("update", (e) => updates.push(e));
  db.on("change", (e) => changes.push(e));
  for (const delta of BAD_DELTAS) {
    let p;
    assert.doesNotThrow(() => {
      p = t.increment("k", "likes", delta);
    }, "increment never throws synchronously");
    await assert.rejects(p, (err) => {
      assert.ok(err instanceof TypeError, `increment by ${String(delta)} rejects TypeError, got ${err}`);
      assert.match(err.message, /delta/, "says the delta is wrong");
      assert.match(err.message, /"k"/, "names the key");
      assert.match(err.message, /"t"/, "names the table");
      assert.match(err.message, /likes/, "names the column");
      return true;
    });
  }
  // The message shows the bad value.
  await assert.rejects(t.increment("k", "likes", 1.5), /1\.5/);
  await assert.rejects(t.increment("k", "likes", NaN), /NaN/);
  await assert.rejects(t.increment("k", "likes", 2 ** 53), /9007199254740992/);
  await assert.rejects(t.increment("k", "likes", "1"), /string "1"/);
  await assert.rejects(t.increment("k", "likes", null), /null/);
  // Invalid keys and column names.
  for (const [key, column] of [["", "likes"], [1, "likes"], ["k", 1], ["k", undefined], ["k", null], ["k", "\uDC00"], ["k", "c".repeat(2000)]]) {
    await assert.rejects(t.increment(key, column, 1), TypeError);
  }
  // The delta is checked before the row: a bad delta on a missing row is a TypeError.
  await assert.rejects(t.increment("nope", "likes", 1.5), TypeError);
  assert.equal(t.get("k"), before, "the cached row object is untouched");
  assert.deepEqual(state(db, "t"), was);
  assert.deepEqual(updates, []);
  assert.deepEqual(changes, []);
  // The database works on afterwards.
  await t.increment("k", "likes");
  assert.equal(t.get("k")?.likes, 2);
});

test("increment on a missing row rejects NotFoundError and creates nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  const version = db.version();
  await assert.rejects(t.increment("nope", "likes"), (err) => err instanceof NotFoundError && /"nope"/.test(err.message));
  await assert.rejects(t.increment("nope", "likes", 5), NotFoundError);
  assert.equal(t.get("nope"), undefined);
  assert.equal(t.has("nope"), false);
  assert.deepEqual(db.version(), version);
  // A deleted row is missing too, counters or not.
  await t.set("gone", { likes: 1 });
  await t.increment("gone", "likes");
  await t.delete("gone");
  await assert.rejects(t.increment("gone", "likes"), NotFoundError);
  assert.equal(t.get("gone"), undefined);
});

test("increment on a column of another type rejects TypeError naming the type, and changes nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x", list: [1], obj: { a: 1 }, flag: true, nothing: null });
  await t.addToSet("k", "tags", "a");
  const before = t.get("k");
  const was = state(db, "t");
  const updates = [];
  db.on("update", (e) => updates.push(e));
  const cases = [
    ["name", /string/],
    ["tags", /set/],
    ["list", /array/],
    ["obj", /object/],
    ["flag", /boolean/],
    ["nothing", /null/],
  ];
  for (const [column, type] of cases) {
    await assert.rejects(t.increment("k", column, 1), (err) => {
      assert.ok(err instanceof TypeError, `${column}: TypeError, got ${err}`);
      assert.match(err.message, type, `${column}: names the type`);
      assert.match(err.message, new RegExp(`"${column}"`), `${column}: names the column`);
      return true;
    });
  }
  assert.equal(t.get("k"), before);
  assert.deepEqual(state(db, "t"), was);
  assert.deepEqual(updates, []);
  // The engine's message for a string column.
  await assert.rejects(t.increment("k", "name"), {
    name: "TypeError",
    message: /column "name" of row "k" in table "t" holds a string, not a counter/,
  });
  // A counter replaced by a plain string is no counter any more.
  await t.increment("k", "likes");
  await t.update("k", { likes: "many" });
  await assert.rejects(t.increment("k", "likes"), /string/);
  assert.equal(t.get("k")?.likes, "many");
});

test("concurrent increments on two replicas add up, in any delivery order", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("k", { title: "x" });
  push(a, b);
  await a.table("t").increment("k", "likes", 3);
  await a.table("t").increment("k", "likes");
  await b.table("t").increment("k", "likes", 10);
  await b.table("t").increment("k", "likes", -2);
  assert.equal(a.table("t").get("k")?.likes, 4);
  assert.equal(b.table("t").get("k")?.likes, 8);
  syncBoth(a, b);
  for (const db of [a, b]) assert.deepEqual(db.table("t").get("k"), { title: "x", likes: 12 });
  assertConverged(a, b, "t", ["k"]);
  // Delivering everything again changes nothing.
  a.applyChanges(b.changesSince());
  b.applyChanges(a.changesSince());
  for (const db of [a, b]) assert.equal(db.table("t").get("k")?.likes, 12);
  // A third replica receiving the two peers' changes in either order agrees.
  for (const order of [[a, b], [b, a]]) {
    const c = await openDb("c");
    for (const from of order) push(from, c);
    assertConverged(a, c, "t", ["k"]);
  }
});

test("a plain write replaces the increments it has seen; concurrent increments it has not seen survive", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("k", { title: "x" });
  await a.table("t").increment("k", "likes");
  await a.table("t").increment("k", "likes", 4);
  push(a, b);
  assert.equal(b.table("t").get("k")?.likes, 5);
  // B sets the column to 10, having seen A's increments; concurrently A increments again.
  await b.table("t").update("k", { likes: 10 });
  await a.table("t").increment("k", "likes", 1);
  assert.equal(b.table("t").get("k")?.likes, 10);
  assert.equal(a.table("t").get("k")?.likes, 6);
  syncBoth(a, b);
  for (const db of [a, b]) assert.deepEqual(db.table("t").get("k"), { title: "x", likes: 11 }, "10 + the unseen +1");
  assertConverged(a, b, "t", ["k"]);
  for (const db of [a, b]) assert.deepEqual(db.table("t").conflicts("k"), {}, "an increment never conflicts");
  // A reset to 0 that has seen every increment reads 0 everywhere, and counting goes on.
  await a.table("t").update("k", { likes: 0 });
  await b.table("t").increment("k", "likes", 2); // concurrent with the reset
  syncBoth(a, b);
  for (const db of [a, b]) assert.equal(db.table("t").get("k")?.likes, 2);
  assertConverged(a, b, "t", ["k"]);
});

test("set and update replace a counter locally; a later increment counts from the written value", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { likes: 5 });
  await t.increment("k", "likes", 3);
  await t.update("k", { likes: 1 });
  assert.equal(t.get("k")?.likes, 1);
  await t.increment("k", "likes");
  assert.equal(t.get("k")?.likes, 2, "the replaced increments do not come back");
  // An update of another column leaves the counter alone.
  await t.update("k", { title: "t" });
  assert.deepEqual(t.get("k"), { likes: 2, title: "t" });
  // A row set without the column removes the counter; an increment then starts from 0.
  await t.set("k", { title: "u" });
  assert.deepEqual(t.get("k"), { title: "u" });
  await t.increment("k", "likes");
  assert.deepEqual(t.get("k"), { title: "u", likes: 1 });
  // A deleted and re-created row starts from nothing too.
  await t.increment("k", "likes", 7);
  await t.delete("k");
  await t.set("k", {});
  await t.increment("k", "likes");
  assert.deepEqual(t.get("k"), { likes: 1 });
  // A plain string replaces the counter; a number written afterwards counts again.
  await t.update("k", { likes: "many" });
  await t.update("k", { likes: 4 });
  await t.increment("k", "likes");
  assert.equal(t.get("k")?.likes, 5);
});

test("a row set that saw increments replaces them; an increment concurrent with it survives", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("k", { title: "x" });
  await a.table("t").increment("k", "likes", 5);
  push(a, b);
  await b.table("t").set("k", { title: "y" }); // has seen the 5
  await a.table("t").increment("k", "likes"); // concurrent: B has not seen it
  syncBoth(a, b);
  for (const db of [a, b]) assert.deepEqual(db.table("t").get("k"), { title: "y", likes: 1 });
  assertConverged(a, b, "t", ["k"]);
});

test("a row deleted concurrently with an increment stays deleted", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("k", { title: "x" });
  await a.table("t").increment("k", "likes", 2);
  push(a, b);
  await b.table("t").delete("k");
  await a.table("t").increment("k", "likes");
  await a.table("t").increment("k", "views");
  assert.deepEqual(a.table("t").get("k"), { title: "x", likes: 3, views: 1 });
  syncBoth(a, b);
  for (const db of [a, b]) {
    assert.equal(db.table("t").get("k"), undefined);
    assert.equal(db.table("t").has("k"), false);
    await assert.rejects(db.table("t").increment("k", "likes"), NotFoundError);
  }
  assertConverged(a, b, "t", ["k"]);
  // Re-created after seeing everything: no counter comes back.
  await a.table("t").set("k", { title: "again" });
  syncBoth(a, b);
  for (const db of [a, b]) assert.deepEqual(db.table("t").get("k"), { title: "again" });
  await b.table("t").increment("k", "likes");
  syncBoth(a, b);
  for (const db of [a, b]) assert.deepEqual(db.table("t").get("k"), { title: "again", likes: 1 });
  assertConverged(a, b, "t", ["k"]);
});

test("conflicts() never lists increments; concurrent plain writes still conflict", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("k", { likes: 0, title: "x" });
  push(a, b);
  await a.table("t").increment("k", "likes", 2);
  await b.table("t").increment("k", "likes", 3);
  syncBoth(a, b);
  for (const db of [a, b]) {
    assert.equal(db.table("t").get("k")?.likes, 5);
    assert.deepEqual(db.table("t").conflicts("k"), {});
  }
  // Concurrent plain writes of the column conflict as any two writes do; the increments
  // made beside them (all seen by both writes) are not listed.
  await a.table("t").increment("k", "likes", 100);
  push(a, b);
  await a.table("t").update("k", { likes: 20, title: "from a" });
  await b.table("t").update("k", { likes: 30, title: "from b" });
  syncBoth(a, b);
  const row = a.table("t").get("k");
  assert.ok(row?.likes === 20 || row?.likes === 30, `one plain write wins, got ${row?.likes}`);
  const loser = row?.likes === 20 ? 30 : 20;
  for (const db of [a, b]) {
    assert.deepEqual(db.table("t").conflicts("k"), {
      likes: [loser],
      title: [loser === 20 ? "from a" : "from b"],
    });
  }
  assertConverged(a, b, "t", ["k"]);
});

test("increments fire change events and live queries with the new number, local and merged", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  const t = a.table("t");
  await t.set("k", { likes: 1 });
  push(a, b);
  const changes = [];
  const seen = [];
  a.on("change", (e) => changes.push([e.table, e.key, e.origin, a.table(e.table).get(e.key)?.likes]));
  const stop = t.subscribe((rows) => seen.push(rows.map((r) => r.likes)));
  await t.increment("k", "likes", 2);
  await b.table("t").increment("k", "likes", 10);
  a.applyChanges(b.changesSince(a.version()), { origin: "peer-b" });
  stop();
  assert.deepEqual(changes, [
    ["t", "k", "local", 3],
    ["t", "k", "peer-b", 13],
  ]);
  assert.deepEqual(seen, [[1], [3], [13]]);
  // An update event carries the increment to other replicas.
  const updates = [];
  a.on("update", (e) => updates.push(e.bytes));
  await t.increment("k", "likes");
  assert.equal(updates.length, 1);
  const c = await openDb("c");
  c.applyChanges(a.changesSince());
  assert.equal(c.table("t").get("k")?.likes, 14);
});

test("an index on a counter column finds the row by its summed value", async () => {
  const a = await openDb("a", { indexes });
  const b = await openDb("b", { indexes });
  const posts = a.table("posts");
  const byLikes = a.index("byLikes");
  await posts.set("p1", { title: "one" });
  await posts.set("p2", { title: "two", likes: 10 });
  assert.deepEqual(byLikes.keys(), ["p2"], "a missing column has no entry");
  await posts.increment("p1", "likes", 3);
  await posts.increment("p2", "likes", -4);
  assert.deepEqual(byLikes.keys(equals(3)), ["p1"]);
  assert.deepEqual(byLikes.keys(equals(6)), ["p2"]);
  assert.deepEqual(byLikes.keys(equals(10)), [], "the old key is gone");
  assert.deepEqual(byLikes.keys(), ["p1", "p2"], "ordered by the summed number");
  assert.equal(byLikes.get(6)?.title, "two");
  // Live queries over the index follow the sum.
  const seen = [];
  const stop = byLikes.subscribe(above(4), (rows) => seen.push(rows.map((r) => r.title)));
  await posts.increment("p1", "likes", 2); // 5
  await posts.increment("p2", "likes", -2); // 4: leaves the range
  stop();
  assert.deepEqual(seen, [["two"], ["one", "two"], ["one"]]);
  // Merged concurrent increments: both replicas index the same sum.
  push(a, b);
  await a.table("posts").increment("p1", "likes", 1);
  await b.table("posts").increment("p1", "likes", 100);
  syncBoth(a, b);
  for (const db of [a, b]) {
    assert.deepEqual(db.index("byLikes").keys(equals(106)), ["p1"]);
    assert.deepEqual(db.index("byLikes").keys(), ["p2", "p1"]);
  }
  assertConverged(a, b, "posts", ["p1", "p2"]);
});

test("transactions: staged increments show through tx reads, others see them once committed; a bad one rejects only itself", async () => {
  const db = await openDb("a", { indexes });
  const posts = db.table("posts");
  await posts.set("p1", { title: "one", likes: 1 });
  await posts.set("p2", { title: "two", likes: "many" });
  const changes = [];
  db.on("change", (e) => changes.push(e.key));
  await db.transaction(async (tx) => {
    const t = tx.table("posts");
    await t.increment("p1", "likes");
    await t.increment("p1", "likes", 5);
    assert.deepEqual(t.get("p1"), { title: "one", likes: 7 }, "tx reads see the staged sum");
    assert.deepEqual(t.query().map((r) => r.likes), [7, "many"]);
    assert.deepEqual(tx.index("byLikes").keys(equals(7)), ["p1"]);
    assert.equal(tx.index("byLikes").count(equals(1)), 0);
    // Others do not see it yet.
    assert.deepEqual(posts.get("p1"), { title: "one", likes: 1 });
    assert.deepEqual(db.index("byLikes").keys(equals(7)), []);
    assert.deepEqual(changes, []);
    // Bad increments reject at once and stage nothing; the transaction goes on.
    for (const delta of BAD_DELTAS) await assert.rejects(t.increment("p1", "likes", delta), TypeError);
    await assert.rejects(t.increment("p2", "likes"), (err) => err instanceof TypeError && /string/.test(err.message));
    await assert.rejects(t.increment("nope", "likes"), NotFoundError);
    assert.equal(t.get("p1")?.likes, 7, "the rejected increments staged nothing");
    // A row created in the transaction takes increments (from 0); one it deleted does not.
    await t.set("p3", { title: "three" });
    await t.increment("p3", "likes", 2);
    assert.deepEqual(t.get("p3"), { title: "three", likes: 2 });
    await t.set("p4", { title: "four" });
    await t.delete("p4");
    await assert.rejects(t.increment("p4", "likes"), NotFoundError);
    // A staged plain write replaces the staged increments before it.
    await t.increment("p3", "likes", 5);
    await t.update("p3", { likes: 100 });
    await t.increment("p3", "likes");
    assert.equal(t.get("p3")?.likes, 101);
    await t.update("p2", { title: "two!" });
  });
  assert.deepEqual(posts.get("p1"), { title: "one", likes: 7 });
  assert.deepEqual(posts.get("p2"), { title: "two!", likes: "many" });
  assert.deepEqual(posts.get("p3"), { title: "three", likes: 101 });
  assert.equal(posts.get("p4"), undefined);
  assert.deepEqual(db.index("byLikes").keys(equals(7)), ["p1"]);
  for (const k of ["p1", "p2", "p3"]) assert.ok(changes.includes(k), `a change event for ${k}`);
  // The committed increments merge like any others.
  const other = await openDb("b", { indexes });
  push(db, other);
  await other.table("posts").increment("p1", "likes", 10);
  await posts.increment("p1", "likes");
  syncBoth(db, other);
  for (const d of [db, other]) assert.equal(d.table("posts").get("p1")?.likes, 18);
});

test("transactions: rolled-back increments leave nothing behind", async () => {
  const db = await openDb("a", { indexes });
  const posts = db.table("posts");
  await posts.set("p1", { likes: 1 });
  const version = db.version();
  const boom = new Error("boom");
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.table("posts").increment("p1", "likes", 50);
      assert.equal(tx.table("posts").get("p1")?.likes, 51);
      throw boom;
    }),
    (err) => err === boom,
  );
  assert.deepEqual(posts.get("p1"), { likes: 1 });
  assert.deepEqual(db.version(), version);
  assert.deepEqual(db.index("byLikes").keys(equals(1)), ["p1"]);
  // Nothing staged lingers into the next transaction or write.
  await db.transaction(async (tx) => {
    assert.equal(tx.table("posts").get("p1")?.likes, 1);
  });
  await posts.increment("p1", "likes");
  assert.equal(posts.get("p1")?.likes, 2);
});

test("counters survive close and reopen (MemoryStorage), and go on merging", async () => {
  const mem = new MemoryStorage();
  const db = await CRDTDB.open("counters-persist", { storage: mem, indexes, peerId: "a" });
  const b = await openDb("b", { indexes });
  const posts = db.table("posts");
  await posts.set("p1", { title: "one" });
  await posts.increment("p1", "likes", 5);
  await posts.set("p2", { title: "two", likes: 3 });
  await posts.increment("p2", "likes");
  push(db, b);
  await b.table("posts").increment("p1", "likes", 2); // concurrent with what follows on A
  // Storage holds the plain row, the counter as a number.
  const mat = new Map((await mem.entries("materialized")).map(([k, v]) => [JSON.stringify(k), v]));
  assert.deepEqual(mat.get(JSON.stringify(["posts", "p1"])), { title: "one", likes: 5 });
  assert.deepEqual(mat.get(JSON.stringify(["posts", "p2"])), { title: "two", likes: 4 });
  const before = { rows: posts.entries(), byLikes: db.index("byLikes").entries(), version: [...db.version()] };
  db.close();

  const again = await CRDTDB.open("counters-persist", { storage: mem, indexes, peerId: "a" });
  const p = again.table("posts");
  assert.deepEqual(
    { rows: p.entries(), byLikes: again.index("byLikes").entries(), version: [...again.version()] },
    before,
  );
  // Still counters: increments add on, B's concurrent ones merge in.
  await p.increment("p1", "likes");
  assert.equal(p.get("p1")?.likes, 6);
  syncBoth(again, b);
  for (const d of [again, b]) assert.equal(d.table("posts").get("p1")?.likes, 8);
  assertConverged(again, b, "posts", ["p1", "p2"]);
  assert.deepEqual(again.index("byLikes").keys(equals(8)), ["p1"]);
  // A reset after reopening replaces every increment it has seen, and only those.
  await p.update("p1", { likes: 0 });
  await b.table("posts").increment("p1", "likes", 4);
  syncBoth(again, b);
  for (const d of [again, b]) assert.equal(d.table("posts").get("p1")?.likes, 4);
  again.close();

  // And once more after a second reopen, with everything merged.
  const third = await CRDTDB.open("counters-persist", { storage: mem, indexes, peerId: "a" });
  assert.deepEqual(third.table("posts").get("p1"), { title: "one", likes: 4 });
  await b.table("posts").increment("p1", "likes");
  push(b, third);
  assert.equal(third.table("posts").get("p1")?.likes, 5);
  assert.deepEqual(third.index("byLikes").keys(equals(5)), ["p1"]);
  third.close();
});
