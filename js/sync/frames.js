// The sync protocol's frames (docs/sync.md): one binary message on a link, a type byte then
// its fields. Decoding checks every length against the frame, so a malformed frame is a
// DecodeError, never an out-of-bounds read.

import { Writer } from "../codec.js";
import { DecodeError } from "../errors.js";

/** Protocol 2 added DELTA; protocol 1 peers are still understood (and sent no deltas). */
export const PROTOCOL = 2;
export const MIN_PROTOCOL = 1;

export const HELLO = 1; // protocol version, ask id, sender's version: "send me what I lack"
export const CHANGES = 2; // changesSince/update bytes, for applyChanges
export const SYNCED = 3; // ask id, sender's version: "that was everything you lacked when you asked"
export const ACK = 4; // sender's version after applying what it received (also a heartbeat)
export const PART = 5; // total length, offset, bytes: a slice of a frame larger than a link carries
export const BYE = 6; // the sender leaves
export const PRESENCE = 7; // presence entries: peer id, clock, state as JSON ("null": left)
export const DELTA = 8; // reference tag (u32 LE), ops: a change frame as a delta (./delta.js)

const NAMES = ["", "hello", "changes", "synced", "ack", "part", "bye", "presence", "delta"];

/** @param {number} type @returns {string} */
export function frameName(type) {
  return NAMES[type] ?? `unknown type ${type}`;
}

/**
 * @typedef {{ type: typeof HELLO, protocol: number, ask: number, version: Uint8Array }
 *   | { type: typeof CHANGES, bytes: Uint8Array }
 *   | { type: typeof SYNCED, ask: number, version: Uint8Array }
 *   | { type: typeof ACK, version: Uint8Array }
 *   | { type: typeof PART, total: number, offset: number, bytes: Uint8Array }
 *   | { type: typeof BYE }
 *   | { type: typeof PRESENCE, entries: import("../presence.js").PresenceEntry[] }
 *   | { type: typeof DELTA, tag: number, ops: Uint8Array }} Frame
 */

/** @param {number} v @returns {number} bytes of v as a varint */
function varintSize(v) {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * Encodes a frame: the type byte, then varints, then the trailing bytes field.
 * @param {number} type
 * @param {number[]} ints
 * @param {Uint8Array} [tail]
 * @returns {Uint8Array}
 */
export function encode(type, ints, tail) {
  // Room for the largest varints: the writer never grows, and its view holds at most a few
  // spare bytes (what a structured clone of the frame copies beside it).
  const w = new Writer(1 + 10 * ints.length + (tail?.length ?? 0));
  w.u8(type);
  for (const v of ints) w.varint(v);
  if (tail) w.bytes(tail);
  return w.view();
}

/** @param {number} ask which hello this is (its answer's synced frame names it) @param {Uint8Array} version */
export const helloFrame = (ask, version) => encode(HELLO, [PROTOCOL, ask], version);
/** @param {Uint8Array} bytes */
export const changesFrame = (bytes) => encode(CHANGES, [], bytes);
/** @param {number} ask the hello answered @param {Uint8Array} version */
export const syncedFrame = (ask, version) => encode(SYNCED, [ask], version);
/** @param {Uint8Array} version */
export const ackFrame = (version) => encode(ACK, [], version);
/** @param {number} total @param {number} offset @param {Uint8Array} bytes */
export const partFrame = (total, offset, bytes) => encode(PART, [total, offset], bytes);
export const byeFrame = () => encode(BYE, []);
/** @param {number} tag the reference's tag @param {Uint8Array} ops */
export function deltaFrame(tag, ops) {
  const f = new Uint8Array(5 + ops.length);
  f[0] = DELTA;
  new DataView(f.buffer).setUint32(1, tag, true);
  f.set(ops, 5);
  return f;
}

const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** @param {import("../presence.js").PresenceEntry[]} entries */
export function presenceFrame(entries) {
  // Peer ids and JSON text are well-formed strings (ids are checked or decoded strictly).
  const w = new Writer(64);
  w.u8(PRESENCE);
  w.varint(entries.length);
  for (const e of entries) {
    w.string(e.peer);
    w.varint(e.clock);
    w.string(JSON.stringify(e.state));
  }
  return w.view().slice(); // (exactly its bytes: the writer's buffer may be twice as large)
}

/** Presence states accepted: at most this much JSON (as db.presence.set allows)... */
export const MAX_STATE_CHARS = 16 * 1024;
/** ...nested at most this deep (so re-encoding it cannot exhaust the stack). */
export const MAX_STATE_DEPTH = 64;

/** The deepest nesting of arrays and objects in JSON text (strings skipped). @param {string} text */
export function nesting(text) {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Reads varints from a frame, refusing to run past its end. */
export class FrameReader {
  /** @param {Uint8Array} buf */
  constructor(buf) {
    this.buf = buf;
    this.pos = 1;
  }

  /** @param {string} what */
  varint(what) {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) throw new DecodeError(`sync frame truncated in its ${what}`);
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) break;
        return v;
      }
      scale *= 128;
    }
    throw new DecodeError(`sync frame's ${what} is not a safe integer`);
  }

  rest() {
    return this.buf.subarray(this.pos);
  }

  /** @param {string} what */
  text(what) {
    const n = this.varint(`${what} length`);
    if (n > this.buf.length - this.pos) throw new DecodeError(`sync frame truncated in its ${what}`);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return fromUtf8.decode(bytes);
    } catch {
      throw new DecodeError(`sync frame's ${what} is not valid UTF-8`);
    }
  }
}

