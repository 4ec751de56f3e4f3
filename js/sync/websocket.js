// WebSocketSync: syncs a database through crdtdb-server's relay (docs/sync.md, "Through a
// relay"). The relay is one peer holding the room's state: the ordinary protocol runs over
// the WebSocket, and the relay passes on to the room's other clients what is new. With a
// password the relay only stores sealed payloads (./sealed_relay.js). Reconnects with backoff
// and resumes from versions (or, sealed, from the last log number seen).

import { Backoff } from "./backoff.js";
import { presenceFrame } from "./frames.js";
import { checkProviderOptions, SyncProvider } from "./provider.js";
import { roomKey } from "./room_key.js";
import { SealedRelayClient } from "./sealed_relay.js";

/** The relay as this client's one peer. */
const RELAY = "relay";
/** Frames larger than this are sent in parts (the relay accepts up to 64 MiB by default). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Close code the relay uses when a newer connection of the same peer replaced this one. */
const REPLACED = 4000;
/** A connection must stay up this long before the reconnect delay starts from the shortest
 * again (a relay that accepts and soon closes, as a full room does, is not hammered). */
const STABLE_MS = 10_000;
/** Sealed rooms have no heartbeat of their own: the client pings this often, and closes a
 * connection that brought nothing for SILENT_MS (a half-open link). */
const PING_MS = 15_000;
const SILENT_MS = 45_000;

/**
 * @typedef {import("./provider.js").ProviderOptions & {
 *   url: string,
 *   password?: string,
 *   WebSocket?: any,
 * }} WebSocketSyncOptions
 */

/**
 * @param {WebSocketSyncOptions} opts
 * @returns {{ url: URL, room: string, WS: any, password: string | undefined }}
 */
function checkOptions(opts) {
  if (opts === null || typeof opts !== "object") throw new TypeError("WebSocketSync needs options with a url");
  checkProviderOptions(opts);
  let url;
  try {
    url = new URL(opts.url);
  } catch {
    throw new TypeError(`WebSocketSync option url must be a ws:// or wss:// URL, got ${String(opts.url)}`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`WebSocketSync option url must be a ws:// or wss:// URL, got ${String(opts.url)}`);
  }
  const segments = url.pathname.split("/");
  let room = "";
  try {
    room = decodeURIComponent(segments[segments.length - 1]);
  } catch {
    // reported below
  }
  if (room === "") throw new TypeError(`WebSocketSync url must end with the room, as in ws://host:4444/sync/ROOM, got ${String(opts.url)}`);
  const WS = opts.WebSocket ?? globalThis.WebSocket;
  if (typeof WS !== "function") {
    throw new TypeError("WebSocketSync needs WebSocket: Node 22+, Node 20 with --experimental-websocket, or pass { WebSocket } (e.g. from the ws package)");
  }
  if (opts.password !== undefined && (typeof opts.password !== "string" || opts.password === "")) {
    throw new TypeError("WebSocketSync option password must be a non-empty string");
  }
  return { url, room, WS, password: opts.password };
}

/** @param {unknown} data @returns {Uint8Array | null} */
function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

export class WebSocketSync extends SyncProvider {
  /** @type {any} */
  #ws = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #timer = null;
  #backoff = new Backoff();
  /** When the current connection became synced (live), or 0. */
  #upSince = 0;
  /** Connections in a row that closed before they opened (a wrong URL, a relay that is down). */
  #failedOpens = 0;
  /** @type {ReturnType<typeof setInterval> | null} */
  #pinger = null;
  /** @type {SealedRelayClient | null} */
  #sealed = null;
  #url;
  #WS;

