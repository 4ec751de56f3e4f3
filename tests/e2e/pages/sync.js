// Helpers the tab-sync tests call in the page (tests/e2e/sync.test.js): a database persisted
// in IndexedDB and synced with the other tabs by BroadcastChannelSync.
import { BroadcastChannelSync, CRDTDB } from "/js/index.js";
import { CHANGES, DELTA } from "/js/sync/frames.js";

/** @type {CRDTDB | null} */
let db = null;
/** @type {BroadcastChannelSync | null} */
let sync = null;
/** Change frames (CHANGES, or DELTA against the sender's previous post) seen on the sync channel, by sender. */
const frames = new Map();

/**
 * Opens a database (by default "synced") and starts syncing it with the other tabs and
 * workers on the channel of the same name ("e2e" for "synced").
 * @param {string} [name]
 */
export async function startSync(name = "synced") {
  const channel = name === "synced" ? "e2e" : name;
  db = await CRDTDB.open(name, { indexes: { byTab: { table: "t", keys: ["tab"] } } });
  sync = new BroadcastChannelSync(db, { channel });
  const spy = new BroadcastChannel(`crdtdb:sync:${channel}`);
  spy.onmessage = (ev) => {
    if (ev.data?.frame?.[0] === CHANGES || ev.data?.frame?.[0] === DELTA) frames.set(ev.data.from, (frames.get(ev.data.from) ?? 0) + 1);
  };
  return db.peerId;
}

/** Writes `n` rows, one transaction each. @param {string} tab @param {number} n */
export async function writeRows(tab, n) {
  for (let i = 0; i < n; i++) await db?.table("t").set(`${tab}-${i}`, { tab, i });
}

/** Writes forever; logs "ack <tab> <i>" once each write is durable. @param {string} tab */
export async function writeForever(tab) {
  for (let i = 0; ; i++) {
    await db?.table("t").set(`${tab}-live-${i % 50}`, { tab, i });
    console.log(`ack ${tab} ${i}`);
  }
}

/** What this tab's database shows, and how its provider stands. */
export function snapshot() {
  if (db === null || sync === null) throw new Error("startSync first");
  return {
    rows: db.table("t").entries(),
    version: [...db.version()],
    byTab: db.index("byTab").keys(),
    peers: sync.peers,
    status: sync.status,
  };
}

/** Sets this tab's presence. @param {unknown} state */
export const setPresence = (state) => db?.presence.set(state);

/** Every tab's presence, as an object. */
export const presence = () => Object.fromEntries(db?.presence.getAll() ?? []);

/** @type {Worker | null} */
let worker = null;

/**
 * Sends the sync worker a request and resolves with its answer (starting it first).
 * @param {Record<string, unknown>} msg
 */
export function workerCall(msg) {
  worker ??= new Worker("/e2e/sync_worker.js", { type: "module" });
  const w = worker;
  return new Promise((resolve, reject) => {
    w.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.ok));
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage(msg);
  });
}

/** Change frames seen so far on the channel, summed over senders. */
export const framesSeen = () => [...frames.values()].reduce((a, b) => a + b, 0);

Object.assign(window, { startSync, writeRows, writeForever, snapshot, framesSeen, setPresence, presence, workerCall, pageReady: true });
