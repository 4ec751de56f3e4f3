// crdtdb task board: the demo's entry. Opens one IndexedDB-backed database, syncs every tab
// of this browser over a BroadcastChannel, and wires the panels:
//   board.js       the three columns, live queries on an index by status, conflicts
//   presence.js    your name and who is here (db.presence)
//   sync_panel.js  room, password and server: WebRTCSync and WebSocketSync (the relay)
//   inspector.js   tables and row counts, version, peers, storage
//   sw.js          the service worker that makes the app load offline
// It imports the package the way an app served from static files does: the ES module entry,
// no bundler.
//
// Query parameters: ?server=ws://host:port (crdtdb-server; default ws://<this host>:4444),
// ?room=NAME (connect to that room at once), ?p2p=0 (relay only, no WebRTC).

import { BroadcastChannelSync, CRDTDB } from "../js/index.js";
import { Board } from "./board.js";
import { byId, describeError } from "./dom.js";
import { Inspector } from "./inspector.js";
import { PresencePanel } from "./presence.js";
import { SyncPanel } from "./sync_panel.js";

const DB_NAME = "taskboard";
/** The tables this app writes (crdtdb has no call that lists tables). */
const TABLES = ["tasks"];

const statusEl = byId("app-status");
const params = new URLSearchParams(location.search);

/** Writes not yet durable, for the "saving…" indicator. */
let pending = 0;
let opened = "";

function showStatus() {
  const network = navigator.onLine ? "" : " You are offline: changes are kept here and sync when you reconnect.";
  const saving = pending > 0 ? "Saving…" : "Every change is saved in IndexedDB.";
  statusEl.textContent = `${opened} ${saving}${network}`.trim();
  statusEl.classList.remove("error");
  document.body.dataset.pending = String(pending);
}

/** @param {unknown} err */
function showError(err) {
  statusEl.textContent = `Error: ${describeError(err)}`;
  statusEl.classList.add("error");
}

/**
 * Follows a write until it is durable; a failure (e.g. the task was deleted meanwhile) is
 * shown, not thrown.
 * @param {Promise<unknown>} write
 */
function track(write) {
  pending += 1;
  showStatus();
  write.then(
    () => {
      pending -= 1;
      showStatus();
    },
    (err) => {
      pending -= 1;
      showError(err);
      document.body.dataset.pending = String(pending);
    },
  );
}

/**
 * Registers sw.js (the app shell, cache first) and reports when the next load will work
 * offline.
 * @param {(text: string) => void} show
 */
async function registerServiceWorker(show) {
  if (!("serviceWorker" in navigator)) {
    show("unavailable: service workers need https: or localhost");
    return;
  }
  show("installing the service worker…");
  try {
    // Next to this page, so its scope is the demo's folder.
    const registration = await navigator.serviceWorker.register("sw.js");
    // A worker that could not cache every file of the app shell never activates.
    const installing = registration.installing ?? registration.waiting;
    const failed = new Promise((_, reject) => {
      installing?.addEventListener("statechange", () => {
        if (installing.state === "redundant" && registration.active === null) {
          reject(new Error("it could not cache the app shell (see sw.js's SHELL)"));
        }
      });
    });
    // Active means installed: every file of the app shell is in its cache.
    await Promise.race([navigator.serviceWorker.ready, failed]);
    show("ready: the app shell is cached, the next load works without a network");
    document.body.dataset.offlineReady = "true";
  } catch (err) {
    show(`the service worker failed: ${describeError(err)}`);
    document.body.dataset.offlineReady = "false";
  }
}

async function main() {
  const offlineEl = byId("ins-offline");
  registerServiceWorker((text) => {
    offlineEl.textContent = text;
  });

  const started = performance.now();
  const db = await CRDTDB.open(DB_NAME, {
    // Each column is a range of one compound index: [status, order].
    indexes: { tasksByStatus: { table: "tasks", keys: ["status", "order"] } },
  });
  // Every tab of this browser that opens the board syncs with this one.
  const tabs = new BroadcastChannelSync(db);

  const sync = new SyncPanel(db, { params });
  const where = (/** @type {string} */ peer) => {
    if (peer === db.peerId) return "this tab";
    if (tabs.peers.includes(peer)) return "another tab";
    if (sync.rtc?.peers.includes(peer)) return "peer to peer";
    return "through the relay";
  };
  const presence = new PresencePanel(db, { where });
  new Board(db, {
    track,
    me: () => presence.name,
    onEditing: (key) => presence.setEditing(key),
  });
  const inspector = new Inspector(db, {
    tables: TABLES,
    providers: () => [["tabs", tabs], ...sync.providers()],
  });

  const showTabs = () => {
    const n = tabs.peers.length;
    const el = byId("status-tabs");
    el.textContent = n === 0 ? "no other tab open" : `${n} other tab${n === 1 ? "" : "s"}${tabs.status.synced ? ", synced" : ""}`;
    el.dataset.peers = String(n);
  };
  // Peers come and go without a status change; a light refresh each second shows them.
  const tick = () => {
    showTabs();
    sync.render();
    presence.render();
    inspector.refresh();
  };
  tabs.on("status", tick);
  sync.onChange = tick;
  setInterval(tick, 1000);
  db.on("update", () => inspector.refresh());
  addEventListener("online", showStatus);
  addEventListener("offline", showStatus);

  const ms = Math.round(performance.now() - started);
  const n = db.table("tasks").count();
  opened = `Opened from IndexedDB in ${ms} ms with ${n} task${n === 1 ? "" : "s"}.`;
  showStatus();
  tick();
  sync.start();
  document.body.dataset.ready = "true";
}

main().catch(showError);
