// Deltas between consecutive change frames (js/sync/delta.js): round trips over random and
// realistic inputs, a decoder that refuses every malformed op list without reading past its
// reference, both ends agreeing on the reference, and the size a single-column update takes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, DecodeError } from "crdtdb";
import { decodeOps, DeltaReceiver, DeltaSender, encodeDelta, MAX_REFERENCE_BYTES } from "../../js/sync/delta.js";
import { rng } from "./helpers.js";

/** A target sharing runs with the base, mutated here and there. @param {ReturnType<typeof rng>} r @param {Uint8Array} base */
function mutate(r, base) {
  const out = [];
  const n = Math.floor(r.next() * 300);
  while (out.length < n) {
    if (r.next() < 0.6 && base.length > 0) {
      const at = Math.floor(r.next() * base.length);
      out.push(...base.subarray(at, at + 1 + Math.floor(r.next() * 40)));
    } else out.push(Math.floor(r.next() * 256));
  }
  return Uint8Array.from(out);
}

test("decodeOps(encodeDelta(base, target)) is target, over 2,000 random pairs", () => {
  const r = rng(7);
  for (let i = 0; i < 2000; i++) {
    const base = Uint8Array.from({ length: Math.floor(r.next() * 200) }, () => Math.floor(r.next() * (r.next() < 0.5 ? 4 : 256)));
    const target = mutate(r, base);
    const ops = encodeDelta(base, target);
    assert.deepEqual(decodeOps(base, ops, MAX_REFERENCE_BYTES), target, `pair ${i}`);
  }
});

test("the decoder refuses random, truncated and flipped op lists with DecodeError, never reading past its reference", () => {
  const r = rng(11);
  const base = Uint8Array.from({ length: 100 }, (_, i) => i);
  let refused = 0;
  for (let i = 0; i < 5000; i++) {
    let ops;
    if (i % 3 === 0) ops = Uint8Array.from({ length: Math.floor(r.next() * 20) }, () => Math.floor(r.next() * 256));
    else {
      ops = encodeDelta(base, mutate(r, base)).slice();
      if (i % 3 === 1) ops = ops.subarray(0, Math.floor(r.next() * ops.length));
      else if (ops.length > 0) ops[Math.floor(r.next() * ops.length)] ^= 1 << Math.floor(r.next() * 8);
    }
    try {
      const out = decodeOps(base, ops, 512);
      assert.ok(out.length <= 512);
    } catch (err) {
      assert.ok(err instanceof DecodeError, String(err));
      refused++;
    }
  }
  assert.ok(refused > 1000, `only ${refused} refused`);
  assert.throws(() => decodeOps(base, Uint8Array.of(0x81, 0x01, 0x50), 512), /copies past its reference/);
  assert.throws(() => decodeOps(base, Uint8Array.of(0x00), 512), /empty op/);
  assert.throws(() => decodeOps(base, Uint8Array.of(0x7e, 1), 512), /truncated in a literal/);
  assert.throws(() => decodeOps(base, Uint8Array.of(0xc9, 0x01, 0), 50), /more than 50 bytes/);
});

test("sender and receiver keep the same reference; a receiver holding another one says so", () => {
  const s = new DeltaSender();
  const rcv = new DeltaReceiver();
  const frames = [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)];
  for (let i = 0; i < 5; i++) frames.push(Uint8Array.from(frames[0], (b, j) => (j === 5 ? i : b)));
  assert.equal(s.encode(frames[0]), null); // no reference yet: whole
  rcv.note(frames[0]);
  for (let i = 1; i < frames.length; i++) {
    const d = s.encode(frames[i]);
    assert.ok(d !== null && d.ops.length < frames[i].length);
    assert.deepEqual(rcv.decode(d.tag, d.ops), frames[i]);
  }
  // A frame lost on the way: the next delta is against a reference the receiver lacks.
  s.encode(Uint8Array.of(9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13));
  const d = s.encode(Uint8Array.of(9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14));
  assert.ok(d !== null);
  assert.equal(rcv.decode(d.tag, d.ops), null);
  // After a reset the next frame goes whole.
  s.reset();
  assert.equal(s.encode(frames[1]), null);
});

test("consecutive single-column updates of a real database take at most half their bytes as deltas", async () => {
  const db = await CRDTDB.open("delta-size", { storage: "memory" });
  /** @type {Uint8Array[]} */
  const updates = [];
  db.on("update", (e) => updates.push(e.bytes));
  for (let i = 0; i < 20; i++) await db.table("rows").set(`r${i}`, { i, c1: "v", c2: i % 7 });
  for (let i = 0; i < 20; i++) await db.table("rows").update(`r${i}`, { i: 100 + i });
  const s = new DeltaSender();
  const rcv = new DeltaReceiver();
  const sizes = [];
  for (const u of updates) {
    const d = s.encode(u);
    if (d === null) rcv.note(u);
    else {
      assert.deepEqual(rcv.decode(d.tag, d.ops), u);
      sizes.push({ whole: u.length, delta: d.ops.length + 5 });
    }
  }
  // The updates after the first (whose reference is an insert): each at most half its bytes,
  // most near a third (a key whose length changes costs a few more).
  const ups = sizes.slice(-19);
  for (const x of ups) assert.ok(x.delta * 2 <= x.whole, JSON.stringify(x));
  const median = ups.map((x) => x.delta).sort((a, b) => a - b)[9];
  assert.ok(median * 2.5 < ups[0].whole, `median delta ${median} B`);
  db.close();
});
