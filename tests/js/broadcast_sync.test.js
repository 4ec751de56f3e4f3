// BroadcastChannelSync over Node's real BroadcastChannel (instances in one process talk
// through it like tabs): convergence, a late joiner, a peer leaving mid-stream, no loops with
// three or more instances, the origin of merged changes, hostile messages. The browser
// version (tabs, a killed tab) is tests/e2e/sync.test.js.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BroadcastChannelSync, ClosedError, CRDTDB } from "crdtdb";
import { Presence } from "../../js/presence.js";
import { CHANGES } from "../../js/sync/frames.js";

let n = 0;
/** A fresh channel name per test. */
const channelName = () => `bc-test-${process.pid}-${n++}`;

/** @param {() => boolean} cond @param {string} what */
async function waitFor(cond, what, ms = 5_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** @param {CRDTDB} db */
const state = (db) => JSON.stringify({ rows: db.table("t").entries(), version: [...db.version()] });

/** @param {string} name @param {string} channel */
async function start(name, channel, opts = {}) {
  const db = await CRDTDB.open(name, { storage: "memory" });
  /** @type {string[]} */
  const warnings = [];
  const sync = new BroadcastChannelSync(db, { channel, warn: (m) => warnings.push(m), ...opts });
  return { db, sync, warnings };
}

/** Every frame posted on a channel, as seen by an outside listener. @param {string} channel */
function spy(channel) {
  const bc = new BroadcastChannel(`crdtdb:sync:${channel}`);
  /** @type {Array<{ from: string, to: string | null, type: number }>} */
  const seen = [];
  bc.onmessage = (ev) => seen.push({ from: ev.data.from, to: ev.data.to, type: ev.data.frame?.[0] });
  return { seen, bc };
}

test("three instances converge, a late one catches up, and one leaving breaks nothing", async () => {
  const ch = channelName();
  const a = await start("bc-a", ch);
  await a.db.table("t").set("before-a", { v: 1 });
  const b = await start("bc-b", ch);
  const c = await start("bc-c", ch);
  await b.db.table("t").set("b1", { v: 2 });
  await c.db.table("t").set("c1", { v: 3 });
  await a.db.transaction(async (tx) => {
    await tx.table("t").set("a1", { v: 4 });
    await tx.table("t").set("a2", { v: 5 });
  });
  const all = [a, b, c];
  await waitFor(() => all.every((x) => state(x.db) === state(a.db)), "three instances to converge");
  assert.equal(a.db.table("t").entries().length, 5);
  await waitFor(() => all.every((x) => x.sync.status.synced && x.sync.peers.length === 2), "peers and synced");
  for (const x of all) {
    assert.deepEqual(x.sync.status, { connected: true, synced: true });
    assert.deepEqual(
      x.sync.peers.sort(),
      all.filter((y) => y !== x).map((y) => y.db.peerId).sort(),
    );
  }

  // A late joiner gets everything from the others, each answering it once.
  const watch = spy(ch);
  const d = await start("bc-d", ch);
  await waitFor(() => state(d.db) === state(a.db), "the late joiner to catch up");
  await waitFor(() => d.sync.status.synced, "the late joiner synced");
  const answers = watch.seen.filter((m) => m.type === CHANGES && m.to === d.db.peerId).map((m) => m.from);
  assert.deepEqual(answers.sort(), [a, b, c].map((x) => x.db.peerId).sort());
  watch.bc.close();

  // One leaves mid-stream: the others drop it and keep syncing.
  const writes = [];
  for (let i = 0; i < 20; i++) writes.push(b.db.table("t").set(`b-stream-${i}`, { v: i }));
  b.sync.destroy();
  b.db.close();
  await Promise.allSettled(writes);
  await a.db.table("t").set("after", { v: 9 });
  await waitFor(() => state(c.db) === state(a.db) && state(d.db) === state(a.db), "the rest to converge");
  await waitFor(() => [a, c, d].every((x) => !x.sync.peers.includes(b.db.peerId)), "bye to be heard");
  assert.equal(a.db.table("t").get("after")?.v, 9);
  for (const x of [a, c, d]) {
    assert.deepEqual(x.warnings, []);
    x.sync.destroy();
    x.db.close();
  }
});

test("an update is posted once, never relayed, and merges with the provider as origin", async () => {
  const ch = channelName();
  const peers = [await start("once-a", ch), await start("once-b", ch), await start("once-c", ch)];
  await waitFor(() => peers.every((x) => x.sync.status.synced && x.sync.peers.length === 2), "synced");
  const watch = spy(ch);
  /** @type {unknown[]} */
  const origins = [];
  peers[1].db.on("change", (e) => origins.push(e.origin));
  await peers[0].db.table("t").set("k", { v: 1 });
  await waitFor(() => peers.every((x) => x.db.table("t").get("k")?.v === 1), "the write everywhere");
  await new Promise((r) => setTimeout(r, 100));
  const changes = watch.seen.filter((m) => m.type === CHANGES);
  assert.deepEqual(changes, [{ from: peers[0].db.peerId, to: null, type: CHANGES }]);
  assert.deepEqual(origins, [peers[1].sync]);
  watch.bc.close();
  for (const x of peers) {
    x.sync.destroy();
    x.db.close();
  }
});

test("malformed and hostile messages are dropped with a warning; a peer that keeps sending them is cut off", async () => {
  const ch = channelName();
  const a = await start("hostile-a", ch, { maxMessageBytes: 1 << 16 });
  await a.db.table("t").set("k", { v: 1 });
  const before = state(a.db);
  const evil = new BroadcastChannel(`crdtdb:sync:${ch}`);
  const post = (/** @type {unknown} */ m) => evil.postMessage(m);
  post("not an object");
  post({ from: 5, to: null, frame: new Uint8Array([1]) });
  post({ from: "x".repeat(300), to: null, frame: new Uint8Array([1]) });
  post({ from: "mallory", to: null, frame: "not bytes" });
  post({ from: "mallory", to: null, frame: new Uint8Array(1 << 17) }); // over maxMessageBytes
  await waitFor(() => a.warnings.length >= 5, "warnings for malformed messages");
  // Frames from a forged peer: unknown types, broken changes, truncated parts.
  const bad = [
    new Uint8Array([]),
    new Uint8Array([99]),
    new Uint8Array([CHANGES, 1, 2, 3, 4]),
    new Uint8Array([5, 0x80]),
    new Uint8Array([6, 0]),
  ];
  for (let i = 0; i < 25; i++) post({ from: "mallory", to: null, frame: bad[i % bad.length] });
  await waitFor(() => a.warnings.some((w) => /closing a sync session/.test(w)), "the abusive session closed");
  assert.equal(state(a.db), before);
  // Cut off: its next frames make no new session (and no new hello to answer).
  const warned = a.warnings.length;
  for (let i = 0; i < 5; i++) post({ from: "mallory", to: null, frame: new Uint8Array([4]) });
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!a.sync.peers.includes("mallory"));
  assert.equal(a.warnings.length, warned);
  // One bad frame then a bye is not abuse: the peer may come back at once.
  post({ from: "carol", to: null, frame: new Uint8Array([99]) });
  post({ from: "carol", to: null, frame: new Uint8Array([6]) });
  post({ from: "carol", to: null, frame: new Uint8Array([4]) });
  await waitFor(() => a.sync.peers.includes("carol"), "carol back");
  // Still syncing with honest peers.
  const b = await start("hostile-b", ch);
  await waitFor(() => state(b.db) === state(a.db), "an honest peer to sync");
  evil.close();
  for (const x of [a, b]) {
    x.sync.destroy();
    x.db.close();
  }
});

