// Sync through the transport-agnostic core: version / changesSince / applyChanges, conflict
// semantics, hostile input, idempotence and out-of-order delivery.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CRDTDBError, DecodeError, QuotaError } from "crdtdb";
import { assertConverged, openDb, push, snapshot, syncBoth } from "./helpers.js";

describe("convergence", () => {
  test("two replicas exchange disjoint writes and end identical", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("todos").set("t1", { title: "write tests", done: false });
    await a.table("todos").set("t2", { title: "ship", done: false });
    await b.table("todos").set("t3", { title: "review", done: true });
    await a.table("todos").update("t1", { done: true });

    const ab = push(a, b);
    assert.deepEqual(ab, { applied: 3, pending: 0 });
    const ba = push(b, a);
    assert.deepEqual(ba, { applied: 1, pending: 0 });

    assertConverged(a, b, "todos", ["t1", "t2", "t3"]);
    assert.deepEqual(b.table("todos").get("t1"), { title: "write tests", done: true });
    assert.deepEqual(a.table("todos").get("t3"), { title: "review", done: true });

    // Nothing left to send either way.
    assert.deepEqual(push(a, b), { applied: 0, pending: 0 });
    assert.deepEqual(push(b, a), { applied: 0, pending: 0 });
    a.close();
    b.close();
  });

  test("changesSince() without a version holds everything; an empty replica catches up", async () => {
    const a = await openDb("peer-a");
    for (let i = 0; i < 20; i++) await a.table("t").set(`k${i}`, { i });
    const b = await openDb("peer-b");
    const all = a.changesSince();
    assert.ok(all instanceof Uint8Array);
    assert.deepEqual(b.applyChanges(all), { applied: 20, pending: 0 });
    assertConverged(a, b, "t", Array.from({ length: 20 }, (_, i) => `k${i}`));
    // Equivalent to changesSince(empty replica's version).
    const c = await openDb("peer-c");
    assert.deepEqual(c.applyChanges(a.changesSince(c.version())), { applied: 20, pending: 0 });
    assert.deepEqual(c.version(), a.version());
    for (const db of [a, b, c]) db.close();
  });

  test("version bytes are canonical: same changes seen => identical bytes, any order", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    const c = await openDb("peer-c");
    await a.table("t").set("x", { from: "a" });
    await b.table("t").set("y", { from: "b" });
    const fromA = a.changesSince();
    const fromB = b.changesSince();
    c.applyChanges(fromB);
    c.applyChanges(fromA);
    a.applyChanges(fromB);
    b.applyChanges(fromA);
    assert.deepEqual(a.version(), b.version());
    assert.deepEqual(a.version(), c.version());
    assert.deepEqual(snapshot(a, "t", ["x", "y"]), snapshot(c, "t", ["x", "y"]));
    for (const db of [a, b, c]) db.close();
  });

  test("three replicas with reordered and duplicated delivery converge", async () => {
    const dbs = await Promise.all(["peer-a", "peer-b", "peer-c"].map((p) => openDb(p)));
    const keys = ["r0", "r1", "r2", "r3"];
    /** @type {Uint8Array[]} */
    const messages = [];
    // Each replica writes, keeping each commit's message (changes since its previous version).
    for (let round = 0; round < 4; round++) {
      for (const [i, db] of dbs.entries()) {
        const before = db.version();
        const t = db.table("t");
        const key = keys[(round + i) % keys.length];
        if (round === 2 && t.has(key)) await t.delete(key);
        else if (t.has(key) && round % 2 === 1) await t.update(key, { [`c${i}`]: round });
        else await t.set(key, { by: db.peerId, round });
        messages.push(db.changesSince(before));
      }
      // Partial exchange between rounds: replica 0 hears from 1 only.
      push(dbs[1], dbs[0]);
    }
    // Deliver every message to every replica in a different order, twice.
    const orders = [
      messages.map((_, i) => i),
      messages.map((_, i) => messages.length - 1 - i),
      messages.map((_, i) => (i * 7) % messages.length),
    ];
    for (const [d, db] of dbs.entries()) {
      for (const i of [...orders[d], ...orders[(d + 1) % 3]]) db.applyChanges(messages[i]);
    }
    assertConverged(dbs[0], dbs[1], "t", keys);
    assertConverged(dbs[1], dbs[2], "t", keys);
    for (const k of keys) assert.deepEqual(dbs[0].table("t").conflicts(k), dbs[2].table("t").conflicts(k));
    for (const db of dbs) db.close();
  });
});

