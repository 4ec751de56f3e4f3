// BroadcastChannelSync: same-origin tabs and workers syncing one database over a
// BroadcastChannel (docs/sync.md). The channel is a bus: every message reaches every other
// instance, so an update is posted once, nothing is relayed, and three or more tabs cannot
// loop. Messages are { from, to, frame }: `to` null for everyone, else one peer id.

import { byeFrame, CHANGES, changesFrame, helloFrame, SYNCED } from "./frames.js";
import { SyncProvider } from "./provider.js";

/** Longest peer id accepted in a message's routing fields. */
const MAX_PEER_ID = 256;

/**
 * @typedef {import("./provider.js").ProviderOptions & {
 *   channel?: string,
 *   BroadcastChannel?: typeof BroadcastChannel,
 * }} BroadcastChannelSyncOptions
 */

export class BroadcastChannelSync extends SyncProvider {
  /** @type {BroadcastChannel} */
  #bc;
  /** @type {(() => void) | null} */
  #unlisten = null;

  /**
   * Starts syncing `db` with every other instance on the channel (by default one named
   * after the database).
   * @param {import("../database.js").CRDTDB} db an open database
   * @param {BroadcastChannelSyncOptions} [opts]
   */
  constructor(db, opts = {}) {
    super(db, { ...opts, relay: false });
    const BC = opts.BroadcastChannel ?? globalThis.BroadcastChannel;
    if (typeof BC !== "function") throw new TypeError("BroadcastChannelSync needs BroadcastChannel (not available here)");
    const channel = opts.channel ?? db.name;
    if (typeof channel !== "string" || channel === "") {
      throw new TypeError(`BroadcastChannelSync option channel must be a non-empty string, got ${String(channel)}`);
    }
    this.channel = channel;
    // Its own namespace: never the storage channel of the same database (crdtdb:storage:…).
    this.#bc = new BC(`crdtdb:sync:${channel}`);
    this.#bc.onmessage = (ev) => this.#onMessage(ev.data);
    this.#listenForPageLifecycle();
    this.setConnected(true);
    this.#helloAll();
  }

  #helloAll() {
    if (this.destroyed) return;
    this.#post(null, helloFrame(this.db.version()));
  }

  /** @param {Uint8Array} bytes */
  sendUpdate(bytes) {
    // One post reaches every instance (those that have not said hello yet get it too).
    if (this.peers.length > 0) this.#post(null, changesFrame(bytes));
  }

  /**
   * @param {string | null} to
   * @param {Uint8Array} frame
   */
  #post(to, frame) {
    if (this.destroyed) return;
    this.#bc.postMessage({ from: this.db.peerId, to, frame });
  }

  /** @param {unknown} data */
  #onMessage(data) {
    if (this.destroyed) return;
    const msg = /** @type {{ from?: unknown, to?: unknown, frame?: unknown }} */ (data);
    if (
      msg === null ||
      typeof msg !== "object" ||
      typeof msg.from !== "string" ||
      msg.from === "" ||
      msg.from.length > MAX_PEER_ID ||
      (msg.to !== null && typeof msg.to !== "string") ||
      !(msg.frame instanceof Uint8Array)
    ) {
      this.warn("dropped a malformed message on the sync channel");
      return;
    }
    const me = this.db.peerId;
    if (msg.from === me || (msg.to !== null && msg.to !== me)) return;
    if (msg.frame.length > this.maxMessageBytes) {
      this.warn(`dropped a sync frame of ${msg.frame.length} bytes (limit ${this.maxMessageBytes}) from ${msg.from}`);
      return;
    }
    const from = msg.from;
    const type = msg.frame[0];
    // A frame addressed to this instance that answers its hello: no second hello.
    const greet = !(msg.to === me && (type === CHANGES || type === SYNCED));
    this.receive(from, msg.frame, (frame) => this.#post(from, frame), greet);
  }

  /** Leaves on pagehide (bye), greets again when the page comes back from the cache. */
  #listenForPageLifecycle() {
    const g = /** @type {any} */ (globalThis);
    if (typeof g.addEventListener !== "function") return;
    const hide = () => {
      this.#post(null, byeFrame());
      for (const id of this.peers) this.drop(id);
    };
    const show = (/** @type {any} */ ev) => {
      if (ev?.persisted) this.#helloAll();
    };
    g.addEventListener("pagehide", hide);
    g.addEventListener("pageshow", show);
    this.#unlisten = () => {
      g.removeEventListener("pagehide", hide);
      g.removeEventListener("pageshow", show);
    };
  }

  close() {
    this.#unlisten?.();
    try {
      this.#bc.postMessage({ from: this.db.peerId, to: null, frame: byeFrame() });
    } catch {
      // the database or the channel is already gone
    }
    this.#bc.close();
  }
}