test("status: a lone instance is not synced; destroy reports disconnected", async () => {
  const ch = channelName();
  const a = await start("status-a", ch);
  /** @type {unknown[]} */
  const seen = [];
  a.sync.on("status", (s) => seen.push(s));
  assert.deepEqual(a.sync.status, { connected: true, synced: false });
  const b = await start("status-b", ch);
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both synced");
  b.sync.destroy();
  assert.deepEqual(b.sync.status, { connected: false, synced: false });
  await waitFor(() => a.sync.peers.length === 0, "bye heard");
  assert.deepEqual(a.sync.status, { connected: true, synced: false });
  assert.deepEqual(seen, [
    { connected: true, synced: true },
    { connected: true, synced: false },
  ]);
  a.sync.destroy();
  assert.deepEqual(seen.at(-1), { connected: false, synced: false });
  a.db.close();
  b.db.close();
});

test("two instances that timed each other out (throttled timers) find each other again", async () => {
  const ch = channelName();
  let now = 0;
  /** @type {Array<() => void>} */
  const timers = [];
  const clock = { now: () => now, every: (/** @type {number} */ ms, /** @type {() => void} */ fn) => (timers.push(fn), () => {}) };
  const a = await start("throttled-a", ch, { clock });
  const b = await start("throttled-b", ch, { clock });
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both synced");
  // Both sleep past the timeout: each drops the other at its next tick.
  now += 31_000;
  for (let i = 0; i < 10; i++) for (const t of timers) t();
  assert.deepEqual([a.sync.peers, b.sync.peers], [[], []]);
  await a.db.table("t").set("after-sleep", { v: 1 });
  await waitFor(() => b.db.table("t").get("after-sleep")?.v === 1, "a's write to reach b");
  await waitFor(() => a.sync.peers.length === 1 && b.sync.peers.length === 1, "each other again");
  for (const x of [a, b]) {
    x.sync.destroy();
    x.db.close();
  }
});

