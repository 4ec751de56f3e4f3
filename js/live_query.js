// Live queries: the JS half of subscriptions. The engine knows each subscription's range and
// reports, per committed call, which subscriptions its index changes touched, with their new
// results as row ids (bindings/convert.h); a write that touches no subscribed range costs no
// work here at all. This file maps ids to the cached row objects and calls back those whose
// result changed.

/**
 * @typedef {{ table: string, index: string, range: object }} QuerySpec
 * @typedef {{ id: number, cb: (rows: any[]) => void, rows: any[], spec: QuerySpec }} LiveQuery
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
   * @param {QuerySpec} spec what it queries (to subscribe again on a new engine)
   */
  add(id, rows, cb, spec) {
    /** @type {LiveQuery} */
    const q = { id, cb, rows, spec };
    this.#byId.set(id, q);
    return q;
  }

  /**
   * Moves every live query to a new engine (after a reload from storage): `resubscribe`
   * returns its new id and result; queries whose result changed are called back.
   * @param {(spec: QuerySpec) => { id: number, rows: any[] }} resubscribe
   * @param {unknown[]} errors callback errors, reported by the caller
   */
  rebind(resubscribe, errors) {
    const old = [...this.#byId.values()];
    this.#byId.clear();
    for (const q of old) {
      const { id, rows } = resubscribe(q.spec);
      const same = rows.length === q.rows.length && rows.every((r, i) => r === q.rows[i]);
      q.id = id;
      q.rows = rows;
      this.#byId.set(id, q);
      if (same) continue;
      try {
        q.cb(rows.slice());
      } catch (err) {
        errors.push(err);
      }
    }
  }


  /**
   * @param {LiveQuery} q
   * @returns {number | undefined} its engine id if it was registered
   */
  remove(q) {
    if (this.#byId.get(q.id) !== q) return undefined;
    this.#byId.delete(q.id);
    return q.id;
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
