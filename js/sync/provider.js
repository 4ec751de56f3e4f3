// What every sync provider shares (docs/sync.md): one SyncSession per remote peer, the
// database's durable updates streamed to them, heartbeats and expiry of silent peers, the
// `peers` list and `status` events. A transport subclass only moves frames.

import { ClosedError } from "../errors.js";
import { noteAcked } from "./acked.js";
import { decodeFrame } from "./frames.js";
import { SyncSession } from "./session.js";

/** How often acknowledgements are flushed (ms). */
export const ACK_MS = 1_000;
/** A heartbeat (an ACK) is sent this often to every peer (ms)... */
export const HEARTBEAT_MS = 10_000;
/** ...and a peer not heard from for this long is dropped (ms). */
export const PEER_TIMEOUT_MS = 30_000;
/** The largest frame accepted from a peer, by default (bytes). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Peers one provider talks to at most; frames from more are dropped. */
export const MAX_PEERS = 256;

/**
 * @typedef {object} ProviderOptions
 * @property {number} [maxFrameBytes] the largest frame the transport carries (larger ones are sent in parts)
 * @property {number} [maxMessageBytes] the largest frame accepted from a peer
 * @property {boolean} [relay] forward what a peer sent to the other peers (not on a bus, where everyone hears everyone)
 * @property {(message: string) => void} [warn] where dropped frames are reported (console.warn)
 * @property {{ now: () => number, every: (ms: number, fn: () => void) => () => void }} [clock]
 *   time and timers (tests drive them by hand)
 */

/** @typedef {{ connected: boolean, synced: boolean }} SyncStatus */

const realClock = {
  now: () => Date.now(),
  /** @param {number} ms @param {() => void} fn */
  every(ms, fn) {
    const t = setInterval(fn, ms);
    /** @type {any} */ (t).unref?.(); // never keeps Node alive
    return () => clearInterval(t);
  },
};

/**
 * @param {unknown} v
 * @param {string} name
 * @param {number} min
 * @returns {number | undefined}
 */
function sizeOption(v, name, min) {
  if (v === undefined || v === Infinity) return /** @type {number | undefined} */ (v);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new TypeError(`sync option ${name} must be an integer of at least ${min}, got ${String(v)}`);
  }
  return v;
}

/**
 * Checks a provider's options before anything starts (a failed constructor leaves nothing
 * registered).
 * @param {ProviderOptions} opts
 */
export function checkProviderOptions(opts) {
  if (opts === null || typeof opts !== "object") throw new TypeError("sync provider options must be an object");
  sizeOption(opts.maxFrameBytes, "maxFrameBytes", 64);
  sizeOption(opts.maxMessageBytes, "maxMessageBytes", 1024);
  if (opts.warn !== undefined && typeof opts.warn !== "function") throw new TypeError("sync option warn must be a function");
}

export class SyncProvider {
  /** @type {Map<string, SyncSession>} */
  #sessions = new Map();
  /** @type {Map<string, number>} peers cut off for abuse → until when */
  #blocked = new Map();
  /** @type {Set<(s: SyncStatus) => void>} */
  #statusListeners = new Set();
  /** @type {SyncStatus} */
  #status = { connected: false, synced: false };
  #connected = false;
  /** @type {Array<() => void>} */
  #stops = [];
  #destroyed = false;
  #ticks = 0;
  /** Changes the database holds for missing predecessors, after the last frame applied. */
  #held = 0;
  /** Sessions send change frames as deltas (a bus provider does that itself, per post). */
  sessionDeltas = true;

  /**
   * @param {import("../database.js").CRDTDB} db an open database (await db.ready first)
   * @param {ProviderOptions} [opts]
   */
  constructor(db, opts = {}) {
    if (typeof db?.version !== "function") throw new TypeError("a sync provider needs a database");
    checkProviderOptions(opts);
    db.version(); // throws before anything starts: a closed database, or one not ready yet
    this.db = db;
    this.maxFrameBytes = opts.maxFrameBytes ?? Infinity;
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.relay = opts.relay ?? true;
    this.warn = opts.warn ?? ((m) => console.warn(`crdtdb sync: ${m}`));
    this.clock = opts.clock ?? realClock;
    this.#stops.push(db.on("update", (e) => this.#guard(() => this.#onUpdate(e))));
    this.#stops.push(db.presence.attach((entry) => this.#guard(() => this.sendPresence([entry]))));
    this.#stops.push(this.clock.every(ACK_MS, () => this.#guard(() => this.#tick())));
    this.#stops.push(db.presence.onClose(() => this.destroy()));
  }

