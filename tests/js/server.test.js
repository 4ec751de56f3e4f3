// crdtdb-server (js/server/) over loopback: /healthz, signaling (join, welcome, joined, left,
// signal with `from` stamped by the server, room and server limits, refusals, rate), the plain
// relay (convergence, a late joiner served by the relay alone, persistence with `data`, torn
// tails, compaction), the room store, hostile and fuzzed input on every endpoint, message size
// limits, a clean close(), and the crdtdb-server CLI.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, open, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { CRDTDB, WebSocketSync } from "crdtdb";
import { WebSocket } from "ws";
import { DEFAULT_LIMITS, RateLimit } from "../../js/server/limits.js";
import { BASE as REC_BASE, CHANGES as REC_CHANGES, decodeRoomFile, ENTRY as REC_ENTRY, FileRoomStore, MemoryRoomStore } from "../../js/server/room_store.js";
import { SealedRoom } from "../../js/server/sealed_room.js";
import { startServer } from "../../js/server/server.js";
import { roomKey, unseal } from "../../js/sync/room_key.js";
import { ackFrame, byeFrame, changesFrame, decodeFrame, helloFrame, partFrame, presenceFrame } from "../../js/sync/frames.js";
import { decodeRelayMessage, ENTRY, EPHEMERAL, LIVE, PASS, PUSH, PUSHED, relayMessage, RESUME, SNAPSHOT } from "../../js/sync/relay_frames.js";
import { leftovers, roomFiles, rows, serve, sleep, waitFor, waitForAsync, withDataDir, wsClient } from "./server_helpers.js";
import { rng } from "./helpers.js";

const CLI = new URL("../../js/server/cli.js", import.meta.url).pathname;

/** @param {string} http */
async function healthz(http) {
  const res = await fetch(`${http}/healthz`);
  return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
}

/**
 * A raw ws connection: every message it gets, and how it closed.
 * @param {string} url
 */
function raw(url) {
  const ws = new WebSocket(url);
  /** @type {Array<string | Buffer>} */
  const messages = [];
  /** @type {{ code: number, reason: string } | null} */
  let closed = null;
  ws.on("message", (data, isBinary) => messages.push(isBinary ? /** @type {Buffer} */ (data) : data.toString()));
  ws.on("error", () => {});
  const done = new Promise((resolve) => {
    ws.on("close", (code, reason) => {
      closed = { code, reason: reason.toString() };
      resolve(closed);
    });
  });
  const opened = new Promise((resolve, reject) => {
    ws.once("open", () => resolve(undefined));
    ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once("error", reject);
  });
  return {
    ws,
    messages,
    opened,
    done,
    get closed() {
      return closed;
    },
    /** JSON messages so far. */
    json: () => messages.filter((m) => typeof m === "string").map((m) => JSON.parse(/** @type {string} */ (m))),
    /** @param {unknown} m */
    send: (m) => ws.send(typeof m === "string" || m instanceof Uint8Array ? m : JSON.stringify(m)),
  };
}

/** @param {string} url */
async function rawOpen(url) {
  const c = raw(url);
  await c.opened;
  return c;
}

/**
 * A database synced through the relay.
 * @param {string} url
 * @param {string} name
 * @param {object} [opts]
 */
const client = (url, name, opts = {}) => wsClient(url, opts, { name });

// ---------------------------------------------------------------------------------------------
// HTTP

