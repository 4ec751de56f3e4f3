// Rows through the public API: set/get/update/delete/has, validation, lifecycle errors.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ClosedError, CRDTDB, CRDTDBError, NotFoundError } from "crdtdb";
import { openDb, push, rng } from "./helpers.js";

describe("rows", () => {
  test("set, get, has, update, delete", async () => {
    const db = await openDb("peer-a");
    const users = db.table("users");
    assert.equal(users.get("u1"), undefined);
    assert.equal(users.has("u1"), false);

    await users.set("u1", { name: "Ada", age: 36, tags: ["math"], address: { city: "London" } });
    assert.deepEqual(users.get("u1"), {
      name: "Ada",
      age: 36,
      tags: ["math"],
      address: { city: "London" },
    });
    assert.equal(users.has("u1"), true);

    await users.update("u1", { age: 37, email: "ada@example.org" });
    assert.deepEqual(users.get("u1"), {
      name: "Ada",
      age: 37,
      tags: ["math"],
      address: { city: "London" },
      email: "ada@example.org",
    });

    // set replaces the whole row: columns it does not name are gone.
    await users.set("u1", { name: "Ada Lovelace" });
    assert.deepEqual(users.get("u1"), { name: "Ada Lovelace" });

    await users.delete("u1");
    assert.equal(users.get("u1"), undefined);
    assert.equal(users.has("u1"), false);
    db.close();
  });

  test("a long string column edited in small steps reads back exactly, here and elsewhere", async () => {
    // (the engine sends such changes as splices of the cached string: this pins that they
    // land where they should, across code points of every width)
    const db = await openDb("peer-a");
    const other = await openDb("peer-b");
    const notes = db.table("notes");
    const pieces = ["a", "\u00e9", "\u20ac", "\u{1F600}", "\u{1F601}", " "];
    const r = rng(7);
    let s = "";
    for (let i = 0; i < 400; i++) s += pieces[r.int(pieces.length)];
    await notes.set("n", { body: s, n: 0 });
    push(db, other);
    for (let step = 1; step <= 60; step++) {
      const cps = [...s];
      const at = r.int(cps.length + 1);
      let ins = "";
      for (let k = r.int(3); k > 0; k--) ins += pieces[r.int(pieces.length)];
      cps.splice(at, r.int(3), ins);
      s = cps.join("");
      await notes.update("n", step % 5 === 0 ? { body: s, n: step } : { body: s });
      assert.equal(notes.get("n")?.body, s, `step ${step}`);
      push(db, other);
      assert.equal(other.table("notes").get("n")?.body, s, `step ${step} on the other replica`);
    }
    const fresh = await openDb("peer-c");
    push(db, fresh);
    assert.deepEqual(fresh.table("notes").get("n"), notes.get("n"));
    for (const d of [db, other, fresh]) d.close();
  });

  test("a get right after set, without await, sees the row", async () => {
    const db = await openDb();
    const t = db.table("t");
    const pending = t.set("k", { v: 1 });
    assert.deepEqual(t.get("k"), { v: 1 });
    const pendingUpdate = t.update("k", { w: 2 });
    assert.deepEqual(t.get("k"), { v: 1, w: 2 });
    const pendingDelete = t.delete("k");
    assert.equal(t.has("k"), false);
    await Promise.all([pending, pendingUpdate, pendingDelete]);
    db.close();
  });

  test("tables are independent and need no declaration", async () => {
    const db = await openDb();
    await db.table("a").set("k", { from: "a" });
    await db.table("b").set("k", { from: "b" });
    assert.deepEqual(db.table("a").get("k"), { from: "a" });
    assert.deepEqual(db.table("b").get("k"), { from: "b" });
    assert.equal(db.table("a"), db.table("a"), "one handle per table name");
    assert.equal(db.table("a").name, "a");
    db.close();
  });

  test("rows read back are frozen: callers cannot mutate the database", async () => {
    const db = await openDb();
    const t = db.table("t");
    const input = { list: [1, { x: 1 }], nested: { deep: { v: "a" } } };
    await t.set("k", input);
    // Mutating the caller's object after the write changes nothing stored.
    input.list.push(99);
    input.nested.deep.v = "changed";

    const row = t.get("k");
    assert.deepEqual(row, { list: [1, { x: 1 }], nested: { deep: { v: "a" } } });
    assert.ok(Object.isFrozen(row));
    assert.ok(Object.isFrozen(row.list));
    assert.ok(Object.isFrozen(row.list[1]));
    assert.ok(Object.isFrozen(row.nested.deep));
    assert.throws(() => {
      row.extra = 1;
    }, TypeError);
    assert.throws(() => row.list.push(2), TypeError);
    assert.throws(() => {
      row.nested.deep.v = "b";
    }, TypeError);
    assert.deepEqual(t.get("k"), { list: [1, { x: 1 }], nested: { deep: { v: "a" } } });

    // The intended way to edit: copy.
    await t.set("k", { ...row, added: true });
    assert.equal(t.get("k").added, true);
    db.close();
  });

  test("numbers are stored as JavaScript numbers (ints, doubles, -0, large values)", async () => {
    const db = await openDb();
    const t = db.table("t");
    const row = {
      int: 42,
      neg: -7,
      double: 0.1 + 0.2,
      big: 2 ** 53,
      bigger: 2 ** 60,
      tiny: 5e-324,
      huge: 1.7976931348623157e308,
      negZero: -0,
    };
    await t.set("k", row);
    const got = t.get("k");
    for (const col of Object.keys(row)) {
      if (col === "negZero") assert.equal(got.negZero, 0);
      else assert.equal(got[col], row[col], col);
    }
    db.close();
  });

  test("unicode keys, table names, columns and values round-trip", async () => {
    const db = await openDb();
    const t = db.table("tâble 表");
    const row = { "cölumn 列": "😀 emoji, ünïcödé, 中文", "": "empty column name", "a.b": [true, null] };
    await t.set("ключ 🔑", row);
    assert.deepEqual(t.get("ключ 🔑"), row);
    db.close();
  });

  test("update of an absent row rejects NotFoundError and writes nothing", async () => {
    const db = await openDb();
    const t = db.table("t");
    const before = db.version();
    await assert.rejects(t.update("missing", { a: 1 }), NotFoundError);
    assert.equal(t.has("missing"), false);
    assert.deepEqual(db.version(), before);

    await t.set("gone", { a: 1 });
    await t.delete("gone");
    await assert.rejects(t.update("gone", { a: 2 }), (err) => {
      assert.ok(err instanceof NotFoundError);
      assert.ok(err instanceof CRDTDBError);
      assert.equal(err.name, "NotFoundError");
      assert.match(err.message, /gone/);
      return true;
    });
    assert.equal(t.get("gone"), undefined);
    db.close();
  });

  test("delete of an absent row resolves and writes nothing", async () => {
    const db = await openDb();
    const before = db.version();
    await db.table("t").delete("never-there");
    assert.deepEqual(db.version(), before);
    db.close();
  });

  test("every write bumps the version; reads do not", async () => {
    const db = await openDb();
    const t = db.table("t");
    const v0 = db.version();
    await t.set("k", { a: 1 });
    const v1 = db.version();
    assert.notDeepEqual(v1, v0);
    t.get("k");
    t.has("k");
    t.conflicts("k");
    assert.deepEqual(db.version(), v1);
    await t.update("k", { a: 2 });
    assert.notDeepEqual(db.version(), v1);
    db.close();
  });
});

