// Sync with other browsers: a room name, an optional password and crdtdb-server's URL.
// Connect starts two providers on the same database:
//   WebRTCSync     peer to peer, introduced by the server's signaling (off with ?p2p=0)
//   WebSocketSync  through the server's relay, which keeps the room so a browser that comes
//                  later catches up while the others are offline
// Connecting one tab is enough: the other tabs of this browser get the room's changes from it
// over the BroadcastChannel.

import { WebRTCSync, WebSocketSync } from "../js/index.js";
import { byId, describeError } from "./dom.js";

/** Remembered per tab, so a reload rejoins a room that has no password. */
const SESSION_KEY = "crdtdb-taskboard:room";

/**
 * @param {import("../js/index.js").SyncStatus | undefined} status
 * @param {string[]} peers
 * @param {string} what
 */
function describe(status, peers, what) {
  if (status === undefined) return "not connected";
  if (!status.connected) return "connecting…";
  const n = peers.length;
  if (what === "relay") return status.synced ? "synced with the relay" : "connected, syncing…";
  const count = `${n} peer${n === 1 ? "" : "s"}`;
  return status.synced ? `synced with ${count}` : n === 0 ? "waiting for peers" : `connected to ${count}, syncing…`;
}

export class SyncPanel {
  /** @type {WebRTCSync | null} */
  rtc = null;
  /** @type {WebSocketSync | null} */
  ws = null;
  /** Called when a provider's status changes. */
  onChange = () => {};
  #lastWarning = "";
  #rtcError = "";

  /**
   * @param {import("../js/index.js").CRDTDB} db
   * @param {{ params: URLSearchParams }} opts the page's query (server, room, p2p)
   */
  constructor(db, { params }) {
    this.db = db;
    this.params = params;
    this.p2p = params.get("p2p") !== "0";
    this.form = byId("sync-form");
    this.room = byId("room");
    this.password = byId("password");
    this.server = byId("server");
    this.connectButton = byId("connect");
    this.disconnectButton = byId("disconnect");
    this.message = byId("sync-message");

    this.server.value = params.get("server") ?? `ws://${location.hostname || "127.0.0.1"}:4444`;
    this.room.value = params.get("room") ?? "taskboard";
    if (!this.p2p) byId("status-p2p").textContent = "off (?p2p=0)";

    this.form.addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
      e.preventDefault();
      this.connect();
    });
    this.disconnectButton.addEventListener("click", () => this.disconnect());
  }

  /** Joins the room the URL names (?room=), or the one this tab was in before a reload. */
  start() {
    let remembered = null;
    try {
      remembered = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    } catch {
      // nothing remembered
    }
    if (this.params.has("room")) this.connect();
    else if (typeof remembered?.room === "string" && typeof remembered?.server === "string") {
      this.room.value = remembered.room;
      this.server.value = remembered.server;
      this.connect();
    }
  }

  /** @returns {Array<[string, import("../js/index.js").WebRTCSync | import("../js/index.js").WebSocketSync]>} */
  providers() {
    /** @type {Array<[string, any]>} */
    const out = [];
    if (this.rtc !== null) out.push(["peer to peer", this.rtc]);
    if (this.ws !== null) out.push(["relay", this.ws]);
    return out;
  }

  connect() {
    this.disconnect();
    const room = this.room.value.trim();
    const password = this.password.value === "" ? undefined : this.password.value;
    const server = this.server.value.trim().replace(/\/+$/, "");
    if (room === "") return this.#say("Name a room first.");
    if (!/^wss?:\/\/[^/]/.test(server)) return this.#say(`The server URL must start with ws:// or wss://, got “${server}”.`);
    if (password !== undefined && globalThis.crypto?.subtle === undefined) {
      return this.#say("A room password needs WebCrypto, which browsers give only to https: and localhost pages.");
    }
    const warn = (/** @type {string} */ m) => {
      console.warn(`crdtdb sync: ${m}`);
      this.#lastWarning = m;
      this.render();
    };
    try {
      this.ws = new WebSocketSync(this.db, { url: `${server}/sync/${encodeURIComponent(room)}`, password, warn });
      this.ws.on("status", () => this.#changed());
    } catch (err) {
      this.disconnect();
      return this.#say(`Cannot connect: ${describeError(err)}`);
    }
    this.#rtcError = "";
    if (this.p2p) {
      try {
        this.rtc = new WebRTCSync(this.db, { room, signaling: server, password, warn });
        this.rtc.on("status", () => this.#changed());
      } catch (err) {
        // No WebRTC in this browser (or it is turned off): the relay alone still syncs.
        this.#rtcError = `unavailable: ${describeError(err)}`;
      }
    }
    try {
      if (password === undefined) sessionStorage.setItem(SESSION_KEY, JSON.stringify({ room, server }));
      else sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // a reload will not rejoin, that is all
    }
    this.#lastWarning = "";
    this.#say(`Room “${room}”${password === undefined ? "" : " (sealed with the password)"} on ${server}.`);
    this.#changed();
  }

  disconnect() {
    if (this.rtc === null && this.ws === null) return;
    this.rtc?.destroy();
    this.ws?.destroy();
    this.rtc = null;
    this.ws = null;
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // nothing to forget
    }
    this.#say("Disconnected: changes stay here and sync when you connect again.");
    this.#changed();
  }

  #changed() {
    this.render();
    this.onChange();
  }

  /** @param {string} text */
  #say(text) {
    this.message.textContent = text;
  }

  render() {
    const connected = this.ws !== null;
    this.connectButton.disabled = connected;
    this.disconnectButton.disabled = !connected;
    for (const el of [this.room, this.password, this.server]) el.disabled = connected;
    const show = (/** @type {string} */ id, /** @type {any} */ p, /** @type {string} */ what) => {
      const el = byId(id);
      el.textContent = describe(p?.status, p?.peers ?? [], what);
      el.dataset.connected = String(p?.status.connected ?? false);
      el.dataset.synced = String(p?.status.synced ?? false);
      el.dataset.peers = String(p?.peers.length ?? 0);
    };
    if (this.p2p) show("status-p2p", this.rtc ?? undefined, "p2p");
    if (this.#rtcError !== "" && this.rtc === null && connected) byId("status-p2p").textContent = this.#rtcError;
    show("status-relay", this.ws ?? undefined, "relay");
    const warning = byId("sync-warning");
    warning.textContent = connected && this.#lastWarning !== "" ? `Last sync notice: ${this.#lastWarning}` : "";
  }
}
