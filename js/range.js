// Key ranges for table and index queries (api.md "Indexes and queries"). A range is a frozen
// plain object the engine reads as JSON: { type, value | lower/upper/includeLower/includeUpper
// | prefix | values }. Bounds are validated here, so a bad bound is a TypeError at the call
// that built the range; the engine validates again (src/store/index_set.cpp, KeyRange).
//
// Keys order as in IndexedDB: numbers < strings < arrays (element by element); -0 equals 0.

/** A lone UTF-16 surrogate: such a string has no UTF-8 form, so it cannot be a key. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Throws a TypeError unless `v` is a valid key: a finite number, a string, or an array of
 * valid keys.
 * @param {unknown} v
 * @param {string} what for the message
 * @returns {unknown} v
 */
export function checkKey(v, what) {
  const ok = (/** @type {unknown} */ x, depth = 0) => {
    if (typeof x === "number") return Number.isFinite(x);
    if (typeof x === "string") return !LONE_SURROGATE.test(x);
    if (Array.isArray(x) && depth < 64) return x.every((e) => ok(e, depth + 1));
    return false;
  };
  if (!ok(v)) {
    throw new TypeError(
      `${what} is not a valid key: use a finite number, a string (without lone surrogates) ` +
        `or an array of those`,
    );
  }
  return v;
}

/**
 * @param {string} type
 * @param {Record<string, unknown>} fields
 */
function range(type, fields) {
  return Object.freeze({ type, ...fields });
}

/**
 * Keys equal to `value`.
 * @param {unknown} value
 */
export function equals(value) {
  return range("equals", { value: checkKey(value, "equals() value") });
}

/**
 * Keys greater than `value`.
 * @param {unknown} value
 */
export function above(value) {
  return range("above", { value: checkKey(value, "above() bound") });
}

/**
 * Keys greater than or equal to `value`.
 * @param {unknown} value
 */
export function aboveOrEqual(value) {
  return range("aboveOrEqual", { value: checkKey(value, "aboveOrEqual() bound") });
}

/**
 * Keys less than `value`.
 * @param {unknown} value
 */
export function below(value) {
  return range("below", { value: checkKey(value, "below() bound") });
}

/**
 * Keys less than or equal to `value`.
 * @param {unknown} value
 */
export function belowOrEqual(value) {
  return range("belowOrEqual", { value: checkKey(value, "belowOrEqual() bound") });
}

/**
 * Keys between `lower` and `upper`; by default the lower bound is included and the upper
 * excluded. A lower bound above the upper one is an empty range (as in Dexie).
 * @param {unknown} lower
 * @param {unknown} upper
 * @param {{ includeLower?: boolean, includeUpper?: boolean }} [opts]
 */
export function between(lower, upper, opts = {}) {
  const { includeLower = true, includeUpper = false } = opts ?? {};
  if (typeof includeLower !== "boolean" || typeof includeUpper !== "boolean") {
    throw new TypeError("between() options includeLower and includeUpper must be booleans");
  }
  return range("between", {
    lower: checkKey(lower, "between() lower bound"),
    upper: checkKey(upper, "between() upper bound"),
    includeLower,
    includeUpper,
  });
}

/**
 * Strings starting with `prefix`, or (with an array) compound keys whose first elements
 * equal the prefix's elements: `startsWith(["kalle"])`.
 * @param {string | unknown[]} prefix
 */
export function startsWith(prefix) {
  if (typeof prefix !== "string" && !Array.isArray(prefix)) {
    throw new TypeError("startsWith() takes a string or an array prefix");
  }
  checkKey(prefix, "startsWith() prefix");
  return range("startsWith", { prefix });
}

/**
 * Keys equal to any of `values` (each one key: `anyOf(1, 2)`, `anyOf(["a", "b"])` is the
 * single compound key ["a", "b"]).
 * @param {...unknown} values
 */
export function anyOf(...values) {
  // Variadic only: anyOf(["a", "b"]) is one compound key, not two keys.
  values.forEach((v, i) => checkKey(v, `anyOf() value ${i}`));
  return range("anyOf", { values });
}

/** The range matching every key. */
export const ALL = range("all", {});

/**
 * Validates a range argument (undefined means all keys).
 * @param {unknown} r
 * @returns {Readonly<Record<string, unknown>>}
 */
export function checkRange(r) {
  if (r === undefined) return ALL;
  if (r === null || typeof r !== "object" || typeof (/** @type {any} */ (r).type) !== "string") {
    throw new TypeError(
      "a range must be built with equals, above, aboveOrEqual, below, belowOrEqual, between, " +
        "startsWith or anyOf",
    );
  }
  return /** @type {Readonly<Record<string, unknown>>} */ (r);
}