test("GET /healthz answers JSON counts; other paths and upgrades to unknown paths are 404", async () => {
  const s = await serve();
  try {
    const h = await healthz(s.http);
    assert.equal(h.status, 200);
    assert.match(/** @type {string} */ (h.type), /application\/json/);
    assert.deepEqual(h.body, { status: "ok", rooms: { signaling: 0, relay: 0 }, connections: 0 });
    assert.deepEqual(s.stats(), { rooms: { signaling: 0, relay: 0 }, connections: 0 });
    assert.equal(s.url, `ws://127.0.0.1:${s.port}`);
    for (const path of ["/", "/nope", "/healthz/x", "/sync/room"]) {
      const res = await fetch(`${s.http}${path}`);
      assert.equal(res.status, 404, path);
      await res.text();
    }
    const post = await fetch(`${s.http}/healthz`, { method: "POST" });
    assert.equal(post.status, 404);
    await post.text();
    // WebSocket upgrades: unknown paths and bad room names are refused before the handshake.
    for (const path of ["/nope", "/sync/", `/sync/${"r".repeat(300)}`, "/sync/%E0%A4%A", `/sync/r?peer=${"p".repeat(300)}`]) {
      await assert.rejects(raw(`${s.url}${path}`).opened, (/** @type {any} */ e) => e.status === (path === "/nope" ? 404 : 400), path);
    }
    // Counts follow connections and rooms.
    const sig = await rawOpen(`${s.url}/`);
    sig.send({ type: "join", room: "h", peer: "p" });
    const rel = await rawOpen(`${s.url}/sync/h-room`);
    await waitFor(() => sig.json().length > 0, "welcome");
    await waitForAsync(async () => (await healthz(s.http)).body.rooms.relay === 1, "the relay room counted");
    assert.deepEqual((await healthz(s.http)).body, { status: "ok", rooms: { signaling: 1, relay: 1 }, connections: 2 });
    sig.ws.close();
    rel.ws.close();
    await Promise.all([sig.done, rel.done]);
    await waitFor(() => s.stats().connections === 0, "connections gone");
    assert.equal(s.stats().rooms.signaling, 0);
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Signaling

test("signaling: welcome, joined, signal with a server-stamped `from`, ping, left, and a peer replaced", async () => {
  const s = await serve();
  try {
    const a = await rawOpen(s.url);
    a.send({ type: "join", room: "sig", peer: "alice" });
    await waitFor(() => a.json().length === 1, "alice's welcome");
    assert.deepEqual(a.json()[0], { type: "welcome", room: "sig", peers: [] });

    const b = await rawOpen(`${s.url}/signal`);
    b.send({ type: "join", room: "sig", peer: "bob" });
    await waitFor(() => b.json().length === 1 && a.json().length === 2, "bob's welcome, alice told");
    assert.deepEqual(b.json()[0], { type: "welcome", room: "sig", peers: ["alice"] });
    assert.deepEqual(a.json()[1], { type: "joined", peer: "bob" });

    // Bob claims to be carol: the server says it is bob.
    b.send({ type: "signal", to: "alice", from: "carol", data: { sdp: "offer", n: 1 } });
    await waitFor(() => a.json().length === 3, "the signal");
    assert.deepEqual(a.json()[2], { type: "signal", from: "bob", data: { sdp: "offer", n: 1 } });
    // To someone not in the room: nothing, and it is not held against bob.
    b.send({ type: "signal", to: "nobody", data: 1 });
    b.send({ type: "ping" });
    await waitFor(() => b.json().length === 2, "pong");
    assert.deepEqual(b.json()[1], { type: "pong" });

    // Another room does not hear this one.
    const c = await rawOpen(s.url);
    c.send({ type: "join", room: "other", peer: "alice" });
    await waitFor(() => c.json().length === 1, "welcome in the other room");
    assert.deepEqual(c.json()[0], { type: "welcome", room: "other", peers: [] });
    c.send({ type: "signal", to: "bob", data: "x" });
    await sleep(50);
    assert.equal(b.json().length, 2);

    // Alice again (a reload): the old connection is closed with 4000, bob hears joined.
    const a2 = await rawOpen(s.url);
    a2.send({ type: "join", room: "sig", peer: "alice" });
    const old = await a.done;
    assert.equal(/** @type {any} */ (old).code, 4000);
    await waitFor(() => a2.json().length === 1 && b.json().length === 3, "a2's welcome");
    assert.deepEqual(a2.json()[0], { type: "welcome", room: "sig", peers: ["bob"] });
    assert.deepEqual(b.json()[2], { type: "joined", peer: "alice" });
    b.send({ type: "signal", to: "alice", data: "to-the-new-one" });
    await waitFor(() => a2.json().length === 2, "signal to the new alice");
    assert.deepEqual(a2.json()[1], { type: "signal", from: "bob", data: "to-the-new-one" });

    // Leaving: by message, then by closing.
    a2.send({ type: "leave" });
    await waitFor(() => b.json().length === 4, "left (leave)");
    assert.deepEqual(b.json()[3], { type: "left", peer: "alice" });
    a2.send({ type: "join", room: "sig", peer: "alice" });
    await waitFor(() => b.json().length === 5, "joined again");
    a2.ws.close();
    await waitFor(() => b.json().length === 6, "left (close)");
    assert.deepEqual(b.json()[5], { type: "left", peer: "alice" });
    for (const x of [b, c]) x.ws.close();
    await Promise.all([b.done, c.done]);
    await waitFor(() => s.stats().rooms.signaling === 0, "empty rooms dropped");
    assert.deepEqual(s.logs, []);
  } finally {
    await s.close();
  }
});

test("signaling: a full room and too many rooms are refused with an error message", async () => {
  const s = await serve({ limits: { maxPeersPerRoom: 2, maxRooms: 2 } });
  try {
    const conns = [];
    for (const [room, peer] of [["r1", "a"], ["r1", "b"], ["r1", "c"], ["r2", "a"], ["r3", "a"]]) {
      const c = await rawOpen(s.url);
      c.send({ type: "join", room, peer });
      await waitFor(() => c.json().length > 0, `an answer to ${peer} in ${room}`);
      conns.push(c);
    }
    assert.equal(conns[0].json()[0].type, "welcome");
    assert.equal(conns[1].json()[0].type, "welcome");
    assert.equal(conns[2].json()[0].type, "error");
    assert.match(conns[2].json()[0].message, /room is full \(2 peers\)/);
    assert.equal(conns[3].json()[0].type, "welcome");
    assert.deepEqual(conns[4].json()[0], { type: "error", message: "too many rooms on this server" });
    // The refused ones are in no room: signals from them are refused, nobody hears them.
    conns[2].send({ type: "signal", to: "a", data: 1 });
    await waitFor(() => s.logs.some((l) => /signal before join/.test(l)), "signal before join refused");
    // A peer already in a full room may rejoin (a reload replaces it).
    const again = await rawOpen(s.url);
    again.send({ type: "join", room: "r1", peer: "b" });
    await waitFor(() => again.json().length > 0, "b's rejoin answered");
    assert.deepEqual(again.json()[0], { type: "welcome", room: "r1", peers: ["a"] });
    // A room emptied makes room for another.
    conns[3].ws.close();
    await waitFor(() => s.stats().rooms.signaling === 1, "r2 gone");
    conns[4].send({ type: "join", room: "r3", peer: "a" });
    await waitFor(() => conns[4].json().length === 2, "r3 joined now");
    assert.equal(conns[4].json()[1].type, "welcome");
    for (const c of [...conns, again]) c.ws.close();
  } finally {
    await s.close();
  }
});

test("signaling: malformed, unknown and binary messages are refused; maxRefused closes with 1008", async () => {
  const s = await serve({ limits: { maxRefused: 6, maxSignalBytes: 1000 } });
  try {
    const c = await rawOpen(s.url);
    const bad = [
      "not json {",
      JSON.stringify({ type: "hack" }),
      "null",
      "42",
      JSON.stringify({ type: "join", room: "", peer: "p" }),
      JSON.stringify({ type: "join", room: "r", peer: "x".repeat(300) }),
    ];
    c.send(bad[0]);
    c.send(bad[1]);
    c.send(new Uint8Array([1, 2, 3])); // binary
    c.send({ type: "ping" });
    await waitFor(() => c.json().length === 1, "a pong between refusals");
    assert.equal(c.closed, null);
    for (const m of bad.slice(2, 5)) c.send(m);
    const closed = await c.done;
    assert.equal(/** @type {any} */ (closed).code, 1008);
    assert.match(s.logs.join("\n"), /not JSON/);
    assert.match(s.logs.join("\n"), /unknown message type "hack"/);
    assert.match(s.logs.join("\n"), /signaling messages are text/);
    // Fewer than maxRefused leaves the connection open.
    const d = await rawOpen(s.url);
    d.send(bad[5]);
    d.send({ type: "ping" });
    await waitFor(() => d.json().length === 1, "pong after a refusal");
    assert.deepEqual(d.json(), [{ type: "pong" }]);
    assert.equal(d.closed, null);
    // A message over maxSignalBytes closes the connection before it is buffered (1009).
    d.send(JSON.stringify({ type: "ping", pad: "x".repeat(2000) }));
    assert.equal(/** @type {any} */ (await d.done).code, 1009);
  } finally {
    await s.close();
  }
});

test("signaling: messages beyond the rate are refused, and the connection is closed once too many were", async () => {
  const s = await serve({ limits: { messagesPerSecond: 1, messageBurst: 5, maxRefused: 20 } });
  try {
    const c = await rawOpen(s.url);
    for (let i = 0; i < 60; i++) c.send({ type: "ping" });
    const closed = await c.done;
    assert.equal(/** @type {any} */ (closed).code, 1008);
    const pongs = c.json().filter((m) => m.type === "pong").length;
    assert.ok(pongs >= 5 && pongs < 60 - 19, `${pongs} pongs`);
    assert.match(s.logs.join("\n"), /rate limit/);
    // Another connection has its own budget.
    const d = await rawOpen(s.url);
    d.send({ type: "ping" });
    await waitFor(() => d.json().length === 1, "a pong on a fresh connection");
    d.ws.close();
  } finally {
    await s.close();
  }
  // The bucket itself, on a hand-driven clock.
  let t = 0;
  const r = new RateLimit(10, 3, () => t);
  assert.deepEqual([r.take(), r.take(), r.take(), r.take()], [true, true, true, false]);
  t += 100; // one token back
  assert.deepEqual([r.take(), r.take()], [true, false]);
  t += 10_000; // never more than the burst
  assert.deepEqual([r.take(), r.take(), r.take(), r.take()], [true, true, true, false]);
});

test("limits are checked: unknown names and non-positive values are TypeErrors", async () => {
  await assert.rejects(startServer({ port: 0, limits: /** @type {any} */ ({ maxRoom: 1 }) }), /unknown server limit "maxRoom"/);
  await assert.rejects(startServer({ port: 0, limits: { maxRooms: 0 } }), /maxRooms must be a positive number/);
  await assert.rejects(startServer({ port: 0, limits: /** @type {any} */ ({ maxRooms: "5" }) }), TypeError);
  await assert.rejects(startServer({ port: 0, limits: /** @type {any} */ (5) }), /limits must be an object/);
  assert.equal(DEFAULT_LIMITS.maxPeersPerRoom, 100);
});

// ---------------------------------------------------------------------------------------------
// Plain relay rooms

test("relay: two clients converge; a late joiner catches up from the relay alone", async () => {
  const s = await serve();
  const url = `${s.url}/sync/plain-room`;
  try {
    const a = await client(url, "relay-a");
    await a.db.table("t").set("before", { v: 0 });
    const b = await client(url, "relay-b");
    await b.db.table("t").set("b1", { v: 1 });
    for (let i = 0; i < 20; i++) await a.db.table("t").set(`a${i}`, { v: i });
    await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 22, "a and b converge");
    await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both synced");
    assert.deepEqual(a.sync.peers, ["relay"]);
    assert.equal(s.stats().connections, 2);
    const want = rows(a.db);
    const version = [...a.db.version()];
    // Everyone leaves; the relay alone serves the next one.
    a.stop();
    b.stop();
    await waitFor(() => s.stats().connections === 0, "clients gone");
    const c = await client(url, "relay-c");
    await waitFor(() => rows(c.db) === want, "the late joiner catches up");
    assert.deepEqual([...c.db.version()], version);
    await waitFor(() => c.sync.status.synced, "late joiner synced");
    // Another room holds nothing of this one.
    const d = await client(`${s.url}/sync/plain-room-2`, "relay-d");
    await waitFor(() => d.sync.status.synced, "d synced");
    assert.equal(d.db.table("t").entries().length, 0);
    for (const x of [a, b, c, d]) assert.deepEqual(x.warnings, []);
    c.stop();
    d.stop();
  } finally {
    await s.close();
  }
});

test("relay: rooms persist in `data` across a restart; a new client catches up from the files", async () => {
  await withDataDir(async (dir) => {
    let s = await serve({ data: dir });
    const url = () => `${s.url}/sync/persisted`;
    const a = await client(url(), "persist-a");
    const b = await client(url(), "persist-b");
    for (let i = 0; i < 10; i++) await a.db.table("t").set(`k${i}`, { v: i, who: "a" });
    await b.db.table("t").set("kb", { v: "b" });
    await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 11, "converged");
    const want = rows(a.db);
    a.stop();
    b.stop();
    await s.close();
    assert.equal((await roomFiles(dir)).length, 1);

    s = await serve({ data: dir });
    const c = await client(url(), "persist-c");
    await waitFor(() => rows(c.db) === want, "c catches up from the files");
    const observer = await client(url(), "persist-o");
    await c.db.table("t").set("kc", { v: "c" });
    await waitFor(() => observer.db.table("t").get("kc")?.v === "c", "the relay has c's write");
    c.stop();
    observer.stop();
    await s.close();

    s = await serve({ data: dir });
    const d = await client(url(), "persist-d");
    await waitFor(() => d.db.table("t").entries().length === 12, "d sees c's write too");
    assert.deepEqual(c.warnings, []);
    assert.deepEqual(d.warnings, []);
    d.stop();
    await s.close();
    assert.deepEqual(s.logs, []);
  });
});

test("relay: a torn tail (a cut record, or garbage) is cut on load and the room still works", async () => {
  await withDataDir(async (dir) => {
    let s = await serve({ data: dir });
    const url = () => `${s.url}/sync/torn`;
    const a = await client(url(), "torn-a");
    const watcher = await client(url(), "torn-w");
    await a.db.table("t").set("k1", { v: 1 });
    await waitFor(() => watcher.db.table("t").get("k1") !== undefined, "k1 relayed");
    await a.db.table("t").set("k2", { v: "x".repeat(200) });
    await waitFor(() => watcher.db.table("t").get("k2") !== undefined, "k2 relayed");
    a.sync.destroy(); // (its database stays: it comes back later)
    watcher.stop();
    await s.close();

    // A crash tore the last record: its last 10 bytes never reached the disk.
    const [file] = await roomFiles(dir);
    const full = await readFile(file);
    const { records, validBytes } = decodeRoomFile(full);
    assert.equal(validBytes, full.length);
    assert.ok(records.length >= 2 && records.every((r) => r.type === REC_CHANGES));
    await truncate(file, full.length - 10);

    s = await serve({ data: dir });
    const b = await client(url(), "torn-b");
    await waitFor(() => b.db.table("t").get("k1")?.v === 1, "b gets k1");
    await waitFor(() => b.sync.status.synced, "b synced");
    assert.equal(b.db.table("t").get("k2"), undefined, "the torn record is gone");
    const observer = await client(url(), "torn-o");
    await b.db.table("t").set("k3", { v: 3 });
    await waitFor(() => observer.db.table("t").get("k3")?.v === 3, "k3 at the relay");
    b.stop();
    observer.stop();
    await s.close();
    // The file holds whole records only: the cut one gone, k3 after the last whole one.
    const after = decodeRoomFile(await readFile(file));
    assert.equal(after.validBytes, (await stat(file)).size);
    assert.equal(after.records.length, records.length);

    // Garbage after the last record (a torn header, random bytes): cut too.
    await appendFile(file, randomBytes(7));
    s = await serve({ data: dir });
    const c = await client(url(), "torn-c");
    await waitFor(() => c.db.table("t").get("k3")?.v === 3 && c.db.table("t").get("k1")?.v === 1, "c gets k1 and k3");
    // The writer of the lost record comes back: the relay gets it again from it.
    const again = new WebSocketSync(a.db, { url: url(), WebSocket, warn: (m) => a.warnings.push(m) });
    leftovers.add(() => again.destroy());
    await waitFor(() => c.db.table("t").get("k2")?.v === "x".repeat(200), "k2 back, through a");
    await c.db.table("t").set("k4", { v: 4 });
    await waitFor(() => rows(a.db) === rows(c.db) && a.db.table("t").entries().length === 4, "a and c converge");
    c.stop();
    again.destroy();
    a.db.close();
    await s.close();
    const last = decodeRoomFile(await readFile(file));
    assert.equal(last.validBytes, (await stat(file)).size);
    assert.deepEqual(s.logs, []);
  });
});

test("relay: a room file torn before its first record (empty, or part of the header) loads as a new room", async () => {
  await withDataDir(async (dir) => {
    const store = new FileRoomStore(dir);
    for (const [room, content] of [["empty", ""], ["partial", "CRDT"], ["header", "CRDTDBR1"]]) {
      await writeFile(store.file(`plain:${room}`), content);
    }
    const s = await serve({ data: dir });
    try {
      for (const room of ["empty", "partial", "header"]) {
        const a = await client(`${s.url}/sync/${room}`, `${room}-a`);
        await a.db.table("t").set("k", { room });
        const b = await client(`${s.url}/sync/${room}`, `${room}-b`);
        await waitFor(() => b.db.table("t").get("k")?.room === room, `${room}: b gets the write`);
        a.stop();
        b.stop();
      }
      assert.deepEqual(s.logs, []);
    } finally {
      await s.close();
    }
    for (const room of ["empty", "partial", "header"]) {
      const { records, validBytes } = decodeRoomFile(await readFile(store.file(`plain:${room}`)));
      assert.ok(records.length >= 1, room);
      assert.equal(validBytes, (await stat(store.file(`plain:${room}`))).size, room);
    }
    // A file that is no room file at all is refused (not silently replaced).
    await writeFile(store.file("plain:alien"), "#!/bin/sh\necho something else entirely\n");
    const s2 = await serve({ data: dir });
    try {
      const c = raw(`${s2.url}/sync/alien`);
      await c.opened;
      const closed = await c.done;
      assert.equal(/** @type {any} */ (closed).code, 1011);
      assert.match(s2.logs.join("\n"), /bad magic/);
    } finally {
      await s2.close();
    }
  });
});

test("relay: a plain room's log is compacted into a smaller snapshot, which loads", async () => {
  await withDataDir(async (dir) => {
    let s = await serve({ data: dir });
    const url = () => `${s.url}/sync/compact`;
    // 1.2 MB of updates overwriting 5 rows.
    const a = await CRDTDB.open("compact-a", { storage: "memory" });
    let sum = 0;
    a.on("update", (e) => (sum += e.bytes.length));
    for (let i = 0; i < 120; i++) await a.table("t").set(`k${i % 5}`, { v: "x".repeat(10_000), i });
    assert.ok(sum > 1024 * 1024);
    const sync = new WebSocketSync(a, { url: url(), WebSocket, warn: () => {} });
    leftovers.add(() => sync.destroy());
    await waitFor(() => sync.status.synced, "a synced");
    await waitForAsync(async () => (await roomFiles(dir)).length === 1, "the room file");
    const [file] = await roomFiles(dir);
    await waitForAsync(async () => (await stat(file)).size < sum / 4, "the room file compacted");
    // More updates after the snapshot are appended to it.
    for (let i = 0; i < 5; i++) await a.table("t").set(`after${i}`, { v: i });
    const want = JSON.stringify(a.table("t").entries());
    const b = await client(url(), "compact-b");
    await waitFor(() => rows(b.db) === want, "b in sync");
    sync.destroy();
    b.stop();
    await s.close();
    const { records, validBytes } = decodeRoomFile(await readFile(file));
    assert.equal(validBytes, (await stat(file)).size);
    assert.equal(records[0].type, 1, "a snapshot first");
    assert.ok(validBytes < sum / 4, `${validBytes} bytes on disk for ${sum} bytes of updates`);

    s = await serve({ data: dir });
    const c = await client(url(), "compact-c");
    await waitFor(() => rows(c.db) === want, "c catches up from the compacted file");
    await waitFor(() => c.sync.status.synced, "c synced");
    // The relay still answers an old version (a peer from before the fold) correctly.
    const old = await CRDTDB.open("compact-old", { storage: "memory" });
    await old.table("t").set("k1", { v: "concurrent" });
    const oldSync = new WebSocketSync(old, { url: url(), WebSocket, warn: () => {} });
    leftovers.add(() => oldSync.destroy());
    await waitFor(() => old.table("t").entries().length === 10 && c.db.table("t").entries().length === 10, "the old peer merges");
    await waitFor(() => rows(old) === rows(c.db), "the old peer converges");
    oldSync.destroy();
    old.close();
    c.stop();
    a.close();
    await s.close();
    assert.deepEqual(s.logs, []);
  });
});

test("relay: an idle persisted room is unloaded, and reloads from its file, also while it unloads", async () => {
  await withDataDir(async (dir) => {
    const s = await serve({ data: dir, limits: { idleRoomMs: 20 } });
    const url = `${s.url}/sync/idle`;
    const a = await client(url, "idle-a");
    await a.db.table("t").set("k0", { v: 0 });
    const o = await client(url, "idle-o");
    await waitFor(() => o.db.table("t").get("k0")?.v === 0, "relayed");
    a.stop();
    o.stop();
    await waitFor(() => s.stats().rooms.relay === 0, "the room unloaded");
    // Connections that come and go around the unloading: every write stays.
    for (let i = 1; i <= 12; i++) {
      const c = await client(url, `idle-c${i}`);
      await waitFor(() => c.db.table("t").entries().length === i, `round ${i}: everything so far`);
      await c.db.table("t").set(`k${i}`, { v: i });
      const w = await client(url, `idle-w${i}`);
      await waitFor(() => w.db.table("t").get(`k${i}`)?.v === i, `round ${i}: relayed`);
      c.stop();
      w.stop();
      await sleep(i * 3); // (sometimes before, sometimes during, sometimes after the unload)
    }
    const last = await client(url, "idle-last");
    await waitFor(() => last.db.table("t").entries().length === 13, "all 13 rows");
    last.stop();
    await s.close();
    assert.deepEqual(s.logs, []);
  });
});

// ---------------------------------------------------------------------------------------------
// The room store

test("FileRoomStore: records round-trip; a release racing an append loses nothing; appends are batched", async () => {
  await withDataDir(async (dir) => {
    const store = new FileRoomStore(dir);
    assert.equal(store.persistent, true);
    assert.deepEqual(await store.load("r"), []);
    const rec = (/** @type {number} */ seq, /** @type {number} */ n) => ({ type: REC_ENTRY, seq, bytes: new Uint8Array(n).fill(seq) });
    await store.append("r", [rec(1, 10), rec(2, 0)]);
    await store.append("r", [rec(3, 5)]);
    assert.deepEqual((await store.load("r")).map((r) => [r.type, r.seq, r.bytes.length]), [[4, 1, 10], [4, 2, 0], [4, 3, 5]]);

    // The room is unloaded while a new instance of it already appends.
    const released = store.release("r");
    const appended = store.append("r", [rec(4, 3)]);
    await Promise.all([released, appended]);
    assert.deepEqual((await store.load("r")).map((r) => r.seq), [1, 2, 3, 4]);
    // A load waits for the room's pending writes.
    const pending = store.append("r", [rec(5, 1)]);
    assert.deepEqual((await store.load("r")).map((r) => r.seq), [1, 2, 3, 4, 5]);
    await pending;

    await store.rewrite("r", [{ type: REC_BASE, seq: 5, bytes: new Uint8Array([9]) }]);
    await store.append("r", [rec(6, 2)]);
    assert.deepEqual((await store.load("r")).map((r) => [r.type, r.seq]), [[3, 5], [4, 6]]);

    // Appends that come while a write is under way go out together, with one sync.
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe);
    await probe.close();
    const datasync = proto.datasync;
    let syncs = 0;
    proto.datasync = function (/** @type {any[]} */ ...args) {
      syncs++;
      return datasync.apply(this, args);
    };
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.append("batch", [rec(i + 1, 100)])));
    } finally {
      proto.datasync = datasync;
    }
    assert.deepEqual((await store.load("batch")).map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.ok(syncs < 10, `${syncs} syncs for 50 appends made at once`);
    await store.close();

    const mem = new MemoryRoomStore();
    assert.equal(mem.persistent, false);
    assert.deepEqual(await mem.load(), []);
  });
});

