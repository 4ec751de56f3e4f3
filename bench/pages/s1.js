// In-page side of bench/s1-sync.mjs (S1 between tabs), run in two tabs of headless Chromium.
//   crdtdb  CRDTDB.open("s1-<run>") with its default IndexedDB storage in both tabs (one owns
//           the storage, the other hands it its writes) and BroadcastChannelSync
//   yjs     a Y.Doc per tab; each update posted on a BroadcastChannel and applied by the other
//           tab (what y-webrtc does between tabs of one browser)
// Time: performance.timeOrigin + performance.now() (one clock for every tab of the browser).
// A write is timed from just after the call that commits it (crdtdb: table.set, visible in
// that tab at once; yjs: the transaction) to the other tab's change event for it.

const now = () => performance.timeOrigin + performance.now();

/** @type {any} */
let lib = null;
/** @type {Array<{ i: number, seen: number }>} */
const seen = [];
/** Bytes of each update the writer produced (what crosses to the other tab). */
const updateBytes = [];

/**
 * Opens the library in this tab, ready to write or to watch.
 * @param {{ lib: "crdtdb" | "yjs", run: string }} a
 */
async function setup(a) {
  if (a.lib === "crdtdb") {
    const { BroadcastChannelSync, CRDTDB } = await import("/js/index.js");
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
        bc.postMessage(u);
      }
    });
    rows.observeDeep((/** @type {any[]} */ events) => {
      if (events[0]?.transaction.origin !== "remote") return;
      for (const ev of events) {
        const target = ev.target;
        if (target instanceof Y.Map && target.has("i")) seen.push({ i: target.get("i"), seen: now() });
        else if (ev.keysChanged) for (const k of ev.keysChanged) seen.push({ i: rows.get(k)?.get("i") ?? -1, seen: now() });
      }
    });
    lib = {
      write: (/** @type {number} */ i) =>
        doc.transact(() => {
          const m = new Y.Map();
          m.set("i", i);
          m.set("c1", "v");
          m.set("c2", i % 7);
          rows.set(`r${i % 100}`, m);
        }),
      update: (/** @type {number} */ i, /** @type {string} */ key) => doc.transact(() => rows.get(key)?.set("i", i)),
      peers: () => 1,
    };
  }
}

/**
 * Writes `n` rows (then `n` single-column updates of them), one every `gapMs`, recording when
 * each call returned.
 * @param {{ n: number, gapMs: number }} a
 * @returns {Promise<Array<{ i: number, at: number }>>}
 */
async function writeAll(a) {
  const sent = [];
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
  pageReady: true,
});
