// Network sync in real Chromium: WebRTCSync between two browser processes (signaled by
// crdtdb-server), with and without a room password, across a dropped link, a restarted
// provider, a crashed and reopened page and a restarted signaling server, over a partial mesh
// (maxConns 1), and WebSocketSync through the relay to a peer that comes after the writer left.
//
// WebRTC traffic must never leave this machine: the file re-runs itself inside a private
// network namespace (`unshare -n`, as root, shared/docs/toolchain.md), where the only
// addresses are loopback and a veth pair; inside, CRDTDB_NETNS is set and the real tests run.
// A failure reports each page's state and its last data-channel frames (DEBUG_RTC=1: all).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer as startCrdtdbServer } from "../../js/server/server.js";
import { startServer as startStatic } from "../../scripts/serve.mjs";
import { LAUNCH, MOUNTS, netnsSettled, runInNetns } from "./harness.js";

if (process.env.CRDTDB_NETNS !== "1") {
  test("WebRTC and relay sync in Chromium (inside a private network namespace)", async (t) => {
    const r = await runInNetns(fileURLToPath(import.meta.url), { timeoutMs: 150_000 });
    // The inner run's summary (TAP): each test's result, the connection times, the counts.
    for (const raw of r.output.split("\n")) {
      const line = raw.trim().replace(/^# (\\# )?/, "");
      if (/^(not )?ok \d|^(tests|pass|fail|duration_ms) \d|^connect ms/.test(line)) t.diagnostic(`netns: ${line}`);
    }
    assert.ok(!r.timedOut, `the namespaced run timed out:\n${r.output}`);
    assert.equal(r.code, 0, `the namespaced run failed (exit ${r.code}, signal ${r.signal}):\n${r.output}`);
  });
} else {
  /** @type {Awaited<ReturnType<typeof startStatic>>} */
  let web;
  /** @type {Awaited<ReturnType<typeof startCrdtdbServer>>} */
  let server;
  /** Two browser processes. @type {import("playwright-core").Browser[]} */
  let browsers = [];
  /** @type {string[]} */
  const serverLog = [];
  /** Connection times seen (ms from RTCPeerConnection to "connected"). @type {number[]} */
  const connectTimes = [];

  before(async () => {
    // The veth's IPv6 link-local addresses finish duplicate address detection a second or
    // two after the namespace is made; Chromium takes that for a network change and fails
    // the requests in flight (net::ERR_NETWORK_CHANGED). Start once the addresses settled.
    await netnsSettled();
    web = await startStatic({ port: 0, mounts: MOUNTS });
    server = await startCrdtdbServer({ port: 0, log: (m) => serverLog.push(m) });
    browsers = await Promise.all([chromium.launch(LAUNCH), chromium.launch(LAUNCH)]);
  });

  after(async () => {
    if (connectTimes.length > 0) {
      const sorted = [...connectTimes].sort((a, b) => a - b);
      console.log(`# connect ms: n ${sorted.length}, min ${sorted[0]}, median ${sorted[sorted.length >> 1]}, max ${sorted[sorted.length - 1]}`);
    }
    await Promise.allSettled(browsers.map((b) => b.close()));
    await server?.close();
    await web?.close();
  });

  const signaling = () => server.url;

  /**
   * A page with an open database, in a fresh context of `browser` (or in `context`).
   * @param {import("playwright-core").Browser | import("playwright-core").BrowserContext} where
   * @param {"memory" | "indexeddb"} storage
   * @param {string} name
   */
  async function peer(where, storage = "memory", name = "db") {
    const context = "newContext" in where ? await where.newContext() : where;
    const page = await context.newPage();
    /** @type {string[]} */
    const problems = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    const pending = new Set();
    page.on("request", (r) => pending.add(r.url()));
    page.on("requestfinished", (r) => pending.delete(r.url()));
    page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
    });
    await page.goto(`${web.url}e2e/webrtc.html`);
    await page.waitForFunction(() => "pageReady" in window, null, { timeout: 20_000 }).catch((err) => {
      throw new Error(`the page did not load: ${err.message}; problems ${JSON.stringify(problems)}; requests pending ${JSON.stringify([...pending])}`);
    });
    const id = await page.evaluate(([n, s]) => /** @type {any} */ (window).openDb(n, s), [name, storage]);
    /** @param {string} fn @param {unknown[]} args */
    const call = (fn, ...args) => page.evaluate(([f, a]) => /** @type {any} */ (window)[/** @type {string} */ (f)](.../** @type {unknown[]} */ (a)), [fn, args]);
    return {
      id,
      page,
      context,
      problems,
      call,
      /** @param {Record<string, unknown>} opts */
      rtc: (opts) => call("startRTC", { signaling: signaling(), ...opts }),
      write: (/** @type {string} */ tag, /** @type {number} */ n) => call("writeRows", tag, n),
      /** @returns {Promise<{ peerId: string, rows: [string, any][], version: number[], peers: string[], status: { connected: boolean, synced: boolean }, presence: Record<string, any> }>} */
      snap: () => /** @type {any} */ (call("snapshot")),
      /** @returns {Promise<{ pcs: number, connected: number, connectMs: number[], channelsOpened: number, states: string[], warnings: string[] }>} */
      stats: () => /** @type {any} */ (call("stats")),
    };
  }

  /** @typedef {Awaited<ReturnType<typeof peer>>} Peer */

  /**
   * Polls `check` until it returns a truthy value; throws with `describe()` after the deadline.
   * @template T
   * @param {() => Promise<T>} check
   * @param {() => Promise<unknown> | unknown} describe
   * @param {number} [ms]
   * @returns {Promise<T>}
   */
  async function until(check, describe, ms = 20_000) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(await describe(), null, 1).slice(0, process.env.DEBUG_RTC ? 200_000 : 20_000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const keys = (/** @type {[string, any][]} */ rows) => rows.map(([k]) => k).sort();

  /**
   * Waits until every peer shows the same rows (`count` of them), is synced and lists
   * `minPeers` peers at least.
   * @param {Peer[]} peers
   * @param {number} count
   * @param {{ minPeers?: number, presence?: boolean }} [opts] presence: each sees every other's
   */
  async function converged(peers, count, { minPeers = 1, presence = false } = {}) {
    /** @type {Awaited<ReturnType<Peer["snap"]>>[]} */
    let snaps = [];
    await until(
      async () => {
        snaps = await Promise.all(peers.map((p) => p.snap()));
        const first = JSON.stringify(snaps[0].rows);
        return snaps.every(
          (s) =>
            s.rows.length === count &&
            JSON.stringify(s.rows) === first &&
            s.status.synced &&
            s.peers.length >= minPeers &&
            (!presence || peers.every((p) => p.id === s.peerId || s.presence[p.id] !== undefined)),
        );
      },
      async () => ({
        snaps: snaps.map((s) => ({ id: s.peerId, rows: s.rows.length, peers: s.peers, status: s.status, presence: Object.keys(s.presence), sessions: /** @type {any} */ (s).sessions })),
        // The last frames each peer sent and received on data channels (all with DEBUG_RTC=1).
        trail: await Promise.all(peers.map(async (p) => /** @type {string[]} */ (await p.call("trail")).slice(process.env.DEBUG_RTC ? 0 : -20))),
        stats: await Promise.all(peers.map((p) => p.stats())),
      }),
    );
    return snaps;
  }

  /** @param {Peer[]} peers */
  async function noteTimes(peers) {
    for (const p of peers) connectTimes.push(...(await p.stats()).connectMs);
  }

  /** @param {Peer[]} peers */
  async function closeAll(peers) {
    for (const p of peers) {
      assert.deepEqual(p.problems, [], `page problems of ${p.id}`);
      await p.context.close();
    }
  }

  test("two browser processes converge over a data channel: rows, presence, peers, status", async () => {
    const a = await peer(browsers[0], "indexeddb", "rtc-two");
    const b = await peer(browsers[1], "memory");
    assert.notEqual(a.id, b.id);
    await a.write("a-before", 5); // written before any provider: sent on connect
    await a.call("setPresence", { name: "a" });
    await a.rtc({ room: "two" });
    await b.rtc({ room: "two" });
    await b.call("setPresence", { name: "b" });
    await Promise.all([a.write("a", 10), b.write("b", 10)]);
    const snaps = await converged([a, b], 25, { presence: true });
    assert.deepEqual(snaps[0].peers, [b.id]);
    assert.deepEqual(snaps[1].peers, [a.id]);
    assert.deepEqual(snaps[0].presence[b.id], { name: "b" });
    assert.deepEqual(snaps[1].presence[a.id], { name: "a" });
    assert.deepEqual(keys(snaps[0].rows).filter((k) => k.startsWith("a-before")).length, 5);
    for (const s of snaps) assert.deepEqual(s.status, { connected: true, synced: true });
    // Streaming after the first sync, both ways.
    await a.write("a-late", 3);
    await b.write("b-late", 3);
    await converged([a, b], 31);
    // Without a password the rows cross in the clear (the control for the sealed test: rows
    // that were there before the link go in one frame, as the engine encodes them).
    assert.equal(await a.call("sentContains", "a-before-3"), true);
    // One connection (both may offer at once: the smaller id's offer wins, the other is dropped).
    const [sa, sb] = [await a.stats(), await b.stats()];
    assert.equal(sa.connected, 1, JSON.stringify(sa));
    assert.equal(sb.connected, 1, JSON.stringify(sb));
    assert.equal(sa.channelsOpened, 1, JSON.stringify(sa));
    assert.deepEqual(sa.warnings, []);
    assert.deepEqual(sb.warnings, []);
    await noteTimes([a, b]);
    await closeAll([a, b]);
  });

  test("a room password: the same password converges sealed; a wrong one gets nothing and gives nothing", async () => {
    const a = await peer(browsers[0]);
    const b = await peer(browsers[1]);
    const c = await peer(browsers[0]);
    await a.write("pw-a0", 3); // (sent in the answer to b's hello: one frame, sealed)
    await Promise.all([a.rtc({ room: "secret", password: "correct horse" }), b.rtc({ room: "secret", password: "correct horse" }), c.rtc({ room: "secret", password: "wrong" })]);
    await Promise.all([a.write("pw-a", 8), b.write("pw-b", 8), c.write("pw-c", 8)]);
    await a.call("setPresence", { name: "a" });
    await c.call("setPresence", { name: "c" });
    const snaps = await converged([a, b], 19);
    await until(async () => (await b.snap()).presence[a.id] !== undefined, () => b.snap());
    // c is connected to signaling (its own room id), and alone.
    await until(async () => (await c.snap()).status.connected, () => c.snap());
    // Writes after c joined, too.
    await Promise.all([a.write("pw-a2", 2), c.write("pw-c2", 2)]);
    await converged([a, b], 21);
    const sc = await c.snap();
    assert.ok(sc.rows.every(([k]) => k.startsWith("pw-c")), `rows reached the wrong password: ${keys(sc.rows)}`);
    assert.equal(sc.rows.length, 10);
    assert.deepEqual(sc.peers, []);
    assert.equal(sc.presence[a.id], undefined);
    for (const s of [await a.snap(), await b.snap()]) {
      assert.ok(s.rows.every(([k]) => !k.startsWith("pw-c")), "c's rows reached a peer with the right password");
      assert.ok(!s.peers.includes(c.id));
      assert.equal(s.presence[c.id], undefined);
    }
    const stc = await c.stats();
    assert.equal(stc.channelsOpened, 0, JSON.stringify(stc));
    assert.deepEqual(snaps[0].status, { connected: true, synced: true });
    // Sealed: nothing of the rows crosses in the clear.
    assert.ok((await a.call("sentCount")) > 0);
    assert.equal(await a.call("sentContains", "pw-a"), false, "a row key crossed a data channel unsealed");
    assert.equal(await b.call("sentContains", "pw-b"), false, "a row key crossed a data channel unsealed");
    await noteTimes([a, b]);
    await closeAll([a, b, c]);
  });

  test("a dropped link and a restarted provider resync, with the writes made meanwhile", async () => {
    const a = await peer(browsers[0], "indexeddb", "rtc-drop");
    const b = await peer(browsers[1]);
    await a.rtc({ room: "drop" });
    await b.rtc({ room: "drop" });
    await Promise.all([a.write("a", 5), b.write("b", 5)]);
    await converged([a, b], 10);

    // The peer connection closes under a's provider; both sides write at once.
    const pcsBefore = (await b.stats()).pcs;
    assert.equal(await a.call("dropLinks"), 1);
    await Promise.all([a.write("a-cut", 4), b.write("b-cut", 4)]);
    await until(async () => (await b.stats()).pcs > pcsBefore, () => b.stats());
    await converged([a, b], 18);
    for (const p of [a, b]) {
      const s = await p.stats();
      assert.ok(s.connected >= 2, `${p.id} reconnected: ${JSON.stringify(s)}`);
    }

    // a's provider goes away; both write while it is gone; a new provider catches up.
    await a.call("stopSync");
    await until(async () => (await b.snap()).peers.length === 0, () => b.snap());
    await Promise.all([a.write("a-off", 6), b.write("b-off", 6)]);
    await a.rtc({ room: "drop" });
    let snaps = await converged([a, b], 30);
    assert.deepEqual(snaps[0].peers, [b.id]);
    assert.deepEqual(snaps[1].peers, [a.id]);
    await noteTimes([a, b]);

    // a's renderer dies (its links die unclosed); a new page of the same origin (the same
    // IndexedDB database: the same peer id) joins again, with writes of its own.
    const cdp = await a.context.newCDPSession(a.page);
    const crashed = new Promise((r) => a.page.once("crash", r));
    cdp.send("Page.crash").catch(() => {});
    await crashed;
    await b.write("b-crash", 2);
    const a2 = await peer(a.context, "indexeddb", "rtc-drop");
    assert.equal(a2.id, a.id);
    await a2.write("a-again", 3);
    await a2.rtc({ room: "drop" });
    snaps = await converged([a2, b], 35);
    assert.deepEqual(snaps[0].peers, [b.id]);
    assert.deepEqual(snaps[1].peers, [a.id]);
    await noteTimes([a2]);
    a.problems.length = 0; // (the crash)
    await closeAll([a2, b]);
  });

  test("the signaling server restarts: open links carry on, peers join again, a newcomer connects", async () => {
    const a = await peer(browsers[0]);
    const b = await peer(browsers[1]);
    await a.rtc({ room: "restart" });
    await b.rtc({ room: "restart" });
    await Promise.all([a.write("a", 3), b.write("b", 3)]);
    await converged([a, b], 6);
    const linkOf = async (/** @type {Peer} */ p) => (await p.stats()).states.indexOf("connected");
    const [la, lb] = [await linkOf(a), await linkOf(b)];

    // Signaling goes away: the data channel does not need it.
    const port = server.port;
    await server.close();
    await a.write("a-down", 2);
    await converged([a, b], 8);

    // Back on the same port: both join again (the welcome, then "joined" for the other); the
    // link they have is kept.
    server = await startCrdtdbServer({ port, log: (m) => serverLog.push(m) });
    await until(async () => server.stats().connections === 2, () => server.stats());
    const c = await peer(browsers[0]);
    await c.rtc({ room: "restart" });
    await c.write("c", 2);
    const snaps = await converged([a, b, c], 10, { minPeers: 2 });
    for (const s of snaps) assert.equal(s.peers.length, 2, JSON.stringify(s.peers));
    assert.equal((await a.stats()).states[la], "connected", JSON.stringify(await a.stats()));
    assert.equal((await b.stats()).states[lb], "connected", JSON.stringify(await b.stats()));
    await noteTimes([a, b, c]);
    await closeAll([a, b, c]);
  });

  test("four peers with maxConns 1 converge through a partial mesh", async () => {
    const ps = [await peer(browsers[0]), await peer(browsers[1]), await peer(browsers[0]), await peer(browsers[1])];
    await Promise.all(ps.map((p) => p.rtc({ room: "mesh", maxConns: 1 })));
    await Promise.all(ps.map((p, i) => p.write(`m${i}`, 5)));
    let snaps = await converged(ps, 20);
    // Presence crosses the partial mesh too (relayed by the peers in between).
    await Promise.all(ps.map((p, i) => p.call("setPresence", { i })));
    snaps = await converged(ps, 20, { presence: true });
    // A ring (each links to the next peer in id order, maxConns 1): no peer has all three
    // others, so the rows and presence went round.
    const degrees = snaps.map((s) => s.peers.length);
    assert.ok(degrees.every((d) => d >= 1 && d <= 2), JSON.stringify(degrees));
    await ps[3].write("late", 2);
    await converged(ps, 22);
    await noteTimes(ps);
    await closeAll(ps);
  });

  test("through the relay: a writer that left, a reader that comes later in another browser", async () => {
    const url = `${server.url}/sync/relay-room`;
    const a = await peer(browsers[0]);
    await a.call("startWS", { url });
    await a.write("r", 12);
    await a.call("setPresence", { name: "a" });
    // The relay acknowledged everything a wrote: then a goes away.
    await until(() => a.call("acknowledged"), () => a.snap());
    await closeAll([a]);
    const b = await peer(browsers[1]);
    await b.call("startWS", { url });
    const [snap] = await converged([b], 12);
    assert.deepEqual(keys(snap.rows), keys(Array.from({ length: 12 }, (_, i) => [`r-${i}`, null])));
    await closeAll([b]);
    assert.deepEqual(serverLog, []);
  });
}
