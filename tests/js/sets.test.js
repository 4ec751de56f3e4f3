// Add-wins set columns (api.md "Rich column types"): addToSet / removeFromSet on tables and in
// transactions, element order on read, validation, add-wins merging, replacement by set and
// update, persistence, and indexes with one entry per element (multiEntry).

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, MemoryStorage, NotFoundError, above, equals } from "crdtdb";
import { assertConverged, openDb, push, syncBoth } from "./helpers.js";

const indexes = {
  byTag: { table: "posts", keys: ["tags"] },
  byTitle: { table: "posts", keys: ["title"] },
};

test("addToSet and removeFromSet show in get() at once; the set reads as a frozen array", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x" });
  const p = t.addToSet("k", "tags", "a");
  assert.deepEqual(t.get("k"), { name: "x", tags: ["a"] }, "applies to memory before it is awaited");
  await p;
  await t.addToSet("k", "tags", "b");
  assert.deepEqual(t.get("k"), { name: "x", tags: ["a", "b"] });
  assert.ok(Array.isArray(t.get("k")?.tags));
  assert.ok(Object.isFrozen(t.get("k")?.tags), "frozen like every array a read returns");
  await t.removeFromSet("k", "tags", "a");
  assert.deepEqual(t.get("k"), { name: "x", tags: ["b"] });
  // Reads through query and entries show the same row.
  assert.deepEqual(t.query(), [{ name: "x", tags: ["b"] }]);
  assert.deepEqual(t.entries(), [["k", { name: "x", tags: ["b"] }]]);
});

test("elements read back in IndexedDB key order, other values after them in canonical JSON order", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", {});
  for (const v of ["b", 2, "a", 1, [1]]) await t.addToSet("k", "s", v);
  assert.deepEqual(t.get("k")?.s, [1, 2, "a", "b", [1]], "numbers < strings < arrays");
  // Values that are not keys come after the keys, ordered by their canonical JSON text:
  // "null" < "true" < '{"x":1}'.
  for (const v of [{ x: 1 }, true, null]) await t.addToSet("k", "s", v);
  assert.deepEqual(t.get("k")?.s, [1, 2, "a", "b", [1], null, true, { x: 1 }]);
  // An array holding a value that is not a key is not a key either: "[true]" < "false".
  await t.set("k3", {});
  for (const v of [false, [true], [1], "s"]) await t.addToSet("k3", "s", v);
  assert.deepEqual(t.get("k3")?.s, ["s", [1], [true], false]);
  // Arrays compare element by element, as IndexedDB keys do.
  await t.set("k2", {});
  for (const v of [[2], [1, "a"], [1], "z", -5, [1, 0]]) await t.addToSet("k2", "s", v);
  assert.deepEqual(t.get("k2")?.s, [-5, "z", [1], [1, 0], [1, "a"], [2]]);
});

test("an element added twice is there once; object elements are equal whatever their key order", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", {});
  await t.addToSet("k", "s", "a");
  await t.addToSet("k", "s", "a");
  await t.addToSet("k", "s", 1);
  await t.addToSet("k", "s", 1.0);
  await t.addToSet("k", "s", { b: 1, a: 2 });
  await t.addToSet("k", "s", { a: 2, b: 1 });
  await t.addToSet("k", "s", [1, "x"]);
  await t.addToSet("k", "s", [1, "x"]);
  assert.deepEqual(t.get("k")?.s, [1, "a", [1, "x"], { a: 2, b: 1 }]);
  // One remove takes away the element, however often it was added.
  await t.removeFromSet("k", "s", "a");
  await t.removeFromSet("k", "s", { b: 1, a: 2 });
  assert.deepEqual(t.get("k")?.s, [1, [1, "x"]]);
});

test("removeFromSet of an absent element resolves and changes nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x" });
  await t.addToSet("k", "s", "a");
  await t.removeFromSet("k", "s", "nope");
  await t.removeFromSet("k", "s", ["a"]);
  assert.deepEqual(t.get("k"), { name: "x", s: ["a"] });
  // On a missing column: resolves and changes nothing (a remove is not a write of the column).
  await t.removeFromSet("k", "other", "a");
  assert.deepEqual(t.get("k"), { name: "x", s: ["a"] });
  // A set emptied by its removes stays a set: an empty array.
  await t.removeFromSet("k", "s", "a");
  assert.deepEqual(t.get("k"), { name: "x", s: [] });
});

