// Relay rooms with a password (js/sync/sealed_relay.js, js/server/sealed_room.js) through
// crdtdb-server on loopback: convergence and a late joiner served by the relay alone; nothing
// readable reaches the relay (no row value, no room name: on the wire or on disk); a wrong
// password neither reads nor injects; snapshots shrink the log; a reconnect resumes from the
// last number seen; a relay that lost its log (restarted without `data`) is refilled.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CRDTDB, WebSocketSync } from "crdtdb";
import { WebSocket } from "ws";
import { decodeRoomFile } from "../../js/server/room_store.js";
import { changesFrame } from "../../js/sync/frames.js";
import { BASE, decodeRelayMessage, ENTRY, LIVE, PUSH, relayMessage, RESUME, WANT_SNAPSHOT } from "../../js/sync/relay_frames.js";
import { roomKey, seal } from "../../js/sync/room_key.js";
import { leftovers, roomFiles, rows, serve, sleep, waitFor, waitForAsync, withDataDir, wsClient } from "./server_helpers.js";

const MARKER = "PLAINTEXT-MARKER-12345";

/**
 * A WebSocket class that records every URL it opens and every byte it sends and receives, and
 * can be kept from connecting (it then dials a port nothing listens on).
 */
function spyWebSocket() {
  const spy = {
    /** @type {string[]} */
    urls: [],
    /** @type {Uint8Array[]} */
    sent: [],
    /** @type {Array<{ conn: number, bytes: Uint8Array }>} */
    received: [],
    /** @type {WebSocket[]} */
    sockets: [],
    blocked: false,
    /** Every relay message received on connection `conn` (all when undefined). @param {number} [conn] */
    messages(conn) {
      return this.received.filter((r) => conn === undefined || r.conn === conn).map((r) => decodeRelayMessage(r.bytes, "relay"));
    },
    /** Whether `text` appears in anything sent, received or dialled. @param {string} text */
    saw(text) {
      const needle = Buffer.from(text);
      return (
        this.urls.some((u) => u.includes(text) || decodeURIComponent(u).includes(text)) ||
        [...this.sent, ...this.received.map((r) => r.bytes)].some((b) => Buffer.from(b).includes(needle))
      );
    },
    Class: /** @type {any} */ (null),
  };
  spy.Class = class Spy extends WebSocket {
    /** @param {string} url */
    constructor(url) {
      super(spy.blocked ? "ws://127.0.0.1:9/blocked" : url);
      const conn = spy.sockets.length;
      spy.sockets.push(this);
      spy.urls.push(url);
      this.on("message", (/** @type {any} */ data) => {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        spy.received.push({ conn, bytes: bytes.slice() });
      });
    }

    /** @param {any} data @param {...any} rest */
    send(data, ...rest) {
      spy.sent.push(new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength).slice());
      return super.send(data, ...rest);
    }
  };
  return spy;
}

/**
 * @param {string} url
 * @param {string} password
 * @param {object} [opts]
 */
const client = (url, password, opts = {}) => wsClient(url, { password, ...opts });

test("with a password: clients converge; a late joiner catches up from the relay alone", async () => {
  const s = await serve();
  const url = `${s.url}/sync/sealed-converge`;
  const a = await client(url, "pw-1");
  await a.db.table("t").set("before", { v: 0 });
  const b = await client(url, "pw-1");
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both live");
  assert.deepEqual(a.sync.status, { connected: true, synced: true });
  await b.db.table("t").set("b1", { v: 1 });
  for (let i = 0; i < 15; i++) await a.db.table("t").set(`a${i}`, { v: i });
  await a.db.transaction(async (tx) => {
    await tx.table("t").set("tx1", { v: "one" });
    await tx.table("t").set("tx2", { v: "two" });
  });
  await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 19, "converged");
  const want = rows(a.db);
  const version = [...a.db.version()];
  a.stop();
  b.stop();
  await waitFor(() => s.stats().connections === 0, "both gone");
  const c = await client(url, "pw-1");
  await waitFor(() => rows(c.db) === want, "the late joiner catches up");
  assert.deepEqual([...c.db.version()], version);
  await waitFor(() => c.sync.status.synced, "late joiner live");
  // (It had nothing the log lacks: it pushed nothing.)
  for (const x of [a, b, c]) assert.deepEqual(x.warnings, []);
  c.stop();
  await s.close();
});