// ---------------------------------------------------------------------------------------------
// Sealed rooms (the server's side; the client's is tests/js/sealed_relay.test.js)

test("sealed room: raw protocol: resume, push, pushed, entries to live peers, ephemeral, refusals", async () => {
  const s = await serve({ limits: { maxRefused: 5 } });
  try {
    const url = `${s.url}/sync/ROOMID?sealed=1`;
    const a = await rawOpen(url);
    const b = await rawOpen(url);
    const decoded = (/** @type {ReturnType<typeof raw>} */ c) =>
      c.messages.map((m) => decodeRelayMessage(new Uint8Array(/** @type {Buffer} */ (m)), "relay"));
    a.send(relayMessage(RESUME, 0));
    await waitFor(() => decoded(a).length === 1, "a live");
    assert.equal(decoded(a)[0].type, LIVE);
    assert.equal(decoded(a)[0].seq, 0);
    const epoch = decoded(a)[0].epoch;
    assert.ok(Number.isSafeInteger(epoch) && epoch > 0);
    a.send(relayMessage(PUSH, undefined, new Uint8Array([1, 2, 3])));
    a.send(relayMessage(PUSH, undefined, new Uint8Array([4])));
    await waitFor(() => decoded(a).length === 3, "pushed twice");
    assert.deepEqual(decoded(a).slice(1).map((m) => [m.type, m.seq]), [[PUSHED, 1], [PUSHED, 2]]);
    // b is not live: it hears nothing until it resumes, then gets the backlog after its seq.
    await sleep(30);
    assert.equal(b.messages.length, 0);
    b.send(relayMessage(RESUME, 1, undefined, epoch));
    await waitFor(() => decoded(b).length === 2, "b's backlog");
    assert.deepEqual(decoded(b).map((m) => [m.type, m.seq, m.epoch, [...m.payload]]), [[ENTRY, 2, 0, [4]], [LIVE, 2, epoch, []]]);
    // Live now: a's next push reaches b; ephemeral payloads pass without a number.
    a.send(relayMessage(PUSH, undefined, new Uint8Array([5])));
    a.send(relayMessage(EPHEMERAL, undefined, new Uint8Array([6, 6])));
    await waitFor(() => decoded(b).length === 4, "b hears a");
    // (An entry goes out once stored, an ephemeral payload at once: in either order.)
    const heard = decoded(b).slice(2).map((m) => [m.type, m.seq, [...m.payload]]);
    assert.deepEqual(heard.sort((x, y) => x[0] - y[0]), [[ENTRY, 3, [5]], [PASS, -1, [6, 6]]]);
    // A snapshot from the future or the past is ignored; one covering seq 2 drops entries 1-2.
    b.send(relayMessage(SNAPSHOT, 99, new Uint8Array([7])));
    b.send(relayMessage(SNAPSHOT, 2, new Uint8Array([8, 8])));
    const c = await rawOpen(url);
    c.send(relayMessage(RESUME, 0));
    await waitFor(() => decoded(c).length === 3, "c's backlog");
    assert.deepEqual(decoded(c).map((m) => [m.type, m.seq, [...m.payload]]), [[0x21, 2, [8, 8]], [ENTRY, 3, [5]], [LIVE, 3, []]]);
    // A number from another epoch (a log that is gone) or from the future: everything.
    for (const [seq, ep] of [[3, epoch + 1], [3, 0], [9, epoch]]) {
      const e = await rawOpen(url);
      e.send(relayMessage(RESUME, seq, undefined, ep));
      await waitFor(() => decoded(e).length === 3, "everything");
      assert.deepEqual(decoded(e).map((m) => [m.type, m.seq]), [[0x21, 2], [ENTRY, 3], [LIVE, 3]]);
      e.ws.close();
    }
    // Refusals: a push before resuming, a relay→client type, empty payloads, trailing bytes.
    const d = await rawOpen(url);
    d.send(relayMessage(PUSH, undefined, new Uint8Array([1])));
    d.send(relayMessage(ENTRY, 1, new Uint8Array([1])));
    d.send(new Uint8Array([PUSH]));
    d.send(new Uint8Array([RESUME, 0, 1, 7]));
    d.send(new Uint8Array([RESUME, 0]));
    d.send("text");
    const closed = await d.done;
    assert.equal(/** @type {any} */ (closed).code, 1008);
    for (const x of [a, b, c]) {
      assert.equal(x.closed, null);
      x.ws.close();
    }
  } finally {
    await s.close();
  }
});