test("a set element nests one level less than a column value, so the read row can be set back", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", {});
  const nested = (/** @type {number} */ depth) => {
    const top = [];
    let at = top;
    for (let i = 1; i < depth; i++) at = at[0] = [];
    return top;
  };
  // A column value may hold 65 nested arrays; an element 64, as the set's array holds it.
  await t.set("plain", { v: nested(65) });
  await assert.rejects(t.addToSet("k", "s", nested(65)), TypeError);
  await t.addToSet("k", "s", nested(64));
  await t.set("k2", t.get("k")); // the row as read is a valid row
  assert.deepEqual(t.get("k2"), t.get("k"));
});

test("addToSet on a missing column creates the set; the row's other columns stay", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x", n: 1 });
  await t.addToSet("k", "tags", "first");
  assert.deepEqual(t.get("k"), { name: "x", n: 1, tags: ["first"] });
  // Several set columns on one row are independent.
  await t.addToSet("k", "more", 7);
  await t.addToSet("k", "tags", "second");
  assert.deepEqual(t.get("k"), { name: "x", n: 1, tags: ["first", "second"], more: [7] });
});

test("addToSet on a column of another type rejects TypeError naming the type, and changes nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x", n: 1, o: { a: 1 } });
  const before = t.get("k");
  const version = db.version();
  const history = db.changesSince();
  const updates = [];
  const changes = [];
  db.on("update", (e) => updates.push(e));
  db.on("change", (e) => changes.push(e));
  await assert.rejects(t.addToSet("k", "name", "y"), (err) => err instanceof TypeError && /string/i.test(err.message));
  await assert.rejects(t.removeFromSet("k", "name", "x"), TypeError);
  await assert.rejects(t.addToSet("k", "n", 1), (err) => err instanceof TypeError && /number/i.test(err.message));
  await assert.rejects(t.addToSet("k", "o", 1), TypeError);
  assert.equal(t.get("k"), before, "the cached row object is untouched");
  assert.deepEqual(t.get("k"), { name: "x", n: 1, o: { a: 1 } });
  assert.deepEqual(db.version(), version);
  assert.deepEqual(db.changesSince(), history);
  assert.deepEqual(updates, []);
  assert.deepEqual(changes, []);
  // The database works on afterwards.
  await t.addToSet("k", "s", "y");
  assert.deepEqual(t.get("k")?.s, ["y"]);
});

test("addToSet and removeFromSet on a missing row reject NotFoundError and create nothing", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  const version = db.version();
  await assert.rejects(t.addToSet("nope", "s", 1), (err) => err instanceof NotFoundError && /"nope"/.test(err.message));
  await assert.rejects(t.removeFromSet("nope", "s", 1), NotFoundError);
  assert.equal(t.get("nope"), undefined);
  assert.equal(t.has("nope"), false);
  assert.deepEqual(db.version(), version);
  // A deleted row is missing too.
  await t.set("gone", { s: 1 });
  await t.delete("gone");
  await assert.rejects(t.addToSet("gone", "s", 1), NotFoundError);
});

test("invalid arguments reject TypeError (never a synchronous throw), naming table, key and column", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { s: "plain" });
  await t.set("r", {});
  const cyclic = [];
  cyclic.push(cyclic);
  const deep = [];
  let at = deep;
  for (let i = 0; i < 70; i++) at = at[0] = [];
  const elements = [undefined, () => 1, NaN, Infinity, Symbol("s"), 10n, new Date(0), new Map(), cyclic, [1, undefined], { x: NaN }, "\uD800", deep];
  for (const v of elements) {
    for (const op of ["addToSet", "removeFromSet"]) {
      let p;
      assert.doesNotThrow(() => {
        p = t[op]("r", "tags", v);
      }, `${op} never throws synchronously`);
      await assert.rejects(p, (err) => {
        assert.ok(err instanceof TypeError, `${op}(${String(v)}) rejects TypeError, got ${err}`);
        assert.match(err.message, /"r"/, "names the key");
        assert.match(err.message, /"t"/, "names the table");
        assert.match(err.message, /tags/, "names the column");
        return true;
      });
    }
  }
  // Invalid keys and column names.
  for (const [key, column] of [["", "tags"], [1, "tags"], ["r", 1], ["r", undefined], ["r", null], ["r", "\uDC00"], ["r", "c".repeat(2000)]]) {
    await assert.rejects(t.addToSet(key, column, "v"), TypeError);
    await assert.rejects(t.removeFromSet(key, column, "v"), TypeError);
  }
  // The element is checked before the row: an invalid element on a missing row is a TypeError.
  await assert.rejects(t.addToSet("nope", "tags", undefined), TypeError);
  assert.deepEqual(t.get("r"), {}, "nothing was written");
  assert.deepEqual(t.get("k"), { s: "plain" });
});

