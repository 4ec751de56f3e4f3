// Error classes of the public API, and the mapping from engine error codes to them.
//
// ENGINE_ERROR_CODES mirrors `enum class ErrorCode` in src/core/errors.h, in the same order:
// a failed engine call returns status 1 + the code's index, with the message as its data
// (bindings/bindings.cpp). tests/js/errors.test.js checks that both lists match.

/** Base class of every error crdtdb throws (except TypeError for invalid arguments). */
export class CRDTDBError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options] standard `{ cause }`
   */
  constructor(message, options) {
    super(message, options);
  }
}

/** `db.index(name)` named an index that was not declared. */
export class UnknownIndexError extends CRDTDBError {}

/** An operation needs a row that does not exist (e.g. `update` of an absent row). */
export class NotFoundError extends CRDTDBError {}

/** `applyChanges` / `changesSince` got malformed, truncated or hostile bytes. Nothing changed. */
export class DecodeError extends CRDTDBError {}

/** The database was closed: every call after `db.close()` throws this. */
export class ClosedError extends CRDTDBError {}

/** A bound was exceeded, e.g. the memory reserved for causally early changes. */
export class QuotaError extends CRDTDBError {}

// `name` set explicitly (not from the constructor's name) so it survives minification.
for (const [ErrorClass, name] of /** @type {Array<[typeof CRDTDBError, string]>} */ ([
  [CRDTDBError, "CRDTDBError"],
  [UnknownIndexError, "UnknownIndexError"],
  [NotFoundError, "NotFoundError"],
  [DecodeError, "DecodeError"],
  [ClosedError, "ClosedError"],
  [QuotaError, "QuotaError"],
])) {
  Object.defineProperty(ErrorClass.prototype, "name", {
    value: name,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * Engine ErrorCode name → error class. Mirrors src/core/errors.h (keep both in sync).
 * @type {Readonly<Record<string, new (message: string) => Error>>}
 */
export const ENGINE_ERROR_CODES = Object.freeze({
  Type: TypeError,
  NotFound: NotFoundError,
  Decode: DecodeError,
  PendingOverflow: QuotaError,
  UnknownIndex: UnknownIndexError,
  Internal: CRDTDBError,
  OutOfMemory: CRDTDBError,
  Range: RangeError,
});

const CODE_NAMES = Object.keys(ENGINE_ERROR_CODES);

/**
 * Builds the JS error for a failed engine call's status.
 * @param {number} status 1 + ErrorCode index
 * @param {string} message
 * @returns {Error}
 */
export function errorFromStatus(status, message) {
  const code = CODE_NAMES[status - 1] ?? `#${status}`;
  return errorFromEngine({ code, message: message || `engine error ${code}` });
}

/**
 * Builds the JS error for an engine error record. Unknown codes become a plain CRDTDBError
 * that names the code, so a new engine code is never silently misreported.
 * @param {{ code: string, message: string }} error
 * @returns {Error}
 */
export function errorFromEngine(error) {
  const code = String(error?.code);
  const message = String(error?.message ?? "unknown engine error");
  const ErrorClass = Object.hasOwn(ENGINE_ERROR_CODES, code) ? ENGINE_ERROR_CODES[code] : null;
  if (ErrorClass === null) return new CRDTDBError(`engine error ${code}: ${message}`);
  if (code === "Internal") return new CRDTDBError(`internal engine error: ${message}`);
  return new ErrorClass(message);
}
