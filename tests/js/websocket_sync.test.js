// WebSocketSync (js/sync/websocket.js) against crdtdb-server on loopback: option validation,
// status events, reconnecting to a restarted relay and resuming (writes made while
// disconnected arrive), presence through the relay with and without a password, a newer
// connection of the same peer replacing an older one, and destroy() stopping for good.
// Sealed-room specifics (what the relay sees, snapshots, resuming from numbers) are in
// tests/js/sealed_relay.test.js.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CRDTDB, WebSocketSync } from "crdtdb";
import { WebSocket } from "ws";
import { Backoff } from "../../js/sync/backoff.js";
import { startServer } from "../../js/server/server.js";
import { leftovers, rows, serve, sleep, waitFor, wsClient } from "./server_helpers.js";

/** A WebSocket class that counts the connections made with it. */
function countingWebSocket() {
  /** @type {WebSocket[]} */
  const made = [];
  class Counting extends WebSocket {
    /** @param {string} url */
    constructor(url) {
      super(url);
      made.push(this);
    }
  }
  return { Counting, made };
}

const client = wsClient;

test("options are checked: TypeErrors that name the problem, and nothing starts", async () => {
  const db = await CRDTDB.open("ws-options", { storage: "memory" });
  const { Counting, made } = countingWebSocket();
  /** @type {Array<[any, RegExp]>} */
  const cases = [
    [undefined, /needs options with a url/],
    [null, /needs options with a url/],
    [{ WebSocket: Counting }, /url must be a ws:\/\/ or wss:\/\/ URL, got undefined/],
    [{ url: "not a url", WebSocket: Counting }, /url must be a ws:\/\/ or wss:\/\/ URL, got not a url/],
    [{ url: "http://127.0.0.1:1/sync/r", WebSocket: Counting }, /url must be a ws:\/\/ or wss:\/\/ URL/],
    [{ url: "ws://127.0.0.1:1", WebSocket: Counting }, /url must end with the room, as in ws:\/\/host:4444\/sync\/ROOM/],
    [{ url: "ws://127.0.0.1:1/sync/", WebSocket: Counting }, /url must end with the room/],
    [{ url: "ws://127.0.0.1:1/sync/%E0%A4%A", WebSocket: Counting }, /url must end with the room/],
    [{ url: "ws://127.0.0.1:1/sync/r" }, /needs WebSocket: Node 22\+, Node 20 with --experimental-websocket, or pass \{ WebSocket \}/],
    [{ url: "ws://127.0.0.1:1/sync/r", WebSocket: {} }, /needs WebSocket/],
    [{ url: "ws://127.0.0.1:1/sync/r", WebSocket: Counting, password: "" }, /password must be a non-empty string/],
    [{ url: "ws://127.0.0.1:1/sync/r", WebSocket: Counting, password: 42 }, /password must be a non-empty string/],
    [{ url: "ws://127.0.0.1:1/sync/r", WebSocket: Counting, warn: "loud" }, /warn must be a function/],
    [{ url: "ws://127.0.0.1:1/sync/r", WebSocket: Counting, maxMessageBytes: 5 }, /maxMessageBytes must be an integer of at least 1024/],
  ];
  if (typeof globalThis.WebSocket === "function") cases.splice(8, 1); // (Node 22+: there is one)
  for (const [opts, message] of cases) {
    assert.throws(() => new WebSocketSync(db, opts), (/** @type {any} */ e) => e instanceof TypeError && message.test(e.message), JSON.stringify(opts));
  }
  assert.throws(() => new WebSocketSync(/** @type {any} */ ({}), { url: "ws://127.0.0.1:1/sync/r", WebSocket: Counting }), TypeError);
  // Nothing was connected, and no listener was left on the database.
  await sleep(20);
  assert.equal(made.length, 0);
  // The room is the URL's last segment, decoded.
  const ok = new WebSocketSync(db, { url: "ws://127.0.0.1:9/sync/caf%C3%A9%20room?x=1", WebSocket: Counting, warn: () => {} });
  assert.equal(ok.room, "café room");
  ok.destroy();
  db.close();
});

