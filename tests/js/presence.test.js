// db.presence (js/presence.js): the ephemeral map itself (last writer wins per peer by clock,
// expiry, validation) and shared through BroadcastChannelSync between instances.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BroadcastChannelSync, CRDTDB } from "crdtdb";
import { Presence, PRESENCE_TIMEOUT_MS } from "../../js/presence.js";

/** @param {() => boolean} cond @param {string} what */
async function waitFor(cond, what, ms = 5_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("presence: own state, remote states by clock, leaving, expiry, change events", () => {
  let now = 1_000;
  const p = new Presence(() => "me");
  p.now = () => now;
  /** @type {Array<Map<string, unknown>>} */
  const seen = [];
  const off = p.on("change", (states) => seen.push(states));
  assert.deepEqual(p.getAll(), new Map());
  p.set({ name: "Me", cursor: 3 });
  assert.deepEqual(p.getAll(), new Map([["me", { name: "Me", cursor: 3 }]]));
  // The clock starts from the time, so a reload under the same id writes above its old state.
  const entry = p.localEntry();
  assert.deepEqual({ ...entry, clock: 0 }, { peer: "me", clock: 0, state: { name: "Me", cursor: 3 } });
  assert.ok(entry.clock >= Date.now() - 60_000);
  // Remote entries: newer clocks win, older and equal ones change nothing.
  assert.equal(p.receive([{ peer: "b", clock: 2, state: { name: "B" } }]).length, 1);
  assert.equal(p.receive([{ peer: "b", clock: 1, state: { name: "old" } }]).length, 0);
  assert.equal(p.receive([{ peer: "b", clock: 2, state: { name: "B" } }]).length, 0);
  assert.equal(p.receive([{ peer: "me", clock: 99, state: "forged" }]).length, 0);
  assert.deepEqual(p.getAll().get("b"), { name: "B" });
  p.receive([{ peer: "c", clock: 1, state: 1 }]);
  p.receive([{ peer: "c", clock: 2, state: null }]); // c left
  assert.equal(p.getAll().has("c"), false);
  // b is refreshed (same clock) at 20 s, then silent: it expires 30 s after that.
  now += 20_000;
  p.receive([{ peer: "b", clock: 2, state: { name: "B" } }]);
  now += PRESENCE_TIMEOUT_MS;
  p.expire();
  assert.equal(p.getAll().has("b"), true);
  now += 1;
  p.expire();
  assert.deepEqual([...p.getAll().keys()], ["me"]);
  assert.deepEqual(
    seen.map((m) => [...m.keys()]),
    [["me"], ["me", "b"], ["me", "b", "c"], ["me", "b"], ["me"]],
  );
  off();
  p.set(null);
  assert.equal(seen.length, 5);
  assert.deepEqual(p.getAll(), new Map());
  assert.throws(() => p.set(() => 1), TypeError);
  assert.throws(() => p.set(undefined), TypeError);
  assert.throws(() => p.set(10n), TypeError);
  assert.throws(() => p.set({ big: "x".repeat(17_000) }), RangeError);
  let deep = /** @type {unknown} */ (0);
  for (let i = 0; i < 70; i++) deep = [deep];
  assert.throws(() => p.set(deep), RangeError);
  assert.throws(() => p.on(/** @type {any} */ ("changes"), () => {}), TypeError);
  p.close();
});

test("presence: a leave is remembered (not passed on again), refreshes are passed on, the map is bounded", () => {
  let now = 0;
  const p = new Presence(() => "me");
  p.now = () => now;
  // A leave for a peer never seen: nothing to show, nothing to pass on, twice.
  assert.deepEqual(p.receive([{ peer: "x", clock: 5, state: null }]), []);
  assert.deepEqual(p.receive([{ peer: "x", clock: 5, state: null }]), []);
  // Seen, then left: the leave is passed on once; the same leave again is not.
  p.receive([{ peer: "y", clock: 1, state: "here" }]);
  assert.equal(p.receive([{ peer: "y", clock: 2, state: null }]).length, 1);
  assert.deepEqual(p.receive([{ peer: "y", clock: 2, state: null }]), []);
  assert.deepEqual(p.receive([{ peer: "y", clock: 1, state: "here" }]), []);
  assert.equal(p.getAll().has("y"), false);
  // Refreshes (same clock) are passed on at most every 10 s, so peers further away keep it.
  p.receive([{ peer: "z", clock: 1, state: "z" }]);
  now += 5_000;
  assert.deepEqual(p.receive([{ peer: "z", clock: 1, state: "z" }]), []);
  now += 5_000;
  assert.equal(p.receive([{ peer: "z", clock: 1, state: "z" }]).length, 1);
  // At most MAX_PRESENCE_PEERS remote peers are kept.
  const many = Array.from({ length: 2_000 }, (_, i) => ({ peer: `p${i}`, clock: 1, state: i }));
  p.receive(many);
  assert.ok(p.getAll().size <= 1_024);
  p.close();
});

test("presence through BroadcastChannelSync: shared, seen by a late joiner, gone when a peer leaves", async () => {
  const channel = `presence-${process.pid}`;
  const open = async (/** @type {string} */ name) => {
    const db = await CRDTDB.open(name, { storage: "memory" });
    return { db, sync: new BroadcastChannelSync(db, { channel }) };
  };
  const a = await open("presence-a");
  const b = await open("presence-b");
  a.db.presence.set({ name: "Ada" });
  b.db.presence.set({ name: "Bob" });
  const names = (/** @type {CRDTDB} */ db) => Object.fromEntries([...db.presence.getAll()].map(([k, v]) => [k, /** @type {any} */ (v).name]));
  const want = { [a.db.peerId]: "Ada", [b.db.peerId]: "Bob" };
  await waitFor(() => Object.keys(names(a.db)).length === 2 && Object.keys(names(b.db)).length === 2, "a and b to see each other");
  assert.deepEqual(names(a.db), want);
  assert.deepEqual(names(b.db), want);
  // A late joiner sees who is here without anyone changing anything.
  const c = await open("presence-c");
  await waitFor(() => Object.keys(names(c.db)).length === 2, "c to see a and b");
  assert.deepEqual(names(c.db), want);
  // An update reaches everyone.
  a.db.presence.set({ name: "Ada L." });
  await waitFor(() => names(c.db)[a.db.peerId] === "Ada L." && names(b.db)[a.db.peerId] === "Ada L.", "the update");
  // A peer speaks only for itself on a bus: an entry it sends for another is ignored.
  const evil = new BroadcastChannel(`crdtdb:sync:${channel}`);
  const { presenceFrame } = await import("../../js/sync/frames.js");
  evil.postMessage({ from: "mallory", to: null, frame: presenceFrame([{ peer: a.db.peerId, clock: Number.MAX_SAFE_INTEGER, state: { name: "forged" } }]) });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(names(b.db)[a.db.peerId], "Ada L.");
  evil.close();
  // b leaves: the others drop its state at once.
  b.sync.destroy();
  await waitFor(() => !(b.db.peerId in names(a.db)) && !(b.db.peerId in names(c.db)), "b's state to go");
  for (const x of [a, b, c]) {
    x.sync.destroy();
    x.db.close();
  }
});

test("destroying one of two providers keeps the peer's presence; destroying the last one leaves", async () => {
  const a = await CRDTDB.open("pres-two-a", { storage: "memory" });
  const c = await CRDTDB.open("pres-two-c", { storage: "memory" });
  const ch1 = `pres-two-1-${process.pid}`;
  const ch2 = `pres-two-2-${process.pid}`;
  const a1 = new BroadcastChannelSync(a, { channel: ch1 });
  const a2 = new BroadcastChannelSync(a, { channel: ch2 });
  const c1 = new BroadcastChannelSync(c, { channel: ch1 });
  const c2 = new BroadcastChannelSync(c, { channel: ch2 });
  const until = async (/** @type {() => boolean} */ cond, /** @type {string} */ what) => {
    const end = Date.now() + 5_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    a.presence.set({ name: "A" });
    await until(() => c.presence.getAll().get(a.peerId)?.name === "A", "c to see a");
    a1.destroy(); // a is still on the second channel: no leave
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.presence.getAll().get(a.peerId)?.name, "A");
    a.presence.set({ name: "A2" }); // and its later states still count
    await until(() => c.presence.getAll().get(a.peerId)?.name === "A2", "c to see a's new state");
    a2.destroy(); // the last one: a leaves
    await until(() => !c.presence.getAll().has(a.peerId), "c to drop a");
  } finally {
    for (const p of [a1, a2, c1, c2]) p.destroy();
    a.close();
    c.close();
  }
});
