// In-page side of bench/s1-sync.mjs (S1 between tabs), run in two tabs of headless Chromium.
//   crdtdb  CRDTDB.open("s1-<run>") with its default IndexedDB storage in both tabs (one owns
//           the storage, the other hands it its writes) and BroadcastChannelSync
//   yjs     a Y.Doc per tab; each update posted on a BroadcastChannel and applied by the other
//           tab (what y-webrtc does between tabs of one browser)
// and for bench/s1-webrtc.mjs (two browser processes):
//   crdtdb-rtc  IndexedDB storage and WebRTCSync through crdtdb-server's signaling
//   yjs-rtc     a Y.Doc per browser, updates over one RTCDataChannel (what y-webrtc does)
// Time: performance.timeOrigin + performance.now() (one clock for every tab of the browser).
// A write is timed from just after the call that commits it (crdtdb: table.set, visible in
// that tab at once; yjs: the transaction) to the other tab's change event for it.

const now = () => performance.timeOrigin + performance.now();

/** @type {any} */
let lib = null;
/** @type {Array<{ i: number, seen: number }>} */
const seen = [];
/** Bytes of each update the writer produced (the `update` event's; Yjs: the doc update). */
const updateBytes = [];
/** Bytes this page put on the wire for each change it sent (crdtdb: a CHANGES or DELTA
 * frame posted to every tab or sent on a data channel; Yjs: the update it sent). */
let wireBytes = [];

/** Records the sync frames carrying changes that this page sends. */
function recordWire() {
  const post = BroadcastChannel.prototype.postMessage;
  BroadcastChannel.prototype.postMessage = function (/** @type {any} */ m) {
    if (m?.to === null && (m.frame?.[0] === 2 || m.frame?.[0] === 8)) wireBytes.push(m.frame.length);
    return post.call(this, m);
  };
  if (typeof RTCDataChannel === "function") {
    const send = RTCDataChannel.prototype.send;
    RTCDataChannel.prototype.send = function (/** @type {any} */ d) {
      const b = d instanceof Uint8Array ? d : null;
      if (this.label === "crdtdb" && b && (b[0] === 2 || b[0] === 8)) wireBytes.push(b.length);
      return send.call(this, d);
    };
  }
}

/**
 * Yjs over one RTCDataChannel to the other browser (what y-webrtc does between browsers),
 * signaled through crdtdb-server with the same client WebRTCSync uses.
 * @param {any} Y @param {any} doc @param {string} signaling @param {string} room
 * @returns {{ send: (u: Uint8Array) => void, open: () => boolean }}
 */
async function yjsDataChannel(Y, doc, signaling, room) {
  const { SignalingClient } = await import("/js/sync/signaling_client.js");
  const pc = new RTCPeerConnection({ iceServers: [] });
  /** @type {RTCDataChannel | null} */
  let dc = null;
  let remote = "";
  /** @type {any[]} */
  const early = [];
  const wire = (/** @type {RTCDataChannel} */ ch) => {
    dc = ch;
    ch.binaryType = "arraybuffer";
    ch.onopen = () => ch.send(Y.encodeStateAsUpdate(doc));
    ch.onmessage = (ev) => Y.applyUpdate(doc, new Uint8Array(ev.data), "remote");
  };
  pc.ondatachannel = (ev) => wire(ev.channel);
  const sig = new SignalingClient(
    { url: signaling, room, peer: crypto.randomUUID(), WebSocket },
    {
      welcome: async (peers) => {
        if (peers.length === 0) return;
        remote = peers[0];
        wire(pc.createDataChannel("y", { ordered: true }));
        await pc.setLocalDescription(await pc.createOffer());
        sig.send(remote, { d: pc.localDescription?.toJSON() });
      },
      joined: () => {},
      left: () => {},
      signal: async (from, data) => {
        remote = from;
        if (data.c) {
          if (pc.remoteDescription) await pc.addIceCandidate(data.c);
          else early.push(data.c);
          return;
        }
        await pc.setRemoteDescription(data.d);
        for (const c of early.splice(0)) await pc.addIceCandidate(c);
        if (data.d.type === "offer") {
          await pc.setLocalDescription(await pc.createAnswer());
          sig.send(from, { d: pc.localDescription?.toJSON() });
        }
      },
      status: () => {},
      warn: (m) => console.log(m),
    },
  );
  pc.onicecandidate = (ev) => {
    if (ev.candidate) sig.send(remote, { c: ev.candidate.toJSON() });
  };
  return { send: (u) => dc?.readyState === "open" && dc.send(u), open: () => dc?.readyState === "open" };
}

/**
 * Opens the library in this tab, ready to write or to watch.
 * @param {{ lib: "crdtdb" | "yjs" | "crdtdb-rtc" | "yjs-rtc", run: string, signaling?: string }} a
 */