test("nothing readable reaches the relay: no row value and no room name, on the wire or on disk", async () => {
  await withDataDir(async (dir) => {
    const room = "secret-room-name-XYZ";
    const s = await serve({ data: dir });
    const spy = spyWebSocket();
    const url = `${s.url}/sync/${room}`;
    const a = await client(url, "hunter2", { WebSocket: spy.Class });
    const b = await client(url, "hunter2", { WebSocket: spy.Class });
    await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both live");
    a.db.presence.set({ cursor: `${MARKER}-presence` });
    await a.db.table("t").set("k1", { note: `${MARKER} one` });
    await b.db.table("t").set("k2", { note: `${MARKER} two`, more: MARKER.repeat(50) });
    for (let i = 0; i < 5; i++) await a.db.table("t").set(`k-${i}`, { note: `${MARKER}-${i}` });
    await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 7, "converged");
    await waitFor(() => b.db.presence.getAll().get(a.db.peerId)?.cursor === `${MARKER}-presence`, "presence arrived");
    // A late joiner gets it all from the relay (through the spy too).
    const c = await client(url, "hunter2", { WebSocket: spy.Class });
    await waitFor(() => rows(c.db) === rows(a.db), "late joiner");
    for (const x of [a, b, c]) x.stop();
    await s.close();

    // The spy saw real traffic: the markers were written, sealed, and came back.
    assert.ok(spy.sent.filter((m) => m[0] === PUSH).length >= 7, "pushes seen");
    assert.ok(spy.received.length >= 10, "relay messages seen");
    const { id } = await roomKey(room, "hunter2");
    for (const u of spy.urls) {
      const parsed = new URL(u);
      assert.equal(parsed.pathname, `/sync/${id}`);
      assert.equal(parsed.searchParams.get("sealed"), "1");
      assert.equal(parsed.searchParams.get("peer"), null, "no peer id in a sealed room's URL");
    }
    assert.equal(spy.saw(MARKER), false, "a row value or presence state on the wire");
    assert.equal(spy.saw(room), false, "the room name on the wire");
    assert.equal(spy.saw("secret-room"), false);
    // On disk: files named by a hash, holding no marker and no room name (nor its id).
    const files = await readdir(dir);
    assert.ok(files.length >= 1);
    for (const f of files) {
      assert.ok(!f.includes(room) && !f.includes(id), f);
      const content = await readFile(join(dir, f));
      assert.ok(!content.includes(MARKER), `${f} holds plaintext`);
      assert.ok(!content.includes(room), `${f} holds the room name`);
    }
    // Positive control: the same spy sees the marker in a plain room.
    const plainSpy = spyWebSocket();
    const s2 = await serve();
    const p = await CRDTDB.open("sealed-control", { storage: "memory" });
    const ps = new WebSocketSync(p, { url: `${s2.url}/sync/${room}`, WebSocket: plainSpy.Class, warn: () => {} });
    leftovers.add(() => ps.destroy());
    await p.table("t").set("k", { note: MARKER });
    await waitFor(() => plainSpy.saw(MARKER) && plainSpy.saw(room), "the control sees plaintext");
    ps.destroy();
    p.close();
    await s2.close();
  });
});

