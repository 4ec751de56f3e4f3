// Live queries: the JS half of subscriptions. The engine knows each subscription's range and
// reports, per committed call, which subscriptions its index changes touched, with their new
// results as row ids (bindings/convert.h); a write that touches no subscribed range costs no
// work here at all. This file maps ids to the cached row objects and calls back those whose
// result changed.

/**
 * @typedef {{ cb: (rows: any[]) => void, rows: any[] }} LiveQuery
 */

export class LiveQueries {
  /** @type {Map<number, LiveQuery>} engine subscription id → live query */
  #byId = new Map();

  get size() {
    return this.#byId.size;
  }

  /**
   * @param {number} id the engine's subscription id
   * @param {any[]} rows the current result
   * @param {(rows: any[]) => void} cb
   */
  add(id, rows, cb) {
    this.#byId.set(id, { cb, rows });
  }

  /** @param {number} id @returns {boolean} whether it was registered */
  remove(id) {
    return this.#byId.delete(id);
  }

  clear() {
    this.#byId.clear();
  }

  /**
   * Calls back the touched subscriptions whose result changed (other rows, or a row object
   * replaced in the cache). A subscription stopped by an earlier callback is not called.
   * @param {Array<{ id: number, rowIds: number[] }>} touched
   * @param {(rowId: number) => any} rowOf
   * @param {unknown[]} errors callback errors, reported by the caller
   */
  fire(touched, rowOf, errors) {
    for (const { id, rowIds } of touched) {
      const q = this.#byId.get(id);
      if (q === undefined) continue;
      const rows = rowIds.map(rowOf);
      if (rows.length === q.rows.length && rows.every((r, i) => r === q.rows[i])) continue;
      q.rows = rows;
      try {
        q.cb(rows.slice());
      } catch (err) {
        errors.push(err);
      }
    }
  }
}