  /** The ids of the peers this provider is connected to. @returns {string[]} */
  get peers() {
    return [...this.#sessions.keys()];
  }

  /**
   * @returns {SyncStatus} connected: the transport is up; synced: connected, with at least one
   *   peer, and every peer answered this replica's latest hello completely
   */
  get status() {
    return { ...this.#status };
  }

  /**
   * Subscribes to an event: "status", with `{ connected, synced }` whenever either changes.
   * @param {"status"} event
   * @param {(s: SyncStatus) => void} callback
   * @returns {() => void} unsubscribes
   */
  on(event, callback) {
    if (event !== "status") throw new TypeError(`unknown event ${JSON.stringify(event)} (known: "status")`);
    if (typeof callback !== "function") throw new TypeError(`on("status") expects a function`);
    this.#statusListeners.add(callback);
    return () => this.#statusListeners.delete(callback);
  }

  /** Whether destroy() was called (or the database closed). */
  get destroyed() {
    return this.#destroyed;
  }

  /**
   * The session of a peer, made on first contact: then told hello, unless `greet` is false
   * (it answers a hello it got already: pass that hello's ask id as `answering`). Null when
   * the provider is stopped, the peer was cut off, or there are MAX_PEERS already.
   * @param {string} peerId
   * @param {(frame: Uint8Array) => void} send
   * @param {boolean} [greet]
   * @param {number} [answering]
   * @returns {SyncSession | null}
   */
  session(peerId, send, greet = true, answering = -1) {
    if (this.#destroyed) return null;
    let s = this.#sessions.get(peerId);
    if (s !== undefined) return s;
    const until = this.#blocked.get(peerId);
    if (until !== undefined) {
      if (this.clock.now() < until) return null;
      this.#blocked.delete(peerId);
    }
    if (this.#sessions.size >= MAX_PEERS) {
      this.warn(`dropped a frame from ${peerId}: already ${MAX_PEERS} peers`);
      return null;
    }
    s = new SyncSession(this.db, {
      send,
      origin: this,
      maxFrameBytes: this.maxFrameBytes,
      maxMessageBytes: this.maxMessageBytes,
      warn: (m) => this.warn(`${m} (peer ${peerId})`),
      onState: () => this.#onSessionState(peerId),
      // Relaying costs a version and a changesSince per frame: only worth it with another
      // peer to pass changes to, or held changes a frame may release (the sender may lack them).
      relay: () => this.relay && (this.#sessions.size > 1 || this.#held > 0),
      onPresence: (entries) => this.#onPresence(peerId, entries),
      onAcked: (version) => noteAcked(this.db, peerId, version),
      deltas: this.sessionDeltas,
    });
    s.lastHeard = this.clock.now();
    this.#sessions.set(peerId, s);
    if (greet) s.hello();
    else s.expectAnswer(answering);
    // Who is here, for a peer that just came: this one, and where peers do not all hear each
    // other (relay), the others recently heard from (else it learns of them only at their
    // next heartbeat, up to 10 s later).
    const local = this.db.presence.localEntry();
    const here = local.clock > 0 && local.state !== null ? [local] : [];
    if (this.relay) for (const e of this.db.presence.recentEntries()) if (e.peer !== peerId) here.push(e);
    if (here.length > 0) s.sendPresence(here);
    this.#updateStatus();
    return s;
  }

  /**
   * A frame from a peer (made a session on first contact).
   * @param {string} peerId
   * @param {Uint8Array} frame
   * @param {(frame: Uint8Array) => void} send how to answer that peer
   * @param {boolean} [greet] see session()
   * @param {number} [answering] see session()
   */
  receive(peerId, frame, send, greet = true, answering = -1) {
    this.#guard(() => {
      if (!this.#sessions.has(peerId)) {
        // A stranger's first frame must at least decode before it costs a session.
        try {
          decodeFrame(frame);
        } catch (err) {
          this.warn(`dropped a sync frame from ${peerId}: ${/** @type {Error} */ (err).message}`);
          return;
        }
      }
      const s = this.session(peerId, send, greet, answering);
      if (s === null) return;
      const result = s.receive(frame, this.clock.now());
      if (result === undefined || this.#destroyed) return;
      const released = result.pending < this.#held;
      this.#held = result.pending;
      if (result.before !== null && result.applied > 0) {
        // New here: pass it on once, at once (peers' events, durable where they came from).
        // Exactly what is new, which includes held changes this frame released: the sender
        // may lack those too.
        const delta = this.db.changesSince(result.before);
        for (const [id, other] of this.#sessions) if (id !== peerId || released) other.sendUpdate(delta);
      }
    });
  }

  /** Forgets a peer (it left, or its connection closed). @param {string} peerId */
  drop(peerId) {
    const s = this.#sessions.get(peerId);
    if (s === undefined) return;
    this.#sessions.delete(peerId);
    s.close(true);
    this.#updateStatus();
  }

  /**
   * Sends presence entries to the peers (a bus subclass posts them once to everyone).
   * @param {import("../presence.js").PresenceEntry[]} entries
   */
  sendPresence(entries) {
    for (const s of this.#sessions.values()) s.sendPresence(entries);
  }

  /**
   * @param {string} peerId
   * @param {import("../presence.js").PresenceEntry[]} entries
   */
  #onPresence(peerId, entries) {
    // A peer speaks for itself; entries for others only come relayed, and never for a peer
    // this one hears directly (on a bus, every peer is heard directly).
    const own = entries.filter((e) => e.peer === peerId || (this.relay && !this.#sessions.has(e.peer)));
    const fresh = this.db.presence.receive(own);
    if (this.relay && fresh.length > 0) {
      for (const [id, other] of this.#sessions) if (id !== peerId) other.sendPresence(fresh);
    }
  }

  /** Says hello again to every peer (after a reconnect): resumes from versions. */
  resync() {
    this.#guard(() => {
      for (const s of this.#sessions.values()) s.hello();
      this.#updateStatus();
    });
  }

  /**
   * Sends a durable update to the peers (a bus subclass posts it once to everyone).
   * @param {Uint8Array} bytes
   */
  sendUpdate(bytes) {
    for (const s of this.#sessions.values()) s.sendUpdate(bytes);
  }

  /** Each session (for subclasses). @returns {IterableIterator<SyncSession>} */
  sessions() {
    return this.#sessions.values();
  }

  /**
   * Called when the provider has no peer at a heartbeat, or just lost one to silence: a bus
   * subclass greets everyone again (peers whose timers were throttled come back).
   */
  beacon() {}

  /** @param {{ bytes: Uint8Array, origin: unknown }} e */
  #onUpdate(e) {
    // What this provider merged was relayed when it arrived (or needs no relay on a bus).
    if (e.origin !== this) this.sendUpdate(e.bytes);
  }

  #tick() {
    const heartbeat = ++this.#ticks % Math.round(HEARTBEAT_MS / ACK_MS) === 0;
    const now = this.clock.now();
    let lost = false;
    for (const [id, s] of [...this.#sessions]) {
      if (now - s.lastHeard > PEER_TIMEOUT_MS) {
        this.drop(id);
        lost = true;
        continue;
      }
      if (heartbeat) s.heartbeat();
      else s.flushAck();
    }
    if (heartbeat) {
      // This peer is still here: refreshes its presence before peers expire it.
      const local = this.db.presence.localEntry();
      if (local.clock > 0 && local.state !== null) this.sendPresence([local]);
    }
    if (lost || (heartbeat && this.#sessions.size === 0)) this.beacon();
  }

  /** @param {string} peerId */
  #onSessionState(peerId) {
    const s = this.#sessions.get(peerId);
    if (s?.closed) {
      this.#sessions.delete(peerId);
      // (A bye ends the session, not the peer's presence: it may still be heard through
      // another provider. A peer that leaves says so with a presence leave.)
      // Cut off for abuse: its frames are dropped until it could have timed out.
      if (s.closedBy === "abuse") this.#blocked.set(peerId, this.clock.now() + PEER_TIMEOUT_MS);
      if (this.#blocked.size > MAX_PEERS) this.#blocked.delete(/** @type {string} */ (this.#blocked.keys().next().value));
    }
    this.#updateStatus();
  }

  /**
   * The transport is up (or down): subclasses call it.
   * @param {boolean} connected
   */
  setConnected(connected) {
    this.#connected = connected;
    this.#updateStatus();
  }

  /**
   * Whether every peer has answered this replica's latest hello (a subclass without sessions
   * says it itself).
   * @returns {boolean}
   */
  isSynced() {
    const sessions = [...this.#sessions.values()];
    return sessions.length > 0 && sessions.every((s) => s.synced);
  }

  /** Re-evaluates the status (a subclass whose isSynced() changed calls it). */
  refreshStatus() {
    this.#updateStatus();
  }

  #updateStatus() {
    const connected = this.#connected && !this.#destroyed;
    const synced = connected && this.isSynced();
    if (connected === this.#status.connected && synced === this.#status.synced) return;
    this.#status = { connected, synced };
    for (const cb of [...this.#statusListeners]) {
      try {
        cb({ connected, synced });
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /**
   * Runs a transport callback (a socket opening, a key derived) like the provider's own: a
   * closed database destroys the provider instead of throwing into an event handler.
   * @param {() => void} fn
   */
  guard(fn) {
    this.#guard(fn);
  }

  /**
   * Runs `fn`; a closed database destroys the provider, and a failure that is not a peer's
   * (the database failing) is reported instead of thrown into a timer or a message event.
   * @param {() => void} fn
   */
  #guard(fn) {
    if (this.#destroyed) return;
    if (this.db.closed) {
      this.destroy();
      return;
    }
    try {
      fn();
    } catch (err) {
      if (err instanceof ClosedError || this.db.closed) this.destroy();
      else this.warn(`sync stopped for a moment: ${/** @type {Error} */ (err)?.message ?? err}`);
    }
  }

  /** Stops syncing: leaves every peer and releases the transport. Calling it again does nothing. */
  destroy() {
    if (this.#destroyed) return;
    // Leaves: peers drop this one's presence at once (not 30 s later). When other providers
    // still carry it, they announce the state again at once with a newer clock: peers that
    // hear this one through them too keep it, the others drop it.
    const local = this.db.presence.localEntry();
    const leaving = local.clock > 0 && !this.db.closed;
    if (leaving) this.sendPresence([this.db.presence.leave()]);
    this.#unlistenPage?.();
    this.#destroyed = true;
    for (const stop of this.#stops) stop();
    if (leaving) this.db.presence.reannounce();
    for (const s of this.#sessions.values()) s.close(true);
    this.#sessions.clear();
    this.close();
    this.#updateStatus();
  }

  /** @type {(() => void) | null} */
  #unlistenPage = null;

  /**
   * Sends a presence leave when the page is hidden (pagehide: closing, navigating away, the
   * back-forward cache), and the state again when it comes back. For providers whose peers
   * do not hear a bus's bye.
   */
  listenForPagehide() {
    const g = /** @type {any} */ (globalThis);
    if (typeof g.addEventListener !== "function" || g.document === undefined) return;
    const hide = () =>
      this.#guard(() => {
        if (this.db.presence.localEntry().clock > 0) this.sendPresence([this.db.presence.leave()]);
      });
    const show = (/** @type {any} */ ev) =>
      this.#guard(() => {
        const local = this.db.presence.localEntry();
        if (ev?.persisted && local.state !== null) this.sendPresence([local]);
      });
    g.addEventListener("pagehide", hide);
    g.addEventListener("pageshow", show);
    this.#unlistenPage = () => {
      g.removeEventListener("pagehide", hide);
      g.removeEventListener("pageshow", show);
    };
  }

  /** Subclasses release their transport here. */
  close() {}
}