test("a provider whose database fails warns at its timers instead of throwing", async () => {
  /** @type {Array<() => void>} */
  const timers = [];
  let failing = false;
  const fake = {
    name: "fake",
    peerId: "fake",
    closed: false,
    version() {
      if (failing) throw new Error("storage failed");
      return new Uint8Array(0);
    },
    on: () => () => {},
    presence: new Presence(() => "fake"),
  };
  /** @type {string[]} */
  const warnings = [];
  const { SyncProvider } = await import("../../js/sync/provider.js");
  const p = new SyncProvider(/** @type {any} */ (fake), {
    warn: (m) => warnings.push(m),
    clock: { now: () => 0, every: (_ms, fn) => (timers.push(fn), () => {}) },
  });
  p.session("peer", () => {});
  failing = true;
  for (let i = 0; i < 10; i++) for (const t of timers) t(); // heartbeats call version()
  assert.ok(warnings.some((w) => /storage failed/.test(w)), JSON.stringify(warnings));
  assert.equal(p.destroyed, false);
  p.destroy();
});

test("a provider needs an open database, a channel name, and stops when the database closes", async () => {
  const db = new CRDTDB("not-ready-yet", { storage: "memory" });
  assert.throws(() => new BroadcastChannelSync(db), /not ready yet/);
  await db.ready;
  assert.throws(() => new BroadcastChannelSync(db, { channel: "" }), TypeError);
  assert.throws(() => new BroadcastChannelSync(db, { maxFrameBytes: Number.NaN }), /maxFrameBytes/);
  assert.throws(() => new BroadcastChannelSync(db, { maxMessageBytes: 10 }), /maxMessageBytes/);
  const sync = new BroadcastChannelSync(db, { channel: channelName() });
  assert.throws(() => sync.on(/** @type {any} */ ("nope"), () => {}), TypeError);
  assert.throws(() => new BroadcastChannelSync(/** @type {any} */ ({})), TypeError);
  db.close();
  assert.throws(() => new BroadcastChannelSync(db), ClosedError);
  // The next thing it does finds the database closed and stops.
  sync.resync();
  assert.equal(sync.destroyed, true);
  sync.destroy();
});

test("with a password: a sealed channel under the derived room id; a wrong password reads and injects nothing", async () => {
  const ch = channelName();
  const { roomKey } = await import("../../js/sync/room_key.js");
  const id = (await roomKey(ch, "right")).id;
  const plain = spy(ch); // the channel named after the room: nobody uses it
  /** @type {Uint8Array[]} */
  const wire = [];
  const sealedSpy = new BroadcastChannel(`crdtdb:sync:${id}`);
  sealedSpy.onmessage = (ev) => wire.push(ev.data.frame);
  const a = await start("pw-a", ch, { password: "right" });
  const b = await start("pw-b", ch, { password: "right" });
  const eve = await start("pw-eve", ch, { password: "wrong" });
  try {
    await a.db.table("t").set("secret", { note: "PLAINTEXT-MARKER-4711" });
    await eve.db.table("t").set("injected", { note: "from eve" });
    await b.db.table("t").set("b1", { v: 1 });
    await waitFor(() => state(a.db) === state(b.db) && a.db.table("t").entries().length === 2, "a and b to converge");
    a.db.presence.set({ name: "Ada" });
    await waitFor(() => b.db.presence.getAll().get(a.db.peerId)?.name === "Ada", "presence through the sealed channel");
    // Eve holds only her own row, and hers reached no one.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(eve.db.table("t").keys(), ["injected"]);
    assert.equal(a.db.table("t").has("injected"), false);
    assert.equal(b.db.table("t").has("injected"), false);
    assert.equal(eve.db.presence.getAll().has(a.db.peerId), false);
    // A wrong password derives another room id, hence another channel. Frames forged onto this
    // one (unsealed, or sealed with another key) fail authentication.
    const forger = new BroadcastChannel(`crdtdb:sync:${id}`);
    const { changesFrame } = await import("../../js/sync/frames.js");
    const { seal } = await import("../../js/sync/room_key.js");
    const otherKey = (await roomKey(ch, "wrong")).key;
    forger.postMessage({ from: "mallory", to: null, frame: changesFrame(eve.db.changesSince()) });
    forger.postMessage({ from: "mallory", to: null, frame: await seal(otherKey, changesFrame(eve.db.changesSince()), "x") });
    forger.close();
    await waitFor(() => a.warnings.filter((w) => /authentication|too short|password/.test(w)).length >= 2, "forged frames refused");
    assert.equal(a.db.table("t").has("injected"), false);
    // Nothing on the wire reads as the row, and nothing went out under the room's own name.
    assert.ok(wire.length > 0);
    const marker = new TextEncoder().encode("PLAINTEXT-MARKER-4711");
    const contains = (/** @type {Uint8Array} */ hay) => Buffer.from(hay).includes(Buffer.from(marker));
    assert.equal(wire.some(contains), false);
    assert.deepEqual(plain.seen, []);
    assert.ok(!id.includes(ch));
  } finally {
    for (const x of [a, b, eve]) {
      x.sync.destroy();
      x.db.close();
    }
    plain.bc.close();
    sealedSpy.close();
  }
});

