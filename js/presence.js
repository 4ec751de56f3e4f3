// db.presence (api.md, "Presence"): an ephemeral map of peer id → state that the sync
// providers share and never persist. Each peer owns its entry, last writer wins by the
// entry's clock; a peer's own state is resent with every heartbeat, and a remote entry not
// refreshed for 30 s expires. Leaving (pagehide, a provider's destroy) sends a null state.

import { MAX_STATE_CHARS, MAX_STATE_DEPTH as MAX_PRESENCE_DEPTH, nesting } from "./sync/frames.js";
import { describe } from "./validate.js";

/** Remote states not refreshed for this long are dropped (ms). */
export const PRESENCE_TIMEOUT_MS = 30_000;
/** A refresh (a heartbeat: same clock) is passed on at most this often per peer (ms). */
export const PRESENCE_RELAY_MS = 10_000;
/** The largest state, as JSON text (UTF-16 code units); frames.js refuses larger ones. */
export const MAX_PRESENCE_STATE = MAX_STATE_CHARS;
/** Remote peers whose presence is kept at most. */
export const MAX_PRESENCE_PEERS = 1024;

/** @typedef {{ peer: string, clock: number, state: unknown }} PresenceEntry state null: left */

export class Presence {
  /**
   * Remote entries, left ones included (state null) until they expire: a leave relayed around
   * a cycle of peers is then recognised as old, not passed on forever.
   * @type {Map<string, { clock: number, state: unknown, seen: number, relayed: number }>}
   */
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
    if (json.length > MAX_PRESENCE_STATE) {
      throw new RangeError(`presence state is ${json.length} characters of JSON; the limit is ${MAX_PRESENCE_STATE}`);
    }
    if (nesting(json) > MAX_PRESENCE_DEPTH) {
      throw new RangeError(`presence state is nested deeper than ${MAX_PRESENCE_DEPTH} levels`);
    }
    // The clock starts from the time: a peer that reloads under the same id (its clock
    // starting again) still writes above its last state, which peers may still hold.
    this.#local = { clock: Math.max(this.#local.clock + 1, Date.now()), state: JSON.parse(json) };
    this.#emit();
    const entry = this.localEntry();
    for (const send of [...this.#senders]) send(entry);
  }

  /** @returns {Map<string, unknown>} every peer's state, this one's included (once set) */
  getAll() {
    const out = new Map();
    if (this.#local.state !== null) out.set(this.peerId(), this.#local.state);
    for (const [peer, e] of this.#remote) if (e.state !== null) out.set(peer, e.state);
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
    if (this.#rejoin) {
      // A leave went out (a page hidden, one provider destroyed): the state is announced
      // again with a newer clock, or peers would take it for older than the leave.
      this.#rejoin = false;
      this.#local.clock++;
    }
    return { peer: this.peerId(), clock: this.#local.clock, state: this.#local.state };
  }

  #rejoin = false;

  /**
   * A leave to send (the page is hidden, or the last provider stops): peers drop this
   * peer's state at once. The state is kept: sent again later, it comes back.
   * @returns {PresenceEntry}
   */
  leave() {
    this.#local.clock++;
    this.#rejoin = true;
    return { peer: this.peerId(), clock: this.#local.clock, state: null };
  }

  /** Sends this peer's state (if any) to every provider again, after a leave. */
  reannounce() {
    const entry = this.localEntry();
    if (entry.clock > 0 && entry.state !== null) for (const send of [...this.#senders]) send(entry);
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
   * Takes entries a peer sent: newer ones replace what is known, a same-clock one refreshes it.
   * @param {PresenceEntry[]} entries
   * @returns {PresenceEntry[]} what to pass on: the new entries, and refreshes not passed on
   *   within PRESENCE_RELAY_MS (peers further away expire states otherwise)
   */
  receive(entries) {
    const me = this.peerId();
    const now = this.now();
    const relay = [];
    let changed = false;
    for (const e of entries) {
      if (e.peer === me) continue;
      const known = this.#remote.get(e.peer);
      if (known !== undefined && e.clock < known.clock) continue;
      if (known !== undefined && e.clock === known.clock) {
        if (known.state === null) continue; // a leave already known
        known.seen = now;
        if (now - known.relayed >= PRESENCE_RELAY_MS) {
          known.relayed = now;
          relay.push(e);
        }
        continue;
      }
      if (known === undefined) {
        if (e.state === null) {
          // Left before we knew it: remember the leave (so it is not passed on again).
          if (this.#remote.size < MAX_PRESENCE_PEERS) this.#remote.set(e.peer, { clock: e.clock, state: null, seen: now, relayed: now });
          continue;
        }
        if (this.#remote.size >= MAX_PRESENCE_PEERS) continue;
      }
      if ((known?.state ?? null) !== null || e.state !== null) changed = true;
      this.#remote.set(e.peer, { clock: e.clock, state: e.state, seen: now, relayed: now });
      relay.push(e);
    }
    if (changed) this.#emit();
    this.#startExpiry();
    return relay;
  }

  /**
   * Other peers' states and leaves heard recently (within half the expiry time): what a
   * relaying provider tells a peer that just came, which does not hear them directly (a leave
   * too: the newcomer may still show that peer from before).
   * @returns {PresenceEntry[]}
   */
  recentEntries() {
    const now = this.now();
    const out = [];
    for (const [peer, e] of this.#remote) {
      if (now - e.seen <= PRESENCE_TIMEOUT_MS / 2) out.push({ peer, clock: e.clock, state: e.state });
    }
    return out;
  }

  /** Drops remote states not refreshed within PRESENCE_TIMEOUT_MS. */
  expire() {
    const now = this.now();
    let changed = false;
    for (const [peer, e] of this.#remote) {
      if (now - e.seen > PRESENCE_TIMEOUT_MS) {
        this.#remote.delete(peer);
        if (e.state !== null) changed = true;
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
    // The database closed: its sync providers stop with it (db.close() releases sync).
    const closers = [...this.#closers];
    this.#closers.clear();
    for (const fn of closers) {
      try {
        fn();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** @type {Set<() => void>} */
  #closers = new Set();

  /**
   * A provider's hook: `fn` runs when the database closes.
   * @param {() => void} fn
   * @returns {() => void} unsubscribes
   */
  onClose(fn) {
    this.#closers.add(fn);
    return () => this.#closers.delete(fn);
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
