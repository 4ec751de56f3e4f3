// Events for storage and providers (api.md "Sync"): `update` fires once per committed local
// transaction or merged remote message with exactly its new events; applyChanges passes
// `origin` through to `update` and `change`; listeners that throw stop nothing.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDb, push } from "./helpers.js";

/** Captures uncaught exceptions (how listener errors are reported) while `fn` runs. */
async function capturingUncaught(fn) {
  const runnerHandlers = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  const uncaught = [];
  process.on("uncaughtException", (e) => uncaught.push(e));
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 10));
  } finally {
    process.removeAllListeners("uncaughtException");
    for (const h of runnerHandlers) process.on("uncaughtException", h);
  }
  return uncaught;
}

test("update fires once per local transaction with exactly its events", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  /** @type {Array<{ bytes: Uint8Array, origin: string }>} */
  const updates = [];
  a.on("update", (e) => updates.push(e));
  await a.table("t").set("k1", { v: 1 });
  await a.transaction(async (tx) => {
    await tx.table("t").set("k2", { v: 2 });
    await tx.table("t").update("k1", { v: 3 });
  });
  await a.table("t").delete("absent"); // records nothing: no update
  assert.equal(updates.length, 2, "one per committed transaction");
  assert.ok(updates.every((u) => u.origin === "local" && u.bytes instanceof Uint8Array));
  // Each update applies on its own, in order, and together they are the whole history.
  assert.deepEqual(b.applyChanges(updates[0].bytes), { applied: 1, pending: 0 });
  assert.deepEqual(b.applyChanges(updates[1].bytes), { applied: 2, pending: 0 });
  assert.deepEqual(b.version(), a.version());
  assert.deepEqual(b.table("t").get("k1"), { v: 3 });
  // Out of order: the second is held until the first arrives.
  const c = await openDb("c");
  assert.deepEqual(c.applyChanges(updates[1].bytes), { applied: 0, pending: 2 });
  assert.deepEqual(c.applyChanges(updates[0].bytes), { applied: 3, pending: 0 });
});

test("a merge fires update once with the events it applied, and the caller's origin", async () => {
  const a = await openDb("a");
  const b = await openDb("b");
  await a.table("t").set("x", { v: 1 });
  await a.table("t").set("y", { v: 2 });
  const updates = [];
  const changes = [];
  b.on("update", (e) => updates.push(e));
  b.on("change", (e) => changes.push(e));
  const bytes = a.changesSince(b.version());
  b.applyChanges(bytes, { origin: "provider-1" });
  assert.equal(updates.length, 1);
  assert.equal(updates[0].origin, "provider-1");
  assert.deepEqual(changes.map((e) => [e.key, e.origin]), [["x", "provider-1"], ["y", "provider-1"]]);
  // Re-forwarding the update reproduces the same state elsewhere.
  const c = await openDb("c");
  c.applyChanges(updates[0].bytes);
  assert.deepEqual(c.version(), a.version());
  // Nothing new: no update; default origin is "remote".
  b.applyChanges(bytes);
  assert.equal(updates.length, 1);
  await a.table("t").set("z", { v: 3 });
  push(a, b);
  assert.equal(updates.length, 2);
  assert.equal(updates[1].origin, "remote");
  assert.equal(changes.at(-1).origin, "remote");
  assert.throws(() => b.applyChanges(bytes, { origin: 5 }), TypeError);
  assert.throws(() => b.applyChanges(bytes, { origin: null }), TypeError);
  // An object origin (a sync provider passes itself) reaches the events as that object.
  const provider = { name: "provider-2" };
  await a.table("t").set("w", { v: 4 });
  b.applyChanges(a.changesSince(b.version()), { origin: provider });
  assert.equal(updates.at(-1).origin, provider);
  assert.equal(changes.at(-1).origin, provider);
  assert.throws(() => b.applyChanges(bytes, "origin"), TypeError);
});

test("no update bytes are encoded when nobody listens, and a removed listener stops", async () => {
  const a = await openDb("a");
  const seen = [];
  const off = a.on("update", (e) => seen.push(e));
  await a.table("t").set("k", { v: 1 });
  off();
  off();
  await a.table("t").set("k", { v: 2 });
  assert.equal(seen.length, 1);
  assert.throws(() => a.on("updates", () => {}), TypeError);
});