test("a wrong password neither reads nor injects", async () => {
  const s = await serve();
  const url = `${s.url}/sync/guarded`;
  const spy = spyWebSocket();
  const a = await client(url, "right", { WebSocket: spy.Class });
  const b = await client(url, "right");
  await a.db.table("t").set("secret", { v: MARKER });
  await waitFor(() => b.db.table("t").get("secret")?.v === MARKER, "b reads it");

  // A client with another password: another room id, so it hears nothing and says nothing here.
  const wrong = await client(url, "wrong");
  await wrong.db.table("t").set("intruder", { v: "from the wrong password" });
  await waitFor(() => wrong.sync.status.synced, "the wrong client is live (in its own room)");
  await sleep(200);
  assert.equal(wrong.db.table("t").get("secret"), undefined);
  assert.equal(a.db.table("t").get("intruder"), undefined);
  assert.equal(b.db.table("t").get("intruder"), undefined);

  // Someone who saw the room id on the wire, pushing into it with a key from another password.
  const id = new URL(spy.urls[0]).pathname.split("/").pop();
  const { key: wrongKey } = await roomKey("guarded", "wrong");
  const intruder = await CRDTDB.open("intruder", { storage: "memory" });
  await intruder.table("t").set("injected", { v: "evil" });
  const forged = await seal(wrongKey, changesFrame(intruder.changesSince()), `crdtdb relay\0${id}\0entry`);
  const raw = new WebSocket(`${s.url}/sync/${id}?sealed=1`);
  await new Promise((resolve, reject) => (raw.once("open", resolve), raw.once("error", reject)));
  /** @type {Uint8Array[]} */
  const rawGot = [];
  raw.on("message", (d) => rawGot.push(new Uint8Array(/** @type {Buffer} */ (d))));
  raw.send(relayMessage(RESUME, 0));
  raw.send(relayMessage(PUSH, undefined, forged));
  raw.send(relayMessage(PUSH, undefined, new Uint8Array(40).fill(7))); // junk
  await waitFor(() => a.warnings.length >= 2 && b.warnings.length >= 2, "warnings at the right clients");
  for (const w of [...a.warnings, ...b.warnings]) assert.match(w, /dropped a relay payload: a sealed payload failed authentication/);
  assert.equal(a.db.table("t").get("injected"), undefined);
  assert.equal(b.db.table("t").get("injected"), undefined);
  // What the intruder read: ciphertext it cannot open.
  await waitFor(() => rawGot.some((m) => m[0] === LIVE), "the intruder's backlog");
  assert.ok(!rawGot.some((m) => Buffer.from(m).includes(MARKER)));
  const entries = rawGot.map((m) => decodeRelayMessage(m, "relay")).filter((m) => m.type === ENTRY);
  assert.ok(entries.length >= 1);
  raw.close();
  intruder.close();

  // A late joiner with the right password still gets everything, with the junk dropped.
  a.stop();
  b.stop();
  const c = await client(url, "right");
  await waitFor(() => c.db.table("t").get("secret")?.v === MARKER, "late joiner reads the room");
  await waitFor(() => c.warnings.length >= 2, "the junk reported");
  assert.equal(c.db.table("t").get("injected"), undefined);
  assert.equal(c.db.table("t").entries().length, 1);
  assert.deepEqual(wrong.warnings, []);
  c.stop();
  wrong.stop();
  await s.close();
});

test("a growing log is replaced by a folded snapshot: the relay asks, the files shrink, late joiners get the state", async () => {
  await withDataDir(async (dir) => {
    const s = await serve({ data: dir });
    const url = `${s.url}/sync/snapshots`;
    const spy = spyWebSocket();
    const a = await client(url, "snap", { WebSocket: spy.Class });
    const b = await client(url, "snap");
    await waitFor(() => a.sync.status.synced && b.sync.status.synced, "live");
    // ~400 KB of pushes that overwrite two rows.
    for (let i = 0; i < 40; i++) {
      await a.db.table("t").set(`k${i % 2}`, { v: "x".repeat(10_000), i });
    }
    await waitFor(() => rows(a.db) === rows(b.db), "b has it all");
    // (a is the only one pushing: its n-th push is entry n.)
    const pushes = spy.sent.filter((m) => m[0] === PUSH).map((m) => m.length);
    const pushed = pushes.reduce((x, y) => x + y, 0);
    assert.ok(pushed > 380_000, `${pushed} bytes pushed`);
    await waitFor(() => spy.messages().some((m) => m.type === WANT_SNAPSHOT), "the relay asks a for a snapshot");
    await waitForAsync(async () => {
      const files = await roomFiles(dir);
      return files.length === 1 && decodeRoomFile(await readFile(files[0])).records.some((r) => r.type === 3);
    }, "a snapshot in the room file");
    const [file] = await roomFiles(dir);
    const { records, validBytes } = decodeRoomFile(await readFile(file));
    assert.deepEqual(records.slice(0, 2).map((r) => r.type), [5, 3], "epoch, then the snapshot");
    assert.ok(records.slice(2).every((r) => r.type === 4 && r.seq > records[1].seq));
    // The snapshot holds the rows, not the history: far smaller than the entries it replaced.
    const covered = pushes.slice(0, records[1].seq).reduce((x, y) => x + y, 0);
    assert.ok(records[1].seq >= 5, `a snapshot up to ${records[1].seq}`);
    assert.ok(records[1].bytes.length * 4 < covered, `a snapshot of ${records[1].bytes.length} bytes for ${covered} bytes of entries`);
    assert.ok(validBytes < pushed - covered / 2, `${validBytes} bytes on disk for ${pushed} pushed`);
    const want = rows(a.db);
    a.stop();
    b.stop();

    // A late joiner: the snapshot and the entries after it.
    const spyC = spyWebSocket();
    const c = await client(url, "snap", { WebSocket: spyC.Class });
    await waitFor(() => rows(c.db) === want, "the late joiner from the snapshot");
    const got = spyC.messages(0);
    assert.equal(got[0].type, BASE);
    assert.ok(got.filter((m) => m.type === ENTRY).length < 40);
    assert.deepEqual(c.warnings, []);
    c.stop();
    await s.close();

    // After a restart the relay serves the same.
    const s2 = await serve({ data: dir });
    const d = await client(`${s2.url}/sync/snapshots`, "snap");
    await waitFor(() => rows(d.db) === want, "from the files after a restart");
    d.stop();
    await s2.close();
    assert.deepEqual(s.logs, []);
  });
});

