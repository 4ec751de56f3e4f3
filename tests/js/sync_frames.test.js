// The sync protocol's frames (js/sync/frames.js) and a session's handling of bad ones
// (js/sync/session.js): round trips, parts and their bound, and fuzzing with random bytes,
// truncations and bit flips of valid frames. CRDTDB_SYNC_SEEDS=N fuzzes longer.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, DecodeError } from "crdtdb";
import {
  ACK,
  ackFrame,
  BYE,
  byeFrame,
  CHANGES,
  changesFrame,
  decodeFrame,
  HELLO,
  helloFrame,
  PART,
  PRESENCE,
  presenceFrame,
  PROTOCOL,
  Reassembler,
  splitFrame,
  SYNCED,
  syncedFrame,
} from "../../js/sync/frames.js";
import { MAX_BAD_FRAMES, MAX_HELLOS, MAX_VERSION_BYTES, SyncSession } from "../../js/sync/session.js";

const SEEDS = Number(process.env.CRDTDB_SYNC_SEEDS ?? 12);

/** @param {number} seed */
function rng(seed) {
  let a = seed >>> 0;
  return (/** @type {number} */ n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const bytes = (/** @type {number[]} */ ...b) => Uint8Array.from(b);

test("every frame type decodes to what was encoded", () => {
  const v = bytes(7, 8, 9);
  assert.deepEqual(decodeFrame(helloFrame(300, v)), { type: HELLO, protocol: PROTOCOL, ask: 300, version: v });
  assert.deepEqual(decodeFrame(changesFrame(v)), { type: CHANGES, bytes: v });
  assert.deepEqual(decodeFrame(syncedFrame(7, v)), { type: SYNCED, ask: 7, version: v });
  assert.deepEqual(decodeFrame(ackFrame(v)), { type: ACK, version: v });
  assert.deepEqual(decodeFrame(byeFrame()), { type: BYE });
  const entries = [{ peer: "pé", clock: 300, state: { cursor: 4 } }, { peer: "q", clock: 1, state: null }];
  assert.deepEqual(decodeFrame(presenceFrame(entries)), { type: PRESENCE, entries });
  const big = new Uint8Array(1000).map((_, i) => i & 0xff);
  const parts = splitFrame(changesFrame(big), 100);
  assert.ok(parts.length > 10 && parts.every((p) => p.length <= 100 && p[0] === PART));
  const r = new Reassembler(2000);
  const out = parts.map((p) => r.add(/** @type {any} */ (decodeFrame(p))));
  assert.ok(out.slice(0, -1).every((x) => x === null));
  assert.deepEqual(decodeFrame(/** @type {Uint8Array} */ (out.at(-1))), { type: CHANGES, bytes: big });
  assert.deepEqual(splitFrame(byeFrame(), 100), [byeFrame()]);
});

test("malformed frames are DecodeErrors that say what is wrong", () => {
  const cases = [
    [new Uint8Array(0), /empty/],
    [bytes(0), /unknown type 0/],
    [bytes(77, 1), /unknown type 77/],
    [bytes(HELLO), /truncated in its protocol version/],
    [bytes(HELLO, 0x80, 0x80), /truncated/],
    [bytes(HELLO, 1), /truncated in its ask id/],
    [bytes(SYNCED), /truncated in its ask id/],
    [bytes(PART, 5, 0), /part is empty/],
    [bytes(PART, 2, 1, 9, 9), /runs past/],
    [bytes(PART, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), /not a safe integer/],
    [bytes(BYE, 0), /trailing/],
    [bytes(PRESENCE, 9), /more entries/],
    [bytes(PRESENCE, 1, 0, 1, 1, 0x30), /bad peer id/],
    [bytes(PRESENCE, 1, 1, 0x61, 1, 1, 0x7b), /not JSON/],
    [bytes(PRESENCE, 1, 1, 0xff, 1, 1, 0x30), /not valid UTF-8/],
    [bytes(PRESENCE, 1, 1, 0x61, 1, 1, 0x30, 0), /trailing/],
    [presenceFrame([{ peer: "a", clock: 1, state: "x".repeat(17_000) }]), /state of 17002 characters/],
    [presenceFrame([{ peer: "a", clock: 1, state: JSON.parse("[".repeat(65) + "]".repeat(65)) }]), /nested deeper than 64/],
  ];
  for (const [frame, message] of cases) assert.throws(() => decodeFrame(/** @type {Uint8Array} */ (frame)), message);
  assert.throws(() => decodeFrame(/** @type {any} */ ([1, 2])), DecodeError);
});

test("parts: a frame over the bound is refused, memory follows the bytes received, out-of-order parts are refused", () => {
  const r = new Reassembler(1000);
  assert.throws(() => r.add({ total: 1001, offset: 0, bytes: bytes(1) }), /exceeds the limit of 1000/);
  assert.equal(r.pendingBytes, 0);
  // A frame declared at the limit holds only what arrived, not its declared length.
  assert.equal(r.add({ total: 1000, offset: 0, bytes: bytes(1, 2) }), null);
  assert.equal(r.pendingBytes, 2);
  assert.throws(() => r.add({ total: 1000, offset: 5, bytes: bytes(1) }), /out of sequence/);
  assert.equal(r.pendingBytes, 0);
  assert.throws(() => r.add({ total: 10, offset: 2, bytes: bytes(1) }), /out of sequence/);
  // A new frame before the last part of one arriving: that one is abandoned, this one kept.
  assert.equal(r.add({ total: 3, offset: 0, bytes: bytes(1) }), null);
  assert.equal(r.add({ total: 2, offset: 0, bytes: bytes(7) }), null);
  assert.equal(r.abandoned, 1);
  assert.deepEqual(r.add({ total: 2, offset: 1, bytes: bytes(8) }), bytes(7, 8));
});

test(`fuzz: random bytes, truncations and bit flips decode or throw DecodeError (${SEEDS * 500} frames)`, () => {
  const valid = [
    helloFrame(9, bytes(1, 2, 3)),
    changesFrame(new Uint8Array(50).fill(3)),
    syncedFrame(9, bytes(4)),
    ackFrame(bytes()),
    byeFrame(),
    presenceFrame([{ peer: "p1", clock: 3, state: { name: "Ada", cursor: [1, 2] } }, { peer: "p2", clock: 1, state: null }]),
    ...splitFrame(changesFrame(new Uint8Array(300).fill(5)), 64),
  ];
  let decoded = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rand = rng(seed);
    for (let i = 0; i < 500; i++) {
      const base = valid[rand(valid.length)];
      let frame;
      const how = rand(3);
      if (how === 0) frame = Uint8Array.from({ length: rand(20) }, () => rand(256));
      else if (how === 1) frame = base.slice(0, rand(base.length + 1));
      else {
        frame = base.slice();
        if (frame.length > 0) frame[rand(frame.length)] ^= 1 << rand(8);
      }
      try {
        decodeFrame(frame);
        decoded++;
      } catch (err) {
        assert.ok(err instanceof DecodeError, `seed ${seed}: ${err}`);
      }
    }
  }
  assert.ok(decoded > 0);
});

test("a session answers a few hellos per heartbeat window and refuses the rest", async () => {
  const a = await CRDTDB.open("hellos", { storage: "memory" });
  /** @type {string[]} */
  const warnings = [];
  let answers = 0;
  const s = new SyncSession(a, {
    send: (f) => {
      if (f[0] === SYNCED) answers++;
    },
    origin: {},
    maxFrameBytes: 1 << 20,
    maxMessageBytes: 1 << 20,
    warn: (m) => warnings.push(m),
    onState: () => {},
  });
  for (let i = 0; i < 15; i++) s.receive(helloFrame(i, a.version()), i);
  assert.equal(answers, MAX_HELLOS);
  assert.equal(warnings.filter((w) => /hellos within one heartbeat/.test(w)).length, 15 - MAX_HELLOS);
  s.heartbeat();
  s.receive(helloFrame(99, a.version()), 99);
  assert.equal(answers, MAX_HELLOS + 1);
  // A hello whose version is over the bound kept for acknowledged versions is refused before
  // anything is decoded or kept.
  s.heartbeat();
  s.receive(helloFrame(100, new Uint8Array(MAX_VERSION_BYTES + 1)), 100);
  assert.equal(answers, MAX_HELLOS + 1);
  assert.ok(warnings.some((w) => /hello version of/.test(w)), JSON.stringify(warnings.slice(-2)));
  a.close();
});

test(`fuzz: a session drops bad frames without changing the database, and closes past ${MAX_BAD_FRAMES}`, async () => {
  const a = await CRDTDB.open("fuzz-a", { storage: "memory" });
  const b = await CRDTDB.open("fuzz-b", { storage: "memory" });
  for (let i = 0; i < 5; i++) await b.table("t").set(`k${i}`, { v: i, s: "x".repeat(i * 10) });
  const changes = b.changesSince();
  const good = [changesFrame(changes), helloFrame(1, a.version()), ackFrame(b.version()), ...splitFrame(changesFrame(changes), 40)];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rand = rng(seed);
    /** @type {string[]} */
    const warnings = [];
    /** @type {Uint8Array[]} */
    const sent = [];
    const s = new SyncSession(a, {
      send: (f) => sent.push(f),
      origin: {},
      maxFrameBytes: 1 << 20,
      maxMessageBytes: 4096,
      warn: (m) => warnings.push(m),
      onState: () => {},
    });
    for (let i = 0; i < 40 && !s.closed; i++) {
      const base = good[rand(good.length)];
      const frame = base.slice(0, Math.max(1, rand(base.length + 1)));
      if (rand(2) === 0) frame[rand(frame.length)] ^= 1 << rand(8);
      s.receive(frame, i);
    }
    // Whatever got through was valid: at most b's rows, never anything else.
    const rows = a.table("t").entries();
    for (const [k, v] of rows) assert.deepEqual(v, b.table("t").get(k), `seed ${seed}: ${k}`);
    assert.ok(s.badFrames <= MAX_BAD_FRAMES);
    assert.equal(s.closed, s.badFrames >= MAX_BAD_FRAMES);
    assert.ok(warnings.length >= s.badFrames);
  }
  a.close();
  b.close();
});