test("listeners that throw do not stop the write or the other listeners", async () => {
  const a = await openDb("a");
  const t = a.table("t");
  const calls = [];
  const uncaught = await capturingUncaught(async () => {
    a.on("change", () => {
      calls.push("change1");
      throw new Error("change boom");
    });
    a.on("change", () => calls.push("change2"));
    a.on("update", () => {
      calls.push("update1");
      throw new Error("update boom");
    });
    a.on("update", () => calls.push("update2"));
    a.table("t").subscribe((rows) => {
      calls.push(`sub${rows.length}`);
      if (rows.length > 0) throw new Error("sub boom");
    });
    await t.set("k", { v: 1 });
    await t.set("k2", { v: 2 });
  });
  assert.equal(t.count(), 2, "both writes committed");
  assert.deepEqual(calls, [
    "sub0",
    "change1", "change2", "sub1", "update1", "update2",
    "change1", "change2", "sub2", "update1", "update2",
  ]);
  assert.deepEqual(
    uncaught.map((e) => e.message).sort(),
    ["change boom", "change boom", "sub boom", "sub boom", "update boom", "update boom"],
  );
});

test("limit, offset and maxPendingBytes up to 2^53 - 1 work as given, never wrap", async () => {
  const db = await openDb("a", { maxPendingBytes: 2 ** 32 });
  const t = db.table("t");
  for (let i = 0; i < 5; i++) await t.set(`k${i}`, { v: i });
  assert.equal(t.query(undefined, { limit: Number.MAX_SAFE_INTEGER }).length, 5);
  assert.equal(t.query(undefined, { limit: 2 ** 32 }).length, 5);
  assert.equal(t.query(undefined, { limit: 2 ** 32 + 1, offset: 2 }).length, 3);
  assert.equal(t.query(undefined, { offset: 2 ** 32 }).length, 0);
  assert.equal(t.query(undefined, { offset: Number.MAX_SAFE_INTEGER }).length, 0);
  assert.equal(t.query(undefined, { limit: Infinity, reverse: true })[0].v, 4);
  assert.throws(() => t.query(undefined, { limit: 2 ** 53 }), TypeError);
  assert.throws(() => t.query(undefined, { offset: -1 }), TypeError);
  const rows = [];
  for await (const r of t.iterate(undefined, { limit: Number.MAX_SAFE_INTEGER })) rows.push(r);
  assert.equal(rows.length, 5);
  // maxPendingBytes 2^32 is 4 GiB of room, not 0: an early change is held, not refused.
  const src = await openDb("src");
  const updates = [];
  src.on("update", (e) => updates.push(e.bytes));
  await src.table("t").set("a", { v: 1 });
  await src.table("t").set("b", { v: 2 });
  assert.deepEqual(db.applyChanges(updates[1]), { applied: 0, pending: 1 });
  await assert.rejects(openDb("x", { maxPendingBytes: 2 ** 53 }), TypeError);
});

test("a write that touches no subscribed range re-runs no live query", async () => {
  const { Engine } = await import("../../js/engine.js");
  const db = await openDb("a", { indexes: { byV: { table: "t", keys: ["v"] } } });
  const t = db.table("t");
  for (let i = 0; i < 50; i++) await t.set(`k${i}`, { v: i * 10 });
  const { between } = await import("crdtdb");
  const calls = new Array(1000).fill(0);
  for (let s = 0; s < 1000; s++) {
    // Ranges [1000 + s*10, 1000 + s*10 + 5): no row's value falls in any of them.
    db.index("byV").subscribe(between(1000 + s * 10, 1000 + s * 10 + 5), () => (calls[s] += 1));
  }
  assert.ok(calls.every((c) => c === 1), "each called once when subscribing");
  let queries = 0;
  const realQuery = Engine.prototype.query;
  Engine.prototype.query = function (...args) {
    queries += 1;
    return realQuery.apply(this, args);
  };
  try {
    await t.update("k3", { v: 31 });
    await t.set("k99", { v: 999 });
    await t.delete("k4");
    assert.equal(queries, 0, "no query re-ran");
    assert.ok(calls.every((c) => c === 1), "no subscriber called");
    // A write into one range touches exactly that subscription.
    await t.set("hit", { v: 1000 + 7 * 10 + 1 });
    assert.equal(calls[7], 2);
    assert.equal(calls.reduce((a, b) => a + b, 0), 1001);
  } finally {
    Engine.prototype.query = realQuery;
  }
});