describe("conflict semantics", () => {
  test("concurrent writes to one column: equal Lamport times, the greater peer id wins", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("t").set("k", { v: "from a", other: 1 });
    await b.table("t").set("k", { v: "from b", other: 1 });
    syncBoth(a, b);
    assertConverged(a, b, "t", ["k"]);
    assert.deepEqual(a.table("t").get("k"), { v: "from b", other: 1 });
    // LWW hid a's value: conflicts() shows it, identically on both replicas.
    assert.deepEqual(a.table("t").conflicts("k").v, ["from a"]);
    assert.deepEqual(a.table("t").conflicts("k"), b.table("t").conflicts("k"));
    a.close();
    b.close();
  });

  test("concurrent updates: a higher Lamport time beats a greater peer id", async () => {
    const a = await openDb("peer-a");
    const z = await openDb("peer-z");
    await a.table("t").set("k", { v: 0 });
    push(a, z);
    // a advances its Lamport clock with unrelated writes first.
    for (let i = 0; i < 3; i++) await a.table("t").set(`other${i}`, { i });
    await a.table("t").update("k", { v: "a (later Lamport)" });
    await z.table("t").update("k", { v: "z (greater peer id)" });
    syncBoth(a, z);
    assertConverged(a, z, "t", ["k"]);
    assert.deepEqual(a.table("t").get("k"), { v: "a (later Lamport)" });
    assert.deepEqual(z.table("t").conflicts("k"), { v: ["z (greater peer id)"] });
    a.close();
    z.close();
  });

  test("a write that has seen another wins regardless of peer id; no conflict", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await b.table("t").set("k", { v: "b first" });
    push(b, a);
    await a.table("t").update("k", { v: "a saw b" });
    syncBoth(a, b);
    assertConverged(a, b, "t", ["k"]);
    assert.deepEqual(b.table("t").get("k"), { v: "a saw b" });
    assert.deepEqual(b.table("t").conflicts("k"), {});
    assert.deepEqual(a.table("t").conflicts("k"), {});
    a.close();
    b.close();
  });

  test("set concurrent with delete: the set wins (observed-remove)", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("t").set("k", { v: 1 });
    push(a, b);
    await a.table("t").set("k", { v: 2, resurrected: true });
    await b.table("t").delete("k");
    assert.equal(b.table("t").has("k"), false);
    syncBoth(a, b);
    assertConverged(a, b, "t", ["k"]);
    assert.deepEqual(b.table("t").get("k"), { v: 2, resurrected: true });
    a.close();
    b.close();
  });

  test("update concurrent with delete: the row stays deleted", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("t").set("k", { v: 1 });
    push(a, b);
    await a.table("t").update("k", { v: 2 });
    await b.table("t").delete("k");
    syncBoth(a, b);
    assertConverged(a, b, "t", ["k"]);
    assert.equal(a.table("t").get("k"), undefined);
    assert.equal(a.table("t").has("k"), false);
    a.close();
    b.close();
  });

  test("delete removes only what it observed: a later set brings the row back fresh", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("t").set("k", { old: true });
    push(a, b);
    await b.table("t").delete("k");
    syncBoth(a, b);
    assert.equal(a.table("t").has("k"), false);
    await a.table("t").set("k", { fresh: true });
    syncBoth(a, b);
    assertConverged(a, b, "t", ["k"]);
    assert.deepEqual(b.table("t").get("k"), { fresh: true });
    a.close();
    b.close();
  });

  test("conflicts() is {} for absent rows and rows without concurrent writes", async () => {
    const db = await openDb();
    assert.deepEqual(db.table("t").conflicts("nothing"), {});
    await db.table("t").set("k", { a: 1 });
    await db.table("t").update("k", { a: 2 });
    assert.deepEqual(db.table("t").conflicts("k"), {});
    db.close();
  });
});

