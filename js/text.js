// A handle on one collaborative text column (t.text(key, column)). Edits commit to the engine
// at once, like every table write: the engine names the text in the op log, merges concurrent
// edits with Eg-walker and shows the text's string in the row. Nothing here merges or orders:
// the handle validates arguments, encodes edits and turns the row's string changes into
// positional patches for editor bindings.

import { checkColumnName, MAX_TEXT_UNITS } from "./codec.js";
import { TEXT_EDIT } from "./replica.js";
import { asWrite, notFound } from "./table.js";
import { describe, isWellFormed } from "./validate.js";

/**
 * @typedef {{ pos: number, delete: number, insert: string }} TextPatch
 * Delete `delete` UTF-16 code units at `pos`, then insert `insert` there.
 */

/**
 * The one patch that turns `before` into `after`: their common prefix and suffix stay, never
 * cutting a surrogate pair.
 * @param {string} before
 * @param {string} after
 * @returns {TextPatch}
 */
export function patchBetween(before, after) {
  const max = Math.min(before.length, after.length);
  let p = 0;
  while (p < max && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  if (p > 0 && p < max && isHigh(before.charCodeAt(p - 1))) p--;
  let s = 0;
  while (s < max - p && before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)) s++;
  if (s > 0 && s < max - p && isLow(before.charCodeAt(before.length - s))) s--;
  return { pos: p, delete: before.length - p - s, insert: after.slice(p, after.length - s) };
}

/**
 * The edit a handle is committing, while it commits: its subscribers report exactly it.
 * @type {{ table: string, key: string, column: string, patch: TextPatch } | null}
 */
let committing = null;

/**
 * Whether `patch` turns `before` into `after`.
 * @param {string} before
 * @param {TextPatch} patch
 * @param {string} after
 */
function turns(before, patch, after) {
  return (
    before.length - patch.delete + patch.insert.length === after.length &&
    before.slice(0, patch.pos) + patch.insert + before.slice(patch.pos + patch.delete) === after
  );
}

/** @param {number} c */
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
/** @param {number} c */
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * @param {unknown} v
 * @param {string} what
 * @param {() => string} where what is being checked, for messages (made only for one)
 * @returns {number}
 */
function checkUnits(v, what, where) {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new TypeError(`invalid ${where()}: the ${what} must be an integer (UTF-16 code units), got ${describe(v)}`);
  }
  if (v < 0 || v > MAX_TEXT_UNITS) {
    throw new RangeError(`invalid ${where()}: the ${what} ${v} is out of range`);
  }
  return v;
}

export class TextHandle {
  /** @type {import("./table.js").ViewCore} */
  #core;
  #table;
  #key;
  #column;

  /**
   * Obtain handles with `table.text(key, column)`; not constructed directly.
   * @param {import("./table.js").ViewCore} core
   * @param {string} table
   * @param {string} key
   * @param {string} column
   */
  constructor(core, table, key, column) {
    this.#core = core;
    this.#table = table;
    this.#key = key;
    this.#column = column;
  }