/** A persistent room store whose appends finish only when the test releases them, in order. */
function gatedStore() {
  /** @type {Array<() => void>} */
  const writes = [];
  const store = {
    persistent: true,
    load: async () => [],
    append: () => new Promise((resolve) => writes.push(() => resolve(undefined))),
    rewrite: async () => {},
    release: async () => {},
    close: async () => {},
  };
  return { store, writes };
}

test("sealed room: entries are announced only once the store holds them", async () => {
  const { store, writes } = gatedStore();
  const room = await SealedRoom.open("id", /** @type {any} */ (store), DEFAULT_LIMITS, () => {});
  /** @type {Array<{ type: number, seq: number }>} */
  const toA = [];
  /** @type {Array<{ type: number, seq: number }>} */
  const toB = [];
  const conn = (/** @type {typeof toA} */ out) => ({
    send: (/** @type {Uint8Array} */ b) => out.push(decodeRelayMessage(b, "relay")),
    close: () => {},
  });
  const a = room.add(conn(toA));
  const b = room.add(conn(toB));
  a(relayMessage(RESUME, 0));
  b(relayMessage(RESUME, 0));
  a(relayMessage(PUSH, undefined, new Uint8Array([1])));
  a(relayMessage(PUSH, undefined, new Uint8Array([2])));
  await sleep(10);
  // Not durable yet: no number given out, nothing passed on, and a newcomer is not told of it.
  assert.deepEqual(toA.map((m) => m.type), [LIVE]);
  assert.deepEqual(toB.map((m) => m.type), [LIVE]);
  /** @type {typeof toA} */
  const toC = [];
  const c = room.add(conn(toC));
  c(relayMessage(RESUME, 0));
  await sleep(10);
  assert.deepEqual(toC.map((m) => [m.type, m.seq]), [[LIVE, 0]]);
  writes.shift()?.();
  await sleep(10);
  assert.deepEqual(toA.map((m) => [m.type, m.seq]), [[LIVE, 0], [PUSHED, 1]]);
  assert.deepEqual(toB.map((m) => [m.type, m.seq]), [[LIVE, 0], [ENTRY, 1]]);
  assert.deepEqual(toC.map((m) => [m.type, m.seq]), [[LIVE, 0], [ENTRY, 1]]);
  writes.shift()?.();
  await sleep(10);
  assert.deepEqual(toB.map((m) => [m.type, m.seq]), [[LIVE, 0], [ENTRY, 1], [ENTRY, 2]]);
  assert.deepEqual(toA.map((m) => [m.type, m.seq]), [[LIVE, 0], [PUSHED, 1], [PUSHED, 2]]);
  await room.close(1001, "done");
});

