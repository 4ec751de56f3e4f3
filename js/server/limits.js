// Limits the server applies to every connection (docs/server.md, "Limits").

import { MAX_PEERS } from "../sync/provider.js";

/** Defaults of createServer's `limits` option. */
export const DEFAULT_LIMITS = Object.freeze({
  /** Rooms held at once, signaling and relay each. */
  maxRooms: 10_000,
  /** Connections in one room. */
  maxPeersPerRoom: 100,
  /** Connections to the server at once. */
  maxConnections: 10_000,
  /** The largest signaling message (bytes). */
  maxSignalBytes: 64 * 1024,
  /** The largest relay message (bytes): a whole change set or sealed snapshot. */
  maxMessageBytes: 64 * 1024 * 1024,
  /** A sealed room's log, snapshot included, at most (bytes): pushes beyond are refused. */
  maxRoomBytes: 256 * 1024 * 1024,
  /** Messages per second a connection may send on average... */
  messagesPerSecond: 200,
  /** ...and in a burst. */
  messageBurst: 2_000,
  /** Refused messages after which a connection is closed. */
  maxRefused: 100,
  /** Bytes queued to a slow client after which it is closed. */
  maxBufferedBytes: 128 * 1024 * 1024,
  /** A relay room with no connection stays loaded this long when it is persisted (ms). */
  idleRoomMs: 60_000,
});

/** @typedef {typeof DEFAULT_LIMITS} Limits */

/**
 * Checks and completes the `limits` option.
 * @param {Partial<Limits> | undefined} given
 * @returns {Limits}
 */
export function checkLimits(given = {}) {
  if (given === null || typeof given !== "object") throw new TypeError("server option limits must be an object");
  for (const [k, v] of Object.entries(given)) {
    if (!(k in DEFAULT_LIMITS)) throw new TypeError(`unknown server limit "${k}" (known: ${Object.keys(DEFAULT_LIMITS).join(", ")})`);
    if (typeof v !== "number" || !(v > 0)) throw new TypeError(`server limit ${k} must be a positive number, got ${String(v)}`);
  }
  // A relay room is one sync provider, which keeps at most MAX_PEERS sessions.
  if ((given.maxPeersPerRoom ?? 0) > MAX_PEERS) throw new TypeError(`server limit maxPeersPerRoom is at most ${MAX_PEERS}, got ${given.maxPeersPerRoom}`);
  return { ...DEFAULT_LIMITS, ...given };
}

/** A token bucket: `take()` is false when a connection sends faster than its rate allows. */
export class RateLimit {
  #tokens;
  #at;

  /**
   * @param {number} perSecond
   * @param {number} burst
   * @param {() => number} [now] ms
   */
  constructor(perSecond, burst, now = () => performance.now()) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  take() {
    const t = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#at) / 1000) * this.perSecond);
    this.#at = t;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
