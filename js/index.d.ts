// Hand-written types of the public API of crdtdb (shared/docs/api.md), for what this version
// implements. tests/types/ type-checks a program against them; tests/js/exports.test.js checks
// that the runtime exports match the value exports declared here.

/** A JSON scalar (numbers must be finite). */
export type JsonPrimitive = string | number | boolean | null;

/**
 * A column value: JSON with finite numbers. Read-only shapes, so both fresh objects and rows
 * read back (which are frozen) fit.
 */
export type JsonValue = JsonPrimitive | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A row: a plain JSON object. Rows read back are frozen all the way down. */
export type Row = { readonly [column: string]: JsonValue };

/**
 * What reads return for a row type T: T made read-only all the way down, because rows read
 * back are frozen (`row.age = 1` is a compile error, not a run-time TypeError).
 */
export type DeepReadonly<T> = T extends JsonPrimitive
  ? T
  : T extends readonly unknown[]
    ? number extends T["length"]
      ? readonly DeepReadonly<T[number]>[] // an array
      : { readonly [K in keyof T]: DeepReadonly<T[K]> } // a tuple stays a tuple
    : { readonly [K in keyof T]: DeepReadonly<T[K]> };

/**
 * T with every column that is not JSON-compatible turned into `never`: a row type T is valid
 * when `T extends JsonRow<T>`. A Date, Map, Set, class instance with methods, function,
 * bigint, symbol or `undefined` column (optional columns are fine) fails that check, so
 * `db.table<{ when: Date }>("t")` does not compile.
 */
export type JsonRow<T> = { [K in keyof T]: JsonColumn<T[K]> };
/** A column type kept when JSON-compatible, else never (see JsonRow). */
export type JsonColumn<V> = V extends JsonPrimitive
  ? V
  : V extends (...args: never[]) => unknown
    ? never
    : V extends readonly (infer E)[]
      ? readonly JsonColumn<E>[]
      : V extends object
        ? JsonRow<V>
        : never;

/**
 * The element type of a set column whose declared type is `V`: the array's element type, read
 * only (`JsonValue` for the default {@link Row}); `never` for a column that is not an array,
 * so `addToSet` on a string column does not compile.
 */
export type SetElement<V> = V extends readonly (infer E)[] ? DeepReadonly<E> : never;

/**
 * The columns of a row type `T` that may hold a counter: those whose declared type admits any
 * number (`number`, `number | null`, optional ones included); any name for the default
 * {@link Row}. So `increment` on a string column, or on one typed as a number literal, does not
 * compile.
 */
export type CounterColumn<T> = Extract<{ [K in keyof T]-?: number extends T[K] ? K : never }[keyof T], string>;

/**
 * The columns of a row type `T` that may hold a text: those whose declared type admits any
 * string; any name for the default {@link Row}.
 */
export type TextColumn<T> = Extract<{ [K in keyof T]-?: string extends T[K] ? K : never }[keyof T], string>;

/** A change to a text: delete `delete` UTF-16 code units at `pos`, then insert `insert` there. */
export interface TextPatch {
  pos: number;
  delete: number;
  insert: string;
}

/**
 * A collaborative text column (`table.text(key, column)`), merged with Eg-walker: concurrent
 * edits all apply. Positions and lengths are UTF-16 code units. Each edit commits at once.
 */
export interface TextHandle {
  /**
   * Inserts `str` at `pos`. Rejects RangeError for a position past the end or inside a
   * surrogate pair, TypeError for a non-integer position, a string with a lone surrogate or a
   * column that no longer holds a text, NotFoundError when the row is gone; nothing changes
   * on any rejection. Never throws synchronously.
   * @returns resolves once the edit is durable
   */
  insert(pos: number, str: string): Promise<void>;
  /** Deletes `len` units at `pos`; rejects like insert (RangeError past the end). */
  delete(pos: number, len: number): Promise<void>;
  /** The current content ("" once the row is gone or the column holds no string). */
  toString(): string;
  /** The content's length in UTF-16 code units. */
  readonly length: number;
  /**
   * Calls `cb` after every change of the content: applying `patches` in order to the previous
   * content gives the new one (a local edit comes as exactly that edit). Not called at once.
   * @returns stops the subscription (idempotent)
   */
  subscribe(cb: (patches: TextPatch[], info: { origin: string | object }) => void): () => void;
}

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