test("a reconnect resumes from the last number seen, and pushes what was written meanwhile", async () => {
  const s = await serve();
  const url = `${s.url}/sync/resume`;
  const spy = spyWebSocket();
  const a = await client(url, "resume-pw", { WebSocket: spy.Class });
  const b = await client(url, "resume-pw");
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both live");
  for (let i = 0; i < 20; i++) await b.db.table("t").set(`b${i}`, { v: i });
  await waitFor(() => a.db.table("t").entries().length === 20, "a has b's 20 rows");
  assert.equal(spy.messages(0).filter((m) => m.type === ENTRY).length, 20);

  // a's connection drops; it stays away while both write.
  spy.blocked = true;
  spy.sockets[0].terminate();
  await waitFor(() => !a.sync.status.connected, "a disconnected");
  for (let i = 0; i < 3; i++) await b.db.table("t").set(`new-b${i}`, { v: i });
  await a.db.table("t").set("while-away", { v: "a" });
  await sleep(100);
  assert.equal(b.db.table("t").get("while-away"), undefined);
  spy.blocked = false;
  await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 24, "caught up both ways", 20_000);
  // On the new connection: only the three entries it lacked, no snapshot, no replay.
  const last = spy.sockets.length - 1;
  const resumed = spy.messages(last);
  assert.deepEqual(resumed.filter((m) => m.type === ENTRY).length, 3);
  assert.equal(resumed.filter((m) => m.type === BASE).length, 0);
  // What a pushed on the new connection: what it wrote while away, not everything.
  const resumeMsg = decodeRelayMessage(spy.sent.filter((m) => m[0] === RESUME).at(-1) ?? new Uint8Array(), "client");
  assert.equal(resumeMsg.seq, 20);
  assert.ok(resumeMsg.epoch > 0);
  assert.deepEqual(a.warnings, []);
  assert.deepEqual(b.warnings, []);
  a.stop();
  b.stop();
  await s.close();
});

test("a relay restarted without `data` is refilled by its clients; a late joiner still catches up", async () => {
  let s = await serve();
  const port = s.port;
  const url = `${s.url}/sync/amnesia`;
  const a = await client(url, "amnesia-pw");
  const b = await client(url, "amnesia-pw");
  for (let i = 0; i < 5; i++) await a.db.table("t").set(`a${i}`, { v: i });
  await b.db.table("t").set("b0", { v: 0 });
  await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 6, "converged");
  await s.close();
  await waitFor(() => !a.sync.status.connected && !b.sync.status.connected, "disconnected");
  s = await serve({ port });
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both live again", 20_000);
  const want = rows(a.db);
  await sleep(200);
  a.stop();
  b.stop();
  const c = await client(url, "amnesia-pw");
  await waitFor(() => rows(c.db) === want, "late joiner after the restart");
  c.stop();
  await s.close();
});

test("a client back after a relay lost its log, while others already numbered new entries, pushes everything", async () => {
  // a writes alone; the relay restarts without data; b (a stranger to a's rows) fills the new
  // log past a's last number before a comes back.
  let s = await serve();
  const port = s.port;
  const url = `ws://127.0.0.1:${port}/sync/collide`;
  const spy = spyWebSocket();
  const a = await client(url, "collide-pw", { WebSocket: spy.Class });
  await waitFor(() => a.sync.status.synced, "a live");
  await a.db.table("t").set("a1", { v: 1 });
  await a.db.table("t").set("a2", { v: 2 });
  await waitFor(() => spy.messages().filter((m) => m.type === 0x23).length === 2, "a's two pushes numbered");
  spy.blocked = true;
  await s.close();
  await waitFor(() => !a.sync.status.connected, "a disconnected");
  s = await serve({ port });
  const b = await client(url, "collide-pw");
  await waitFor(() => b.sync.status.synced, "b live");
  for (let i = 1; i <= 4; i++) await b.db.table("t").set(`b${i}`, { v: i });
  await sleep(100);
  spy.blocked = false;
  await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 6, "a and b converge", 20_000);
  const want = rows(a.db);
  await sleep(200);
  a.stop();
  b.stop();
  const c = await client(url, "collide-pw");
  await waitFor(() => rows(c.db) === want, "a late joiner has a's rows and b's");
  for (const x of [a, b, c]) assert.deepEqual(x.warnings, []);
  c.stop();
  await s.close();
});