describe("lifecycle", () => {
  test("CRDTDB.open resolves to the ready database; ready resolves to it too", async () => {
    const db = await CRDTDB.open("lifecycle", { storage: "memory", peerId: "me" });
    assert.ok(db instanceof CRDTDB);
    assert.equal(db.name, "lifecycle");
    assert.equal(db.peerId, "me");
    assert.equal(await db.ready, db);
    db.close();
  });

  test("without a peerId option each database gets a distinct random id", async () => {
    const a = await openDb();
    const b = await openDb();
    assert.match(a.peerId, /^[0-9a-z]{16}$/);
    assert.notEqual(a.peerId, b.peerId);
    a.close();
    b.close();
  });

  test("reads before ready throw a CRDTDBError that says to await db.ready", async () => {
    const db = new CRDTDB("early", { storage: "memory" });
    const t = db.table("t"); // a handle may be taken early
    const check = (/** @type {unknown} */ err) => {
      assert.ok(err instanceof CRDTDBError);
      assert.equal(err.constructor, CRDTDBError);
      assert.match(err.message, /await db\.ready/);
      return true;
    };
    assert.throws(() => t.get("k"), check);
    assert.throws(() => t.has("k"), check);
    assert.throws(() => db.version(), check);
    assert.throws(() => db.changesSince(), check);
    assert.throws(() => db.applyChanges(new Uint8Array()), check);
    // Writes before ready reject (never throw synchronously).
    const write = t.set("k", { a: 1 });
    assert.ok(write instanceof Promise);
    await assert.rejects(write, check);
    await db.ready;
    assert.equal(t.get("k"), undefined, "the rejected early write wrote nothing");
    await t.set("k", { a: 1 });
    assert.deepEqual(t.get("k"), { a: 1 });
    db.close();
  });

  test("after close every call throws ClosedError; writes reject with it", async () => {
    const db = await openDb();
    const t = db.table("t");
    await t.set("k", { a: 1 });
    db.close();
    assert.equal(db.closed, true);
    assert.throws(() => t.get("k"), ClosedError);
    assert.throws(() => t.has("k"), ClosedError);
    assert.throws(() => t.conflicts("k"), ClosedError);
    assert.throws(() => db.table("t"), ClosedError);
    assert.throws(() => db.version(), ClosedError);
    assert.throws(() => db.changesSince(), ClosedError);
    assert.throws(() => db.applyChanges(new Uint8Array([1])), ClosedError);
    assert.throws(() => db.on("change", () => {}), ClosedError);
    for (const write of [t.set("k", { a: 2 }), t.update("k", { a: 2 }), t.delete("k")]) {
      await assert.rejects(write, (err) => err instanceof ClosedError && err.name === "ClosedError");
    }
    db.close(); // closing twice is harmless
  });

  test("closing before ready makes ready reject with ClosedError", async () => {
    const db = new CRDTDB("closed-early");
    db.close();
    await assert.rejects(db.ready, ClosedError);
    assert.throws(() => db.table("t"), ClosedError);
  });

  test("invalid constructor arguments", async () => {
    assert.throws(() => new CRDTDB(""), TypeError);
    assert.throws(() => new CRDTDB(42), TypeError);
    assert.throws(() => new CRDTDB("x", "memory"), TypeError);
    assert.throws(() => new CRDTDB("x", { storage: "disk" }), TypeError);
    assert.throws(() => new CRDTDB("x", { peerId: "" }), TypeError);
    assert.throws(() => new CRDTDB("x", { peerId: "p".repeat(257) }), /256/);
    assert.throws(() => new CRDTDB("x", { maxPendingBytes: -1 }), TypeError);
    assert.throws(() => new CRDTDB("x", { bogus: true }), /unknown CRDTDB option "bogus"/);
    // Plain Node has no IndexedDB: a clear CRDTDBError rather than silently keeping nothing.
    assert.throws(
      () => new CRDTDB("x", { storage: "indexeddb" }),
      (err) => err instanceof CRDTDBError && /needs IndexedDB/.test(err.message),
    );
    assert.throws(() => new CRDTDB("x", { storage: { load() {} } }), /storage adapter/);
    // Indexes are validated synchronously; a bad definition is a TypeError naming it.
    assert.throws(() => new CRDTDB("x", { indexes: { byAge: { table: "u", keys: [] } } }), /byAge/);
    // CRDTDB.open never throws: it rejects.
    const p = CRDTDB.open("x", { storage: "indexeddb" });
    assert.ok(p instanceof Promise);
    await assert.rejects(p, CRDTDBError);
    // A 256-byte peer id is fine.
    const ok = await CRDTDB.open("x", { peerId: "p".repeat(256) });
    assert.equal(ok.peerId.length, 256);
    ok.close();
  });

  test("invalid table names are rejected", async () => {
    const db = await openDb();
    assert.throws(() => db.table(""), TypeError);
    assert.throws(() => db.table(7), TypeError);
    assert.throws(() => db.table("x".repeat(1025)), /1024/);
    assert.equal(db.table("x".repeat(1024)).name.length, 1024);
    db.close();
  });
});