describe("hostile input", () => {
  /**
   * Builds a replica `b` holding some state, and a valid message from a peer `a`.
   */
  async function fixture() {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await b.table("t").set("mine", { v: "b" });
    await a.table("t").set("k1", { v: 1, list: [1, 2, { x: "y" }] });
    await a.table("t").set("k2", { v: 2 });
    await a.table("t").update("k1", { v: 3 });
    const message = a.changesSince(b.version());
    return { a, b, message };
  }

  /**
   * Asserts that `bytes` is rejected with DecodeError and that `db` is exactly as before.
   * @param {import("crdtdb").CRDTDB} db
   * @param {Uint8Array} bytes
   * @param {string} label
   */
  function assertRejectedUnchanged(db, bytes, label) {
    const version = db.version();
    const rows = snapshot(db, "t", ["mine", "k1", "k2"]);
    let events = 0;
    const off = db.on("change", () => {
      events += 1;
    });
    assert.throws(
      () => db.applyChanges(bytes),
      (err) => err instanceof DecodeError && err instanceof CRDTDBError && err.name === "DecodeError",
      label,
    );
    off();
    assert.equal(events, 0, `${label}: no change events`);
    assert.deepEqual(db.version(), version, `${label}: version unchanged`);
    assert.deepEqual(snapshot(db, "t", ["mine", "k1", "k2"]), rows, `${label}: rows unchanged`);
  }

  test("garbage bytes throw DecodeError and change nothing", async () => {
    const { a, b } = await fixture();
    const garbage = [
      new Uint8Array(0),
      new Uint8Array([0]),
      new Uint8Array([0x43, 0x52, 0x44, 0x42]), // "CRDB" alone
      new TextEncoder().encode("definitely not a crdtdb message"),
      Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24),
      b.version(), // a valid frame of the wrong kind
    ];
    for (const [i, bytes] of garbage.entries()) assertRejectedUnchanged(b, bytes, `garbage #${i}`);
    a.close();
    b.close();
  });

  test("every truncation of a valid message throws DecodeError and changes nothing", async () => {
    const { a, b, message } = await fixture();
    for (let len = 0; len < message.length; len++) {
      assertRejectedUnchanged(b, message.subarray(0, len), `truncated to ${len}/${message.length}`);
    }
    // Trailing bytes are rejected too.
    assertRejectedUnchanged(b, Uint8Array.from([...message, 0]), "one trailing byte");
    // The intact message still applies afterwards.
    assert.deepEqual(b.applyChanges(message), { applied: 3, pending: 0 });
    assert.deepEqual(b.table("t").get("k1"), { v: 3, list: [1, 2, { x: "y" }] });
    a.close();
    b.close();
  });

  test("every single-bit flip of a valid message throws DecodeError and changes nothing", async () => {
    const { a, b, message } = await fixture();
    for (let bit = 0; bit < message.length * 8; bit++) {
      const flipped = message.slice();
      flipped[bit >> 3] ^= 1 << (bit & 7);
      assertRejectedUnchanged(b, flipped, `bit ${bit} of ${message.length * 8} flipped`);
    }
    assert.equal(b.applyChanges(message).applied, 3);
    a.close();
    b.close();
  });

  test("bad version bytes given to changesSince throw DecodeError", async () => {
    const { a, b } = await fixture();
    const version = b.version();
    for (const bad of [
      new Uint8Array([1, 2, 3]),
      version.subarray(0, version.length - 1),
      a.changesSince(), // a valid frame of the wrong kind
    ]) {
      assert.throws(() => a.changesSince(bad), DecodeError);
    }
    assert.throws(() => a.changesSince("v1"), TypeError);
    assert.throws(() => a.applyChanges([1, 2, 3]), TypeError);
    a.close();
    b.close();
  });
});

describe("delivery", () => {
  test("re-applying the same changes is idempotent", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("t").set("k", { v: 1 });
    await a.table("t").update("k", { w: 2 });
    const message = a.changesSince();
    assert.deepEqual(b.applyChanges(message), { applied: 2, pending: 0 });
    const version = b.version();
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(b.applyChanges(message), { applied: 0, pending: 0 });
    }
    assert.deepEqual(b.version(), version);
    assert.deepEqual(b.table("t").get("k"), { v: 1, w: 2 });
    // An overlapping message (old and new events) applies only the new part.
    await a.table("t").update("k", { x: 3 });
    assert.deepEqual(b.applyChanges(a.changesSince()), { applied: 1, pending: 0 });
    assertConverged(a, b, "t", ["k"]);
    a.close();
    b.close();
  });

  test("out-of-order delivery: held as pending, applied when the gap is filled", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b");
    await a.table("t").set("k", { v: 1 });
    const first = a.changesSince();
    const v1 = a.version();
    await a.table("t").update("k", { v: 2 });
    await a.table("t").set("k2", { v: 3 });
    const second = a.changesSince(v1);

    const before = b.version();
    assert.deepEqual(b.applyChanges(second), { applied: 0, pending: 2 });
    assert.equal(b.table("t").has("k"), false, "held changes are not visible");
    assert.equal(b.table("t").has("k2"), false);
    assert.deepEqual(b.version(), before, "held changes are not part of the version");
    // Holding the same early changes again is still idempotent.
    assert.deepEqual(b.applyChanges(second), { applied: 0, pending: 2 });

    assert.deepEqual(b.applyChanges(first), { applied: 3, pending: 0 });
    assertConverged(a, b, "t", ["k", "k2"]);
    assert.deepEqual(b.table("t").get("k"), { v: 2 });
    a.close();
    b.close();
  });

  test("held changes beyond maxPendingBytes throw QuotaError and change nothing", async () => {
    const a = await openDb("peer-a");
    const b = await openDb("peer-b", { maxPendingBytes: 8 });
    await a.table("t").set("k", { v: 1 });
    const first = a.changesSince();
    const v1 = a.version();
    await a.table("t").set("k2", { big: "x".repeat(1000) });
    const early = a.changesSince(v1);
    const before = b.version();
    assert.throws(
      () => b.applyChanges(early),
      (err) => err instanceof QuotaError && err instanceof CRDTDBError && err.name === "QuotaError",
    );
    assert.deepEqual(b.version(), before);
    // In order, nothing needs holding and the same changes apply.
    assert.deepEqual(b.applyChanges(first), { applied: 1, pending: 0 });
    assert.deepEqual(b.applyChanges(early), { applied: 1, pending: 0 });
    assertConverged(a, b, "t", ["k", "k2"]);
    a.close();
    b.close();
  });
});