test("concurrent add and remove of the same element: the add wins", async () => {
  for (const [adder, remover] of [["a", "b"], ["b", "a"]]) {
    const dbs = { a: await openDb("a"), b: await openDb("b") };
    await dbs.a.table("t").set("k", {});
    await dbs.a.table("t").addToSet("k", "s", "x");
    await dbs.a.table("t").addToSet("k", "s", "y");
    push(dbs.a, dbs.b);
    assert.deepEqual(dbs.b.table("t").get("k"), { s: ["x", "y"] });
    // Concurrently: one replica removes x, the other adds it again (and adds z).
    await dbs[remover].table("t").removeFromSet("k", "s", "x");
    await dbs[adder].table("t").addToSet("k", "s", "x");
    await dbs[adder].table("t").addToSet("k", "s", "z");
    assert.deepEqual(dbs[remover].table("t").get("k")?.s, ["y"]);
    syncBoth(dbs.a, dbs.b);
    assert.deepEqual(dbs.a.table("t").get("k"), { s: ["x", "y", "z"] }, `add on ${adder} wins`);
    assertConverged(dbs.a, dbs.b, "t", ["k"]);
    // A remove that has seen every add removes the element everywhere.
    await dbs[remover].table("t").removeFromSet("k", "s", "x");
    syncBoth(dbs.a, dbs.b);
    assert.deepEqual(dbs.a.table("t").get("k"), { s: ["y", "z"] });
    assertConverged(dbs.a, dbs.b, "t", ["k"]);
  }
});

test("concurrent adds of different elements are all kept, in any delivery order", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  const c = await openDb("c");
  await a.table("t").set("k", {});
  push(a, b);
  push(a, c);
  await a.table("t").addToSet("k", "s", "from-a");
  await b.table("t").addToSet("k", "s", "from-b");
  await c.table("t").addToSet("k", "s", 3);
  await c.table("t").removeFromSet("k", "s", "from-a"); // not seen yet: removes nothing
  // Deliver in different orders.
  push(c, a);
  push(b, a);
  push(b, c);
  push(a, c);
  push(a, b);
  for (const db of [a, b, c]) assert.deepEqual(db.table("t").get("k"), { s: [3, "from-a", "from-b"] });
  assertConverged(a, b, "t", ["k"]);
  assertConverged(a, c, "t", ["k"]);
  // Delivering everything again changes nothing.
  push(c, b);
  a.applyChanges(b.changesSince());
  assert.deepEqual(a.table("t").get("k"), { s: [3, "from-a", "from-b"] });
});

test("set and update with a plain value replace the set; addToSet on a plain array rejects TypeError", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { name: "x" });
  await t.addToSet("k", "s", "a");
  await t.addToSet("k", "s", "b");
  // update with a plain array: a plain array column, kept as written (order, duplicates).
  await t.update("k", { s: ["z", "y", "z"] });
  assert.deepEqual(t.get("k"), { name: "x", s: ["z", "y", "z"] });
  await assert.rejects(t.addToSet("k", "s", "c"), (err) => err instanceof TypeError && /array/i.test(err.message));
  await assert.rejects(t.removeFromSet("k", "s", "z"), TypeError);
  assert.deepEqual(t.get("k"), { name: "x", s: ["z", "y", "z"] });
  // update with a string replaces a set too.
  await t.addToSet("k", "s2", 1);
  await t.update("k", { s2: "now a string" });
  assert.deepEqual(t.get("k")?.s2, "now a string");
  await assert.rejects(t.addToSet("k", "s2", 2), TypeError);
  // set with a plain array replaces the set; set without the column removes it.
  await t.addToSet("k", "s3", "q");
  await t.set("k", { s3: ["p"], other: 1 });
  assert.deepEqual(t.get("k"), { s3: ["p"], other: 1 });
  await assert.rejects(t.addToSet("k", "s3", "r"), TypeError);
  await t.addToSet("k", "s4", "q");
  await t.set("k", { other: 2 });
  assert.deepEqual(t.get("k"), { other: 2 });
  // …and addToSet then starts a new, empty set: the old elements do not come back.
  await t.addToSet("k", "s4", "new");
  assert.deepEqual(t.get("k"), { other: 2, s4: ["new"] });
  // A deleted and re-created row has no set either.
  await t.delete("k");
  await t.set("k", {});
  await t.addToSet("k", "s4", "again");
  assert.deepEqual(t.get("k"), { s4: ["again"] });
  // Replacement syncs: a peer sees the plain array, and cannot add to it either.
  const other = await openDb("b");
  await t.update("k", { s4: [3, 1] });
  push(db, other);
  assert.deepEqual(other.table("t").get("k"), { s4: [3, 1] });
  await assert.rejects(other.table("t").addToSet("k", "s4", 2), TypeError);
});