/** Declared indexes by name (the `indexes` option). */
export type IndexDefinitions = { readonly [name: string]: IndexDefinition };

/** The index names of a database declared with indexes X (any string when not inferred). */
export type IndexName<X extends IndexDefinitions> = Extract<keyof X, string>;

/**
 * Paged iteration (100 keys per engine call). Each page continues strictly after the index
 * entry (index key, row key) of the last row returned, so a row that stays in place is
 * visited exactly once whatever is written meanwhile; rows inserted or moved ahead of the
 * cursor are visited, those behind it are not; a row deleted before it is reached is not
 * yielded; no row is yielded twice; iteration always terminates.
 */
export type RowIterator<T> = AsyncGenerator<T, void, undefined>;

/** A declared secondary index: `db.index(name)`. Rows come back deeply read-only. */
export interface Index<T extends JsonRow<T> = Row> {
  readonly name: string;
  readonly table: string;
  /** The indexed columns (more than one: a compound index). */
  readonly columns: readonly string[];
  /** First row (lowest row key) whose index key equals `key`; TypeError for an invalid key. */
  get(key: IndexKey): DeepReadonly<T> | undefined;
  /** Rows in index order (ties by row key). */
  query(range?: KeyRange, opts?: QueryOptions): DeepReadonly<T>[];
  /** The row keys of what `query` returns for the same arguments, in the same order. */
  keys(range?: KeyRange, opts?: QueryOptions): string[];
  /** `[key, row]` pairs in index order. */
  entries(range?: KeyRange, opts?: QueryOptions): [string, DeepReadonly<T>][];
  count(range?: KeyRange): number;
  iterate(range?: KeyRange, opts?: QueryOptions): RowIterator<DeepReadonly<T>>;
  /**
   * Live query: `cb(rows)` now (before returning), then after every committed transaction or
   * merged remote change that changes the result, once per transaction. Returns the
   * (idempotent) stop function.
   */
  subscribe(range: KeyRange | undefined, cb: (rows: DeepReadonly<T>[]) => void): () => void;
}

export interface CRDTDBOptions<X extends IndexDefinitions = IndexDefinitions> {
  /** Secondary indexes by name; `db.index()` accepts exactly these names. */
  indexes?: X;
  /**
   * Where the database lives: "indexeddb" (the default where IndexedDB exists; any number of
   * tabs and workers may open one database: one writes it, the others hand it their writes),
   * "memory" (the default elsewhere; nothing is kept), or a storage
   * adapter such as a `MemoryStorage` shared by successive opens.
   */
  storage?: "indexeddb" | "memory" | StorageAdapter;
  /**
   * This replica's peer id; by default a random one, persisted with a persistent database and
   * reused by its later opens (memory storage: a fresh one per open). An explicit id is the
   * caller's promise that no other live instance uses it and that it holds every change ever
   * made under it.
   */
  peerId?: string;
  /**
   * Bound on the memory (bytes, as the engine holds them) of changes held until their causal
   * predecessors arrive; any safe integer. Default 16 MiB.
   */
  maxPendingBytes?: number;
  /**
   * A budget for the history kept: past `maxBytes` (encoded bytes), the oldest history is
   * folded down to half of it, as `compact()` does. By default history is kept until
   * `compact()`.
   */
  history?: { maxBytes?: number };
}

export interface ChangeEvent {
  readonly table: string;
  readonly key: string;
  /**
   * "local" for local commits; applyChanges's `origin` ("remote" when none was given; a
   * sync provider passes itself); "storage" when the change came through this database's
   * storage: another live instance of it (tab, worker) wrote the row, or a storage failure
   * rolled it back to its durable state.
   */
  readonly origin: string | object;
}

/** How far a long step of opening got. */
export interface OpenProgress {
  /**
   * "rows": stored rows taken in (after each batch); "indexes": entries of newly declared
   * indexes written to storage (from 0 to total, as the write proceeds).
   */
  readonly phase: "rows" | "indexes";
  readonly done: number;
  /** Rows stored (when storage says) or index entries to write. */
  readonly total: number | undefined;
}