test("a password must be a non-empty string", async () => {
  const db = await CRDTDB.open("pw-bad", { storage: "memory" });
  assert.throws(() => new BroadcastChannelSync(db, { password: "" }), /password/);
  assert.throws(() => new BroadcastChannelSync(db, { password: /** @type {any} */ (42) }), /password/);
  db.close();
});

test("updates cross the channel as small deltas; a late instance, lacking the reference, still catches up", async () => {
  const ch = channelName();
  /** @type {Array<{ type: number, bytes: number }>} */
  const posts = [];
  const bc = new BroadcastChannel(`crdtdb:sync:${ch}`);
  bc.onmessage = (ev) => {
    if (ev.data.to === null) posts.push({ type: ev.data.frame[0], bytes: ev.data.frame.length });
  };
  const a = await start("delta-a", ch);
  const b = await start("delta-b", ch);
  try {
    await waitFor(() => a.sync.status.synced && b.sync.status.synced, "a and b to sync");
    for (let i = 0; i < 10; i++) await a.db.table("t").set(`row-${i}`, { i, c1: "v", c2: i % 7 });
    for (let i = 0; i < 10; i++) await a.db.table("t").update(`row-${i}`, { i: 100 + i });
    await waitFor(() => state(a.db) === state(b.db), "b to follow a");
    const changes = posts.filter((p) => p.type === CHANGES || p.type === 8);
    const updates = changes.slice(-9); // the single-column updates after the first
    assert.ok(updates.every((p) => p.type === 8), JSON.stringify(changes));
    assert.ok(updates.every((p) => p.bytes <= 29), `single-column updates posted as ${JSON.stringify(updates.map((p) => p.bytes))} bytes`);
    // c comes later: it never saw a's previous post, asks again, and the next post is whole.
    const c = await start("delta-c", ch);
    try {
      await a.db.table("t").update("row-3", { i: 999 });
      await waitFor(() => state(c.db) === state(a.db) && state(b.db) === state(a.db), "c to catch up through deltas");
      await a.db.table("t").update("row-4", { i: 1000 });
      await waitFor(() => state(c.db) === state(a.db) && state(b.db) === state(a.db), "all three to follow a");
      assert.deepEqual(c.warnings, []);
    } finally {
      c.sync.destroy();
      c.db.close();
    }
  } finally {
    for (const x of [a, b]) {
      x.sync.destroy();
      x.db.close();
    }
    bc.close();
  }
});

test("a database closed while the room key is derived stops the provider quietly", async () => {
  /** @type {unknown[]} */
  const uncaught = [];
  const onUncaught = (/** @type {unknown} */ e) => uncaught.push(e);
  process.on("unhandledRejection", onUncaught);
  try {
    const db = await CRDTDB.open("pw-close", { storage: "memory" });
    const sync = new BroadcastChannelSync(db, { channel: channelName(), password: "pw-close-now" });
    db.close();
    await waitFor(() => sync.destroyed, "the provider to stop");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(uncaught, []);
  } finally {
    process.off("unhandledRejection", onUncaught);
  }
});

test("db.close() stops a BroadcastChannelSync at once, with a bye to the others", async () => {
  const ch = channelName();
  const a = await start("close-now-a", ch);
  const b = await start("close-now-b", ch);
  try {
    await waitFor(() => a.sync.peers.length === 1 && b.sync.peers.length === 1, "a and b to meet");
    a.db.close();
    assert.equal(a.sync.destroyed, true);
    await waitFor(() => b.sync.peers.length === 0, "b to hear a's bye");
  } finally {
    b.sync.destroy();
    b.db.close();
  }
});