/**
 * What a sealed room's file holds, opened with the password (as a client would).
 * @param {string} file
 * @param {string} room
 * @param {string} password
 */
async function sealedFileState(file, room, password) {
  const { key, id } = await roomKey(room, password);
  const db = await CRDTDB.open("sealed-file-reader", { storage: "memory" });
  try {
    for (const r of decodeRoomFile(await readFile(file)).records) {
      if (r.type !== REC_BASE && r.type !== REC_ENTRY) continue;
      const kind = r.type === REC_BASE ? `base\0${r.seq}` : "entry";
      const frame = decodeFrame(await unseal(key, r.bytes, `crdtdb relay\0${id}\0${kind}`));
      if (frame.type === 2) db.applyChanges(frame.bytes);
    }
    return db.table("t").entries();
  } finally {
    db.close();
  }
}

test("sealed room: a full log refuses a push until a snapshot made room, also with one client", async () => {
  await withDataDir(async (dir) => {
    const s = await serve({ data: dir, limits: { maxRoomBytes: 60_000 } });
    const url = `${s.url}/sync/full-room`;
    const a = await client(url, "full-a", { password: "full" });
    await waitFor(() => a.sync.status.synced, "a live");
    // Each write overwrites one row: the log grows past the limit, the state does not.
    // (At once: pushes in flight when one is refused.)
    await Promise.all(Array.from({ length: 8 }, (_, i) => a.db.table("t").set("k", { v: "y".repeat(10_000), i })));
    assert.equal(a.db.table("t").get("k")?.i, 7);
    // a alone: the relay asks it for a snapshot, then takes its pushes again.
    await waitForAsync(async () => {
      const files = await roomFiles(dir);
      if (files.length !== 1) return false;
      const state = await sealedFileState(files[0], "full-room", "full");
      return state.length === 1 && /** @type {any} */ (state[0])[1].i === 7;
    }, "the log holds the last write", 20_000);
    const [file] = await roomFiles(dir);
    // And a takes pushes again: its next write lands in the log too.
    await a.db.table("t").set("k", { v: "y".repeat(10_000), i: 8 });
    await waitForAsync(async () => /** @type {any} */ ((await sealedFileState(file, "full-room", "full"))[0])[1].i === 8, "a's next write in the log", 20_000);
    assert.ok((await stat(file)).size <= 60_000 + 1_000);
    a.stop();
    const b = await client(url, "full-b", { password: "full" });
    await waitFor(() => b.db.table("t").get("k")?.i === 8, "a late joiner gets the last write");
    // Two clients: a push that does not fit makes the relay ask the other one for a snapshot.
    const c = await client(url, "full-c", { password: "full" });
    await waitFor(() => c.sync.status.synced && c.db.table("t").get("k")?.i === 8, "c live");
    for (let i = 9; i < 16; i++) {
      await b.db.table("t").set("k", { v: "z".repeat(10_000), i });
      await waitFor(() => c.db.table("t").get("k")?.i === i, `c gets b's write ${i}`, 20_000);
    }
    await waitForAsync(async () => {
      const state = await sealedFileState(file, "full-room", "full");
      return /** @type {any} */ (state[0])[1].i === 15;
    }, "the log holds b's last write");
    assert.ok((await stat(file)).size <= 60_000 + 1_000);
    b.stop();
    c.stop();
    await s.close();
  });
});

