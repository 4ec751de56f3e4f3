// The binary shapes that cross the WASM boundary, JS side (the C++ side is
// bindings/convert.h, which documents every layout): a growable byte writer, a reader, and the
// value encoding of src/core/value.h. Encoding a row validates it in the same pass (the same
// rules and messages as before: plain JSON objects, finite numbers, no lone surrogates,
// depth <= 64, no cycles), so an invalid row throws TypeError and nothing reaches the engine.

import { describe, isPlainObject, isWellFormed, MAX_NAME_BYTES, MAX_VALUE_DEPTH, utf8Length } from "./validate.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

const ALLOWED = "only strings, finite numbers, booleans, null, arrays and plain objects are allowed";

/** A growable byte buffer with the boundary's primitive encodings. */
export class Writer {
  constructor(capacity = 256) {
    /** @type {Uint8Array} */
    this.buf = new Uint8Array(capacity);
    this.pos = 0;
  }

  reset() {
    this.pos = 0;
    return this;
  }

  /** @param {number} n bytes about to be written */
  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** @param {number} b */
  u8(b) {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** @param {number} v a non-negative safe integer */
  varint(v) {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (v >= 0x80000000) {
      buf[pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** @param {number} d */
  f64(d) {
    this.ensure(8);
    f64[0] = d;
    this.buf.set(f64Bytes, this.pos);
    this.pos += 8;
  }

  /** @param {Uint8Array} bytes */
  bytes(bytes) {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /**
   * A string as varint length + UTF-8 (well-formed strings only: callers check).
   * @param {string} s
   */
  string(s) {
    const n = s.length;
    if (n < 128) {
      // ASCII fast path: one length byte, one byte per char.
      this.ensure(n + 1);
      const buf = this.buf;
      let pos = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = pos;
        return;
      }
    }
    this.ensure(n * 3 + 10);
    const start = this.pos;
    // Write after room for the largest length prefix, then move into place.
    const { written } = encoder.encodeInto(s, this.buf.subarray(start + 5));
    let prefix = 1;
    for (let v = written; v >= 0x80; v = Math.floor(v / 128)) prefix++;
    this.buf.copyWithin(start + prefix, start + 5, start + 5 + written);
    this.varint(written);
    this.pos = start + prefix + written;
  }

  /** @returns {Uint8Array} a view of what was written */
  view() {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Writes a number in the engine's canonical number encoding.
 * @param {Writer} w
 * @param {number} v finite
 */
function writeNumber(w, v) {
  if (Number.isInteger(v) && v >= -9007199254740992 && v <= 9007199254740992) {
    if (v >= -64 && v <= 63) {
      w.u8(v + 0xc0); // also -0 → 0
      return;
    }
    w.u8(0x03);
    // zigzag in floating point is exact while it stays below 2^53 (and 2v always is); past
    // that an odd -2v - 1 rounds (to the zigzag of a positive number), so BigInt writes it
    if (v >= -4503599627370496) w.varint(v < 0 ? -2 * v - 1 : 2 * v);
    else writeBigVarint(w, -2n * BigInt(v) - 1n);
    return;
  }
  w.u8(0x04);
  w.f64(v);
}

/**
 * Writes a varint of any size (the rare zigzag past 2^53).
 * @param {Writer} w
 * @param {bigint} v non-negative
 */
function writeBigVarint(w, v) {
  while (v >= 0x80n) {
    w.u8(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  w.u8(Number(v));
}

/**
 * Reads a zigzag varint at `pos` exactly (one past 2^53, which a float varint rounds).
 * @param {Uint8Array} buf
 * @param {number} pos
 * @returns {number}
 */
function readBigZigzag(buf, pos) {
  let z = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    z |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  return Number(z & 1n ? -((z + 1n) >> 1n) : z >> 1n);
}

/**
 * Writes a string value (tag + bytes).
 * @param {Writer} w
 * @param {string} s well-formed
 */
function writeStringValue(w, s) {
  const n = s.length;
  if (n < 64) {
    w.ensure(n + 1);
    const buf = w.buf;
    let pos = w.pos + 1;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    if (i === n) {
      buf[w.pos] = 0x40 + n;
      w.pos = pos;
      return;
    }
  }
  const start = w.pos;
  w.u8(0x05);
  w.string(s);
  // Canonical form: strings under 64 bytes use the short tag.
  const len = w.buf[start + 1];
  if (len < 64) {
    w.buf[start] = 0x40 + len;
    w.buf.copyWithin(start + 1, start + 2, w.pos);
    w.pos -= 1;
  }
}

/**
 * Validates and writes one JSON value (object keys in insertion order: the engine sorts).
 * @param {Writer} w
 * @param {unknown} v
 * @param {string} path column path for messages
 * @param {number} depth levels below the column
 * @param {Set<object>} ancestors containers being written (cycle detection)
 * @param {(path: string, problem: string) => TypeError} fail
 */
function writeValue(w, v, path, depth, ancestors, fail) {
  // The engine's rule: no value more than MAX_VALUE_DEPTH levels below its column.
  if (depth > MAX_VALUE_DEPTH) throw fail(path, `is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  switch (typeof v) {
    case "string":
      if (!isWellFormed(v)) throw fail(path, "is a string with a lone UTF-16 surrogate");
      writeStringValue(w, v);
      return;
    case "number":
      if (!Number.isFinite(v)) throw fail(path, `is ${describe(v)}; only finite numbers are allowed`);
      writeNumber(w, v);
      return;
    case "boolean":
      w.u8(v ? 0x02 : 0x01);
      return;
    case "undefined":
      throw fail(path, "is undefined; omit the column or use null");
    case "object":
      break;
    default:
      throw fail(path, `is ${describe(v)}; ${ALLOWED}`);
  }
  if (v === null) {
    w.u8(0x00);
    return;
  }
  if (ancestors.has(v)) throw fail(path, "is cyclic (it contains itself)");
  const isArray = Array.isArray(v);
  if (!isArray && !isPlainObject(v)) throw fail(path, `is ${describe(v)}; ${ALLOWED}`);
  ancestors.add(v);
  if (isArray) {
    w.u8(0x06);
    w.varint(v.length);
    for (let i = 0; i < v.length; i++) {
      const p = `${path}[${i}]`;
      if (!(i in v)) throw fail(p, "is an empty slot of a sparse array; use null");
      writeValue(w, v[i], p, depth + 1, ancestors, fail);
    }
  } else {
    if (Object.getOwnPropertySymbols(v).length > 0) {
      throw fail(path, "has symbol-keyed properties, which JSON cannot hold");
    }
    const keys = Object.keys(v);
    w.u8(0x07);
    w.varint(keys.length);
    for (const k of keys) {
      const p = `${path}.${k}`;
      if (!isWellFormed(k)) throw fail(p, "has a name with a lone UTF-16 surrogate");
      w.string(k);
      writeValue(w, /** @type {any} */ (v)[k], p, depth + 1, ancestors, fail);
    }
  }
  ancestors.delete(v);
}

/**
 * Writes a name as the engine's id for it when `ids` knows it, else as a string (the "name"
 * of bindings/convert.h).
 * @param {Writer} w
 * @param {string} name
 * @param {Map<string, number> | undefined} ids
 */
export function writeName(w, name, ids) {
  const id = ids?.get(name);
  if (id !== undefined) {
    w.varint(id);
  } else {
    w.u8(0);
    w.string(name);
  }
}

/**
 * Validates a whole row (set) or patch (update) and writes its columns: varint n, then
 * (name, value) pairs. Throws TypeError naming the table, key and column path.
 * @param {Writer} w
 * @param {unknown} row
 * @param {{ table: string, key: string, what: "row" | "patch" }} ctx
 * @param {Map<string, number>} [ids] engine name ids to use (see writeName)
 */
export function writeColumns(w, row, { table, key, what }, ids) {
  const where = `${what} for key ${JSON.stringify(key)} in table ${JSON.stringify(table)}`;
  if (!isPlainObject(row)) {
    throw new TypeError(`invalid ${where}: a ${what} must be a plain object, got ${describe(row)}`);
  }
  /** @type {(path: string, problem: string) => TypeError} */
  const fail = (path, problem) => new TypeError(`invalid ${where}: column "${path}" ${problem}`);
  if (Object.getOwnPropertySymbols(row).length > 0) {
    throw new TypeError(`invalid ${where}: symbol-keyed columns are not allowed`);
  }
  const columns = Object.keys(row);
  w.varint(columns.length);
  /** @type {Set<object>} */
  let ancestors = EMPTY;
  for (const column of columns) {
    if (column.length > MAX_NAME_BYTES / 3 && utf8Length(column) > MAX_NAME_BYTES) {
      throw fail(`${column.slice(0, 40)}…`, `has a name longer than ${MAX_NAME_BYTES} UTF-8 bytes`);
    }
    if (!isWellFormed(column)) throw fail(column, "has a name with a lone UTF-16 surrogate");
    writeName(w, column, ids);
    const v = /** @type {any} */ (row)[column];
    if (typeof v === "object" && v !== null && ancestors === EMPTY) ancestors = new Set([row]);
    writeValue(w, v, column, 0, ancestors, fail);
  }
}
/** Shared empty set for rows without containers (the common case allocates nothing). */
const EMPTY = /** @type {Set<object>} */ (new Set());

/**
 * Checks the column name of a one-column op (set op, increment): a string, well-formed, at
 * most MAX_NAME_BYTES of UTF-8; TypeError otherwise.
 * @param {unknown} column
 * @param {string} where the op, key and table, for messages
 * @returns {asserts column is string}
 */
export function checkColumnName(column, where) {
  if (typeof column !== "string") {
    throw new TypeError(`invalid ${where}: the column name must be a string, got ${describe(column)}`);
  }
  if (column.length > MAX_NAME_BYTES / 3 && utf8Length(column) > MAX_NAME_BYTES) {
    throw new TypeError(
      `invalid ${where}: column "${column.slice(0, 40)}…" has a name longer than ${MAX_NAME_BYTES} UTF-8 bytes`,
    );
  }
  if (!isWellFormed(column)) {
    throw new TypeError(`invalid ${where}: column ${JSON.stringify(column)} has a name with a lone UTF-16 surrogate`);
  }
}

/**
 * Validates the column and element of an addToSet / removeFromSet and writes them as a patch
 * of one column: varint 1, (name column, value). The element follows the rules of a column
 * value (JSON with finite numbers, no lone surrogates, no cycles), nested one level less (the
 * set's array holds it: depth <= 63 below the element); an invalid
 * column name or element throws TypeError naming the table, key and column.
 * @param {Writer} w
 * @param {unknown} column
 * @param {unknown} element
 * @param {{ table: string, key: string, op: "addToSet" | "removeFromSet" }} ctx
 * @param {Map<string, number>} [ids] engine name ids to use (see writeName)
 */
export function writeSetElement(w, column, element, { table, key, op }, ids) {
  const where = `${op} for key ${JSON.stringify(key)} in table ${JSON.stringify(table)}`;
  checkColumnName(column, where);
  /** @type {(path: string, problem: string) => TypeError} */
  const fail = (path, problem) =>
    new TypeError(`invalid ${where}, column ${JSON.stringify(column)}: ${path} ${problem}`);
  if (element === undefined) {
    throw fail("element", "is undefined; a set element must be a JSON value (use null for none)");
  }
  w.varint(1);
  writeName(w, column, ids);
  const ancestors = typeof element === "object" && element !== null ? new Set() : EMPTY;
  // Depth 1: the set's array holds the element, and the read row must be a valid row.
  writeValue(w, element, "element", 1, ancestors, fail);
}

/**
 * Validates the column and delta of an increment and writes them as a patch of one column:
 * varint 1, (name column, delta as a canonical integer value). The delta must be a safe
 * integer (Number.isSafeInteger), so every replica sums exactly; an invalid column name or
 * delta throws TypeError naming the table, key and column.
 * @param {Writer} w
 * @param {unknown} column
 * @param {unknown} delta
 * @param {{ table: string, key: string }} ctx
 * @param {Map<string, number>} [ids] engine name ids to use (see writeName)
 */
export function writeIncrement(w, column, delta, { table, key }, ids) {
  const where = `increment for key ${JSON.stringify(key)} in table ${JSON.stringify(table)}`;
  checkColumnName(column, where);
  if (!Number.isSafeInteger(delta)) {
    const shown = typeof delta === "string" ? `the string ${JSON.stringify(delta.slice(0, 40))}` : describe(delta);
    throw new TypeError(
      `invalid ${where}, column ${JSON.stringify(column)}: the delta is ${shown}; ` +
        `a counter delta must be a safe integer (Number.isSafeInteger)`,
    );
  }
  w.varint(1);
  writeName(w, column, ids);
  writeNumber(w, /** @type {number} */ (delta));
}

/** The largest position or length a text edit may name (the engine's event space, kMaxEvents). */
export const MAX_TEXT_UNITS = 0xfffffff0;

/**
 * Writes a text op as a patch of one column: varint 1, (name column, value). A create's value
 * is null (the engine starts the text from the column); an edit's is `[pos, str]` (insert) or
 * `[pos, len]` (delete). The caller validated pos, str and len (js/text.js).
 * @param {Writer} w
 * @param {string} column validated
 * @param {{ pos: number, insert?: string, len?: number } | null} edit null: a create
 * @param {Map<string, number>} [ids] engine name ids to use (see writeName)
 */
export function writeTextOp(w, column, edit, ids) {
  w.varint(1);
  writeName(w, column, ids);
  if (edit === null) {
    w.u8(0x00);
    return;
  }
  w.u8(0x06);
  w.varint(2);
  writeNumber(w, edit.pos);
  if (edit.insert !== undefined) writeStringValue(w, edit.insert);
  else writeNumber(w, /** @type {number} */ (edit.len));
}

/**
 * Writes a key (a range bound or index key value): finite numbers, strings, arrays of those.
 * The caller validated it (js/range.js).
 * @param {Writer} w
 * @param {unknown} v
 */
export function writeKey(w, v) {
  if (typeof v === "number") writeNumber(w, v);
  else if (typeof v === "string") writeStringValue(w, v);
  else {
    const a = /** @type {unknown[]} */ (v);
    w.u8(0x06);
    w.varint(a.length);
    for (const e of a) writeKey(w, e);
  }
}

const RANGE_TYPES = /** @type {Record<string, number>} */ ({
  all: 0,
  equals: 1,
  above: 2,
  aboveOrEqual: 3,
  below: 4,
  belowOrEqual: 5,
  between: 6,
  startsWith: 7,
  anyOf: 8,
});

/**
 * Writes a range built by js/range.js.
 * @param {Writer} w
 * @param {any} r
 */
export function writeRange(w, r) {
  const type = RANGE_TYPES[r.type];
  if (type === undefined) throw new TypeError(`unknown key range type ${JSON.stringify(r.type)}`);
  w.u8(type);
  switch (type) {
    case 0:
      return;
    case 6:
      w.u8((r.includeLower ? 1 : 0) | (r.includeUpper ? 2 : 0));
      writeKey(w, r.lower);
      writeKey(w, r.upper);
      return;
    case 7:
      writeKey(w, r.prefix);
      return;
    case 8:
      w.varint(r.values.length);
      for (const v of r.values) writeKey(w, v);
      return;
    default:
      writeKey(w, r.value);
  }
}

/** Reads the boundary's primitive encodings and values (src/core/value.h). */
export class Reader {
  /**
   * @param {Uint8Array} buf
   * @param {number} [pos] where the data starts (results are read in place in WASM memory)
   * @param {number} [end]
   */
  constructor(buf, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** @returns {Uint8Array} a copy of the unread bytes */
  rest() {
    return this.buf.slice(this.pos, this.end);
  }

  u8() {
    return this.buf[this.pos++];
  }

  varint() {
    const buf = this.buf;
    let b = buf[this.pos++];
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let scale = 128;
    for (;;) {
      b = buf[this.pos++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  }

  /** @param {number} n */
  bytes(n) {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string() {
    return this.chars(this.varint());
  }

  /** @param {number} n UTF-8 bytes */
  chars(n) {
    const b = this.buf;
    const s = this.pos;
    this.pos += n;
    // Short ASCII strings (most keys, names and values) without a TextDecoder call.
    if (n <= 8) {
      let ascii = true;
      for (let i = s; i < s + n; i++) ascii = ascii && b[i] < 0x80;
      if (ascii) {
        switch (n) {
          case 0:
            return "";
          case 1:
            return String.fromCharCode(b[s]);
          case 2:
            return String.fromCharCode(b[s], b[s + 1]);
          case 3:
            return String.fromCharCode(b[s], b[s + 1], b[s + 2]);
          case 4:
            return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3]);
          case 5:
            return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
          case 6:
            return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
          case 7:
            return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
          default:
            return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
        }
      }
    } else if (n <= 32) {
      let r = "";
      for (let i = s; i < s + n; i++) {
        const c = b[i];
        if (c >= 0x80) return decoder.decode(b.subarray(s, s + n));
        r += String.fromCharCode(c);
      }
      return r;
    }
    return decoder.decode(b.subarray(s, s + n));
  }

  /** @returns {any} one value, arrays and objects frozen */
  value() {
    const t = this.buf[this.pos++];
    if (t >= 0x80) return t - 0xc0;
    if (t >= 0x40) return this.chars(t - 0x40);
    switch (t) {
      case 0x00:
        return null;
      case 0x01:
        return false;
      case 0x02:
        return true;
      case 0x03: {
        const at = this.pos;
        const z = this.varint();
        if (z <= 9007199254740991) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
        return readBigZigzag(this.buf, at); // past 2^53 the float varint lost the sign bit
      }
      case 0x04: {
        f64Bytes.set(this.buf.subarray(this.pos, this.pos + 8));
        this.pos += 8;
        return f64[0];
      }
      case 0x05:
        return this.string();
      case 0x06: // array
      case 0x08: {
        // (0x08: an add-wins set column, its elements in the engine's order; read as an array)
        const n = this.varint();
        const a = new Array(n);
        for (let i = 0; i < n; i++) a[i] = this.value();
        return Object.freeze(a);
      }
      case 0x07: {
        const n = this.varint();
        /** @type {Record<string, unknown>} */
        const o = {};
        for (let i = 0; i < n; i++) {
          const k = this.string();
          const v = this.value();
          if (k === "__proto__") {
            Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
          } else {
            o[k] = v;
          }
        }
        return Object.freeze(o);
      }
      default:
        throw new Error(`engine record holds an unknown value tag ${t}`);
    }
  }
}