/** What `load()` returns: everything an open needs. */
export interface StoredState {
  meta: Map<string, unknown>;
  /** The events store's values, in key order. */
  events: Uint8Array[];
  /**
   * The crdt_rows store's values: all at once, or in batches (each batch is taken in while
   * the adapter reads the next).
   */
  rows: Uint8Array[] | AsyncIterable<Uint8Array[]>;
  /** How many rows there are (for progress events), if the adapter knows. */
  rowCount?: number;
}

/** One atomic storage write (every value in it is computed by the engine). */
export interface StorageWrite {
  rows: Array<{ table: string; key: string; state: Uint8Array | null; row: Readonly<Row> | null }>;
  indexDeletes: unknown[][];
  indexPuts: unknown[][];
  /** [chunk, from, to]: every events key from [chunk, from] to [chunk, to] (before the puts). */
  eventDeletes: Array<[number, number, number]>;
  eventPuts: Array<[[number, number], Uint8Array]>;
  meta: Array<[string, unknown]>;
  dropIndexes: Array<[string, string]>;
}

/** Persistent storage for a CRDTDB: the five stores of the IndexedDB layout. */
export interface StorageAdapter {
  /** `countRows`: also report `rowCount` (for progress events), if the adapter can. */
  load(opts?: { countRows?: boolean }): Promise<StoredState>;
  /**
   * Applies everything or nothing; resolves once durable. `progress`, if given, may be told
   * how many of the write's index puts succeeded so far.
   */
  write(w: StorageWrite, progress?: (indexPutsDone: number) => void): Promise<void>;
  close(): void;
}

/**
 * Storage in memory for as long as the instance lives: open, close and reopen a database in
 * one process (tests, server-side rendering) without IndexedDB.
 */
export class MemoryStorage implements StorageAdapter {
  constructor();
  load(): Promise<StoredState>;
  write(w: StorageWrite): Promise<void>;
  /** Every key and value of one store, in key order. */
  entries(store: "crdt_rows" | "materialized" | "indexes" | "events" | "meta"): Promise<Array<[unknown, unknown]>>;
  close(): void;
}

export interface UpdateEvent {
  /** Exactly the new events of one committed local transaction or merged remote message. */
  readonly bytes: Uint8Array;
  /**
   * "local", applyChanges's `origin` ("remote" when none was given; a sync provider passes
   * itself), or "storage" (changes another live instance of this database wrote through it).
   */
  readonly origin: string | object;
}

export interface ApplyOptions {
  /**
   * Passed to the `change` and `update` events this merge fires: a string, or an object (a
   * sync provider passes itself); "remote" by default.
   */
  origin?: string | object;
}

export interface ApplyResult {
  /** Events merged by this call (including held ones it released). */
  applied: number;
  /** Events still held because their causal predecessors are missing. */
  pending: number;
}

