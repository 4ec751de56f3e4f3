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

/** A key of an index or range: a finite number, a string, or an array of keys (compound). */
export type IndexKey = number | string | readonly IndexKey[];

/** A key range, built with equals, above, aboveOrEqual, below, belowOrEqual, between, startsWith, anyOf. */
export type KeyRange =
  | { readonly type: "all" }
  | { readonly type: "equals" | "above" | "aboveOrEqual" | "below" | "belowOrEqual"; readonly value: IndexKey }
  | {
      readonly type: "between";
      readonly lower: IndexKey;
      readonly upper: IndexKey;
      readonly includeLower: boolean;
      readonly includeUpper: boolean;
    }
  | { readonly type: "startsWith"; readonly prefix: string | readonly IndexKey[] }
  | { readonly type: "anyOf"; readonly values: readonly IndexKey[] };

/** Keys equal to `value`. */
export function equals(value: IndexKey): KeyRange;
/** Keys greater than `value`. */
export function above(value: IndexKey): KeyRange;
/** Keys greater than or equal to `value`. */
export function aboveOrEqual(value: IndexKey): KeyRange;
/** Keys less than `value`. */
export function below(value: IndexKey): KeyRange;
/** Keys less than or equal to `value`. */
export function belowOrEqual(value: IndexKey): KeyRange;
/**
 * Keys between the bounds; by default lower included, upper excluded. A lower bound above the
 * upper one is an empty range.
 */
export function between(
  lower: IndexKey,
  upper: IndexKey,
  opts?: { includeLower?: boolean; includeUpper?: boolean },
): KeyRange;
/** Strings starting with `prefix`, or compound keys starting with the prefix's elements. */
export function startsWith(prefix: string | readonly IndexKey[]): KeyRange;
/** Keys equal to any of `values` (each argument is one key). */
export function anyOf(...values: IndexKey[]): KeyRange;

export interface QueryOptions {
  /** Non-negative integer; Infinity or omitted: no limit. */
  limit?: number;
  /** Non-negative integer; applied after `reverse`. */
  offset?: number;
  /** Descending order; flips first, then offset and limit apply. */
  reverse?: boolean;
}

export interface IndexDefinition {
  table: string;
  /** Indexed columns; more than one makes a compound index (keys are arrays). */
  keys: readonly string[];
}

/**
 * Paged iteration (100 keys per engine call). Each page continues strictly after the index
 * entry (index key, row key) of the last row returned, so a row that stays in place is
 * visited exactly once whatever is written meanwhile; rows inserted or moved ahead of the
 * cursor are visited, those behind it are not; a row deleted before it is reached is not
 * yielded; no row is yielded twice; iteration always terminates.
 */
export type RowIterator<T> = AsyncGenerator<T, void, undefined>;

/** A declared secondary index: `db.index(name)`. */
export interface Index<T extends object = Row> {
  readonly name: string;
  readonly table: string;
  readonly keys: readonly string[];
  /** First row (lowest row key) whose index key equals `key`; TypeError for an invalid key. */
  get(key: IndexKey): T | undefined;
  /** Rows in index order (ties by row key). */
  query(range?: KeyRange, opts?: QueryOptions): T[];
  count(range?: KeyRange): number;
  iterate(range?: KeyRange, opts?: QueryOptions): RowIterator<T>;
  /**
   * Live query: `cb(rows)` now (before returning), then after every committed transaction or
   * merged remote change that changes the result, once per transaction. Returns the
   * (idempotent) stop function.
   */
  subscribe(range: KeyRange | undefined, cb: (rows: T[]) => void): () => void;
}

export interface CRDTDBOptions {
  /** Secondary indexes by name. */
  indexes?: { [name: string]: IndexDefinition };
  /**
   * Where the database lives. Only "memory" (the default) is available in this version;
   * "indexeddb" throws a CRDTDBError until IndexedDB storage lands.
   */
  storage?: "memory";
  /** This replica's peer id; a random one when omitted. */
  peerId?: string;
  /**
   * Bound on the memory (bytes, as the engine holds them) of changes held until their causal
   * predecessors arrive; any safe integer. Default 16 MiB.
   */
  maxPendingBytes?: number;
}

