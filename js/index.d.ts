// Hand-written types of the public API of crdtdb (shared/docs/api.md), for what this version
// implements. tests/types/ type-checks a program against them; tests/js/exports.test.js checks
// that the runtime exports match the value exports declared here.

/**
 * A column value: JSON with finite numbers. Read-only shapes, so both fresh objects and rows
 * read back (which are frozen) fit.
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A row: a plain JSON object. Rows read back are frozen all the way down. */
export type Row = { readonly [column: string]: JsonValue };

export interface CRDTDBOptions {
  /**
   * Where the database lives. Only "memory" (the default) is available in this version;
   * "indexeddb" throws a CRDTDBError until IndexedDB storage lands.
   */
  storage?: "memory";
  /** This replica's peer id; a random one when omitted. */
  peerId?: string;
  /** Bound (bytes) on changes held until their causal predecessors arrive. Default 16 MiB. */
  maxPendingBytes?: number;
}

export interface ChangeEvent {
  readonly table: string;
  readonly key: string;
  readonly origin: "local" | "remote";
}

export interface ApplyResult {
  /** Events merged by this call (including held ones it released). */
  applied: number;
  /** Events still held because their causal predecessors are missing. */
  pending: number;
}

/** A schema-less table: `db.table(name)`. */
export interface Table {
  readonly name: string;
  /** Inserts or replaces the whole row. Never throws synchronously. */
  set(key: string, row: Row): Promise<void>;
  /** Writes the given columns; rejects NotFoundError when the row is absent. */
  update(key: string, patch: Row): Promise<void>;
  /** Removes the row (nothing happens when it is absent). */
  delete(key: string): Promise<void>;
  /** The row, from memory, or undefined. Frozen. */
  get(key: string): Row | undefined;
  has(key: string): boolean;
  /** Column → losing concurrent values that last-writer-wins hid; `{}` when none. */
  conflicts(key: string): { [column: string]: JsonValue[] };
}

export class CRDTDB {
  /** Throws TypeError for invalid arguments, CRDTDBError for unavailable features. */
  constructor(name: string, opts?: CRDTDBOptions);
  /** Creates the database and resolves once it is ready. */
  static open(name: string, opts?: CRDTDBOptions): Promise<CRDTDB>;
  /** Resolves (to the database) once it is ready for reads and writes. */
  readonly ready: Promise<CRDTDB>;
  readonly name: string;
  readonly peerId: string;
  readonly closed: boolean;
  table(name: string): Table;
  /** Compact canonical summary of what this replica has seen. */
  version(): Uint8Array;
  /** Every change the holder of `version` lacks (all changes when omitted). */
  changesSince(version?: Uint8Array): Uint8Array;
  /** Merges a peer's changes; throws DecodeError on bad input (nothing changes). */
  applyChanges(bytes: Uint8Array): ApplyResult;
  /** Change events, fired synchronously; returns the unsubscribe function. */
  on(event: "change", callback: (event: ChangeEvent) => void): () => void;
  /** Releases the database; every later call throws ClosedError. */
  close(): void;
}

/** Base class of crdtdb's errors. */
export class CRDTDBError extends Error {
  constructor(message?: string, options?: { cause?: unknown });
}
export class UnknownIndexError extends CRDTDBError {}
export class NotFoundError extends CRDTDBError {}
export class DecodeError extends CRDTDBError {}
export class ClosedError extends CRDTDBError {}
export class QuotaError extends CRDTDBError {}
