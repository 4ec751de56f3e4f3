// Helpers the network-sync tests call in the page (tests/e2e/webrtc.test.js): one database
// (memory or IndexedDB) synced by WebRTCSync (peer to peer, signaled by crdtdb-server) or by
// WebSocketSync (through crdtdb-server's relay).
import { CRDTDB, WebRTCSync, WebSocketSync } from "/js/index.js";
import { ackedVersions } from "/js/sync/acked.js";
import { decodeFrame, frameName } from "/js/sync/frames.js";

/** @type {CRDTDB | null} */
let db = null;
/** @type {any} */
let sync = null;
/** Warnings the provider reported. @type {string[]} */
const warnings = [];
/** Every RTCPeerConnection the provider made, with when it was made and when it connected. */
const pcs = /** @type {{ pc: RTCPeerConnection, made: number, connected: number | null }[]} */ ([]);
/** Data channels that opened (ours and the peers'). */
let channelsOpened = 0;
/** Messages sent on data channels (the first 4 MiB). @type {Uint8Array[]} */
const sent = [];
let sentBytes = 0;
/** Frames that crossed data channels, decoded where they are not sealed (for failure reports). @type {string[]} */
const traced = [];

/** @param {string} what @param {Uint8Array} bytes */
function trace(what, bytes) {
  if (traced.length >= 5000) return;
  let name;
  try {
    const f = /** @type {any} */ (decodeFrame(bytes));
    name = `${frameName(f.type)}${f.ask !== undefined ? ` ask ${f.ask}` : ""}`;
  } catch {
    name = "(sealed?)";
  }
  traced.push(`${Math.round(performance.now())} ${what} ${name} ${bytes.length} B`);
}

/** An RTCPeerConnection that the page can see (and cut). */
class TrackedPeerConnection extends RTCPeerConnection {
  /** @param {RTCConfiguration} config */
  constructor(config) {
    super(config);
    const entry = { pc: /** @type {RTCPeerConnection} */ (this), made: performance.now(), connected: /** @type {number | null} */ (null) };
    pcs.push(entry);
    this.addEventListener("connectionstatechange", () => {
      if (this.connectionState === "connected" && entry.connected === null) entry.connected = performance.now();
    });
    const count = (/** @type {RTCDataChannel} */ dc) => {
      if (dc.readyState === "open") channelsOpened++;
      else dc.addEventListener("open", () => channelsOpened++);
      // What goes out on the wire, to check sealing.
      const send = dc.send.bind(dc);
      dc.send = (/** @type {any} */ data) => {
        if (sentBytes < 4 * 1024 * 1024 && ArrayBuffer.isView(data)) {
          sent.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
          sentBytes += data.byteLength;
        }
        if (ArrayBuffer.isView(data)) trace("sent", new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        send(data);
      };
      dc.addEventListener("message", (ev) => {
        if (ev.data instanceof ArrayBuffer) trace("received", new Uint8Array(ev.data));
      });
    };
    this.addEventListener("datachannel", (ev) => count(ev.channel));
    const create = this.createDataChannel.bind(this);
    this.createDataChannel = (label, init) => {
      const dc = create(label, init);
      count(dc);
      return dc;
    };
  }
}

/**
 * Opens the database. @param {string} name @param {"memory" | "indexeddb"} storage
 * @returns {Promise<string>} its peer id
 */
export async function openDb(name, storage) {
  db = await CRDTDB.open(name, { storage });
  return db.peerId;
}

/**
 * Starts a WebRTCSync. @param {{ room: string, signaling: string, password?: string, maxConns?: number }} opts
 */
export function startRTC(opts) {
  if (db === null) throw new Error("openDb first");
  sync = new WebRTCSync(db, { ...opts, RTCPeerConnection: TrackedPeerConnection, warn: (m) => warnings.push(m) });
}

/** Starts a WebSocketSync. @param {{ url: string, password?: string }} opts */
export function startWS(opts) {
  if (db === null) throw new Error("openDb first");
  sync = new WebSocketSync(db, { ...opts, warn: (m) => warnings.push(m) });
}

/** Destroys the provider. */
export function stopSync() {
  sync?.destroy();
  sync = null;
}

/** Closes every peer connection the provider made (the link drops under it). */
export function dropLinks() {
  let n = 0;
  for (const { pc } of pcs) {
    if (pc.connectionState !== "closed") {
      pc.close();
      n++;
    }
  }
  return n;
}

/** Writes `n` rows, one transaction each. @param {string} tag @param {number} n */
export async function writeRows(tag, n) {
  if (db === null) throw new Error("openDb first");
  for (let i = 0; i < n; i++) await db.table("t").set(`${tag}-${i}`, { tag, i });
}

/** What the database shows, and how the provider stands. */
export function snapshot() {
  if (db === null) throw new Error("openDb first");
  return {
    peerId: db.peerId,
    rows: db.table("t").entries(),
    version: [...db.version()],
    peers: sync?.peers ?? [],
    sessions: sync === null ? [] : [...sync.sessions()].map((/** @type {any} */ s) => ({ synced: s.synced, live: s.live })),
    status: sync?.status ?? { connected: false, synced: false },
    presence: Object.fromEntries(db.presence.getAll()),
  };
}

/** Whether a peer (the relay) acknowledged everything this database holds. */
export function acknowledged() {
  if (db === null) throw new Error("openDb first");
  const mine = db.version().join();
  return ackedVersions(db).some((v) => v.join() === mine);
}

/** Connection facts: peer connections made, connected, data channels opened, times (ms). */
export function stats() {
  return {
    pcs: pcs.length,
    connected: pcs.filter((p) => p.connected !== null).length,
    connectMs: pcs.filter((p) => p.connected !== null).map((p) => Math.round(/** @type {number} */ (p.connected) - p.made)),
    channelsOpened,
    states: pcs.map((p) => p.pc.connectionState),
    warnings: [...warnings],
  };
}

/** Whether a message sent on a data channel holds `text` (UTF-8) in the clear. @param {string} text */
export function sentContains(text) {
  const needle = new TextEncoder().encode(text);
  return sent.some((m) => {
    outer: for (let i = 0; i + needle.length <= m.length; i++) {
      for (let j = 0; j < needle.length; j++) if (m[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  });
}

/** Data-channel messages sent so far. */
export const sentCount = () => sent.length;

/** The frames traced so far. */
export const trail = () => [...traced];

/** Sets this peer's presence. @param {unknown} state */
export const setPresence = (state) => db?.presence.set(state);

Object.assign(window, { openDb, startRTC, startWS, stopSync, dropLinks, writeRows, snapshot, acknowledged, stats, trail, sentContains, sentCount, setPresence, pageReady: true });
