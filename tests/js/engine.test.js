// js/engine.js + js/record.js: the raw boundary. One call per commit / apply, one result
// with a status apart from the data; errors become the mapped JS classes; a record the JS
// side cannot take in makes the engine undo the call.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDBError, DecodeError, NotFoundError } from "crdtdb";
import { Engine } from "../../js/engine.js";
import { loadEngineModule } from "../../js/loader.js";
import { readChangeRecord } from "../../js/record.js";
import { DELETE, SET, UPDATE, writeOp } from "../../js/replica.js";
import { Writer } from "../../js/codec.js";
import { openDb } from "./helpers.js";

/** @param {Array<[number, string, string, unknown?]>} ops */
function batch(ops) {
  const w = new Writer();
  w.varint(ops.length);
  for (const [kind, table, key, value] of ops) writeOp(w, kind, table, key, value);
  return w.view().slice();
}

test("the WebAssembly module loads once per process", async () => {
  const p1 = loadEngineModule();
  const p2 = loadEngineModule();
  assert.equal(p1, p2, "the same cached promise");
  const m = await p1;
  assert.equal(typeof m._crdtdb_commit, "function");
  assert.equal(await loadEngineModule(), m);
});

test("a commit crosses once and returns one record of the changed rows", async () => {
  const m = await loadEngineModule();
  const a = new Engine(m, "raw-a");
  const b = new Engine(m, "raw-b");
  try {
    const names = [""];
    const rec = readChangeRecord(
      a.commit(batch([[SET, "t", "k1", { v: 1 }], [SET, "t", "k2", { v: 2.5, s: "x" }], [UPDATE, "t", "k1", { w: [true] }]]), true),
      names,
      () => undefined,
    );
    assert.equal(rec.applied, 3, "one event per op");
    const byKey = Object.fromEntries(rec.rows.map((c) => [`${c.table}/${c.key}`, c.row]));
    assert.deepEqual(byKey, { "t/k1": { v: 1, w: [true] }, "t/k2": { s: "x", v: 2.5 } });
    assert.ok(rec.update instanceof Uint8Array && rec.update.length > 0, "the new events, encoded");
    const names2 = [""];
    const got = readChangeRecord(b.apply(rec.update, false), names2, () => undefined);
    assert.equal(got.applied, 3);
    assert.equal(got.pending, 0);
    assert.deepEqual(a.version(), b.version());
    assert.deepEqual(a.changesSince(undefined), b.changesSince(undefined), "same history bytes");
  } finally {
    a.delete();
    b.delete();
  }
});

test("engine errors become the mapped JS errors; a failed transaction writes nothing", async () => {
  const m = await loadEngineModule();
  const e = new Engine(m, "raw-err");
  try {
    const v0 = e.version();
    assert.throws(() => e.commit(batch([[SET, "t", "a", { x: 1 }], [UPDATE, "t", "nope", { x: 2 }]]), false), NotFoundError);
    assert.deepEqual(e.version(), v0, "the valid first op was not applied either");
    assert.throws(() => e.apply(new Uint8Array([1, 2, 3]), false), DecodeError);
    assert.throws(() => e.commit(new Uint8Array([1, 9]), false), TypeError, "malformed ops");
  } finally {
    e.delete();
  }
});

test("a record the JS side cannot take in undoes the engine call", async () => {
  const db = await openDb("a");
  const t = db.table("t");
  await t.set("k", { v: 1 });
  const before = db.version();
  // Break the record reader for one call: the engine must undo the commit.
  const realDecoder = TextDecoder.prototype.decode;
  TextDecoder.prototype.decode = () => {
    throw new RangeError("simulated: string too long for this engine");
  };
  try {
    await assert.rejects(t.set("k2", { s: "ü".repeat(40) }), (err) => err instanceof CRDTDBError && err.cause instanceof RangeError);
  } finally {
    TextDecoder.prototype.decode = realDecoder;
  }
  assert.deepEqual(db.version(), before, "the engine undid the commit");
  assert.equal(t.get("k2"), undefined);
  assert.equal(t.count(), 1);
  await t.set("k3", { v: 3 });
  assert.equal(t.count(), 2, "the replica keeps working");
  db.close();
});

test("deletes of absent rows cross nothing; delete removes", async () => {
  const m = await loadEngineModule();
  const e = new Engine(m, "raw-del");
  try {
    const names = [""];
    const rec = readChangeRecord(e.commit(batch([[SET, "t", "k", { v: 1 }]]), false), names, () => undefined);
    const cached = { table: "t", key: "k", row: rec.rows[0].row };
    const del = readChangeRecord(e.commit(batch([[DELETE, "t", "k"]]), false), names, () => cached);
    assert.deepEqual(del.rows.map((c) => [c.key, c.row]), [["k", null]]);
  } finally {
    e.delete();
  }
});