test("status: connected, then synced; a relay gone is disconnected; a reconnect resumes and carries offline writes", async () => {
  let s = await serve();
  const port = s.port;
  const url = `${s.url}/sync/reconnect`;
  const a = await client(url);
  const b = await client(url);
  /** @type {Array<{ connected: boolean, synced: boolean }>} */
  const statuses = [];
  a.sync.on("status", (st) => statuses.push(st));
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both synced");
  assert.deepEqual(statuses, [
    { connected: true, synced: false },
    { connected: true, synced: true },
  ]);
  await a.db.table("t").set("online", { v: 1 });
  await waitFor(() => b.db.table("t").get("online")?.v === 1, "relayed");

  // The relay goes away (in memory: everything it held is lost).
  await s.close();
  await waitFor(() => !a.sync.status.connected && !b.sync.status.connected, "both see it gone");
  assert.deepEqual(statuses.at(-1), { connected: false, synced: false });
  assert.deepEqual(a.sync.peers, []);
  await a.db.table("t").set("offline-a", { v: 2 });
  await b.db.table("t").set("offline-b", { v: 3 });
  await sleep(300); // a few failed attempts
  assert.equal(a.db.table("t").get("offline-b"), undefined);

  s = await serve({ port });
  await waitFor(() => a.sync.status.synced && b.sync.status.synced, "both back and synced", 20_000);
  await waitFor(() => rows(a.db) === rows(b.db) && a.db.table("t").entries().length === 3, "offline writes arrive");
  assert.deepEqual(statuses.at(-1), { connected: true, synced: true });
  assert.ok(statuses.filter((st) => st.connected && !st.synced).length >= 2, "connected again before synced");
  // The restarted relay has everything again: a late joiner gets it with a and b gone.
  const want = rows(a.db);
  a.stop();
  b.stop();
  const c = await client(url);
  await waitFor(() => rows(c.db) === want, "a late joiner after the restart");
  for (const x of [a, b, c]) assert.deepEqual(x.warnings, []);
  c.stop();
  await s.close();
});

test("a relay that is not there yet: the client keeps trying with backoff and connects once it is", async () => {
  const probe = await serve();
  const port = probe.port;
  await probe.close();
  const { Counting, made } = countingWebSocket();
  const a = await client(`ws://127.0.0.1:${port}/sync/later`, { WebSocket: Counting });
  await a.db.table("t").set("k", { v: 1 });
  await waitFor(() => made.length >= 2, "a second attempt");
  assert.equal(a.sync.status.connected, false);
  const s = await serve({ port });
  const b = await client(`${s.url}/sync/later`);
  await waitFor(() => b.db.table("t").get("k")?.v === 1, "a's write arrives once the relay is up", 20_000);
  a.stop();
  b.stop();
  await s.close();
  // The delays: between half and all of min·2^n, capped at max; a reset starts again.
  const back = new Backoff({ min: 100, max: 1000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => back.next()), [100, 200, 400, 800, 1000, 1000]);
  back.reset();
  assert.equal(back.next(), 100);
  const low = new Backoff({ min: 100, max: 1000, random: () => 0 });
  assert.deepEqual([low.next(), low.next()], [50, 100]);
  const dflt = new Backoff();
  for (let i = 0; i < 40; i++) {
    const d = dflt.next();
    assert.ok(d >= 125 && d <= 30_000, `${d}`);
  }
});