test("a set synced to a fresh replica is a set there (its elements merge with new adds)", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("k", { n: 1 });
  await a.table("t").addToSet("k", "s", "x");
  await a.table("t").addToSet("k", "s", [1, 2]);
  push(a, b);
  assert.deepEqual(b.table("t").get("k"), { n: 1, s: ["x", [1, 2]] });
  await b.table("t").addToSet("k", "s", 0);
  await b.table("t").removeFromSet("k", "s", "x");
  push(b, a);
  assert.deepEqual(a.table("t").get("k"), { n: 1, s: [0, [1, 2]] });
  assertConverged(a, b, "t", ["k"]);
});

test("writes fire change events and live queries like other writes", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", {});
  const changes = [];
  const seen = [];
  db.on("change", (e) => changes.push([e.table, e.key, e.origin]));
  const stop = t.subscribe((rows) => seen.push(rows.map((r) => r.s)));
  await t.addToSet("k", "s", "a");
  await t.removeFromSet("k", "s", "a");
  stop();
  assert.deepEqual(changes, [["t", "k", "local"], ["t", "k", "local"]]);
  assert.deepEqual(seen[0], [undefined]);
  assert.deepEqual(seen[1], [["a"]]);
  assert.deepEqual(seen.at(-1)?.[0] ?? [], []);
});

test("a set survives close and reopen (MemoryStorage), and is still a set", async () => {
  const mem = new MemoryStorage();
  const db = await CRDTDB.open("sets-persist", { storage: mem, indexes });
  const posts = db.table("posts");
  await posts.set("p1", { title: "one" });
  await posts.addToSet("p1", "tags", "b");
  await posts.addToSet("p1", "tags", "a");
  await posts.addToSet("p1", "tags", 5);
  await posts.addToSet("p1", "tags", { o: true });
  await posts.removeFromSet("p1", "tags", "b");
  await posts.set("p2", { title: "two", tags: ["plain", "array"] });
  // Storage holds the plain row, the set as an array.
  const mat = new Map((await mem.entries("materialized")).map(([k, v]) => [JSON.stringify(k), v]));
  assert.deepEqual(mat.get(JSON.stringify(["posts", "p1"])), { title: "one", tags: [5, "a", { o: true }] });
  assert.deepEqual(mat.get(JSON.stringify(["posts", "p2"])), { title: "two", tags: ["plain", "array"] });
  const before = { rows: posts.entries(), byTag: db.index("byTag").entries(), version: [...db.version()] };
  db.close();

  const again = await CRDTDB.open("sets-persist", { storage: mem, indexes });
  const p = again.table("posts");
  assert.deepEqual(
    { rows: p.entries(), byTag: again.index("byTag").entries(), version: [...again.version()] },
    before,
  );
  assert.deepEqual(p.get("p1"), { title: "one", tags: [5, "a", { o: true }] });
  // Still a set: adds and removes work, the plain array still refuses them.
  await p.addToSet("p1", "tags", "c");
  await p.removeFromSet("p1", "tags", 5);
  assert.deepEqual(p.get("p1")?.tags, ["a", "c", { o: true }]);
  await assert.rejects(p.addToSet("p2", "tags", "x"), TypeError);
  assert.deepEqual(again.index("byTag").keys(equals("c")), ["p1"]);
  again.close();
});

