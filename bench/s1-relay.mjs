// S1 — the relay's throughput (shared/docs/benchmarks.md): updates per second fanned out to
// 20 peers in one room. crdtdb-server (WebSocketSync clients) side by side with y-websocket's
// server (@y/websocket-server, WebsocketProvider clients), each server in its own process.
//
//   node bench/s1-relay.mjs                 full run
//   node bench/s1-relay.mjs --n 300 --runs 1 quick check
//
// Each run: a fresh server and room; 20 reader clients and one writer connect and sync. The
// writer then makes --n single-column updates of 100 rows as fast as it can (crdtdb: each
// awaited; memory storage), then a last write every reader waits for. Throughput = updates /
// (time from the first write until all 20 readers hold the last one). Every reader's state is
// checked against the writer's before the figure counts. All clients share this process (the
// client side costs the same for both); the servers run alone in theirs.

import { spawn } from "node:child_process";
import { WebSocket } from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { CRDTDB, WebSocketSync } from "../js/index.node.js";
import { median, opt, ratio, Report } from "./lib/common.mjs";

const N = Number(opt("n", "2000"));
const RUNS = Math.max(1, Number(opt("runs", "3")));
const PEERS = Number(opt("peers", "20"));
const ROWS = 100;

const report = new Report("s1relay", `S1 — relay throughput: ${PEERS} peers in one room`);

/** @param {string[]} args @param {RegExp} ready @returns {Promise<{ port: number, stop: () => Promise<void> }>} */
function serverProcess(args, ready) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolve({ port: Number(m[1]), stop: () => new Promise((r) => (child.on("exit", r), child.kill("SIGTERM"))) });
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

/** @param {() => boolean} cond @param {string} what */
async function waitFor(cond, what, ms = 120_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function crdtdbRun() {
  const server = await serverProcess(["js/server/cli.js", "--port", "0"], /listening on ws:\/\/127\.0\.0\.1:(\d+)/);
  const url = `ws://127.0.0.1:${server.port}/sync/bench-${Date.now()}`;
  const open = async () => {
    const db = await CRDTDB.open("s1relay", { storage: "memory" });
    return { db, sync: new WebSocketSync(db, { url, WebSocket }) };
  };
  const writer = await open();
  for (let r = 0; r < ROWS; r++) await writer.db.table("t").set(`r${r}`, { a: 0, b: "x", c: true });
  const readers = [];
  for (let i = 0; i < PEERS; i++) readers.push(await open());
  const all = [writer, ...readers];
  await waitFor(() => all.every((x) => x.sync.status.synced && x.db.table("t").count() === ROWS), "every client to sync");
  const t0 = performance.now();
  for (let i = 1; i <= N; i++) await writer.db.table("t").update(`r${i % ROWS}`, { a: i });
  await writer.db.table("t").set("done", { n: N });
  await waitFor(() => readers.every((x) => x.db.table("t").has("done")), "every reader to get the last write");
  const ms = performance.now() - t0;
  const want = JSON.stringify(writer.db.table("t").entries());
  for (const x of readers) if (JSON.stringify(x.db.table("t").entries()) !== want) throw new Error("crdtdb: a reader differs from the writer");
  for (const x of all) {
    x.sync.destroy();
    x.db.close();
  }
  await server.stop();
  return ms;
}

async function yjsRun() {
  const server = await serverProcess(["bench/lib/y-relay-server.mjs"], /listening (\d+)/);
  const room = `bench-${Date.now()}`;
  const open = () => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(`ws://127.0.0.1:${server.port}`, room, doc, { WebSocketPolyfill: /** @type {any} */ (WebSocket), disableBc: true });
    return { doc, provider, rows: doc.getMap("t") };
  };
  const writer = open();
  await waitFor(() => writer.provider.synced, "the writer to sync");
  writer.doc.transact(() => {
    for (let r = 0; r < ROWS; r++) {
      const row = new Y.Map();
      row.set("a", 0);
      row.set("b", "x");
      row.set("c", true);
      writer.rows.set(`r${r}`, row);
    }
  });
  const readers = [];
  for (let i = 0; i < PEERS; i++) readers.push(open());
  await waitFor(() => readers.every((x) => x.provider.synced && x.rows.size === ROWS), "every client to sync");
  const t0 = performance.now();
  for (let i = 1; i <= N; i++) {
    /** @type {Y.Map<any>} */ (writer.rows.get(`r${i % ROWS}`)).set("a", i);
    // A yield per write, as the crdtdb writer awaits each one: updates go out one by one.
    await Promise.resolve();
  }
  writer.rows.set("done", N);
  await waitFor(() => readers.every((x) => x.rows.has("done")), "every reader to get the last write");
  const ms = performance.now() - t0;
  const want = JSON.stringify(writer.rows.toJSON());
  for (const x of readers) if (JSON.stringify(x.rows.toJSON()) !== want) throw new Error("yjs: a reader differs from the writer");
  for (const x of [writer, ...readers]) {
    x.provider.destroy();
    x.doc.destroy();
  }
  await server.stop();
  return ms;
}

report.log(`S1 relay — ${N} single-column updates fanned out to ${PEERS} peers, runs ${RUNS}`);
/** @type {Record<string, number[]>} */
const res = { crdtdb: [], yjs: [] };
for (let run = 0; run < RUNS; run++) {
  for (const [lib, fn] of /** @type {const} */ ([["crdtdb", crdtdbRun], ["yjs", yjsRun]])) {
    const ms = await fn();
    const rate = (N / ms) * 1000;
    console.log(`  run ${run + 1} ${lib.padEnd(7)} ${ms.toFixed(0)} ms, ${rate.toFixed(0)} updates/s to ${PEERS} peers`);
    res[lib].push(rate);
  }
}
const c = median(res.crdtdb);
const y = median(res.yjs);
report.table(
  `S1 — relay throughput: updates per second fanned out to ${PEERS} peers in one room, median of ${RUNS} runs`,
  ["", "updates/s", `deliveries/s (× ${PEERS})`],
  [
    ["crdtdb-server + WebSocketSync (the relay merges into its replica)", c.toFixed(0), (c * PEERS).toFixed(0)],
    ["y-websocket server + WebsocketProvider", y.toFixed(0), (y * PEERS).toFixed(0)],
    ["**crdtdb / y-websocket**", ratio(c / y), ""],
  ],
  "Higher is better. One writer, --n updates of 100 rows as fast as it goes; all clients in one Node process, each server in its own.",
);
report.set("s1relay", { n: N, peers: PEERS, res });
report.note(`S1 relay checks passed: every reader held the writer's exact state after each run.`);
report.save();
process.exit(0);