/** A schema-less table: `db.table(name)`. Rows come back deeply read-only. */
export interface Table<T extends JsonRow<T> = Row> {
  readonly name: string;
  /** Inserts or replaces the whole row. Never throws synchronously. */
  set(key: string, row: DeepReadonly<T>): Promise<void>;
  /** Writes the given columns; rejects NotFoundError when the row is absent. */
  update(key: string, patch: Partial<DeepReadonly<T>>): Promise<void>;
  /** Removes the row (nothing happens when it is absent). */
  delete(key: string): Promise<void>;
  /**
   * Adds `value` to the add-wins set in `column`, creating the set when the column is missing;
   * an element already there stays once. An add concurrent with a remove of the same element
   * wins. Reads return the set as an array: elements that are valid keys in IndexedDB key
   * order (numbers < strings < arrays), then the others in canonical JSON order. An index on a
   * set column has one entry per element (like an IndexedDB `multiEntry` index). `set` or
   * `update` with a plain value replaces the set. Never throws synchronously.
   * @typeParam C the column: one of T's (any name for the default {@link Row}), whose type is
   *   an array
   * @param key the row's key; rejects NotFoundError when the row is absent
   * @param column rejects TypeError when it holds something other than a set (a plain array
   *   included)
   * @param value the element, a JSON value; rejects TypeError otherwise (nothing is written)
   * @returns resolves once the write is durable
   */
  addToSet<C extends Extract<keyof T, string>>(key: string, column: C, value: SetElement<T[C]>): Promise<void>;
  /**
   * Removes `value` from the add-wins set in `column`: the adds of it this replica has seen
   * (an add made concurrently elsewhere wins). Removing an element the set lacks does nothing.
   * Rejects like `addToSet`.
   * @returns resolves once the write is durable
   */
  removeFromSet<C extends Extract<keyof T, string>>(key: string, column: C, value: SetElement<T[C]>): Promise<void>;
  /**
   * Adds `delta` to the counter in `column`: concurrent increments add up on every replica. A
   * `set` or `update` of the column (or a `set` or `delete` of the row) replaces exactly the
   * increments it has seen; increments made concurrently elsewhere still count. Reads show the
   * counter as a plain number (the column's plain value, 0 when missing, plus the increments
   * not replaced), and an index on the column indexes that number. Increments are not writes
   * of the column: they never show in `conflicts()`. Never throws synchronously.
   * @param key the row's key; rejects NotFoundError when the row is absent
   * @param column one of T's number columns (any name for the default {@link Row}); rejects
   *   TypeError when it holds something other than a number
   * @param delta a safe integer (`Number.isSafeInteger`), negative to decrement; default 1;
   *   rejects TypeError otherwise (nothing is written)
   * @returns resolves once the write is durable
   */
  increment(key: string, column: CounterColumn<T>, delta?: number): Promise<void>;
  /**
   * A handle on the collaborative text in `column`. A missing column becomes an empty text,
   * a plain string column a text holding that string (a write committed at once); a text
   * column is just opened. Reads of the row show the text's string; `set`/`update` of the
   * column replace the text.
   * @throws NotFoundError when the row is absent; TypeError for an invalid key or column, or a
   *   column holding something other than a string or text
   */
  text(key: string, column: TextColumn<T>): TextHandle;
  /** The row, from memory, or undefined. Frozen. */
  get(key: string): DeepReadonly<T> | undefined;
  has(key: string): boolean;
  /** Rows in primary-key order (range on the row key). */
  query(range?: KeyRange, opts?: QueryOptions): DeepReadonly<T>[];
  /** The row keys of what `query` returns for the same arguments, in the same order. */
  keys(range?: KeyRange, opts?: QueryOptions): string[];
  /** `[key, row]` pairs in primary-key order. */
  entries(range?: KeyRange, opts?: QueryOptions): [string, DeepReadonly<T>][];
  count(range?: KeyRange): number;
  iterate(range?: KeyRange, opts?: QueryOptions): RowIterator<DeepReadonly<T>>;
  /** Live query over all rows in key order; returns the stop function. */
  subscribe(cb: (rows: DeepReadonly<T>[]) => void): () => void;
  /** Column → losing concurrent values that last-writer-wins hid; `{}` when none. */
  conflicts(key: string): { [column: string]: JsonValue[] };
}

/** A table inside a transaction: reads see the transaction's own writes. */
export interface TransactionTable<T extends JsonRow<T> = Row> {
  readonly name: string;
  /** Staged; resolves once staged (visible to others when the transaction commits). */
  set(key: string, row: DeepReadonly<T>): Promise<void>;
  update(key: string, patch: Partial<DeepReadonly<T>>): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Staged `Table.addToSet`: resolves once staged, rejects at once (staging nothing) with
   * NotFoundError for a row absent as the transaction sees it, TypeError for an invalid
   * element or a column that holds something other than a set.
   */
  addToSet<C extends Extract<keyof T, string>>(key: string, column: C, value: SetElement<T[C]>): Promise<void>;
  /** Staged `Table.removeFromSet`; rejects like `addToSet`. */
  removeFromSet<C extends Extract<keyof T, string>>(key: string, column: C, value: SetElement<T[C]>): Promise<void>;
  /**
   * Staged `Table.increment`: reads through the transaction show the staged sum. Resolves once
   * staged, rejects at once (staging nothing) with NotFoundError for a row absent as the
   * transaction sees it, TypeError for a delta that is not a safe integer or a column that
   * holds something other than a number.
   */
  increment(key: string, column: CounterColumn<T>, delta?: number): Promise<void>;
  get(key: string): DeepReadonly<T> | undefined;
  has(key: string): boolean;
  query(range?: KeyRange, opts?: QueryOptions): DeepReadonly<T>[];
  keys(range?: KeyRange, opts?: QueryOptions): string[];
  entries(range?: KeyRange, opts?: QueryOptions): [string, DeepReadonly<T>][];
  count(range?: KeyRange): number;
}