export interface ChangeEvent {
  readonly table: string;
  readonly key: string;
  /** "local" for local commits; applyChanges's `origin` ("remote" when none was given). */
  readonly origin: string;
}

export interface UpdateEvent {
  /** Exactly the new events of one committed local transaction or merged remote message. */
  readonly bytes: Uint8Array;
  /** "local", or applyChanges's `origin` ("remote" when none was given). */
  readonly origin: string;
}

export interface ApplyOptions {
  /** Passed to the `change` and `update` events this merge fires; "remote" by default. */
  origin?: string;
}

export interface ApplyResult {
  /** Events merged by this call (including held ones it released). */
  applied: number;
  /** Events still held because their causal predecessors are missing. */
  pending: number;
}

/** A schema-less table: `db.table(name)`. */
export interface Table<T extends object = Row> {
  readonly name: string;
  /** Inserts or replaces the whole row. Never throws synchronously. */
  set(key: string, row: T): Promise<void>;
  /** Writes the given columns; rejects NotFoundError when the row is absent. */
  update(key: string, patch: Partial<T>): Promise<void>;
  /** Removes the row (nothing happens when it is absent). */
  delete(key: string): Promise<void>;
  /** The row, from memory, or undefined. Frozen. */
  get(key: string): T | undefined;
  has(key: string): boolean;
  /** Rows in primary-key order (range on the row key). */
  query(range?: KeyRange, opts?: QueryOptions): T[];
  count(range?: KeyRange): number;
  iterate(range?: KeyRange, opts?: QueryOptions): RowIterator<T>;
  /** Live query over all rows in key order; returns the stop function. */
  subscribe(cb: (rows: T[]) => void): () => void;
  /** Column → losing concurrent values that last-writer-wins hid; `{}` when none. */
  conflicts(key: string): { [column: string]: JsonValue[] };
}

/** A table inside a transaction: reads see the transaction's own writes. */
export interface TransactionTable<T extends object = Row> {
  readonly name: string;
  /** Staged; resolves once staged (visible to others when the transaction commits). */
  set(key: string, row: T): Promise<void>;
  update(key: string, patch: Partial<T>): Promise<void>;
  delete(key: string): Promise<void>;
  get(key: string): T | undefined;
  has(key: string): boolean;
  query(range?: KeyRange, opts?: QueryOptions): T[];
  count(range?: KeyRange): number;
}

/** Read access to an index inside a transaction (sees the transaction's own writes). */
export interface TransactionIndex<T extends object = Row> {
  get(key: IndexKey): T | undefined;
  query(range?: KeyRange, opts?: QueryOptions): T[];
  count(range?: KeyRange): number;
}

/** The `tx` handle of `db.transaction`; using it after the callback settled throws CRDTDBError. */
export interface Transaction {
  table<T extends object = Row>(name: string): TransactionTable<T>;
  index<T extends object = Row>(name: string): TransactionIndex<T>;
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
  table<T extends object = Row>(name: string): Table<T>;
  /** A declared index; throws UnknownIndexError for an undeclared name. */
  index<T extends object = Row>(name: string): Index<T>;
  /**
   * Runs `callback` as one atomic transaction. Resolves with its value once committed; if it
   * throws or rejects, nothing is kept and the promise rejects with the same error. Called
   * while a transaction callback runs (nested, or concurrently), it rejects at once with a
   * CRDTDBError that says to use `tx`.
   */
  transaction<R>(callback: (tx: Transaction) => R | Promise<R>): Promise<R>;
  /** Compact canonical summary of what this replica has seen. */
  version(): Uint8Array;
  /** Every change the holder of `version` lacks (all changes when omitted). */
  changesSince(version?: Uint8Array): Uint8Array;
  /** Merges a peer's changes; throws DecodeError on bad input (nothing changes). */
  applyChanges(bytes: Uint8Array, opts?: ApplyOptions): ApplyResult;
  /** Change events, one per changed row, fired synchronously; returns the unsubscribe function. */
  on(event: "change", callback: (event: ChangeEvent) => void): () => void;
  /**
   * Update events, one per committed local transaction or merged remote message, once
   * durable: the encoded new events, for storage and sync providers.
   */
  on(event: "update", callback: (event: UpdateEvent) => void): () => void;
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
