// Where relay rooms keep their state between connections (docs/server.md, "Room state").
// Rooms talk to a RoomStore only, so rooms can later live in shared storage that several
// server processes use. Two stores: MemoryRoomStore (the state lives as long as the process)
// and FileRoomStore (--data DIR: one append-only file per room, compacted by rewriting).
//
// A room's state is a list of records, in order. The store does not interpret them:
//   plain rooms:  SNAPSHOT (everything up to here, engine encoding), CHANGES (engine encoding)
//   sealed rooms: EPOCH (seq: the log's epoch), BASE (seq, sealed snapshot), ENTRY (seq, sealed payload)

import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

export const SNAPSHOT = 1;
export const CHANGES = 2;
export const BASE = 3;
export const ENTRY = 4;
export const EPOCH = 5;

/** @typedef {{ type: number, seq: number, bytes: Uint8Array }} RoomRecord */

/**
 * @typedef {object} RoomStore
 * @property {boolean} persistent whether state outlives the process (rooms may then be
 *   unloaded when idle)
 * @property {(room: string) => Promise<RoomRecord[]>} load a room's records (none: a new room)
 * @property {(room: string, records: RoomRecord[]) => Promise<void>} append adds records;
 *   resolves once they are durable
 * @property {(room: string, records: RoomRecord[]) => Promise<void>} rewrite replaces every
 *   record at once (compaction)
 * @property {(room: string) => Promise<void>} release the room was unloaded: its resources go
 * @property {() => Promise<void>} close waits for pending writes
 */

/** @implements {RoomStore} */
export class MemoryRoomStore {
  persistent = false;

  async load() {
    return [];
  }

  async append() {}

  async rewrite() {}

  async release() {}

  async close() {}
}

const MAGIC = new TextEncoder().encode("CRDTDBR1");
const HEADER = 1 + 8 + 4 + 4; // type, seq (u64), length (u32), crc32 (u32)

/** @param {RoomRecord} r @returns {Buffer} */
function encodeRecord(r) {
  const out = Buffer.alloc(HEADER + r.bytes.length);
  out.writeUInt8(r.type, 0);
  out.writeBigUInt64LE(BigInt(r.seq), 1);
  out.writeUInt32LE(r.bytes.length, 9);
  out.set(r.bytes, HEADER);
  out.writeUInt32LE(crc32(out.subarray(HEADER), crc32(out.subarray(0, 13))), 13);
  return out;
}

/**
 * Reads a room file's records up to the first one that is incomplete or damaged (a write
 * torn by a crash): those and anything after are not part of the state.
 * @param {Buffer} buf
 * @returns {{ records: RoomRecord[], validBytes: number }}
 */
export function decodeRoomFile(buf) {
  // Shorter than the magic and a prefix of it (empty included): the first write was torn.
  if (buf.length < MAGIC.length && buf.equals(MAGIC.subarray(0, buf.length))) return { records: [], validBytes: 0 };
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error("not a crdtdb-server room file (bad magic)");
  }
  const records = [];
  let pos = MAGIC.length;
  while (pos + HEADER <= buf.length) {
    const len = buf.readUInt32LE(pos + 9);
    if (pos + HEADER + len > buf.length) break;
    const body = buf.subarray(pos + HEADER, pos + HEADER + len);
    if (crc32(body, crc32(buf.subarray(pos, pos + 13))) !== buf.readUInt32LE(pos + 13)) break;
    records.push({ type: buf.readUInt8(pos), seq: Number(buf.readBigUInt64LE(pos + 1)), bytes: new Uint8Array(body) });
    pos += HEADER + len;
  }
  return { records, validBytes: pos };
}

/**
 * @typedef {object} FileRoom
 * @property {import("node:fs/promises").FileHandle | null} fh open for appending
 * @property {Promise<void>} queue the last step queued (steps of a room run one at a time)
 * @property {number} steps steps queued and not finished
 * @property {{ parts: Buffer[], done: Promise<void> } | null} batch appends waiting for the
 *   next write (it has not started)
 */

/**
 * One file per room under a directory, named by a hash of the room id. Appends are batched:
 * records that arrive while a write is under way go out together in the next one, each write
 * followed by an fdatasync. Every step on a room (load, append, rewrite, release) runs after
 * the ones before it.
 * @implements {RoomStore}
 */