  /** @returns {string} what the text's row and column are, for messages */
  get #where() {
    return `text ${JSON.stringify(this.#column)} of row ${JSON.stringify(this.#key)} in table ${JSON.stringify(this.#table)}`;
  }

  /**
   * @param {{ pos: number, insert?: string, len?: number }} edit
   * @returns {Promise<void>}
   */
  #edit(edit) {
    const replica = this.#core.replica();
    if (!replica.rowsOf(this.#table).has(this.#key)) throw notFound(this.#table, this.#key, "text");
    // (the engine checks the column still shows a text, TypeError otherwise, and the range:
    // RangeError for a position past the end or one that splits a surrogate pair)
    const patch = { pos: edit.pos, delete: edit.len ?? 0, insert: edit.insert ?? "" };
    const outer = committing; // (a subscriber may edit from inside its callback)
    committing = { table: this.#table, key: this.#key, column: this.#column, patch };
    try {
      return replica.commitOp(TEXT_EDIT, this.#table, this.#key, { column: this.#column, edit });
    } finally {
      committing = outer;
    }
  }

  /**
   * Inserts `str` at `pos`. Commits at once (a following changesSince includes it); an edit
   * right after this peer's previous one extends its run in the text's merged and stored
   * history (the op log still holds one record per edit).
   * @param {number} pos in UTF-16 code units, 0 ≤ pos ≤ length
   * @param {string} str
   * @returns {Promise<void>} resolves once durable; rejects with RangeError for a position out
   *   of range or inside a surrogate pair, TypeError for a non-integer position, a string
   *   with a lone surrogate or a column that no longer holds a text, NotFoundError when the
   *   row is gone (nothing changes on any rejection)
   */
  insert(pos, str) {
    return asWrite(() => {
      const where = () => `insert into ${this.#where}`; // (made only for an error)
      checkUnits(pos, "position", where);
      if (typeof str !== "string") throw new TypeError(`invalid ${where()}: expected a string, got ${describe(str)}`);
      if (!isWellFormed(str)) throw new TypeError(`invalid ${where()}: the string has a lone UTF-16 surrogate`);
      if (str === "") return this.#nothing(pos, 0, where);
      return this.#edit({ pos, insert: str });
    });
  }

  /**
   * Deletes `len` UTF-16 code units at `pos`. Commits at once.
   * @param {number} pos
   * @param {number} len
   * @returns {Promise<void>} rejects like insert (RangeError also when pos + len passes the
   *   end or cuts a surrogate pair)
   */
  delete(pos, len) {
    return asWrite(() => {
      const where = () => `delete from ${this.#where}`;
      checkUnits(pos, "position", where);
      checkUnits(len, "length", where);
      if (len === 0) return this.#nothing(pos, 0, where);
      return this.#edit({ pos, len });
    });
  }

  /**
   * An empty edit changes nothing, but is checked like any other.
   * @param {number} pos
   * @param {number} len
   * @param {() => string} where
   */
  #nothing(pos, len, where) {
    const replica = this.#core.replica();
    if (!replica.rowsOf(this.#table).has(this.#key)) throw notFound(this.#table, this.#key, "text");
    if (!replica.isText(this.#table, this.#key, this.#column)) {
      throw new TypeError(`invalid ${where()}: the column no longer holds a text`);
    }
    const s = this.toString();
    if (pos + len > s.length) {
      throw new RangeError(`invalid ${where()}: position ${pos} is past the end (length ${s.length})`);
    }
    if (pos > 0 && pos < s.length && isHigh(s.charCodeAt(pos - 1)) && isLow(s.charCodeAt(pos))) {
      throw new RangeError(`invalid ${where()}: position ${pos} splits a surrogate pair`);
    }
  }

  /**
   * The text's current content (the row's column): "" once the row is deleted or the column
   * holds something other than a string.
   * @returns {string}
   */
  toString() {
    const v = this.#core.replica().rowsOf(this.#table).get(this.#key)?.[this.#column];
    return typeof v === "string" ? v : "";
  }

  /** @returns {number} the content's length in UTF-16 code units */
  get length() {
    return this.toString().length;
  }

  /**
   * Calls `cb(patches, { origin })` after every change of the content (local edits, merged
   * remote edits, a write that replaced the text): applying the patches in order to the
   * previous content gives the new one. A local edit comes as exactly that edit; a merge as
   * the span it changed. Not called at once: start from toString().
   * @param {(patches: TextPatch[], info: { origin: string | object }) => void} cb
   * @returns {() => void} stops the subscription (idempotent)
   */
  subscribe(cb) {
    if (typeof cb !== "function") throw new TypeError(`subscribe expects a function, got ${describe(cb)}`);
    const replica = this.#core.replica();
    let last = this.toString();
    const entry = {
      /** @param {{ table: string, key: string, origin: string | object }} e */
      cb: (e) => {
        if (e.key !== this.#key || e.table !== this.#table) return;
        const now = this.toString();
        if (now === last) return;
        const c = committing;
        const mine = c !== null && c.table === this.#table && c.key === this.#key && c.column === this.#column;
        const patch = mine && turns(last, c.patch, now) ? { ...c.patch } : patchBetween(last, now);
        last = now;
        cb([patch], { origin: e.origin });
      },
    };
    replica.changeListeners.add(entry);
    return () => {
      replica.changeListeners.delete(entry);
    };
  }
}
