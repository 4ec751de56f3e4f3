// A relay room without a password: the server holds the room's state as a crdtdb replica
// and syncs it with every connection by the ordinary protocol (js/sync/), relaying what one
// client sends to the others. A late joiner catches up from the replica while the others are
// offline. Each merged update is appended to the room store; the log is compacted into one
// snapshot when it grows past twice the last one. Compaction folds the replica's history first
// (db.compact(): what every peer heard from has acknowledged), so the snapshot holds the rows'
// state rather than every update ever made; a peer from before the fold catches up from it.

import { CRDTDB } from "../index.node.js";
import { SyncProvider } from "../sync/provider.js";
import { CHANGES, SNAPSHOT } from "./room_store.js";

/** Appended bytes beyond which the log is compacted, at least. */
const COMPACT_MIN_BYTES = 1024 * 1024;

/**
 * One connection as the room sees it.
 * @typedef {object} RelayConn
 * @property {(bytes: Uint8Array) => void} send
 * @property {(code: number, reason: string) => void} close
 */

class RoomProvider extends SyncProvider {
  /** @type {Map<string, RelayConn>} */
  conns = new Map();

  /** @param {string} peerId */
  drop(peerId) {
    super.drop(peerId);
    const conn = this.conns.get(peerId);
    if (conn !== undefined) {
      this.conns.delete(peerId);
      conn.close(1000, "sync session ended");
    }
  }
}

export class PlainRoom {
  /** Bytes appended to the store since the last snapshot, and that snapshot's size. */
  #logBytes = 0;
  #baseBytes = 0;
  #compacting = false;
  /** @type {Promise<void>} the latest append (close waits for it) */
  #lastWrite = Promise.resolve();
  /** @type {Promise<void>} the compaction under way (close waits for it) */
  #compaction = Promise.resolve();
  #closed = false;

  /**
   * @param {string} name
   * @param {CRDTDB} db
   * @param {import("./room_store.js").RoomStore} store
   * @param {import("./limits.js").Limits} limits
   * @param {(m: string) => void} warn
   */
  constructor(name, db, store, limits, warn) {
    this.name = name;
    this.db = db;
    this.store = store;
    this.limits = limits;
    this.warn = warn;
    this.provider = new RoomProvider(db, { relay: true, maxMessageBytes: limits.maxMessageBytes, warn });
    this.provider.setConnected(true);
    // In memory too: the store's writes are then no-ops, and compaction keeps the replica's
    // history bounded all the same.
    db.on("update", (e) => this.#persist(e.bytes));
  }

  /**
   * Opens a room with what the store holds of it.
   * @param {string} name
   * @param {import("./room_store.js").RoomStore} store
   * @param {import("./limits.js").Limits} limits
   * @param {(m: string) => void} warn
   */
  static async open(name, store, limits, warn) {
    const records = await store.load(`plain:${name}`);
    const db = await CRDTDB.open(`relay:${name}`, { storage: "memory", maxPendingBytes: limits.maxMessageBytes });
    let base = 0;
    let log = 0;
    for (const r of records) {
      if (r.type !== SNAPSHOT && r.type !== CHANGES) continue;
      db.applyChanges(r.bytes, { origin: "store" });
      if (r.type === SNAPSHOT) {
        base = r.bytes.length;
        log = 0;
      } else log += r.bytes.length;
    }
    const room = new PlainRoom(name, db, store, limits, warn);
    room.#baseBytes = base;
    room.#logBytes = log;
    return room;
  }

  /** Connections in the room. */
  get size() {
    return this.provider.conns.size;
  }

  /**
   * A client joined, as `peerId` (one already connected under that id is replaced: a reload).
   * @param {string} peerId
   * @param {RelayConn} conn
   * @returns {(bytes: Uint8Array) => void} what to call with each message it sends
   */
  add(peerId, conn) {
    const old = this.provider.conns.get(peerId);
    if (old !== undefined) {
      this.provider.conns.delete(peerId);
      this.provider.drop(peerId);
      old.close(4000, "replaced by a newer connection of the same peer");
    }
    this.provider.conns.set(peerId, conn);
    return (bytes) => {
      if (this.provider.conns.get(peerId) !== conn) return;
      this.provider.receive(peerId, bytes, conn.send, true);
      // The session ended on this frame (a bye, or too many bad frames): so does the link.
      if (!this.provider.peers.includes(peerId) && this.provider.conns.get(peerId) === conn) {
        this.provider.conns.delete(peerId);
        conn.close(1008, "sync session ended (bye, or too many bad frames)");
      }
    };
  }

  /** A client's connection closed. @param {string} peerId @param {RelayConn} conn */
  remove(peerId, conn) {
    if (this.provider.conns.get(peerId) !== conn) return;
    this.provider.conns.delete(peerId);
    this.provider.drop(peerId);
  }

  /** @param {Uint8Array} bytes */
  #persist(bytes) {
    this.#logBytes += bytes.length;
    this.#lastWrite = this.store
      .append(`plain:${this.name}`, [{ type: CHANGES, seq: 0, bytes }])
      .catch((err) => this.warn(`room ${this.name}: could not persist an update: ${err.message}`));
    if (!this.#compacting && this.#logBytes > Math.max(COMPACT_MIN_BYTES, 2 * this.#baseBytes)) this.#compact();
  }

  #compact() {
    this.#compacting = true;
    this.#compaction = (async () => {
      // Folds the history every peer heard from has (the others catch up from a snapshot).
      await this.db.compact();
      if (this.#closed) return;
      // Taken and queued at once: every append queued before is in it, every later one after.
      const snapshot = this.db.changesSince();
      this.#baseBytes = snapshot.length;
      this.#logBytes = 0;
      this.#lastWrite = this.store.rewrite(`plain:${this.name}`, [{ type: SNAPSHOT, seq: 0, bytes: snapshot }]);
      await this.#lastWrite;
    })()
      .catch((err) => this.warn(`room ${this.name}: could not compact: ${err.message}`))
      .finally(() => {
        this.#compacting = false;
      });
  }

  /** Closes every connection and the replica, after pending writes. @param {number} code @param {string} reason */
  async close(code, reason) {
    for (const [id, conn] of [...this.provider.conns]) {
      this.provider.conns.delete(id);
      conn.close(code, reason);
    }
    this.provider.destroy();
    this.#closed = true;
    await this.#compaction;
    await this.#lastWrite.catch(() => {});
    await this.store.release(`plain:${this.name}`);
    this.db.close();
  }
}
