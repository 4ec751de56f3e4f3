// The storage adapter interface: what a CRDTDB needs from persistent storage. Two
// implementations (js/storage/indexeddb.js, js/storage/memory.js) pass one contract suite
// (tests/js/storage_contract.test.js). Adapters store what the engine hands them; they hold
// no CRDT logic: every value written is computed by the engine (db/database.h, takeStorage).
//
// The five stores (shared/docs/architecture.md, "IndexedDB layout"):
//   crdt_rows     [table, rowKey] → Uint8Array   the row's CRDT state (engine encoding)
//   materialized  [table, rowKey] → object       the plain row, readable without the engine
//   indexes       [table, index, ...values, rowKey] → null
//   events        [chunk, start] → Uint8Array    history records with their graph summary
//   meta          string → any                   format, peer ids, declared indexes

/**
 * @typedef {object} StoredState what `load()` returns
 * @property {Map<string, unknown>} meta
 * @property {Uint8Array[]} events the events store's values, in key order
 * @property {Uint8Array[] | AsyncIterable<Uint8Array[]>} rows the crdt_rows store's values:
 *   all at once, or in batches (then each batch is taken in while storage reads the next)
 * @property {number} [rowCount] how many rows there are (for progress events)
 */

/**
 * The batches of a StoredState's rows.
 * @param {StoredState["rows"]} rows
 * @returns {AsyncIterable<Uint8Array[]>}
 */
export async function* rowBatches(rows) {
  if (Array.isArray(rows)) yield rows;
  else yield* /** @type {AsyncIterable<Uint8Array[]>} */ (rows);
}

/**
 * Every row of a StoredState, for tools and tests.
 * @param {StoredState["rows"]} rows
 * @returns {Promise<Uint8Array[]>}
 */
export async function allRows(rows) {
  const out = [];
  for await (const batch of rowBatches(rows)) for (const r of batch) out.push(r);
  return out;
}

/**
 * @typedef {object} StorageWrite one atomic write: everything or nothing lands
 * @property {Array<{ table: string, key: string, state: Uint8Array | null,
 *   row: Readonly<Record<string, unknown>> | null }>} rows state null: the row is gone;
 *   row null: it is not visible (no materialized row)
 * @property {unknown[][]} indexDeletes index entries to delete (before the puts)
 * @property {unknown[][]} indexPuts
 * @property {Array<[number, number, number]>} eventDeletes events records to delete (before
 *   the puts): [chunk, from, to] is every key from [chunk, from] to [chunk, to]
 * @property {Array<[[number, number], Uint8Array]>} eventPuts
 * @property {Array<[string, unknown]>} meta entries to put
 * @property {Array<[string, string]>} dropIndexes (table, index) whose entries to delete
 */

/**
 * @typedef {object} StorageAdapter
 * @property {(opts?: { countRows?: boolean }) => Promise<StoredState>} load reads everything an
 *   open needs (with `countRows`, also `rowCount` if it can)
 * @property {(w: StorageWrite, progress?: (indexPutsDone: number) => void) => Promise<void>}
 *   write applies one write atomically; resolves once it is durable; rejects (QuotaError or
 *   CRDTDBError naming the cause) with nothing written. `progress`, if given, may be told how
 *   many of its index puts were issued and succeeded (before the write is durable)
 * @property {() => void} close releases the connection
 */

/** The format of what the stores hold; bumped by changes that need an upgrade step. */
export const STORAGE_FORMAT = 1;

/** @returns {StorageWrite} an empty write */
export function emptyWrite() {
  return { rows: [], indexDeletes: [], indexPuts: [], eventDeletes: [], eventPuts: [], meta: [], dropIndexes: [] };
}

/**
 * Whether a write holds nothing.
 * @param {StorageWrite} w
 */
export function isEmptyWrite(w) {
  return (
    w.rows.length + w.indexDeletes.length + w.indexPuts.length + w.eventDeletes.length +
      w.eventPuts.length + w.meta.length + w.dropIndexes.length ===
    0
  );
}