async function setup(a) {
  if (a.lib === "crdtdb-rtc") {
    // Two browsers over WebRTCSync: each with its own IndexedDB database (durable before sent).
    const { CRDTDB, WebRTCSync } = await import("/js/index.js");
    recordWire();
    const db = await CRDTDB.open(`s1rtc-${a.run}`);
    const sync = new WebRTCSync(db, { room: `s1-${a.run}`, signaling: a.signaling });
    db.on("change", (e) => {
      if (e.origin === sync) seen.push({ i: db.table("rows").get(e.key)?.i ?? -1, seen: now() });
    });
    db.on("update", (e) => {
      if (e.origin === "local") updateBytes.push(e.bytes.length);
    });
    lib = {
      write: (/** @type {number} */ i) => db.table("rows").set(`r${i % 100}`, { i, c1: "v", c2: i % 7 }),
      update: (/** @type {number} */ i, /** @type {string} */ key) => db.table("rows").update(key, { i }),
      peers: () => (sync.status.synced ? sync.peers.length : 0),
    };
    return;
  }
  if (a.lib === "yjs-rtc") {
    const Y = await import("/bench-peers/yjs.js");
    const doc = new Y.Doc();
    const rows = doc.getMap("rows");
    const link = await yjsDataChannel(Y, doc, /** @type {string} */ (a.signaling), `s1y-${a.run}`);
    doc.on("update", (/** @type {Uint8Array} */ u, /** @type {unknown} */ origin) => {
      if (origin !== "remote") {
        updateBytes.push(u.length);
        wireBytes.push(u.length);
        link.send(u);
      }
    });
    observeYjs(Y, rows);
    lib = { ...yjsWrites(Y, doc, rows), peers: () => (link.open() ? 1 : 0) };
    return;
  }
  if (a.lib === "crdtdb") {
    const { BroadcastChannelSync, CRDTDB } = await import("/js/index.js");
    recordWire();
    const db = await CRDTDB.open(`s1-${a.run}`);
    const sync = new BroadcastChannelSync(db, { channel: `s1-${a.run}` });
    db.on("change", (e) => {
      // From the other tab: through sync, or (in the tab owning the storage) through storage first.
      if (e.origin !== "local") seen.push({ i: db.table("rows").get(e.key)?.i ?? -1, seen: now() });
    });
    db.on("update", (e) => {
      if (e.origin === "local") updateBytes.push(e.bytes.length);
    });
    lib = {
      write: (/** @type {number} */ i) => db.table("rows").set(`r${i % 100}`, { i, c1: "v", c2: i % 7 }),
      update: (/** @type {number} */ i, /** @type {string} */ key) => db.table("rows").update(key, { i }),
      peers: () => sync.peers.length,
    };
  } else {
    const Y = await import("/bench-peers/yjs.js");
    const doc = new Y.Doc();
    const rows = doc.getMap("rows");
    const bc = new BroadcastChannel(`s1-yjs-${a.run}`);
    bc.onmessage = (ev) => Y.applyUpdate(doc, new Uint8Array(ev.data), "remote");
    doc.on("update", (/** @type {Uint8Array} */ u, /** @type {unknown} */ origin) => {
      if (origin !== "remote") {
        updateBytes.push(u.length);
        wireBytes.push(u.length);
        bc.postMessage(u);
      }
    });
    observeYjs(Y, rows);
    lib = { ...yjsWrites(Y, doc, rows), peers: () => 1 };
  }
}

/** Records each remote write as it becomes visible. @param {any} Y @param {any} rows */
function observeYjs(Y, rows) {
  rows.observeDeep((/** @type {any[]} */ events) => {
    if (events[0]?.transaction.origin !== "remote") return;
    for (const ev of events) {
      const target = ev.target;
      if (target instanceof Y.Map && target.has("i")) seen.push({ i: target.get("i"), seen: now() });
      else if (ev.keysChanged) for (const k of ev.keysChanged) seen.push({ i: rows.get(k)?.get("i") ?? -1, seen: now() });
    }
  });
}

/** The writes, as the crdtdb side makes them. @param {any} Y @param {any} doc @param {any} rows */
function yjsWrites(Y, doc, rows) {
  return {
    write: (/** @type {number} */ i) =>
      doc.transact(() => {
        const m = new Y.Map();
        m.set("i", i);
        m.set("c1", "v");
        m.set("c2", i % 7);
        rows.set(`r${i % 100}`, m);
      }),
    update: (/** @type {number} */ i, /** @type {string} */ key) => doc.transact(() => rows.get(key)?.set("i", i)),
  };
}

/**
 * Writes `n` rows (then `n` single-column updates of them), one every `gapMs`, recording when
 * each call returned.
 * @param {{ n: number, gapMs: number }} a
 * @returns {Promise<Array<{ i: number, at: number }>>}
 */
async function writeAll(a) {
  const sent = [];
  wireBytes = [];
  for (let i = 0; i < 2 * a.n; i++) {
    // Updates go to rows the writes made (keys r0…r99 are reused past 100 rows).
    const p = i < a.n ? lib.write(i) : lib.update(i, `r${(i - a.n) % Math.min(a.n, 100)}`);
    sent.push({ i, at: now() });
    await p;
    await new Promise((r) => setTimeout(r, a.gapMs));
  }
  return sent;
}

Object.assign(window, {
  setup,
  writeAll,
  peers: () => lib.peers(),
  seen: () => seen,
  updateBytes: () => updateBytes,
  wireBytes: () => wireBytes,
  pageReady: true,
});
