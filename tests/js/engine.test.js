// js/engine.js: module loading and the raw RawDB wrapper (error mapping, byte copies).

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDBError, DecodeError, NotFoundError } from "../../js/index.js";
import { Engine, loadEngineModule } from "../../js/engine.js";

test("the WebAssembly module loads once per process", async () => {
  const p1 = loadEngineModule();
  const p2 = loadEngineModule();
  assert.equal(p1, p2, "the same cached promise");
  const m = await p1;
  assert.equal(typeof m.RawDB, "function");
  assert.equal(await loadEngineModule(), m);
});

test("commit returns the changed rows; lastEncoded applies on another replica", async () => {
  const m = await loadEngineModule();
  const a = new Engine(m, "raw-a");
  const b = new Engine(m, "raw-b");
  try {
    assert.equal(a.peerId(), "raw-a");
    const { changes } = a.commit([
      { op: "set", table: "t", key: "k1", row: { v: 1 } },
      { op: "set", table: "t", key: "k2", row: { v: 2.5, s: "x" } },
      { op: "update", table: "t", key: "k1", patch: { w: [true] } },
    ]);
    const byKey = Object.fromEntries(changes.map(([table, key, row]) => [`${table}/${key}`, row]));
    assert.deepEqual(byKey, { "t/k1": { v: 1, w: [true] }, "t/k2": { v: 2.5, s: "x" } });

    const encoded = a.lastEncoded();
    assert.ok(encoded instanceof Uint8Array && encoded.length > 0);
    assert.equal(encoded.buffer.byteLength, encoded.length, "a copy, not a view into WASM memory");
    const applied = b.applyChanges(encoded);
    assert.equal(applied.applied, 3, "one event per op");
    assert.equal(applied.pending, 0);
    assert.deepEqual(b.rows("t"), [
      ["k1", { v: 1, w: [true] }],
      ["k2", { v: 2.5, s: "x" }],
    ]);
    assert.deepEqual(b.row("t", "k2"), { v: 2.5, s: "x" });
    assert.equal(b.row("t", "absent"), undefined);
    assert.deepEqual(a.version(), b.version());
    // A transaction deleting a row reports it as null.
    const del = a.commit([{ op: "delete", table: "t", key: "k1" }]);
    assert.deepEqual(del.changes, [["t", "k1", null]]);
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
    // The whole transaction is validated first: its valid first op is not applied either.
    assert.throws(
      () =>
        e.commit([
          { op: "set", table: "t", key: "ok", row: { a: 1 } },
          { op: "update", table: "t", key: "missing", patch: { a: 1 } },
        ]),
      NotFoundError,
    );
    assert.throws(() => e.commit([{ op: "frobnicate", table: "t", key: "k" }]), TypeError);
    assert.throws(() => e.commit([{ op: "set", table: "", key: "k", row: {} }]), TypeError);
    assert.throws(() => e.commit([{ op: "set", table: "t", key: "k", row: [] }]), TypeError);
    assert.throws(() => e.applyChanges(new Uint8Array([9, 9, 9])), DecodeError);
    assert.throws(() => e.changesSince(new Uint8Array([9, 9, 9])), DecodeError);
    assert.deepEqual(e.version(), v0);
    assert.deepEqual(e.rows("t"), []);
  } finally {
    e.delete();
  }
});

test("byte results stay valid after WASM memory grows", async () => {
  const m = await loadEngineModule();
  const e = new Engine(m, "raw-grow");
  try {
    e.commit([{ op: "set", table: "t", key: "k", row: { v: 1 } }]);
    const version = e.version();
    const copy = Array.from(version);
    // Force growth: a large row.
    e.commit([{ op: "set", table: "t", key: "big", row: { s: "x".repeat(8 << 20) } }]);
    assert.deepEqual(Array.from(version), copy);
    assert.ok(version.length > 0);
  } finally {
    e.delete();
  }
});

test("a released engine refuses calls with ClosedError (a CRDTDBError)", async () => {
  const m = await loadEngineModule();
  const e = new Engine(m, "raw-closed");
  e.delete();
  e.delete(); // twice is harmless
  assert.throws(() => e.version(), CRDTDBError);
  assert.throws(() => e.version(), { name: "ClosedError" });
});
