// db.presence (api.md, "Presence"): an ephemeral map of peer id → state that the sync
// providers share and never persist. Each peer owns its entry, last writer wins by the
// entry's clock; a peer's own state is resent with every heartbeat, and a remote entry not
// refreshed for 30 s expires. Leaving (pagehide, a provider's destroy) sends a null state.

import { describe } from "./validate.js";

/** Remote states not refreshed for this long are dropped (ms). */
export const PRESENCE_TIMEOUT_MS = 30_000;

/** @typedef {{ peer: string, clock: number, state: unknown }} PresenceEntry state null: left */

export class Presence {
  /** @type {Map<string, { clock: number, state: unknown, seen: number }>} */
  #remote = new Map();
  /** @type {{ clock: number, state: unknown }} */
  #local = { clock: 0, state: null };
  /** @type {Set<(states: Map<string, unknown>) => void>} */
  #listeners = new Set();
  /** @type {Set<(entry: PresenceEntry) => void>} providers, told of each local change */
  #senders = new Set();
  /** @type {ReturnType<typeof setInterval> | null} */
  #timer = null;

  /** @param {() => string} peerId this replica's peer id (it can change on a reload) */
  constructor(peerId) {
    this.peerId = peerId;
    /** @type {() => number} */
    this.now = () => Date.now();
  }

  /**
   * Sets this peer's state (any JSON value; null clears it) and sends it to every peer of
   * every provider.
   * @param {unknown} state
   */
  set(state) {
    let json;
    try {
      json = JSON.stringify(state);
    } catch (err) {
      throw new TypeError(`presence state must be a JSON value: ${/** @type {Error} */ (err).message}`);
    }
    if (json === undefined) throw new TypeError(`presence state must be a JSON value, got ${describe(state)}`);
    this.#local = { clock: this.#local.clock + 1, state: JSON.parse(json) };
    this.#emit();
    const entry = this.localEntry();
    for (const send of [...this.#senders]) send(entry);
  }

  /** @returns {Map<string, unknown>} every peer's state, this one's included (once set) */
  getAll() {
    const out = new Map();
    if (this.#local.state !== null) out.set(this.peerId(), this.#local.state);
    for (const [peer, e] of this.#remote) out.set(peer, e.state);
    return out;
  }

  /**
   * Subscribes to an event: "change", with every peer's state (as getAll()) whenever one
   * changes, arrives, leaves or expires.
   * @param {"change"} event
   * @param {(states: Map<string, unknown>) => void} callback
   * @returns {() => void} unsubscribes
   */
  on(event, callback) {
    if (event !== "change") throw new TypeError(`unknown presence event ${JSON.stringify(event)} (known: "change")`);
    if (typeof callback !== "function") throw new TypeError(`presence.on("change") expects a function, got ${describe(callback)}`);
    this.#listeners.add(callback);
    return () => this.#listeners.delete(callback);
  }

  /** This peer's entry, to send. @returns {PresenceEntry} */
  localEntry() {
    return { peer: this.peerId(), clock: this.#local.clock, state: this.#local.state };
  }

  /** Every entry known, to send a peer that just connected. @returns {PresenceEntry[]} */
  entries() {
    const out = [this.localEntry()];
    for (const [peer, e] of this.#remote) out.push({ peer, clock: e.clock, state: e.state });
    return out;
  }

  /**
   * A provider's hook: `send` is told of every local change until the returned function is
   * called.
   * @param {(entry: PresenceEntry) => void} send
   * @returns {() => void}
   */
  attach(send) {
    this.#senders.add(send);
    return () => this.#senders.delete(send);
  }

  /**
   * Takes entries a peer sent; newer ones replace what is known.
   * @param {PresenceEntry[]} entries
   * @returns {PresenceEntry[]} the entries that were new (to relay)
   */
  receive(entries) {
    const me = this.peerId();
    const now = this.now();
    const fresh = [];
    for (const e of entries) {
      if (e.peer === me) continue;
      const known = this.#remote.get(e.peer);
      if (known !== undefined && e.clock < known.clock) continue;
      if (known !== undefined && e.clock === known.clock) {
        known.seen = now; // a heartbeat
        continue;
      }
      if (e.state === null) this.#remote.delete(e.peer);
      else this.#remote.set(e.peer, { clock: e.clock, state: e.state, seen: now });
      fresh.push(e);
    }
    if (fresh.length > 0) this.#emit();
    this.#startExpiry();
    return fresh;
  }

  /** Forgets a peer that said bye. @param {string} peer */
  remove(peer) {
    if (this.#remote.delete(peer)) this.#emit();
  }

  /** Drops remote states not refreshed within PRESENCE_TIMEOUT_MS. */
  expire() {
    const now = this.now();
    let changed = false;
    for (const [peer, e] of this.#remote) {
      if (now - e.seen > PRESENCE_TIMEOUT_MS) {
        this.#remote.delete(peer);
        changed = true;
      }
    }
    if (changed) this.#emit();
    if (this.#remote.size === 0) this.#stopExpiry();
  }

  #startExpiry() {
    if (this.#timer !== null || this.#remote.size === 0) return;
    this.#timer = setInterval(() => this.expire(), 1_000);
    /** @type {any} */ (this.#timer).unref?.();
  }

  #stopExpiry() {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Stops (the database closed): no timers left. */
  close() {
    this.#stopExpiry();
    this.#senders.clear();
  }

  #emit() {
    const states = this.getAll();
    for (const cb of [...this.#listeners]) {
      try {
        cb(states);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
