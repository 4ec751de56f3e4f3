// Helpers the tab-sync tests call in the page (tests/e2e/sync.test.js): a database persisted
// in IndexedDB and synced with the other tabs by BroadcastChannelSync.
import { BroadcastChannelSync, CRDTDB } from "/js/index.js";
import { CHANGES } from "/js/sync/frames.js";

/** @type {CRDTDB | null} */
let db = null;
/** @type {BroadcastChannelSync | null} */
let sync = null;
/** CHANGES frames seen on the sync channel, by sender. */
const frames = new Map();

/** Opens the database "synced" and starts syncing it with the other tabs. */
export async function startSync() {
  db = await CRDTDB.open("synced", { indexes: { byTab: { table: "t", keys: ["tab"] } } });
  sync = new BroadcastChannelSync(db, { channel: "e2e" });
  const spy = new BroadcastChannel("crdtdb:sync:e2e");
  spy.onmessage = (ev) => {
    if (ev.data?.frame?.[0] === CHANGES) frames.set(ev.data.from, (frames.get(ev.data.from) ?? 0) + 1);
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

/** CHANGES frames seen so far on the channel, summed over senders. */
export const framesSeen = () => [...frames.values()].reduce((a, b) => a + b, 0);

Object.assign(window, { startSync, writeRows, writeForever, snapshot, framesSeen, setPresence, presence, pageReady: true });