test("transactions: a staged addToSet shows through tx reads, others see it once committed", async () => {
  const db = await openDb("a", { indexes });
  const posts = db.table("posts");
  await posts.set("p1", { title: "one", tags: "not a set" });
  await posts.set("p2", { title: "two" });
  await posts.addToSet("p2", "tags", "old");
  const changes = [];
  db.on("change", (e) => changes.push(e.key));
  await db.transaction(async (tx) => {
    const t = tx.table("posts");
    await t.addToSet("p2", "tags", "new");
    await t.removeFromSet("p2", "tags", "old");
    await t.addToSet("p2", "tags", 1);
    assert.deepEqual(t.get("p2"), { title: "two", tags: [1, "new"] }, "tx reads see staged set ops");
    assert.deepEqual(t.query().map((r) => r.tags), ["not a set", [1, "new"]]);
    assert.deepEqual(tx.index("byTag").keys(equals("new")), ["p2"]);
    assert.equal(tx.index("byTag").count(equals("old")), 0);
    // Others do not see it yet.
    assert.deepEqual(posts.get("p2"), { title: "two", tags: ["old"] });
    assert.deepEqual(db.index("byTag").keys(equals("new")), []);
    assert.deepEqual(changes, []);
    // A row created in the transaction takes set ops; one it deleted does not.
    await t.set("p3", { title: "three" });
    await t.addToSet("p3", "tags", "x");
    await t.delete("p3");
    await assert.rejects(t.addToSet("p3", "tags", "y"), NotFoundError);
    await assert.rejects(t.addToSet("nope", "tags", "y"), NotFoundError);
    await t.set("p4", { title: "four" });
    await t.addToSet("p4", "tags", "z");
    // A column of another type rejects at once and stages nothing; the transaction goes on.
    await assert.rejects(t.addToSet("p1", "tags", "y"), TypeError);
    await assert.rejects(t.addToSet("p2", "tags", undefined), TypeError);
    await t.update("p1", { title: "one!" });
    assert.deepEqual(t.get("p1"), { title: "one!", tags: "not a set" });
  });
  assert.deepEqual(posts.get("p1"), { title: "one!", tags: "not a set" });
  assert.deepEqual(posts.get("p2"), { title: "two", tags: [1, "new"] });
  assert.equal(posts.get("p3"), undefined);
  assert.deepEqual(posts.get("p4"), { title: "four", tags: ["z"] });
  assert.deepEqual(db.index("byTag").keys(equals("new")), ["p2"]);
  for (const k of ["p1", "p2", "p4"]) assert.ok(changes.includes(k), `a change event for ${k}`);
});

test("transactions: a rolled-back set op leaves nothing behind", async () => {
  const db = await openDb("a", { indexes });
  const posts = db.table("posts");
  await posts.set("p1", { title: "one" });
  await posts.addToSet("p1", "tags", "kept");
  const version = db.version();
  const boom = new Error("boom");
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.table("posts").addToSet("p1", "tags", "dropped");
      await tx.table("posts").removeFromSet("p1", "tags", "kept");
      assert.deepEqual(tx.table("posts").get("p1")?.tags, ["dropped"]);
      throw boom;
    }),
    (err) => err === boom,
  );
  assert.deepEqual(posts.get("p1"), { title: "one", tags: ["kept"] });
  assert.deepEqual(db.version(), version);
  assert.deepEqual(db.index("byTag").keys(), ["p1"]);
  // Nothing staged lingers into the next transaction or write.
  await db.transaction(async (tx) => {
    assert.deepEqual(tx.table("posts").get("p1")?.tags, ["kept"]);
  });
  await posts.addToSet("p1", "tags", "after");
  assert.deepEqual(posts.get("p1")?.tags, ["after", "kept"]);
});

