// Package entry of crdtdb, for browsers, workers and Node ≥ 20 alike. It has no bare imports:
// it loads from plain static files (dist/crdtdb.mjs + dist/crdtdb.wasm next to js/).
//
// Public API: shared/docs/api.md. Types: js/index.d.ts.

export { CRDTDB } from "./database.js";
export {
  CRDTDBError,
  ClosedError,
  DecodeError,
  NotFoundError,
  QuotaError,
  UnknownIndexError,
} from "./errors.js";
export {
  above,
  aboveOrEqual,
  anyOf,
  below,
  belowOrEqual,
  between,
  equals,
  startsWith,
} from "./range.js";
