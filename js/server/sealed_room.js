// A relay room with a password: the server cannot read (or merge) what clients send, so it
// keeps a numbered log of sealed payloads (js/sync/relay_frames.js). A client resumes from
// the last number it saw; when the log grows, one client is asked for a sealed snapshot,
// after which the entries it covers are dropped, so the room stays bounded.

import {
  BASE,
  decodeRelayMessage,
  ENTRY,
  EPHEMERAL,
  LIVE,
  PASS,
  PUSH,
  PUSHED,
  relayMessage,
  RESUME,
  SNAPSHOT,
  WANT_SNAPSHOT,
} from "../sync/relay_frames.js";
import * as rec from "./room_store.js";

/** The log is compacted once its entries pass this size, at least... */
const COMPACT_MIN_BYTES = 256 * 1024;
/** ...and a snapshot asked for and not received is asked of another client after this (ms). */
const SNAPSHOT_WAIT_MS = 30_000;

/**
 * @typedef {object} SealedConn
 * @property {(bytes: Uint8Array) => void} send
 * @property {(code: number, reason: string) => void} close
 * @property {boolean} [live] it resumed: entries are sent to it as they come
 */

export class SealedRoom {
  /** @type {Set<SealedConn>} */
  conns = new Set();
  baseSeq = 0;
  /** @type {Uint8Array | null} */
  base = null;
  /** @type {Array<{ seq: number, payload: Uint8Array }>} */
  entries = [];
  head = 0;
  /** Bytes of the entries (the base not included). */
  entryBytes = 0;
  #asked = { at: -Infinity, conn: /** @type {SealedConn | null} */ (null) };
  /** @type {Promise<void>} */
  #lastWrite = Promise.resolve();

  /**
   * @param {string} id
   * @param {import("./room_store.js").RoomStore} store
   * @param {import("./limits.js").Limits} limits
   * @param {(m: string) => void} warn
   */
  constructor(id, store, limits, warn) {
    this.id = id;
    this.store = store;
    this.limits = limits;
    this.warn = warn;
  }

  /** @param {string} id @param {import("./room_store.js").RoomStore} store @param {import("./limits.js").Limits} limits @param {(m: string) => void} warn */
  static async open(id, store, limits, warn) {
    const room = new SealedRoom(id, store, limits, warn);
    for (const r of await store.load(`sealed:${id}`)) {
      if (r.type === rec.BASE) room.#setBase(r.seq, r.bytes);
      else if (r.type === rec.ENTRY && r.seq > room.head) {
        room.entries.push({ seq: r.seq, payload: r.bytes });
        room.entryBytes += r.bytes.length;
        room.head = r.seq;
      }
    }
    return room;
  }

  get size() {
    return this.conns.size;
  }

  /** Everything the room holds (bytes). */
  get bytes() {
    return (this.base?.length ?? 0) + this.entryBytes;
  }