/** Read access to an index inside a transaction (sees the transaction's own writes). */
export interface TransactionIndex<T extends JsonRow<T> = Row> {
  get(key: IndexKey): DeepReadonly<T> | undefined;
  query(range?: KeyRange, opts?: QueryOptions): DeepReadonly<T>[];
  keys(range?: KeyRange, opts?: QueryOptions): string[];
  entries(range?: KeyRange, opts?: QueryOptions): [string, DeepReadonly<T>][];
  count(range?: KeyRange): number;
}

/** The `tx` handle of `db.transaction`; using it after the callback settled throws CRDTDBError. */
export interface Transaction<X extends IndexDefinitions = IndexDefinitions> {
  table<T extends JsonRow<T> = Row>(name: string): TransactionTable<T>;
  index<T extends JsonRow<T> = Row>(name: IndexName<X>): TransactionIndex<T>;
}

/**
 * Where the WebAssembly engine (`crdtdb.wasm`, exported as `crdtdb/crdtdb.wasm`) comes from:
 * a URL, a `Response` or a promise of one, its bytes, or a compiled module.
 */
export type EngineSource =
  | string
  | URL
  | Response
  | PromiseLike<Response>
  | ArrayBuffer
  | ArrayBufferView
  | WebAssembly.Module;

export class CRDTDB<X extends IndexDefinitions = IndexDefinitions> {
  /**
   * Loads the engine from `source`: optional, and only before the first open. Without it the
   * engine comes from `crdtdb.wasm` next to the package's module (found through
   * `new URL("…", import.meta.url)`, which bundlers rewrite; in Node, read from the installed
   * package). Rejects with a CRDTDBError naming the URL, the HTTP status or content type and
   * the fix when it cannot be loaded, and when the engine is already loaded or loading; with a
   * TypeError for a source of another type.
   */
  static init(source?: EngineSource): Promise<void>;
  /** Throws TypeError for invalid arguments, CRDTDBError for unavailable features. */
  constructor(name: string, opts?: CRDTDBOptions<X>);
  /** Creates the database and resolves once it is ready. */
  static open<X extends IndexDefinitions = IndexDefinitions>(
    name: string,
    opts?: CRDTDBOptions<X>,
  ): Promise<CRDTDB<X>>;
  /** Resolves (to the database) once it is ready for reads and writes. */
  readonly ready: Promise<CRDTDB<X>>;
  readonly name: string;
  /**
   * This replica's peer id. With persistent storage and no `peerId` option it is the
   * database's own random id (made by its first open, reused by every later one), known once
   * `ready` resolved ("" before).
   */
  readonly peerId: string;
  readonly closed: boolean;
  /**
   * Ephemeral peer states (who is here, cursors) shared by every sync provider of this
   * database and never persisted.
   */
  readonly presence: Presence;
  table<T extends JsonRow<T> = Row>(name: string): Table<T>;
  /** A declared index; throws UnknownIndexError for an undeclared name. */
  index<T extends JsonRow<T> = Row>(name: IndexName<X>): Index<T>;
  /**
   * The row key of a row object a read returned (get, query, entries, iterate, subscribe, and
   * the same reads in a transaction); undefined for anything else, copies of rows included.
   */
  keyOf(row: unknown): string | undefined;
  /**
   * Runs `callback` as one atomic transaction. Resolves with its value once committed; if it
   * throws or rejects, nothing is kept and the promise rejects with the same error. Called
   * while a transaction callback runs (nested, or concurrently), it rejects at once with a
   * CRDTDBError that says to use `tx`.
   */
  transaction<R>(callback: (tx: Transaction<X>) => R | Promise<R>): Promise<R>;
  /** Compact canonical summary of what this replica has seen. */
  version(): Uint8Array;
  /**
   * Every change the holder of `version` lacks (all changes when omitted). With persistent
   * storage, this replica's own changes come out once durable (once their write resolved).
   */
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
  /**
   * Progress of the long steps of opening (register before `ready`): stored rows taken in,
   * and the entries of newly declared indexes written to storage.
   */
  on(event: "progress", callback: (event: OpenProgress) => void): () => void;
  /**
   * Releases the database; every later call throws ClosedError. Writes not yet durable are
   * still written (their promises settle then).
   */
  close(): void;
  /**
   * Folds all row history into state. Rows, indexes and the version do not change; a peer that
   * later asks for changes from before this point receives a snapshot of every row's state
   * (which `applyChanges` joins). Resolves once the fold is durable.
   */
  compact(): Promise<void>;
  /**
   * The browser's estimate of this origin's storage use and quota (undefined where there is
   * none, e.g. Node), and the encoded size of the history this database holds.
   */
  storageEstimate(): Promise<{ usage: number | undefined; quota: number | undefined; historyBytes: number }>;
  /** Deletes everything a database persisted; close its open instances first. */
  static deleteDatabase(name: string): Promise<void>;
}