/**
 * Decodes one frame (its byte fields are views into `buf`).
 * @param {Uint8Array} buf
 * @returns {Frame}
 */
export function decodeFrame(buf) {
  if (!(buf instanceof Uint8Array)) throw new DecodeError("sync frame is not binary");
  if (buf.length === 0) throw new DecodeError("sync frame is empty");
  const type = buf[0];
  const r = new FrameReader(buf);
  switch (type) {
    case HELLO: {
      const protocol = r.varint("protocol version");
      const ask = r.varint("ask id");
      return { type, protocol, ask, version: r.rest() };
    }
    case CHANGES:
      return { type, bytes: r.rest() };
    case SYNCED: {
      const ask = r.varint("ask id");
      return { type, ask, version: r.rest() };
    }
    case ACK:
      return { type, version: r.rest() };
    case PART: {
      const total = r.varint("total length");
      const offset = r.varint("offset");
      const bytes = r.rest();
      if (bytes.length === 0) throw new DecodeError("sync frame part is empty");
      if (offset + bytes.length > total) throw new DecodeError("sync frame part runs past its frame's length");
      return { type, total, offset, bytes };
    }
    case BYE:
      if (buf.length !== 1) throw new DecodeError("sync bye frame has trailing bytes");
      return { type };
    case PRESENCE: {
      const count = r.varint("entry count");
      if (count > buf.length) throw new DecodeError("sync presence frame counts more entries than it has bytes");
      const entries = [];
      for (let i = 0; i < count; i++) {
        const peer = r.text("peer id");
        if (peer === "" || peer.length > 256) throw new DecodeError("sync presence frame has a bad peer id");
        const clock = r.varint("clock");
        const text = r.text("state");
        if (text.length > MAX_STATE_CHARS) throw new DecodeError(`sync presence state of ${text.length} characters`);
        if (nesting(text) > MAX_STATE_DEPTH) throw new DecodeError(`sync presence state nested deeper than ${MAX_STATE_DEPTH}`);
        let state;
        try {
          state = JSON.parse(text);
        } catch {
          throw new DecodeError("sync presence frame's state is not JSON");
        }
        entries.push({ peer, clock, state });
      }
      if (r.pos !== buf.length) throw new DecodeError("sync presence frame has trailing bytes");
      return { type, entries };
    }
    case DELTA: {
      if (buf.length < 6) throw new DecodeError("sync delta frame is too short");
      const tag = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1, true);
      return { type, tag, ops: buf.subarray(5) };
    }
    default:
      throw new DecodeError(`sync frame has unknown type ${type}`);
  }
}

/**
 * Splits a frame into PART frames of at most `max` bytes each (the frame itself when it fits).
 * @param {Uint8Array} frame
 * @param {number} max
 * @returns {Uint8Array[]}
 */
export function splitFrame(frame, max) {
  if (frame.length <= max) return [frame];
  const header = 1 + 2 * varintSize(frame.length);
  const step = Math.max(1, max - header);
  const parts = [];
  for (let off = 0; off < frame.length; off += step) {
    parts.push(partFrame(frame.length, off, frame.subarray(off, off + step)));
  }
  return parts;
}

/**
 * Reassembles PART frames (a link delivers them in order). Holds the slices received, never
 * more than the frame's declared length, which is refused above a bound: memory follows the
 * bytes a peer actually sent.
 */
export class Reassembler {
  /** @type {Uint8Array[]} */
  #slices = [];
  #total = 0;
  #filled = 0;
  /** Frames given up because a new one started before their last part. */
  abandoned = 0;

  /** @param {number} maxBytes the largest frame accepted */
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
  }

  /**
   * @param {{ total: number, offset: number, bytes: Uint8Array }} part
   * @returns {Uint8Array | null} the whole frame once its last part arrived
   */
  add(part) {
    if (part.offset === 0) {
      // A new frame: one still arriving is abandoned (its last parts never came).
      if (this.#total > 0) this.abandoned++;
      this.reset();
      if (part.total > this.maxBytes) {
        throw new DecodeError(`sync frame of ${part.total} bytes exceeds the limit of ${this.maxBytes}`);
      }
      this.#total = part.total;
    } else if (this.#total === 0 || part.total !== this.#total || part.offset !== this.#filled) {
      this.reset();
      throw new DecodeError("sync frame part out of sequence");
    }
    this.#slices.push(part.bytes.slice());
    this.#filled += part.bytes.length;
    if (this.#filled < this.#total) return null;
    const whole = new Uint8Array(this.#total);
    let at = 0;
    for (const slice of this.#slices) {
      whole.set(slice, at);
      at += slice.length;
    }
    this.reset();
    return whole;
  }

  /** Forgets a frame still arriving. */
  reset() {
    this.#slices = [];
    this.#total = 0;
    this.#filled = 0;
  }

  /** Bytes held for a frame still arriving. */
  get pendingBytes() {
    return this.#filled;
  }

  /** Whether a frame is still arriving. */
  get arriving() {
    return this.#total > 0;
  }
}
