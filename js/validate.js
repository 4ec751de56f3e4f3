// Argument validation done in JS before anything reaches the engine, so that a rejected call
// names the offending argument and nothing is written. Rows are validated while they are
// encoded (js/codec.js, writeColumns).
//
// The limits below mirror the engine's (which enforces the same rules);
// tests/js/errors.test.js reads the C++ headers and checks that the numbers agree.

/** kMaxValueDepth in src/core/value.h: levels a column value may nest below itself. */
export const MAX_VALUE_DEPTH = 64;
/** kMaxNameBytes in src/oplog/op.h: UTF-8 bytes of a table or column name. */
export const MAX_NAME_BYTES = 1024;
/** kMaxKeyBytes in src/oplog/op.h: UTF-8 bytes of a row key. */
export const MAX_KEY_BYTES = 1 << 16;
/** kMaxPeerIdBytes in src/oplog/op.h: UTF-8 bytes of a peer id. */
export const MAX_PEER_ID_BYTES = 256;

/**
 * UTF-8 length of a well-formed string.
 * @param {string} s
 * @returns {number}
 */
export function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 ? 1 : c >= 0xd800 && c <= 0xdbff ? 0 : 2;
  }
  return n;
}

/**
 * True when `s` has no lone UTF-16 surrogate (such a string has no UTF-8 encoding, so the
 * engine could not store it faithfully).
 * @param {string} s
 * @returns {boolean}
 */
export function isWellFormed(s) {
  if (typeof s.isWellFormed === "function") return s.isWellFormed();
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/**
 * Short human description of a value's type, for error messages.
 * @param {unknown} v
 * @returns {string}
 */
export function describe(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "undefined":
      return "undefined";
    case "number":
      return Number.isNaN(v) ? "NaN" : String(v);
    case "bigint":
      return `a bigint (${v}n)`;
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    case "string":
      return "a string";
    case "boolean":
      return "a boolean";
    default: {
      const proto = Object.getPrototypeOf(v);
      const ctor = proto && Object.hasOwn(proto, "constructor") ? proto.constructor : null;
      const ctorName = typeof ctor === "function" && ctor.name ? ctor.name : null;
      if (ctorName && ctorName !== "Object") return `a ${ctorName}`;
      return "an object";
    }
  }
}

/**
 * True for `{}`-style objects: prototype Object.prototype (of any realm) or null.
 * Class instances, Dates, Maps, typed arrays etc. are not plain.
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
export function isPlainObject(v) {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto === null) return true;
  if (Object.getPrototypeOf(proto) !== null) return false;
  // `proto` is a root prototype: accept the Object.prototype of any realm (iframes, vm).
  const ctor = Object.hasOwn(proto, "constructor") ? proto.constructor : null;
  return typeof ctor === "function" && ctor.name === "Object";
}

/**
 * Validates a row key, table name or peer id: a non-empty, well-formed string of at most
 * `maxBytes` UTF-8 bytes.
 * @param {unknown} value
 * @param {string} what e.g. "row key", "table name"
 * @param {number} [maxBytes]
 * @returns {string}
 * @throws {TypeError}
 */
export function checkName(value, what, maxBytes = Infinity) {
  if (typeof value !== "string") {
    throw new TypeError(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  if (value.length === 0) throw new TypeError(`${what} must be a non-empty string, got ""`);
  if (!isWellFormed(value)) {
    throw new TypeError(`${what} ${JSON.stringify(value)} contains a lone UTF-16 surrogate`);
  }
  if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) {
    throw new TypeError(
      `${what} ${JSON.stringify(value.slice(0, 40))}… is longer than ${maxBytes} UTF-8 bytes`,
    );
  }
  return value;
}

/** @param {unknown} key @returns {string} */
export const checkKey = (key) => checkName(key, "row key", MAX_KEY_BYTES);
/** @param {unknown} name @returns {string} */
export const checkTableName = (name) => checkName(name, "table name", MAX_NAME_BYTES);
/** @param {unknown} id @returns {string} */
export const checkPeerId = (id) => checkName(id, "peerId", MAX_PEER_ID_BYTES);
