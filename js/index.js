// Package entry of crdtdb for browsers, workers and bundlers: no bare imports and nothing
// Node-specific, so it loads from plain static files too (dist/crdtdb.mjs and
// dist/crdtdb.wasm beside js/). Node gets js/index.node.js (the `node` export condition).
//
// Public API: shared/docs/api.md. Types: js/index.d.ts.

export { CRDTDB } from "./database.js";
export { MemoryStorage } from "./storage/memory.js";
export { BroadcastChannelSync } from "./sync/broadcast.js";
export { WebRTCSync } from "./sync/webrtc.js";
export { WebSocketSync } from "./sync/websocket.js";
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
