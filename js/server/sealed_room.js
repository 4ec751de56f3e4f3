// A relay room with a password: the server cannot read (or merge) what clients send, so it
// keeps a numbered log of sealed payloads (js/sync/relay_frames.js). A client resumes from
// the last number it saw; when the log grows, one client is asked for a sealed snapshot,
// after which the entries it covers are dropped, so the room stays bounded.
//
// An entry is numbered when it arrives but announced (PUSHED to its sender, ENTRY to the
// others, in a backlog) only once the store holds it: a number a client saw is never given to
// another entry after a crash. The log's epoch (relay_frames.js) is stored with it; a room whose
// state was lost starts a new one, so clients resuming from the old log push everything again.

import { randomInt } from "node:crypto";
import {
  BASE,
  decodeRelayMessage,
  ENTRY,
  EPHEMERAL,
  LIVE,
  MAX_EPHEMERAL_BYTES,
  PASS,
  PING,
  PONG,
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
/** A new log's epoch: a random number in [1, 2^48). */
const newEpoch = () => randomInt(1, 2 ** 48);

/**
 * @typedef {object} SealedConn
 * @property {(bytes: Uint8Array) => void} send
 * @property {(code: number, reason: string) => void} close
 * @property {boolean} [live] it resumed: entries are sent to it as they come
 * @property {number} [refusedAt] when a push of it was refused (the room was full): its later
 *   pushes are not taken either, and it is closed once its snapshot came (it reconnects and
 *   pushes them again)
 */

export class SealedRoom {
  /** @type {Set<SealedConn>} */
  conns = new Set();
  baseSeq = 0;
  /** @type {Uint8Array | null} */
  base = null;
  /** @type {Array<{ seq: number, payload: Uint8Array }>} every entry, stored or still being written */
  entries = [];
  /** The last number given to an entry... */
  head = 0;
  /** ...and the last one announced: the store holds every entry up to it. */
  announced = 0;
  epoch = newEpoch();
  /** Whether the store holds the epoch (it goes out with the first write). */
  #epochStored = false;
  /** @type {Promise<void>} the latest announcement (they go out in order) */
  #announcing = Promise.resolve();
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
      if (r.type === rec.EPOCH) {
        room.epoch = r.seq;
        room.#epochStored = true;
      } else if (r.type === rec.BASE) room.#setBase(r.seq, r.bytes);
      else if (r.type === rec.ENTRY && r.seq > room.head) {
        room.entries.push({ seq: r.seq, payload: r.bytes });
        room.entryBytes += r.bytes.length;
        room.head = r.seq;
      }
    }
    room.announced = room.head;
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
        this.#resume(conn, m.seq, m.epoch);
        return;
      case PUSH:
        this.#push(conn, m.payload);
        return;
      case SNAPSHOT:
        this.#snapshot(conn, m.seq, m.payload);
        return;
      case PING:
        conn.send(relayMessage(PONG));
        return;
      case EPHEMERAL: {
        if (m.payload.length > MAX_EPHEMERAL_BYTES) throw new TypeError(`an ephemeral payload of ${m.payload.length} bytes`);
        // Encoded once for every receiver: a room of n clients does not hold n copies.
        const pass = relayMessage(PASS, undefined, m.payload);
        for (const other of this.conns) if (other !== conn && other.live) other.send(pass);
        return;
      }
    }
  }

  /**
   * @param {SealedConn} conn
   * @param {number} seq the last number the client saw
   * @param {number} epoch the epoch of the log it saw it in (0: none)
   */
  #resume(conn, seq, epoch) {
    // A number from another epoch, or from the future: the log the client saw is gone (a relay
    // without --data restarted). The client gets everything there is.
    if (epoch !== this.epoch || seq > this.announced) seq = 0;
    if (seq < this.baseSeq && this.base !== null) conn.send(relayMessage(BASE, this.baseSeq, this.base));
    for (const e of this.entries) {
      if (e.seq > this.announced) break;
      if (e.seq > seq) conn.send(relayMessage(ENTRY, e.seq, e.payload));
    }
    conn.send(relayMessage(LIVE, this.announced, undefined, this.epoch));
    conn.live = true;
  }

  /** @param {SealedConn} conn @param {Uint8Array} payload */
  #push(conn, payload) {
    if (!conn.live) throw new TypeError("pushed before resuming");
    if (conn.refusedAt !== undefined) {
      // After a refused push (numbering a later one would leave a gap): dropped, and pushed
      // again after the reconnect. A client that never sends the snapshot asked is closed.
      if (performance.now() - conn.refusedAt > SNAPSHOT_WAIT_MS) conn.close(4413, "room full: no snapshot came");
      return;
    }
    if (this.bytes + payload.length > this.limits.maxRoomBytes) {
      // Refused. Another live client is asked for a snapshot and this one is closed (it pushes
      // again once reconnected); alone, it is asked itself, and closed once the snapshot came.
      // Both after the pushes still being stored are announced: the client then knows which
      // of its pushes the log holds, and its snapshot covers them.
      conn.refusedAt = performance.now();
      this.#afterAnnounced(() => {
        if (!this.conns.has(conn)) return;
        const other = [...this.conns].find((c) => c.live && c !== conn && c.refusedAt === undefined);
        if (other !== undefined) {
          this.#ask(other);
          conn.close(4413, "room full: its log is waiting for a snapshot");
        } else this.#ask(conn);
      });
      return;
    }
    const seq = ++this.head;
    this.entries.push({ seq, payload });
    this.entryBytes += payload.length;
    const records = [{ type: rec.ENTRY, seq, bytes: payload }];
    if (!this.#epochStored) records.unshift(this.#epochRecord());
    const written = this.#write(() => this.store.append(`sealed:${this.id}`, records));
    // Announced once stored (a failed write is reported, and the entry lives in memory only).
    this.#announcing = Promise.all([this.#announcing, written]).then(() => this.#announce(conn, seq, payload));
  }

  /** @param {SealedConn} pusher @param {number} seq @param {Uint8Array} payload */
  #announce(pusher, seq, payload) {
    this.announced = seq;
    const here = this.conns.has(pusher);
    if (here) pusher.send(relayMessage(PUSHED, seq));
    const entry = relayMessage(ENTRY, seq, payload);
    for (const other of this.conns) if (other !== pusher && other.live) other.send(entry);
    if (here && this.entryBytes > Math.max(COMPACT_MIN_BYTES, this.base?.length ?? 0)) this.#askSnapshot(pusher);
  }

  /** Runs `fn` once every entry numbered so far is announced. @param {() => void} fn */
  #afterAnnounced(fn) {
    this.#announcing = this.#announcing.then(fn);
  }

  #epochRecord() {
    this.#epochStored = true;
    return { type: rec.EPOCH, seq: this.epoch, bytes: new Uint8Array(0) };
  }

  /**
   * The log has grown: asks the client that just pushed for a snapshot (it is live and just
   * wrote: it holds the whole log), once per wait.
   * @param {SealedConn} pusher
   */
  #askSnapshot(pusher) {
    if (this.#asked.conn !== null && performance.now() - this.#asked.at < SNAPSHOT_WAIT_MS) return;
    this.#ask(pusher);
  }

  /** @param {SealedConn} conn */
  #ask(conn) {
    this.#asked = { at: performance.now(), conn };
    conn.send(relayMessage(WANT_SNAPSHOT, this.announced));
  }

  /** @param {SealedConn} conn @param {number} seq @param {Uint8Array} payload */
  #snapshot(conn, seq, payload) {
    if (!conn.live) throw new TypeError("sent a snapshot before resuming");
    // A client whose push was refused: it pushes again after a reconnect, into the room made.
    if (conn.refusedAt !== undefined) this.#afterAnnounced(() => conn.close(4413, "room was full: push again"));
    if (seq <= this.baseSeq || seq > this.announced) return; // stale, or from the future: ignored
    this.#setBase(seq, payload);
    if (this.#asked.conn === conn) this.#asked = { at: -Infinity, conn: null };
    // (Entries still being appended are in it too: the rewrite runs after their appends.)
    const records = [
      this.#epochRecord(),
      { type: rec.BASE, seq, bytes: payload },
      ...this.entries.map((e) => ({ type: rec.ENTRY, seq: e.seq, bytes: e.payload })),
    ];
    this.#write(() => this.store.rewrite(`sealed:${this.id}`, records));
  }

  /** @param {() => Promise<void>} write @returns {Promise<void>} settles once written (or failed) */
  #write(write) {
    this.#lastWrite = write().catch((err) => this.warn(`sealed room ${this.id}: could not persist: ${err.message}`));
    return this.#lastWrite;
  }

  /** @param {number} code @param {string} reason */
  async close(code, reason) {
    for (const conn of [...this.conns]) conn.close(code, reason);
    this.conns.clear();
    await this.#lastWrite;
    await this.#announcing;
    await this.store.release(`sealed:${this.id}`);
  }
}