/**
 * Base class of crdtdb's errors; also thrown as itself, e.g. when the engine cannot be loaded
 * or a read comes before `await db.ready`. Invalid arguments throw the built-in TypeError.
 */
export class CRDTDBError extends Error {
  constructor(message?: string, options?: { cause?: unknown });
}
/** `db.index(name)` for a name the `indexes` option did not declare. */
export class UnknownIndexError extends CRDTDBError {}
/**
 * `update`, `addToSet`, `removeFromSet` or `increment` of a row that does not exist (use `set`
 * to create it).
 */
export class NotFoundError extends CRDTDBError {}
/** `applyChanges` (or a version) given bytes that are not a valid message; nothing changed. */
export class DecodeError extends CRDTDBError {}
/** Any call on a database after `close()`. */
export class ClosedError extends CRDTDBError {}
/** A storage quota or the `maxPendingBytes` bound would be exceeded; nothing changed. */
export class QuotaError extends CRDTDBError {}

/**
 * `db.presence`: each peer's ephemeral state. Each peer owns its entry (last write wins); a
 * peer's state is resent with every heartbeat, and one not heard from for 30 s expires.
 */
export interface Presence {
  /**
   * Sets this peer's state (a JSON value; null clears it) and sends it to every peer. Throws
   * RangeError for more than 16 KiB of JSON or nesting deeper than 64.
   */
  set(state: JsonValue): void;
  /** Every peer's state by peer id, this one's included once set. */
  getAll(): Map<string, JsonValue>;
  /** Calls back with every state (as getAll()) whenever one changes, arrives, leaves or expires. */
  on(event: "change", callback: (states: Map<string, JsonValue>) => void): () => void;
}

/** A sync provider's connection state. */
export interface SyncStatus {
  /** The transport is up (the channel is open, the socket connected). */
  readonly connected: boolean;
  /**
   * Connected to at least one peer, and every peer answered this replica's latest hello
   * whole: it has what they had then.
   */
  readonly synced: boolean;
}

/** Options every sync provider takes. */
export interface SyncProviderOptions {
  /**
   * The largest frame accepted from a peer, in bytes (64 MiB by default, at least 1024); larger
   * ones are dropped, so a catch-up larger than this cannot arrive.
   */
  maxMessageBytes?: number;
  /** The largest frame sent at once, in bytes (at least 64); larger ones go in parts. */
  maxFrameBytes?: number;
  /** Where dropped frames are reported (console.warn by default). */
  warn?: (message: string) => void;
}

/**
 * What every sync provider has: it exchanges versions with each peer on connect, sends only
 * what the peer lacks, then streams this database's durable updates (docs/sync.md).
 */
export interface SyncProvider {
  /** The ids of the peers it is connected to. */
  readonly peers: string[];
  /** The current connection state. */
  readonly status: SyncStatus;
  /** Whether destroy() was called, or the database closed. */
  readonly destroyed: boolean;
  /** Calls back with the state whenever `connected` or `synced` changes; returns an unsubscribe. */
  on(event: "status", callback: (status: SyncStatus) => void): () => void;
  /** Stops syncing: says bye to every peer and releases the transport. */
  destroy(): void;
}