test("an index on a set column has one entry per element (multiEntry); a plain array is one key", async () => {
  const db = await openDb("a", { indexes });
  const posts = db.table("posts");
  const byTag = db.index("byTag");
  await posts.set("p1", { title: "one" });
  await posts.set("p2", { title: "two" });
  await posts.set("p3", { title: "three", tags: ["a", "b"] }); // a plain array column
  for (const v of ["a", "b", 7, [1, "x"], true, null, { k: 1 }]) await posts.addToSet("p1", "tags", v);
  await posts.addToSet("p2", "tags", "b");
  // Querying by an element finds the row.
  assert.deepEqual(byTag.keys(equals("a")), ["p1"]);
  assert.deepEqual(byTag.keys(equals("b")), ["p1", "p2"]);
  assert.deepEqual(byTag.keys(equals(7)), ["p1"]);
  assert.deepEqual(byTag.keys(equals([1, "x"])), ["p1"]);
  assert.equal(byTag.get("a")?.title, "one");
  assert.equal(byTag.get(7)?.title, "one");
  // The plain array is one array key, and matches no element.
  assert.deepEqual(byTag.keys(equals(["a", "b"])), ["p3"]);
  // The whole index: one entry per key-valid element (true, null and objects are not keys),
  // in key order, ties by row key; the row comes back once per entry.
  // (7, "a", "b", "b" of p2, [1, "x"], then p3's ["a", "b"])
  assert.deepEqual(byTag.keys(), ["p1", "p1", "p1", "p2", "p1", "p3"]);
  assert.deepEqual(byTag.query().map((r) => r.title), ["one", "one", "one", "two", "one", "three"]);
  assert.equal(byTag.count(), 6);
  assert.equal(byTag.count(above(0)), 6);
  assert.deepEqual(byTag.keys(above(5), { limit: 2 }), ["p1", "p1"]);
  assert.deepEqual(byTag.keys(undefined, { reverse: true }), ["p3", "p1", "p2", "p1", "p1", "p1"]);
  const p1Tags = [7, "a", "b", [1, "x"], null, true, { k: 1 }];
  assert.deepEqual(posts.get("p1")?.tags, p1Tags);
  assert.deepEqual(byTag.entries(equals("b")).map(([k, r]) => [k, r.tags]), [["p1", p1Tags], ["p2", ["b"]]]);
  // A removed element's entry goes; replacing the set by a plain value drops all of them.
  await posts.removeFromSet("p1", "tags", "b");
  assert.deepEqual(byTag.keys(equals("b")), ["p2"]);
  await posts.update("p2", { tags: "b" });
  assert.deepEqual(byTag.keys(equals("b")), ["p2"], "now a plain string key");
  await posts.update("p1", { tags: 3 });
  assert.deepEqual(byTag.keys(), ["p1", "p2", "p3"]);
  // Live queries over the index see set ops.
  const seen = [];
  const stop = byTag.subscribe(equals("z"), (rows) => seen.push(rows.map((r) => r.title)));
  await posts.addToSet("p3", "other", "z"); // another column: no change
  await posts.set("p4", { title: "four" });
  await posts.addToSet("p4", "tags", "z");
  stop();
  assert.deepEqual(seen, [[], ["four"]]);
});

test("an index on a set column agrees on every replica and builds from stored rows", async () => {
  const a = await openDb("a", { indexes });
  const b = await openDb("b", { indexes });
  await a.table("posts").set("p", {});
  push(a, b);
  await a.table("posts").addToSet("p", "tags", "x");
  await b.table("posts").addToSet("p", "tags", "y");
  await b.table("posts").addToSet("p", "tags", 1);
  syncBoth(a, b);
  for (const db of [a, b]) {
    assert.deepEqual(db.index("byTag").keys(), ["p", "p", "p"]);
    assert.deepEqual(db.index("byTag").keys(equals("y")), ["p"]);
  }
  // An index declared on an existing database is built with one entry per element.
  const mem = new MemoryStorage();
  const db = await CRDTDB.open("sets-index-later", { storage: mem });
  await db.table("posts").set("p", {});
  await db.table("posts").addToSet("p", "tags", "m");
  await db.table("posts").addToSet("p", "tags", "n");
  db.close();
  const again = await CRDTDB.open("sets-index-later", { storage: mem, indexes });
  assert.deepEqual(again.index("byTag").keys(), ["p", "p"]);
  assert.deepEqual(again.index("byTag").keys(equals("n")), ["p"]);
  const stored = (await mem.entries("indexes")).map(([k]) => k).filter((k) => k[1] === "byTag");
  assert.deepEqual(stored, [["posts", "byTag", "m", "p"], ["posts", "byTag", "n", "p"]]);
  again.close();
});
