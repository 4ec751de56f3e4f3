// Bounded history through the public API: compact() and history.maxBytes fold history without
// changing what a database shows; a peer from before the fold catches up from a snapshot; the
// fold persists (fake-indexeddb) and a reopened database equals the one that wrote it.

import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB } from "crdtdb";

let n = 0;
const fresh = () => `compact-${++n}`;
const INDEXES = { byAge: { table: "users", keys: ["age"] } };

/** @param {CRDTDB} db */
const observe = (db) => ({
  rows: db.table("users").entries(),
  byAge: db.index("byAge").keys(),
  version: Array.from(db.version()),
});

test("compact() keeps rows, indexes and version; a late peer catches up from a snapshot", async () => {
  const db = await CRDTDB.open(fresh(), { storage: "memory", indexes: INDEXES });
  const late = await CRDTDB.open(fresh(), { storage: "memory", indexes: INDEXES });
  for (let i = 0; i < 200; i++) await db.table("users").set(`u${i % 20}`, { age: i, name: `n${i}` });
  await late.table("users").set("u1", { age: -1 }); // concurrent with db's u1 history
  const before = observe(db);
  const { historyBytes: h0 } = await db.storageEstimate();
  await db.compact();
  assert.deepEqual(observe(db), before);
  const { historyBytes: h1 } = await db.storageEstimate();
  assert.ok(h1 < h0 / 10, `history ${h0} → ${h1}`);
  const res = late.applyChanges(db.changesSince(late.version()));
  assert.equal(res.pending, 0);
  assert.ok(res.applied >= 200);
  db.applyChanges(late.changesSince(db.version()));
  assert.deepEqual(observe(late), observe(db));
  assert.deepEqual(late.table("users").conflicts("u1"), db.table("users").conflicts("u1"));
  db.close();
  late.close();
});

test("history.maxBytes keeps history near its budget, and peers still converge", async () => {
  const db = await CRDTDB.open(fresh(), { storage: "memory", history: { maxBytes: 20_000 } });
  const peer = await CRDTDB.open(fresh(), { storage: "memory" });
  for (let i = 0; i < 3000; i++) await db.table("t").set(`k${i % 40}`, { v: i, pad: "x".repeat(50) });
  const { historyBytes } = await db.storageEstimate();
  assert.ok(historyBytes <= 21_000, `history ${historyBytes}`);
  peer.applyChanges(db.changesSince(peer.version()));
  assert.deepEqual(peer.table("t").entries(), db.table("t").entries());
  assert.throws(() => new CRDTDB(fresh(), { history: { maxBytes: 0 } }), TypeError);
  assert.throws(() => new CRDTDB(fresh(), { history: { max: 1 } }), TypeError);
  db.close();
  peer.close();
});

test("a compacted database reopens equal and goes on", async () => {
  const name = fresh();
  let db = await CRDTDB.open(name, { indexes: INDEXES });
  const peer = await CRDTDB.open(fresh(), { storage: "memory", indexes: INDEXES });
  for (let i = 0; i < 50; i++) await db.table("users").set(`u${i % 9}`, { age: i });
  await db.compact();
  await db.table("users").update("u1", { age: 101 });
  const before = observe(db);
  const all = Array.from(db.changesSince());
  db.close();
  db = await CRDTDB.open(name, { indexes: INDEXES });
  assert.deepEqual(observe(db), before);
  assert.deepEqual(Array.from(db.changesSince()), all, "the same snapshot after the reopen");
  peer.applyChanges(db.changesSince(peer.version()));
  await db.table("users").set("u2", { age: 7 });
  peer.applyChanges(db.changesSince(peer.version()));
  assert.deepEqual(observe(peer), observe(db));
  db.close();
  peer.close();
});