export interface BroadcastChannelSyncOptions extends SyncProviderOptions {
  /** The channel's name: instances that give the same one sync (default: the database's name). */
  channel?: string;
  /**
   * A room password: every frame is sealed (AES-GCM-256, key from PBKDF2-SHA-256) and the
   * channel is named by a room id derived from the channel name and the key. Instances with
   * another password neither read nor inject anything.
   */
  password?: string;
  /** A BroadcastChannel implementation (default: the global one). */
  BroadcastChannel?: typeof BroadcastChannel;
}

/**
 * Syncs a database with every same-origin tab and worker that syncs it on the same channel.
 * Merged changes fire `change` and `update` events whose origin is this provider.
 */
export class BroadcastChannelSync implements SyncProvider {
  /** @param db an open database (await `db.ready` first) */
  constructor(db: CRDTDB<any>, options?: BroadcastChannelSyncOptions);
  readonly channel: string;
  readonly peers: string[];
  readonly status: SyncStatus;
  readonly destroyed: boolean;
  on(event: "status", callback: (status: SyncStatus) => void): () => void;
  destroy(): void;
}

/** A STUN or TURN server, as RTCPeerConnection takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface WebRTCSyncOptions extends SyncProviderOptions {
  /** The room: peers that join the same one (on the same signaling server) sync. */
  room: string;
  /** The signaling server, e.g. `npx crdtdb-server` (default "ws://127.0.0.1:4444"). */
  signaling?: string;
  /**
   * A room password: signaling payloads and every data-channel frame are sealed (AES-GCM-256,
   * key from PBKDF2-SHA-256 with a per-room salt), and the signaling server sees a room id
   * derived from the room name and the key, never the name.
   */
  password?: string;
  /**
   * The peers this one links to (default 20): the next `maxConns` of the room in id order,
   * wrapping around, so a larger room is at least a ring; it accepts up to `2 × maxConns`
   * links in all. Peers relay, so a partial mesh converges.
   */
  maxConns?: number;
  /** STUN/TURN servers; none (the default) connects with host candidates: one machine or LAN. */
  iceServers?: IceServer[];
  /** An RTCPeerConnection implementation (default: the global one). */
  RTCPeerConnection?: any;
  /** A WebSocket implementation for signaling (default: the global one). */
  WebSocket?: any;
}

/**
 * Syncs a database with the other peers of a room, directly over WebRTC data channels
 * (one ordered, reliable channel per pair), introduced by crdtdb-server's signaling. Reconnects
 * to signaling and to peers with backoff. `peers` lists the peers with an open channel.
 */
export class WebRTCSync implements SyncProvider {
  constructor(db: CRDTDB<any>, options: WebRTCSyncOptions);
  readonly room: string;
  readonly peers: string[];
  readonly status: SyncStatus;
  readonly destroyed: boolean;
  on(event: "status", callback: (status: SyncStatus) => void): () => void;
  destroy(): void;
}

export interface WebSocketSyncOptions extends SyncProviderOptions {
  /** The relay room's URL: ws://host:port/sync/ROOM (the last path segment names the room). */
  url: string;
  /**
   * A room password: the relay keeps only sealed payloads (AES-GCM-256) in a numbered log,
   * under a room id derived from the room name and the key.
   */
  password?: string;
  /** A WebSocket implementation (default: the global one; on Node 20 pass the ws package's). */
  WebSocket?: any;
}

/**
 * Syncs a database through crdtdb-server's relay: the relay keeps the room's state, so a peer
 * that joins later catches up while every other peer is offline. Reconnects with backoff and
 * resumes from versions.
 */
export class WebSocketSync implements SyncProvider {
  constructor(db: CRDTDB<any>, options: WebSocketSyncOptions);
  /** The room's name (the URL's last path segment). */
  readonly room: string;
  readonly peers: string[];
  readonly status: SyncStatus;
  readonly destroyed: boolean;
  on(event: "status", callback: (status: SyncStatus) => void): () => void;
  destroy(): void;
}