export class FileRoomStore {
  persistent = true;
  /** @type {Map<string, FileRoom>} */
  #rooms = new Map();

  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
  }

  /** @param {string} room */
  file(room) {
    return join(this.dir, `${createHash("sha256").update(room).digest("hex").slice(0, 32)}.room`);
  }

  /** @param {string} room @returns {FileRoom} */
  #room(room) {
    let r = this.#rooms.get(room);
    if (r === undefined) this.#rooms.set(room, (r = { fh: null, queue: Promise.resolve(), steps: 0, batch: null }));
    return r;
  }

  /**
   * Runs one step after the room's earlier ones. Appends not yet written stay before it: a
   * later append starts a new batch, after this step.
   * @template T
   * @param {string} room
   * @param {(r: FileRoom) => Promise<T>} step
   * @returns {Promise<T>}
   */
  #serial(room, step) {
    const r = this.#room(room);
    r.batch = null;
    r.steps++;
    const p = r.queue.then(() => step(r)).finally(() => {
      r.steps--;
    });
    r.queue = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  /** @param {string} room */
  load(room) {
    // After the room's pending writes (an instance unloaded a moment ago may still write).
    return this.#serial(room, async () => {
      await mkdir(this.dir, { recursive: true });
      let buf;
      try {
        buf = await readFile(this.file(room));
      } catch (err) {
        if (/** @type {any} */ (err).code === "ENOENT") return [];
        throw err;
      }
      const { records, validBytes } = decodeRoomFile(buf);
      if (validBytes < buf.length) {
        // A torn tail from a crash: cut it, so later appends follow the last whole record.
        const fh = await open(this.file(room), "r+");
        try {
          await fh.truncate(validBytes);
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }
      return records;
    });
  }

  /** @param {string} room @param {RoomRecord[]} records */
  append(room, records) {
    const bytes = Buffer.concat(records.map(encodeRecord));
    const waiting = this.#rooms.get(room)?.batch;
    if (waiting) {
      // A batch still waits for its turn: these records go with it, in order.
      waiting.parts.push(bytes);
      return waiting.done;
    }
    /** @type {{ parts: Buffer[], done: Promise<void> }} */
    const batch = { parts: [bytes], done: Promise.resolve() };
    batch.done = this.#serial(room, async (r) => {
      // Writing starts: later appends make the next batch.
      if (r.batch === batch) r.batch = null;
      let data = Buffer.concat(batch.parts);
      if (r.fh === null) {
        await mkdir(this.dir, { recursive: true });
        r.fh = await open(this.file(room), "a");
        // A new file: the magic goes out with the first records, in one write.
        if ((await r.fh.stat()).size === 0) data = Buffer.concat([MAGIC, data]);
      }
      await r.fh.write(data);
      await r.fh.datasync();
    });
    this.#room(room).batch = batch;
    return batch.done;
  }

  /** @param {string} room @param {RoomRecord[]} records */
  rewrite(room, records) {
    const bytes = Buffer.concat([MAGIC, ...records.map(encodeRecord)]);
    return this.#serial(room, async (r) => {
      await r.fh?.close();
      r.fh = null;
      const file = this.file(room);
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, "w");
      try {
        await fh.write(bytes);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      // The rename itself durable: sync the directory.
      const dir = await open(this.dir, "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    });
  }

  /** Closes a room's file (the room was unloaded), after its pending writes. @param {string} room */
  async release(room) {
    const r = this.#rooms.get(room);
    if (r === undefined) return;
    await this.#serial(room, async () => {
      const fh = r.fh;
      r.fh = null;
      await fh?.close();
    });
    // Forgotten unless steps were queued meanwhile (a new instance of the room).
    if (this.#rooms.get(room) === r && r.steps === 0) this.#rooms.delete(room);
  }

  async close() {
    await Promise.all([...this.#rooms.keys()].map((room) => this.release(room)));
  }

  /** Deletes a room's file (tests). @param {string} room */
  async remove(room) {
    await this.release(room);
    await rm(this.file(room), { force: true });
  }
}