test("destroy() stops reconnecting, and closes the connection", async () => {
  const s = await serve();
  const { Counting, made } = countingWebSocket();
  const a = await client(`${s.url}/sync/destroy`, { WebSocket: Counting });
  await waitFor(() => a.sync.status.synced, "synced");
  assert.equal(made.length, 1);
  const port = s.port;
  await s.close();
  await waitFor(() => made.length >= 2, "a reconnect attempt");
  a.sync.destroy();
  assert.equal(a.sync.destroyed, true);
  assert.deepEqual(a.sync.status, { connected: false, synced: false });
  const attempts = made.length;
  // A relay comes back: the destroyed provider does not connect to it.
  const again = await serve({ port });
  await sleep(1000); // (longer than the next delay would have been)
  assert.equal(made.length, attempts);
  assert.equal(again.stats().connections, 0);
  a.sync.destroy(); // again: nothing
  // A provider destroyed while connected closes its connection.
  const b = await client(`${again.url}/sync/destroy`);
  await waitFor(() => b.sync.status.synced, "b synced");
  assert.equal(again.stats().connections, 1);
  b.sync.destroy();
  await waitFor(() => again.stats().connections === 0, "b's connection closed");
  // Closing the database destroys the provider too.
  const c = await client(`${again.url}/sync/destroy`);
  await waitFor(() => c.sync.status.synced, "c synced");
  c.db.close();
  await waitFor(() => c.sync.destroyed, "c destroyed with its database", 5_000);
  await waitFor(() => again.stats().connections === 0, "c's connection closed");
  b.db.close();
  a.db.close();
  await again.close();
});

test("a newer connection of the same peer replaces the older one, which does not reconnect", async () => {
  const s = await serve();
  const url = `${s.url}/sync/same-peer`;
  const db = await CRDTDB.open("same-peer", { storage: "memory" });
  /** @type {string[]} */
  const w1 = [];
  const { Counting, made } = countingWebSocket();
  const first = new WebSocketSync(db, { url, WebSocket: Counting, warn: (m) => w1.push(m) });
  leftovers.add(() => first.destroy());
  await waitFor(() => first.status.synced, "first synced");
  // The same database again (a reload whose old page has not gone yet).
  const second = new WebSocketSync(db, { url, WebSocket, warn: () => {} });
  leftovers.add(() => second.destroy());
  await waitFor(() => second.status.synced, "second synced");
  await waitFor(() => !first.status.connected, "the first one closed");
  assert.match(w1.join("\n"), /another one of the same peer id replaced it/);
  await sleep(700);
  assert.equal(made.length, 1, "the replaced one did not reconnect");
  assert.equal(s.stats().connections, 1);
  // The room still works through the second.
  const other = await client(url);
  await db.table("t").set("k", { v: 1 });
  await waitFor(() => other.db.table("t").get("k")?.v === 1, "through the second connection");
  await other.db.table("t").set("back", { v: 2 });
  await waitFor(() => db.table("t").get("back")?.v === 2, "back through the second connection");
  first.destroy();
  second.destroy();
  other.stop();
  db.close();
  await s.close();
});

for (const password of [undefined, "presence-pw"]) {
  test(`presence through the relay${password ? " with a password" : ""}: a late joiner sees the others at once; a leave arrives`, async () => {
    const s = await serve();
    const url = `${s.url}/sync/presence-room`;
    const a = await client(url, { password });
    const b = await client(url, { password });
    await waitFor(() => a.sync.status.synced && b.sync.status.synced, "a and b synced");
    a.db.presence.set({ name: "alice" });
    await waitFor(() => b.db.presence.getAll().get(a.db.peerId)?.name === "alice", "b sees alice");
    b.db.presence.set({ name: "bob" });
    await waitFor(() => a.db.presence.getAll().get(b.db.peerId)?.name === "bob", "a sees bob");
    // A latecomer hears who is here well before their next heartbeat (10 s)...
    const c = await client(url, { password });
    await waitFor(
      () => c.db.presence.getAll().get(a.db.peerId)?.name === "alice" && c.db.presence.getAll().get(b.db.peerId)?.name === "bob",
      "c sees alice and bob",
      4_000,
    );
    // ...even one that sets no state itself; and the others hear its state once it sets one.
    c.db.presence.set({ name: "carol" });
    await waitFor(() => a.db.presence.getAll().get(c.db.peerId)?.name === "carol" && b.db.presence.getAll().get(c.db.peerId)?.name === "carol", "carol seen");
    // A state set before connecting is heard when the client connects.
    const d = await client(url, { password });
    d.db.presence.set({ name: "dave" });
    await waitFor(() => a.db.presence.getAll().get(d.db.peerId)?.name === "dave", "dave seen", 4_000);
    // Leaving: the others drop the state at once.
    b.sync.destroy();
    await waitFor(() => !a.db.presence.getAll().has(b.db.peerId) && !c.db.presence.getAll().has(b.db.peerId), "bob's leave");
    assert.deepEqual([...a.db.presence.getAll().keys()].sort(), [a.db.peerId, c.db.peerId, d.db.peerId].sort());
    for (const x of [a, b, c, d]) {
      assert.deepEqual(x.warnings, []);
      x.stop();
    }
    await s.close();
  });
}