test("sealed room: a refused push is answered after the pushes before it, which the snapshot then covers", async () => {
  const { store, writes } = gatedStore();
  const room = await SealedRoom.open("id", /** @type {any} */ (store), { ...DEFAULT_LIMITS, maxRoomBytes: 250 }, () => {});
  /** @type {Array<[number, number]>} */
  const toA = [];
  /** @type {string[]} */
  const closes = [];
  const a = room.add({
    send: (b) => {
      const m = decodeRelayMessage(b, "relay");
      toA.push([m.type, m.seq]);
    },
    close: (code, reason) => closes.push(`${code} ${reason}`),
  });
  a(relayMessage(RESUME, 0));
  for (let i = 0; i < 3; i++) a(relayMessage(PUSH, undefined, new Uint8Array(80)));
  a(relayMessage(PUSH, undefined, new Uint8Array(80))); // 320 > 250: refused
  a(relayMessage(PUSH, undefined, new Uint8Array(10))); // after a refusal: not taken either
  await sleep(10);
  assert.deepEqual(toA, [[LIVE, 0]]);
  assert.deepEqual(closes, []);
  for (const w of writes.splice(0)) w();
  await sleep(10);
  // Its three pushes numbered first, then it is asked (alone) for a snapshot covering them.
  assert.deepEqual(toA, [[LIVE, 0], [PUSHED, 1], [PUSHED, 2], [PUSHED, 3], [0x24, 3]]);
  assert.deepEqual(closes, []);
  assert.equal(room.head, 3);
  a(relayMessage(SNAPSHOT, 3, new Uint8Array(20)));
  await sleep(10);
  assert.deepEqual(closes, ["4413 room was full: push again"]);
  assert.equal(room.bytes, 20);
  await room.close(1001, "done");
});

