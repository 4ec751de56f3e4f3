// Reads the engine's result records (layouts in bindings/convert.h) into plain JS data. Rows
// come back as new frozen objects; nothing here touches the replica's cache, so a record that
// cannot be read leaves the JS side as it was (the caller then undoes the engine call).

/**
 * @typedef {{ table: string, key: string, row: Readonly<Record<string, unknown>> }} CachedRow
 * @typedef {{ id: number, kind: 1 | 2 | 3 | 4, table: string, key: string,
 *   row: Readonly<Record<string, unknown>> | null }} RowChange
 * @typedef {{ applied: number, pending: number, rows: RowChange[],
 *   subs: Array<{ id: number, rowIds: number[] }>, update: Uint8Array | null }} ChangeRecord
 */

import { spliceString } from "./string_splice.js";

export const NEW = 1;
export const FULL = 2;
export const PATCH = 3;
export const GONE = 4;

/** In a patch, a splice of the column's previous string in place of a value (no value tag). */
const SPLICE = 0x3f;

/**
 * Reads a splice (after its tag) and applies it to the column's previous string.
 * @param {import("./codec.js").Reader} r
 * @param {unknown} before
 * @param {string} name
 * @returns {string}
 */
function readSplice(r, before, name) {
  r.pos++;
  const pos = r.varint();
  const removed = r.varint();
  const inserted = r.string();
  if (typeof before !== "string" || pos + removed > before.length) {
    throw new Error(`engine record splices column ${JSON.stringify(name)}, which holds no such string`);
  }
  return spliceString(before, pos, removed, inserted);
}

/**
 * Reads `n` (nameId, value) pairs into a new row object, columns in the engine's order.
 * @param {import("./codec.js").Reader} r
 * @param {string[]} names
 * @returns {Readonly<Record<string, unknown>>}
 */
function readRow(r, names) {
  const n = r.varint();
  /** @type {Record<string, unknown>} */
  const row = {};
  for (let i = 0; i < n; i++) {
    const name = names[r.varint()];
    const value = r.value();
    if (name === "__proto__") {
      Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true });
    } else {
      row[name] = value;
    }
  }
  return Object.freeze(row);
}

/**
 * Reads a change record (commit, applyChanges, commitStaged).
 * @param {import("./codec.js").Reader} r
 * @param {string[]} names the replica's name table; new names are appended to it
 * @param {(id: number) => CachedRow | undefined} cached the JS-side row of a row id
 * @returns {ChangeRecord}
 */
export function readChangeRecord(r, names, cached) {
  const newNames = r.varint();
  for (let i = 0; i < newNames; i++) names.push(r.string());
  const applied = r.varint();
  const pending = r.varint();
  const nRows = r.varint();
  /** @type {RowChange[]} */
  const rows = new Array(nRows);
  for (let i = 0; i < nRows; i++) {
    const id = r.varint();
    const kind = /** @type {1 | 2 | 3 | 4} */ (r.u8());
    if (kind === NEW) {
      const table = names[r.varint()];
      const key = r.string();
      rows[i] = { id, kind, table, key, row: readRow(r, names) };
      continue;
    }
    const prev = cached(id);
    if (prev === undefined) throw new Error(`engine record names row ${id}, which is not cached`);
    if (kind === FULL) {
      rows[i] = { id, kind, table: prev.table, key: prev.key, row: readRow(r, names) };
    } else if (kind === PATCH) {
      const row = { ...prev.row };
      const n = r.varint();
      for (let k = 0; k < n; k++) {
        const name = names[r.varint()];
        const value = r.buf[r.pos] === SPLICE ? readSplice(r, /** @type {any} */ (prev.row)[name], name) : r.value();
        if (name === "__proto__") {
          Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true });
        } else {
          /** @type {any} */ (row)[name] = value;
        }
      }
      rows[i] = { id, kind, table: prev.table, key: prev.key, row: Object.freeze(row) };
    } else {
      rows[i] = { id, kind, table: prev.table, key: prev.key, row: null };
    }
  }
  const nSubs = r.varint();
  const subs = new Array(nSubs);
  for (let i = 0; i < nSubs; i++) {
    const id = r.varint();
    const n = r.varint();
    const rowIds = new Array(n);
    for (let k = 0; k < n; k++) rowIds[k] = r.varint();
    subs[i] = { id, rowIds };
  }
  const updateLen = r.varint();
  const update = updateLen > 0 ? r.bytes(updateLen).slice() : null;
  return { applied, pending, rows, subs, update };
}

/**
 * Reads a committed query result: row ids, then (when asked for) the paging cursor.
 * @param {import("./codec.js").Reader} r
 * @param {boolean} withCursor
 * @returns {{ rowIds: number[], cursor: Uint8Array | undefined }}
 */
export function readQuery(r, withCursor) {
  const n = r.varint();
  const rowIds = new Array(n);
  for (let i = 0; i < n; i++) rowIds[i] = r.varint();
  const cursor = withCursor ? r.bytes(r.varint()).slice() : undefined;
  return { rowIds, cursor };
}

/**
 * Reads a staged row's columns (names as strings).
 * @param {import("./codec.js").Reader} r
 * @returns {Readonly<Record<string, unknown>>}
 */
export function readStagedColumns(r) {
  const n = r.varint();
  /** @type {Record<string, unknown>} */
  const row = {};
  for (let i = 0; i < n; i++) {
    const name = r.string();
    const value = r.value();
    if (name === "__proto__") {
      Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true });
    } else {
      row[name] = value;
    }
  }
  return Object.freeze(row);
}

/**
 * Reads a staged query: per hit a cached row id, or a key and the staged row.
 * @param {import("./codec.js").Reader} r
 * @returns {Array<{ rowId: number } | { key: string, row: Readonly<Record<string, unknown>> }>}
 */
export function readStagedQuery(r) {
  const n = r.varint();
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    if (r.u8() === 0) {
      out[i] = { rowId: r.varint() };
    } else {
      const key = r.string();
      out[i] = { key, row: readStagedColumns(r) };
    }
  }
  return out;
}

/**
 * Reads a conflicts result: column → losing values, best first.
 * @param {import("./codec.js").Reader} r
 * @returns {Record<string, unknown[]>}
 */
export function readConflicts(r) {
  const n = r.varint();
  /** @type {Record<string, unknown[]>} */
  const out = {};
  for (let i = 0; i < n; i++) {
    const name = r.string();
    const count = r.varint();
    const values = [];
    for (let k = 0; k < count; k++) values.push(r.value());
    if (name === "__proto__") {
      Object.defineProperty(out, name, { value: values, enumerable: true, writable: true, configurable: true });
    } else {
      out[name] = values;
    }
  }
  return out;
}