  /**
   * Starts syncing `db` with a relay room.
   * @param {import("../database.js").CRDTDB} db an open database
   * @param {WebSocketSyncOptions} opts `url`: ws://host:port/sync/ROOM; `password`: seal
   *   everything (the relay then stores ciphertext only); `WebSocket`: a constructor where
   *   there is no global one
   */
  constructor(db, opts) {
    const { url, room, WS, password } = checkOptions(opts);
    super(db, { maxFrameBytes: MAX_FRAME_BYTES, ...opts, relay: true });
    this.room = room;
    this.#WS = WS;
    this.#url = url;
    this.listenForPagehide();
    if (password === undefined) {
      url.searchParams.set("peer", db.peerId);
      this.#connect();
      return;
    }
    roomKey(room, password).then(
      (key) =>
        this.guard(() => {
          // The relay sees the derived room id, never the name.
          const segments = url.pathname.split("/");
          segments[segments.length - 1] = key.id;
          url.pathname = segments.join("/");
          url.searchParams.set("sealed", "1");
          this.#sealed = new SealedRelayClient(this, key, () => {
            this.#upSince = Date.now();
          });
          this.#connect();
        }),
      (err) => this.warn(`cannot derive the room key: ${err.message}`),
    );
  }

  #connect() {
    this.#timer = null;
    if (this.destroyed) return;
    let ws;
    try {
      ws = new this.#WS(this.#url.href);
    } catch (err) {
      this.warn(`cannot open ${this.#url.origin}: ${/** @type {Error} */ (err).message}`);
      this.#retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    const send = (/** @type {Uint8Array} */ frame) => {
      if (this.#ws === ws && ws.readyState === 1) ws.send(frame);
    };
    ws.onopen = () =>
      this.guard(() => {
        if (this.#ws !== ws) return;
        this.setConnected(true);
        this.#upSince = 0;
        this.#failedOpens = 0;
        if (this.#sealed !== null) {
          const sealed = this.#sealed;
          sealed.open(send);
          this.#pinger = setInterval(() => {
            if (this.#ws !== ws) return;
            if (Date.now() - sealed.lastHeard > SILENT_MS) ws.close(1000, "relay silent");
            else sealed.ping();
          }, PING_MS);
          /** @type {any} */ (this.#pinger).unref?.();
        } else this.session(RELAY, send);
      });
    ws.onmessage = (/** @type {{ data: unknown }} */ ev) => {
      if (this.#ws !== ws) return;
      const bytes = toBytes(ev.data);
      if (bytes === null) return this.warn("dropped a text message from the relay");
      if (this.#sealed !== null) this.#sealed.receive(bytes);
      else {
        this.receive(RELAY, bytes, send);
        if (this.#upSince === 0 && this.isSynced()) this.#upSince = Date.now();
      }
    };
    ws.onerror = () => {}; // a close event follows
    ws.onclose = (/** @type {{ code: number, reason: string }} */ ev) => {
      if (this.#ws !== ws) return;
      const opened = this.status.connected;
      this.#ws = null;
      if (this.#pinger !== null) clearInterval(this.#pinger);
      this.#pinger = null;
      this.#sealed?.close();
      super.drop(RELAY);
      this.setConnected(false);
      if (this.destroyed) return;
      if (this.#upSince !== 0 && Date.now() - this.#upSince >= STABLE_MS) this.#backoff.reset();
      this.#upSince = 0;
      if (ev.code === REPLACED) {
        // Another connection under this peer id took over (a reload), or someone used the id
        // to push this one out: come back, but only after the longest delay.
        this.warn("the relay closed this connection: another one of the same peer id replaced it");
        this.#retry(this.#backoff.max);
        return;
      }
      if (ev.code === 4413 || ev.code === 1013 || ev.code === 1009) this.warn(`the relay closed the connection: ${ev.reason || ev.code}`);
      // A wrong URL (refused, 404) or a relay that stays down: said at the third failed try in
      // a row (a relay restarting costs one or two), then every tenth.
      if (!opened && ++this.#failedOpens % 10 === 3) {
        this.warn(`cannot connect to ${this.#url.origin}${this.#url.pathname} (closed with ${ev.code}); retrying with backoff`);
      }
      this.#retry();
    };
  }

  /** @param {number} [delay] ms (default: the next backoff delay) */
  #retry(delay) {
    if (this.destroyed || this.#timer !== null) return;
    this.#timer = setTimeout(() => this.#connect(), delay ?? this.#backoff.next());
  }

  /** ["relay"] while the relay is connected and has answered (the room's one peer here). */
  get peers() {
    if (this.#sealed === null) return super.peers;
    return this.#sealed.live && this.#ws !== null ? [RELAY] : [];
  }

  isSynced() {
    return this.#sealed !== null ? this.#sealed.live : super.isSynced();
  }

  /** The relay went silent: reconnect. @param {string} peerId */
  drop(peerId) {
    super.drop(peerId);
    if (peerId === RELAY && this.#ws !== null && !this.destroyed) this.#ws.close(1000, "relay timed out");
  }

  /** @param {Uint8Array} bytes */
  sendUpdate(bytes) {
    if (this.#sealed !== null) this.#sealed.push(bytes);
    else super.sendUpdate(bytes);
  }

  /** @param {import("../presence.js").PresenceEntry[]} entries */
  sendPresence(entries) {
    if (this.#sealed !== null) {
      if (entries.length > 0) this.#sealed.ephemeral(presenceFrame(entries));
    } else super.sendPresence(entries);
  }

  close() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pinger !== null) clearInterval(this.#pinger);
    this.#pinger = null;
    const ws = this.#ws;
    const sealed = this.#sealed;
    if (sealed === null) {
      this.#ws = null;
      ws?.close(1000, "destroyed");
      return;
    }
    // The presence leave is still being sealed: close after it went out.
    sealed.flush().then(() => {
      sealed.destroy();
      this.#ws = null;
      ws?.close(1000, "destroyed");
    });
  }
}