// ---------------------------------------------------------------------------------------------
// Hostile input

test("fuzzed frames on every endpoint: the server survives and well-behaved clients still sync", async () => {
  const s = await serve({ limits: { maxMessageBytes: 256 * 1024 } });
  const r = rng(20260101);
  try {
    // Valid frames to damage.
    const db = await CRDTDB.open("fuzz-src", { storage: "memory" });
    for (let i = 0; i < 5; i++) await db.table("t").set(`k${i}`, { v: i, s: "abc" });
    const snapshot = db.changesSince();
    const plainFrames = [
      helloFrame(1, db.version()),
      helloFrame(2, new Uint8Array(0)),
      changesFrame(snapshot),
      ackFrame(db.version()),
      presenceFrame([{ peer: "fuzz", clock: 5, state: { x: 1 } }]),
      partFrame(snapshot.length + 1, 0, changesFrame(snapshot).subarray(0, 10)),
      byeFrame(),
    ];
    const sealedFrames = [
      relayMessage(RESUME, 0),
      relayMessage(PUSH, undefined, randomBytes(40)),
      relayMessage(SNAPSHOT, 1, randomBytes(30)),
      relayMessage(EPHEMERAL, undefined, randomBytes(20)),
    ];
    const enc = new TextEncoder();
    const signalFrames = [
      JSON.stringify({ type: "join", room: "fz", peer: "p" }),
      JSON.stringify({ type: "signal", to: "p", data: { a: [1, 2] } }),
      JSON.stringify({ type: "ping" }),
    ].map((t) => enc.encode(t));
    /** @param {Uint8Array[]} valid */
    const mutate = (valid) => {
      const base = valid[r.int(valid.length)];
      switch (r.int(5)) {
        case 0:
          return r.bytes(r.int(64));
        case 1:
          return base.slice(0, r.int(base.length + 1));
        case 2: {
          const out = base.slice();
          for (let i = 1 + r.int(4); i > 0 && out.length > 0; i--) out[r.int(out.length)] ^= 1 << r.int(8);
          return out;
        }
        case 3: {
          const out = new Uint8Array(base.length + 1 + r.int(16));
          out.set(base);
          out.set(r.bytes(out.length - base.length), base.length);
          return out;
        }
        default:
          return base;
      }
    };
    let opened = 0;
    /** @param {string} url @param {Uint8Array[]} valid @param {boolean} text */
    const barrage = async (url, valid, text) => {
      let c = await rawOpen(url);
      opened++;
      for (let i = 0; i < 300; i++) {
        if (c.closed !== null || c.ws.readyState !== WebSocket.OPEN) {
          c = await rawOpen(url);
          opened++;
        }
        const m = mutate(valid);
        if (text && r.int(2) === 0) c.ws.send(Buffer.from(m).toString("latin1"));
        else c.ws.send(m);
        if (i % 25 === 0) await sleep(1);
      }
      await sleep(20);
      c.ws.close();
      await c.done;
    };
    await barrage(`${s.url}/sync/x?peer=fuzzer`, plainFrames, false);
    await barrage(`${s.url}/sync/x`, plainFrames, false);
    await barrage(`${s.url}/sync/y?sealed=1`, sealedFrames, false);
    await barrage(`${s.url}/`, signalFrames, true);
    assert.ok(opened >= 4);
    db.close();

    const h = await healthz(s.http);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, "ok");
    await waitFor(() => s.stats().connections === 0, "fuzz connections closed");
    // The fuzzed plain room still syncs two well-behaved clients, and so does a fresh one.
    for (const room of ["x", "fresh"]) {
      const a = await client(`${s.url}/sync/${room}`, `after-fuzz-a-${room}`);
      const b = await client(`${s.url}/sync/${room}`, `after-fuzz-b-${room}`);
      await a.db.table("t").set("ka", { v: 1 });
      await b.db.table("t").set("kb", { v: 2 });
      await waitFor(() => rows(a.db) === rows(b.db) && b.db.table("t").get("ka")?.v === 1 && a.db.table("t").get("kb")?.v === 2, `clients converge in ${room}`);
      a.stop();
      b.stop();
    }
    // Signaling still works.
    const sig = await rawOpen(s.url);
    sig.send({ type: "join", room: "after-fuzz", peer: "q" });
    await waitFor(() => sig.json().length === 1, "welcome after the fuzz");
    assert.equal(sig.json()[0].type, "welcome");
    sig.ws.close();
  } finally {
    await s.close();
  }
});