  /** @param {number} seq @param {Uint8Array} payload */
  #setBase(seq, payload) {
    this.base = payload;
    this.baseSeq = seq;
    this.head = Math.max(this.head, seq);
    const keep = this.entries.findIndex((e) => e.seq > seq);
    const dropped = keep === -1 ? this.entries : this.entries.slice(0, keep);
    for (const e of dropped) this.entryBytes -= e.payload.length;
    this.entries = keep === -1 ? [] : this.entries.slice(keep);
  }

  /** @param {SealedConn} conn @returns {(bytes: Uint8Array) => void} */
  add(conn) {
    this.conns.add(conn);
    return (bytes) => this.#receive(conn, bytes);
  }

  /** @param {SealedConn} conn */
  remove(conn) {
    this.conns.delete(conn);
    if (this.#asked.conn === conn) this.#asked = { at: -Infinity, conn: null };
  }

  /**
   * @param {SealedConn} conn
   * @param {Uint8Array} bytes
   * @throws {import("../errors.js").DecodeError} a malformed message (the server counts it)
   */
  #receive(conn, bytes) {
    const m = decodeRelayMessage(bytes, "client");
    switch (m.type) {
      case RESUME:
        this.#resume(conn, m.seq);
        return;
      case PUSH:
        this.#push(conn, m.payload);
        return;
      case SNAPSHOT:
        this.#snapshot(conn, m.seq, m.payload);
        return;
      case EPHEMERAL:
        for (const other of this.conns) if (other !== conn && other.live) other.send(relayMessage(PASS, undefined, m.payload));
        return;
    }
  }

  /** @param {SealedConn} conn @param {number} seq the last number the client saw */
  #resume(conn, seq) {
    // A number from the future: this room lost entries (a relay without --data restarted).
    // The client gets everything there is.
    if (seq > this.head) seq = 0;
    if (seq < this.baseSeq && this.base !== null) conn.send(relayMessage(BASE, this.baseSeq, this.base));
    for (const e of this.entries) if (e.seq > seq) conn.send(relayMessage(ENTRY, e.seq, e.payload));
    conn.send(relayMessage(LIVE, this.head));
    conn.live = true;
  }

  /** @param {SealedConn} conn @param {Uint8Array} payload */
  #push(conn, payload) {
    if (!conn.live) throw new TypeError("pushed before resuming");
    if (this.bytes + payload.length > this.limits.maxRoomBytes) {
      this.#askSnapshot(conn, true);
      conn.close(4413, "room full: its log is waiting for a snapshot");
      return;
    }
    const seq = ++this.head;
    this.entries.push({ seq, payload });
    this.entryBytes += payload.length;
    this.#write(() => this.store.append(`sealed:${this.id}`, [{ type: rec.ENTRY, seq, bytes: payload }]));
    conn.send(relayMessage(PUSHED, seq));
    for (const other of this.conns) if (other !== conn && other.live) other.send(relayMessage(ENTRY, seq, payload));
    if (this.entryBytes > Math.max(COMPACT_MIN_BYTES, this.base?.length ?? 0)) this.#askSnapshot(conn, false);
  }

  /** Asks a live client for a snapshot, once per wait unless `urgent`. @param {SealedConn} pusher @param {boolean} urgent */
  #askSnapshot(pusher, urgent) {
    const now = performance.now();
    if (!urgent && this.#asked.conn !== null && now - this.#asked.at < SNAPSHOT_WAIT_MS) return;
    // The pusher is live and just wrote: it holds the whole log. After a refusal it is about
    // to be closed, so another client is asked if there is one.
    const candidates = [...this.conns].filter((c) => c.live && (!urgent || c !== pusher));
    const conn = urgent ? candidates[0] : pusher;
    if (conn === undefined) return;
    this.#asked = { at: now, conn };
    conn.send(relayMessage(WANT_SNAPSHOT, this.head));
  }

  /** @param {SealedConn} conn @param {number} seq @param {Uint8Array} payload */
  #snapshot(conn, seq, payload) {
    if (!conn.live) throw new TypeError("sent a snapshot before resuming");
    if (seq <= this.baseSeq || seq > this.head) return; // stale, or from the future: ignored
    this.#setBase(seq, payload);
    if (this.#asked.conn === conn) this.#asked = { at: -Infinity, conn: null };
    const records = [{ type: rec.BASE, seq, bytes: payload }, ...this.entries.map((e) => ({ type: rec.ENTRY, seq: e.seq, bytes: e.payload }))];
    this.#write(() => this.store.rewrite(`sealed:${this.id}`, records));
  }

  /** @param {() => Promise<void>} write */
  #write(write) {
    this.#lastWrite = write().catch((err) => this.warn(`sealed room ${this.id}: could not persist: ${err.message}`));
  }

  /** @param {number} code @param {string} reason */
  async close(code, reason) {
    for (const conn of [...this.conns]) conn.close(code, reason);
    this.conns.clear();
    await this.#lastWrite;
    await this.store.release(`sealed:${this.id}`);
  }
}
