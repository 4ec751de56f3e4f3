// Deltas between consecutive change frames on one link (docs/sync.md, "Small updates on live
// links"). Consecutive updates of one peer repeat most of their bytes: the frame header, the
// author's peer id, table and column names, often the row key. On an ordered link both ends
// keep the last change frame that crossed it (the reference); a DELTA frame then carries only
// copies from the reference and the bytes that differ. A single-column update shrinks from
// about 55 bytes to about 20. This is byte-level compression, not merging: the bytes decoded
// are exactly the engine's own, and applyChanges checks them as ever (their CRC included).
//
// Ops: varint (len << 1 | 1) then varint offset: copy len bytes of the reference from offset;
//      varint (len << 1) then len bytes: literal bytes.

import { Writer } from "../codec.js";
import { DecodeError } from "../errors.js";

/** Change frames up to this size become references (larger ones are rare on live links). */
export const MAX_REFERENCE_BYTES = 4096;
const MIN_MATCH = 3;
const MAX_CHAIN = 16;
const HASH_BITS = 12;

/** @param {Uint8Array} b @param {number} i */
const hash3 = (b, i) => (((b[i] << 16) | (b[i + 1] << 8) | b[i + 2]) * 2654435761) >>> (32 - HASH_BITS);

/**
 * A 32-bit tag naming a reference (FNV-1a): a DELTA frame says which reference it was made
 * against, so a receiver holding another one notices instead of decoding garbage.
 * @param {Uint8Array} b
 */
export function referenceTag(b) {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** A reference and its match index. */
class Reference {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.tag = referenceTag(bytes);
    this.head = new Int32Array(1 << HASH_BITS).fill(-1);
    this.prev = new Int32Array(bytes.length);
    for (let i = 0; i + MIN_MATCH <= bytes.length; i++) {
      const h = hash3(bytes, i);
      this.prev[i] = this.head[h];
      this.head[h] = i;
    }
  }
}

/**
 * Encodes `target` as ops against `ref`.
 * @param {Reference} ref
 * @param {Uint8Array} target
 * @returns {Uint8Array}
 */
function encodeOps(ref, target) {
  const base = ref.bytes;
  const w = new Writer(target.length + 16);
  let litStart = 0;
  const flush = (/** @type {number} */ end) => {
    if (end > litStart) {
      w.varint((end - litStart) * 2);
      w.bytes(target.subarray(litStart, end));
    }
  };
  let i = 0;
  while (i < target.length) {
    let best = 0;
    let bestAt = 0;
    if (i + MIN_MATCH <= target.length) {
      let p = ref.head[hash3(target, i)];
      for (let chain = 0; p >= 0 && chain < MAX_CHAIN; chain++, p = ref.prev[p]) {
        let n = 0;
        while (p + n < base.length && i + n < target.length && base[p + n] === target[i + n]) n++;
        if (n > best) {
          best = n;
          bestAt = p;
        }
      }
    }
    if (best >= MIN_MATCH) {
      flush(i);
      w.varint(best * 2 + 1);
      w.varint(bestAt);
      i += best;
      litStart = i;
    } else i++;
  }
  flush(target.length);
  return w.buf.slice(0, w.pos);
}

/**
 * Decodes ops against a reference; DecodeError when they do not fit it.
 * @param {Uint8Array} base
 * @param {Uint8Array} ops
 * @param {number} maxBytes the largest result accepted
 * @returns {Uint8Array}
 */