test("maxMessageBytes: a larger relay message (maxSignalBytes: signaling message) closes the connection with 1009; so does early data", async () => {
  const s = await serve({ limits: { maxMessageBytes: 4096, maxSignalBytes: 4096 } });
  try {
    for (const path of ["/sync/big", "/sync/big?sealed=1", "/"]) {
      const c = await rawOpen(`${s.url}${path}`);
      c.ws.send(new Uint8Array(5000));
      const closed = await c.done;
      assert.equal(/** @type {any} */ (closed).code, 1009, path);
    }
    // At the limit is fine.
    const c = await rawOpen(`${s.url}/sync/big?sealed=1`);
    c.ws.send(relayMessage(RESUME, 0));
    c.ws.send(relayMessage(PUSH, undefined, new Uint8Array(4095)));
    await waitFor(() => c.messages.length === 2, "live and pushed");
    assert.equal(decodeRelayMessage(new Uint8Array(/** @type {Buffer} */ (c.messages[1])), "relay").type, PUSHED);
    c.ws.close();
    await c.done;
    const h = await healthz(s.http);
    assert.equal(h.status, 200);
  } finally {
    await s.close();
  }
});

test("connections and peers per room are capped", async () => {
  const s = await serve({ limits: { maxPeersPerRoom: 2, maxConnections: 3 } });
  try {
    const a = await rawOpen(`${s.url}/sync/cap?peer=a`);
    const b = await rawOpen(`${s.url}/sync/cap?peer=b`);
    const c = await rawOpen(`${s.url}/sync/cap?peer=c`);
    const closed = await c.done;
    assert.equal(/** @type {any} */ (closed).code, 1013);
    assert.match(/** @type {any} */ (closed).reason, /room is full/);
    await waitFor(() => s.stats().connections === 2, "c gone");
    const other = await rawOpen(`${s.url}/sync/cap-2?peer=c`);
    await assert.rejects(raw(`${s.url}/sync/cap-3`).opened, (/** @type {any} */ e) => e.status === 503);
    await assert.rejects(raw(`${s.url}/`).opened, (/** @type {any} */ e) => e.status === 503);
    for (const x of [a, b, other]) x.ws.close();
    await waitFor(() => s.stats().connections === 0, "all gone");
    const d = await rawOpen(`${s.url}/sync/cap-3`);
    d.ws.close();
  } finally {
    await s.close();
  }
  const few = await serve({ limits: { maxRooms: 1 } });
  try {
    const a = await rawOpen(`${few.url}/sync/one`);
    const b = await rawOpen(`${few.url}/sync/two`);
    const closed = await b.done;
    assert.equal(/** @type {any} */ (closed).code, 1011);
    assert.match(few.logs.join("\n"), /too many rooms/);
    a.ws.close();
    await a.done;
    // Once no one is in it, the room makes way for a new one (short connections to random
    // rooms cannot fill the server for good).
    const c = await rawOpen(`${few.url}/sync/three`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.closed, null);
    assert.equal(few.stats().rooms.relay, 1);
    c.ws.close();
  } finally {
    await few.close();
  }
});

test("close() closes every connection with 1001, waits for writes, and stops listening", async () => {
  await withDataDir(async (dir) => {
    const s = await serve({ data: dir });
    const a = await client(`${s.url}/sync/closing`, "closing-a");
    const b = await client(`${s.url}/sync/closing`, "closing-b");
    /** @type {Array<{ connected: boolean, synced: boolean }>} */
    const statuses = [];
    a.sync.on("status", (st) => statuses.push(st));
    await a.db.table("t").set("k", { v: 1 });
    await waitFor(() => b.db.table("t").get("k")?.v === 1, "relayed");
    const sig = await rawOpen(s.url);
    const rel = await rawOpen(`${s.url}/sync/closing-raw?sealed=1`);
    // A client that never answers the close handshake: a bare socket after the upgrade.
    const sock = netConnect(s.port, "127.0.0.1");
    await new Promise((resolve) => sock.once("connect", resolve));
    sock.write(
      `GET /sync/bare HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    sock.on("data", () => {});
    sock.on("error", () => {});
    const sockClosed = new Promise((resolve) => sock.once("close", resolve));
    await waitFor(() => s.stats().connections === 5, "five connections");
    await s.close();
    assert.equal(/** @type {any} */ (await sig.done).code, 1001);
    assert.equal(/** @type {any} */ (await rel.done).code, 1001);
    await sockClosed;
    await waitFor(() => !a.sync.status.connected && !b.sync.status.connected, "clients see the close");
    assert.deepEqual(statuses.at(-1), { connected: false, synced: false });
    await assert.rejects(fetch(`${s.http}/healthz`));
    await s.close(); // again: nothing
    a.stop();
    b.stop();
    // What was written is on disk.
    const [file] = await roomFiles(dir);
    assert.ok(decodeRoomFile(await readFile(file)).records.length >= 1);
  });
});

// ---------------------------------------------------------------------------------------------
// The CLI

/** @param {string[]} args */
function cli(args) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

test("the CLI: listens, serves /healthz, and exits 0 on SIGTERM and SIGINT", async () => {
  await withDataDir(async (dir) => {
    for (const sig of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
      const p = cli(["--port", "0", "--data", dir, "--max-peers-per-room", "5"]);
      try {
        await waitFor(() => /listening on ws:\/\/127\.0\.0\.1:\d+/.test(p.out), "the listening line");
        const port = Number(/listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(p.out)?.[1]);
        const h = await healthz(`http://127.0.0.1:${port}`);
        assert.equal(h.status, 200);
        assert.equal(h.body.status, "ok");
        assert.match(p.out, new RegExp(`persisted in ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
        // A client connected while it stops is closed with 1001.
        const c = await rawOpen(`ws://127.0.0.1:${port}/sync/cli-room`);
        p.child.kill(sig);
        assert.deepEqual(await p.exited, { code: 0, signal: null });
        assert.equal(/** @type {any} */ (await c.done).code, 1001);
        assert.match(p.out, new RegExp(`${sig}, shutting down`));
      } finally {
        p.child.kill("SIGKILL");
      }
    }
  });
});

test("the CLI: --help exits 0; bad flags and values exit 2 with the usage", async () => {
  const help = cli(["--help"]);
  assert.deepEqual(await help.exited, { code: 0, signal: null });
  assert.match(help.out, /usage: crdtdb-server/);
  assert.match(help.out, /--max-message-bytes/);
  const h = cli(["-h"]);
  assert.deepEqual(await h.exited, { code: 0, signal: null });
  for (const args of [["--bogus"], ["--port", "abc"], ["--port", "-1"], ["--port", ""], ["--port", "70000"], ["--max-rooms", "0"], ["--max-message-bytes", "1.5"], ["stray"]]) {
    const p = cli(args);
    assert.deepEqual(await p.exited, { code: 2, signal: null }, args.join(" "));
    assert.match(p.err, /usage: crdtdb-server/, args.join(" "));
    assert.equal(p.out, "");
  }
});