test("sealed and plain rooms of one name are separate; password clients never reach the plain room", async () => {
  const s = await serve();
  const url = `${s.url}/sync/shared-name`;
  const plain = await client(url);
  const sealed = await client(url, { password: "pw" });
  await plain.db.table("t").set("plain", { v: 1 });
  await sealed.db.table("t").set("sealed", { v: 2 });
  const plain2 = await client(url);
  const sealed2 = await client(url, { password: "pw" });
  await waitFor(() => plain2.db.table("t").get("plain")?.v === 1 && sealed2.db.table("t").get("sealed")?.v === 2, "each room syncs");
  await sleep(100);
  assert.equal(plain2.db.table("t").get("sealed"), undefined);
  assert.equal(sealed2.db.table("t").get("plain"), undefined);
  assert.equal(s.stats().rooms.relay, 2);
  for (const x of [plain, sealed, plain2, sealed2]) x.stop();
  await s.close();
});

test("a database closed while the provider reconnects destroys it, without throwing from a socket event", async () => {
  /** @type {unknown[]} */
  const uncaught = [];
  const onUncaught = (/** @type {unknown} */ e) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  try {
    let s = await startServer({ port: 0, log: () => {} });
    const port = s.port;
    const db = await CRDTDB.open("ws-close-reconnect", { storage: "memory" });
    const sync = new WebSocketSync(db, { url: `${s.url}/sync/closing`, WebSocket, warn: () => {} });
    await waitFor(() => sync.status.synced, "synced");
    await s.close();
    await waitFor(() => !sync.status.connected, "disconnected");
    db.close();
    s = await startServer({ port, log: () => {} });
    await waitFor(() => sync.destroyed, "the provider to stop once it finds the database closed");
    await sleep(300);
    await s.close();
    assert.deepEqual(uncaught, []);
  } finally {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
  }
});

test("db.close() stops its providers at once: the relay sees the connection go", async () => {
  const s = await startServer({ port: 0, log: () => {} });
  try {
    const db = await CRDTDB.open("ws-close-now", { storage: "memory" });
    const sync = new WebSocketSync(db, { url: `${s.url}/sync/close-now`, WebSocket, warn: () => {} });
    /** @type {Array<{ connected: boolean, synced: boolean }>} */
    const statuses = [];
    sync.on("status", (st) => statuses.push(st));
    await waitFor(() => sync.status.synced && s.stats().connections === 1, "synced");
    db.close();
    assert.equal(sync.destroyed, true);
    assert.deepEqual(sync.status, { connected: false, synced: false });
    assert.deepEqual(statuses.at(-1), { connected: false, synced: false });
    await waitFor(() => s.stats().connections === 0, "the relay to see the connection closed");
  } finally {
    await s.close();
  }
});

test("a relay URL that is refused (404) is reported, not retried silently", async () => {
  const s = await startServer({ port: 0, log: () => {} });
  /** @type {string[]} */
  const warnings = [];
  const db = await CRDTDB.open("ws-404", { storage: "memory" });
  try {
    const sync = new WebSocketSync(db, { url: `${s.url}/not-sync/here`, WebSocket, warn: (m) => warnings.push(m) });
    await waitFor(() => warnings.some((w) => /cannot connect to .*\/not-sync\/here/.test(w)), "a warning naming the URL");
    assert.equal(sync.status.connected, false);
    sync.destroy();
  } finally {
    db.close();
    await s.close();
  }
});