export function decodeOps(base, ops, maxBytes) {
  const out = new Writer(Math.min(maxBytes, 4 * ops.length + 64));
  let pos = 0;
  const varint = () => {
    let v = 0;
    let scale = 1;
    for (let k = 0; k < 5; k++) {
      if (pos >= ops.length) throw new DecodeError("sync delta truncated");
      const b = ops[pos++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
    throw new DecodeError("sync delta has an oversized number");
  };
  while (pos < ops.length) {
    const op = varint();
    const len = Math.floor(op / 2);
    if (len === 0) throw new DecodeError("sync delta has an empty op");
    if (out.pos + len > maxBytes) throw new DecodeError(`sync delta decodes to more than ${maxBytes} bytes`);
    if (op % 2 === 1) {
      const at = varint();
      if (at + len > base.length) throw new DecodeError("sync delta copies past its reference");
      out.bytes(base.subarray(at, at + len));
    } else {
      if (pos + len > ops.length) throw new DecodeError("sync delta truncated in a literal");
      out.bytes(ops.subarray(pos, pos + len));
      pos += len;
    }
  }
  return out.buf.slice(0, out.pos);
}

// A provider sends one update to many peers (a relay room fans out to every client): their
// links hold the same reference and get the same delta, computed once.
/** @type {Reference | null} */
let lastReference = null;
/** @type {{ ref: Reference | null, target: Uint8Array | null, ops: Uint8Array | null }} */
const lastDelta = { ref: null, target: null, ops: null };

/** @param {Uint8Array} bytes */
function referenceOf(bytes) {
  if (lastReference?.bytes !== bytes) lastReference = new Reference(bytes);
  return lastReference;
}

/** @param {Reference} ref @param {Uint8Array} target */
function opsFor(ref, target) {
  if (lastDelta.ref !== ref || lastDelta.target !== target) {
    lastDelta.ref = ref;
    lastDelta.target = target;
    lastDelta.ops = encodeOps(ref, target);
  }
  return /** @type {Uint8Array} */ (lastDelta.ops);
}

/** The sending end of a link: the last change frame sent, and deltas against it. */
export class DeltaSender {
  /** @type {Reference | null} */
  #ref = null;

  /** Forgets the reference (the peer started over: its next frame must be whole). */
  reset() {
    this.#ref = null;
  }

  /**
   * What to send for `bytes`: a delta against the reference when that is smaller, else null
   * (send the change frame whole). Either way `bytes` becomes the reference, as it does at
   * the receiving end.
   * @param {Uint8Array} bytes
   * @returns {{ tag: number, ops: Uint8Array } | null}
   */
  encode(bytes) {
    const ref = this.#ref;
    let out = null;
    if (ref !== null && bytes.length <= MAX_REFERENCE_BYTES) {
      const ops = opsFor(ref, bytes);
      if (ops.length + 6 < bytes.length) out = { tag: ref.tag, ops };
    }
    this.note(bytes);
    return out;
  }

  /** A change frame went out whole. @param {Uint8Array} bytes */
  note(bytes) {
    this.#ref = bytes.length <= MAX_REFERENCE_BYTES ? referenceOf(bytes) : null;
  }
}

/** The receiving end of a link. */
export class DeltaReceiver {
  /** @type {Uint8Array | null} */
  #ref = null;
  #tag = 0;

  /** A change frame arrived whole. @param {Uint8Array} bytes */
  note(bytes) {
    if (bytes.length <= MAX_REFERENCE_BYTES) {
      this.#ref = bytes.slice();
      this.#tag = referenceTag(this.#ref);
    } else this.#ref = null;
  }

  /**
   * The change frame a delta stands for; null when this end holds another reference (a frame
   * was lost or reordered on the way: the caller asks the peer again).
   * @param {number} tag
   * @param {Uint8Array} ops
   * @returns {Uint8Array | null}
   */
  decode(tag, ops) {
    if (this.#ref === null || tag !== this.#tag) return null;
    const bytes = decodeOps(this.#ref, ops, MAX_REFERENCE_BYTES);
    this.note(bytes);
    return bytes;
  }
}

/**
 * Encodes `target` against `base` (tests and tools).
 * @param {Uint8Array} base
 * @param {Uint8Array} target
 */
export function encodeDelta(base, target) {
  return encodeOps(new Reference(base), target);
}
