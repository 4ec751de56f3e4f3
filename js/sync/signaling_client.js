// The client side of crdtdb-server's signaling (js/server/signaling.js): joins one room,
// reports who is there, and passes opaque signals to and from other peers. Reconnects with
// backoff and joins again; a silent server (no pong) is treated as gone.

import { Backoff } from "./backoff.js";

/** A ping is sent this often, and a connection with no message for PONG_TIMEOUT_MS is closed (ms). */
const PING_MS = 15_000;
const PONG_TIMEOUT_MS = 45_000;

/**
 * @typedef {object} SignalingHandlers
 * @property {(peers: string[]) => void} welcome joined: these peers are in the room
 * @property {(peer: string) => void} joined
 * @property {(peer: string) => void} left
 * @property {(from: string, data: unknown) => void} signal
 * @property {(connected: boolean) => void} status
 * @property {(message: string) => void} warn
 */

export class SignalingClient {
  /** @type {any} */
  #ws = null;
  #backoff = new Backoff();
  /** @type {ReturnType<typeof setTimeout> | null} */
  #retry = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  #pinger = null;
  #lastHeard = 0;
  #closed = false;
  /** The server welcomed this connection into the room. */
  #joined = false;

  /**
   * @param {{ url: string, room: string, peer: string, WebSocket: any }} opts
   * @param {SignalingHandlers} on
   */
  constructor(opts, on) {
    this.opts = opts;
    this.on = on;
    this.#connect();
  }

  /** Joined the room: signals can be sent (before the welcome, the server refuses them). */
  get connected() {
    return this.#joined && this.#ws !== null && this.#ws.readyState === 1;
  }

  #connect() {
    this.#retry = null;
    if (this.#closed) return;
    let ws;
    try {
      ws = new this.opts.WebSocket(this.opts.url);
    } catch (err) {
      this.on.warn(`cannot open signaling ${this.opts.url}: ${/** @type {Error} */ (err).message}`);
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#lastHeard = Date.now();
      ws.send(JSON.stringify({ type: "join", room: this.opts.room, peer: this.opts.peer }));
      this.#pinger = setInterval(() => {
        if (Date.now() - this.#lastHeard > PONG_TIMEOUT_MS) ws.close(1000, "signaling timed out");
        else if (ws.readyState === 1) ws.send('{"type":"ping"}');
      }, PING_MS);
      /** @type {any} */ (this.#pinger).unref?.();
    };
    ws.onmessage = (/** @type {{ data: unknown }} */ ev) => {
      if (this.#ws !== ws) return;
      this.#lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        this.on.warn("dropped a signaling message that is not JSON");
        return;
      }
      switch (msg?.type) {
        case "welcome":
          if (!Array.isArray(msg.peers)) return;
          this.#joined = true;
          this.#backoff.reset();
          this.on.status(true);
          this.on.welcome(msg.peers.filter((/** @type {unknown} */ p) => typeof p === "string" && p !== this.opts.peer));
          return;
        case "joined":
          if (typeof msg.peer === "string" && msg.peer !== this.opts.peer) this.on.joined(msg.peer);
          return;
        case "left":
          if (typeof msg.peer === "string") this.on.left(msg.peer);
          return;
        case "signal":
          if (typeof msg.from === "string") this.on.signal(msg.from, msg.data);
          return;
        case "error":
          this.on.warn(`signaling server: ${String(msg.message)}`);
          // Not let in (the room is full, the server has too many rooms): try again later.
          if (!this.#joined) ws.close(1000, "not joined");
          return;
        case "pong":
          return;
        default:
          this.on.warn(`dropped a signaling message of unknown type ${String(msg?.type).slice(0, 40)}`);
      }
    };
    ws.onerror = () => {};
    ws.onclose = (/** @type {{ code: number }} */ ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#joined = false;
      if (this.#pinger !== null) clearInterval(this.#pinger);
      this.#pinger = null;
      this.on.status(false);
      // 4000: a newer connection of this peer took over (a reload), or someone used this
      // peer id to push it out: come back, but only after the longest delay.
      this.#scheduleRetry(ev.code === 4000 ? this.#backoff.max : undefined);
    };
  }

  /** @param {number} [delay] ms (default: the next backoff delay) */
  #scheduleRetry(delay) {
    if (this.#closed || this.#retry !== null) return;
    this.#retry = setTimeout(() => this.#connect(), delay ?? this.#backoff.next());
  }

  /** Sends a signal to a peer in the room (dropped while disconnected). @param {string} to @param {unknown} data */
  send(to, data) {
    if (this.connected) this.#ws.send(JSON.stringify({ type: "signal", to, data }));
  }

  close() {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    if (this.#pinger !== null) clearInterval(this.#pinger);
    const ws = this.#ws;
    this.#ws = null;
    this.#joined = false;
    if (ws !== null) {
      try {
        if (ws.readyState === 1) ws.send('{"type":"leave"}');
        ws.close(1000, "destroyed");
      } catch {
        // already closing
      }
    }
  }
}
