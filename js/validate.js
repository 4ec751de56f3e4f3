// Argument validation done in JS before anything reaches the engine, so that a rejected write
// names the offending key or column path and nothing is written.
//
// A row is a plain object whose column values are JSON: strings, finite numbers, booleans,
// null, arrays and plain objects of those. The limits below mirror the engine's (which
// enforces the same rules); tests/js/errors.test.js reads the C++ headers and checks that the
// numbers agree.

/** kMaxValueDepth in src/core/value.h: levels a column value may nest below itself. */
export const MAX_VALUE_DEPTH = 64;
/** kMaxNameBytes in src/oplog/op.h: UTF-8 bytes of a table or column name. */
export const MAX_NAME_BYTES = 1024;
/** kMaxKeyBytes in src/oplog/op.h: UTF-8 bytes of a row key. */
export const MAX_KEY_BYTES = 1 << 16;
/** kMaxPeerIdBytes in src/core/peer_table.h: UTF-8 bytes of a peer id. */
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
function isWellFormed(s) {
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

const ALLOWED = "only strings, finite numbers, booleans, null, arrays and plain objects are allowed";

/**
 * Validates one column value and returns a plain JSON copy of it (the copy is what gets
 * serialized, so getters run once and later mutation of the caller's object has no effect).
 * @param {unknown} v
 * @param {string} path column path for messages, e.g. `a.b[2]`
 * @param {number} depth nesting below the column (the column value itself is 0)
 * @param {Set<object>} ancestors containers currently being copied (cycle detection)
 * @param {(path: string, problem: string) => TypeError} fail
 * @returns {unknown}
 */
function copyValue(v, path, depth, ancestors, fail) {
  if (typeof v === "object" && v !== null && ancestors.has(v)) {
    throw fail(path, "is cyclic (it contains itself)");
  }
  // Same rule as the engine: any value (scalar or container) more than MAX_VALUE_DEPTH levels
  // below its column is rejected.
  if (depth > MAX_VALUE_DEPTH) throw fail(path, `is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  switch (typeof v) {
    case "string":
      if (!isWellFormed(v)) throw fail(path, "is a string with a lone UTF-16 surrogate");
      return v;
    case "number":
      if (!Number.isFinite(v)) throw fail(path, `is ${describe(v)}; only finite numbers are allowed`);
      return v;
    case "boolean":
      return v;
    case "undefined":
      throw fail(path, "is undefined; omit the column or use null");
    case "object":
      break;
    default:
      throw fail(path, `is ${describe(v)}; ${ALLOWED}`);
  }
  if (v === null) return null;
  const isArray = Array.isArray(v);
  if (!isArray && !isPlainObject(v)) throw fail(path, `is ${describe(v)}; ${ALLOWED}`);
  ancestors.add(v);
  let out;
  if (isArray) {
    out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const p = `${path}[${i}]`;
      if (!(i in v)) throw fail(p, "is an empty slot of a sparse array; use null");
      out[i] = copyValue(v[i], p, depth + 1, ancestors, fail);
    }
  } else {
    if (Object.getOwnPropertySymbols(v).length > 0) {
      throw fail(path, "has symbol-keyed properties, which JSON cannot hold");
    }
    /** @type {Record<string, unknown>} */
    const obj = {};
    out = obj;
    for (const k of Object.keys(v)) {
      const p = `${path}.${k}`;
      if (!isWellFormed(k)) throw fail(p, "has a name with a lone UTF-16 surrogate");
      defineValue(obj, k, copyValue(v[k], p, depth + 1, ancestors, fail));
    }
  }
  ancestors.delete(v);
  return out;
}

/**
 * Sets `obj[key] = value` as an own data property, even for "__proto__".
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {unknown} value
 */
function defineValue(obj, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * Validates a whole row (for `set`) or a patch (for `update`) and returns a plain copy.
 * @param {unknown} row
 * @param {{ table: string, key: string, what: "row" | "patch" }} ctx
 * @returns {Record<string, unknown>}
 * @throws {TypeError} naming the table, key and offending column path
 */
export function copyRow(row, { table, key, what }) {
  const where = `${what} for key ${JSON.stringify(key)} in table ${JSON.stringify(table)}`;
  if (!isPlainObject(row)) {
    throw new TypeError(`invalid ${where}: a ${what} must be a plain object, got ${describe(row)}`);
  }
  /** @type {(path: string, problem: string) => TypeError} */
  const fail = (path, problem) => new TypeError(`invalid ${where}: column "${path}" ${problem}`);
  if (Object.getOwnPropertySymbols(row).length > 0) {
    throw new TypeError(`invalid ${where}: symbol-keyed columns are not allowed`);
  }
  const ancestors = new Set([row]);
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const column of Object.keys(row)) {
    if (!isWellFormed(column)) throw fail(column, "has a name with a lone UTF-16 surrogate");
    if (utf8Length(column) > MAX_NAME_BYTES) {
      throw fail(`${column.slice(0, 40)}…`, `has a name longer than ${MAX_NAME_BYTES} UTF-8 bytes`);
    }
    defineValue(out, column, copyValue(row[column], column, 0, ancestors, fail));
  }
  return out;
}
