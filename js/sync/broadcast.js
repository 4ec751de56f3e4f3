// BroadcastChannelSync: same-origin tabs and workers syncing one database over a
// BroadcastChannel (docs/sync.md). The channel is a bus: every message reaches every other
// instance, so an update is posted once, nothing is relayed, and three or more tabs cannot
// loop. Messages are { from, to, frame }: `to` null for everyone, else one peer id. With a
// password the channel is named by the derived room id and every frame is sealed. Updates
// posted to everyone go as deltas against this instance's previous post when every peer reads
// them (./delta.js): each receiver keeps each sender's last post as the reference.

import { DeltaReceiver, DeltaSender } from "./delta.js";
import { byeFrame, CHANGES, changesFrame, decodeFrame, DELTA, deltaFrame, HELLO, helloFrame, presenceFrame } from "./frames.js";
import { checkProviderOptions, SyncProvider } from "./provider.js";
import { roomKey, seal, Serial, unseal } from "./room_key.js";
import { nextAsk } from "./session.js";

/** Longest peer id accepted in a message's routing fields. */
const MAX_PEER_ID = 256;

/**
 * @typedef {import("./provider.js").ProviderOptions & {
 *   channel?: string,
 *   password?: string,
 *   BroadcastChannel?: typeof BroadcastChannel,
 * }} BroadcastChannelSyncOptions
 */

/**
 * Checks the options and opens the channel (without a password) before the provider starts
 * anything.
 * @param {import("../database.js").CRDTDB} db
 * @param {BroadcastChannelSyncOptions} opts
 * @returns {{ channel: string, bc: BroadcastChannel | null, BC: typeof BroadcastChannel }}
 */
function openChannel(db, opts) {
  checkProviderOptions(opts);
  const BC = opts.BroadcastChannel ?? globalThis.BroadcastChannel;
  if (typeof BC !== "function") throw new TypeError("BroadcastChannelSync needs BroadcastChannel (not available here)");
  const channel = opts.channel ?? db?.name;
  if (typeof channel !== "string" || channel === "") {
    throw new TypeError(`BroadcastChannelSync option channel must be a non-empty string, got ${String(channel)}`);
  }
  if (opts.password !== undefined && (typeof opts.password !== "string" || opts.password === "")) {
    throw new TypeError("BroadcastChannelSync option password must be a non-empty string");
  }
  // Its own namespace: never the storage channel of the same database (crdtdb:storage:…).
  return { channel, bc: opts.password === undefined ? new BC(`crdtdb:sync:${channel}`) : null, BC };
}

export class BroadcastChannelSync extends SyncProvider {
  /** @type {BroadcastChannel | null} */
  #bc = null;
  /** @type {import("./room_key.js").RoomKey | null} */
  #key = null;
  #out = new Serial((err) => this.warn(`${/** @type {Error} */ (err)?.message ?? err}`));
  #in = new Serial((err) => this.warn(`dropped a message: ${/** @type {Error} */ (err)?.message ?? err}`));
  /** @type {(() => void) | null} */
  #unlisten = null;
  /** The ask id of the latest hello posted to everyone. */
  #askAll = -1;
  sessionDeltas = false;
  #busOut = new DeltaSender();
  /** Each sender's last post to everyone, the reference of its deltas. @type {Map<string, DeltaReceiver>} */
  #busIn = new Map();
  /** Senders whose delta did not fit the reference held: asked again, waiting. */
  #broken = new Set();

  /**
   * Starts syncing `db` with every other instance on the channel (by default one named
   * after the database).
   * @param {import("../database.js").CRDTDB} db an open database
   * @param {BroadcastChannelSyncOptions} [opts]
   */
  constructor(db, opts = {}) {
    const { channel, bc, BC } = openChannel(db, opts);
    try {
      super(db, { ...opts, relay: false });
    } catch (err) {
      bc?.close();
      throw err;
    }
    this.channel = channel;
    if (bc !== null) {
      this.#start(bc);
      return;
    }
    roomKey(channel, /** @type {string} */ (opts.password)).then(
      (key) =>
        this.guard(() => {
          this.#key = key;
          this.#start(new BC(`crdtdb:sync:${key.id}`));
        }),
      (err) => this.warn(`cannot derive the room key: ${err.message}`),
    );
  }

  /** @param {BroadcastChannel} bc */
  #start(bc) {
    this.#bc = bc;
    bc.onmessage = (ev) => this.#onMessage(ev.data);
    this.#listenForPageLifecycle();
    this.setConnected(true);
    this.#helloAll();
  }

  /** What a sealed frame is bound to. @param {string} from @param {string | null} to */
  #context(from, to) {
    return `crdtdb bc\0${/** @type {any} */ (this.#key).id}\0${from}\0${to ?? "*"}`;
  }

  /** Asks every instance on the channel for what this one lacks. */
  #helloAll() {
    if (this.destroyed) return;
    this.#askAll = nextAsk();
    for (const s of this.sessions()) s.expectAnswer(this.#askAll);
    this.#post(null, helloFrame(this.#askAll, this.db.version()));
  }

  beacon() {
    this.#helloAll();
  }

  /** @param {import("../presence.js").PresenceEntry[]} entries */
  sendPresence(entries) {
    if (entries.length > 0) this.#post(null, presenceFrame(entries));
  }

  /** @param {Uint8Array} bytes */
  sendUpdate(bytes) {
    // One post reaches every instance, known yet or not (one that dropped this one after a
    // silence comes back through it).
    let deltas = true;
    for (const s of this.sessions()) {
      s.noteSent();
      deltas &&= s.peerProtocol >= 2;
    }
    const delta = deltas ? this.#busOut.encode(bytes) : null;
    if (delta === null) this.#busOut.note(bytes);
    this.#post(null, delta === null ? changesFrame(bytes) : deltaFrame(delta.tag, delta.ops));
  }

  /**
   * @param {string | null} to
   * @param {Uint8Array} frame
   */
  #post(to, frame) {
    if (this.destroyed || this.#bc === null) return;
    const bc = this.#bc;
    const from = this.db.peerId;
    const key = this.#key;
    if (key === null) return bc.postMessage({ from, to, frame });
    this.#out.run(async () => {
      const sealed = await seal(key.key, frame, this.#context(from, to));
      if (!this.destroyed) bc.postMessage({ from, to, frame: sealed });
    });
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
    const key = this.#key;
    if (key === null) return this.#deliver(msg.from, msg.to, msg.frame);
    const { from, to, frame } = /** @type {{ from: string, to: string | null, frame: Uint8Array }} */ (msg);
    this.#in.run(async () => this.#deliver(from, to, await unseal(key.key, frame, this.#context(from, to))));
  }

  /** @param {string} from @param {string | null} to @param {Uint8Array} frame */
  #deliver(from, to, frame) {
    if (this.destroyed) return;
    // A hello: a peer came, or asks again. It may lack this one's last post: the next goes whole.
    if (frame[0] === HELLO) this.#busOut.reset();
    // A hello to everyone from a peer we know: it started again (a reload reusing its id).
    if (to === null && frame[0] === HELLO) {
      this.drop(from);
      this.#busIn.delete(from);
    }
    if (to === null && (frame[0] === CHANGES || frame[0] === DELTA)) {
      const whole = this.#busFrame(from, frame);
      if (whole === null) return;
      frame = whole;
    }
    // A stranger writing to this instance alone answers (or follows) its hello to everyone:
    // no second hello; the answer to that one counts. A stranger posting to everyone started
    // after this instance's hello: greet it.
    const greet = to === null;
    this.receive(from, frame, (f) => this.#post(from, f), greet, this.#askAll);
  }

  /**
   * A post to everyone carrying changes: a CHANGES frame becomes the sender's reference; a
   * DELTA is decoded against it. Null when it cannot be (the sender is asked again).
   * @param {string} from
   * @param {Uint8Array} frame
   * @returns {Uint8Array | null} the CHANGES frame to take
   */
  #busFrame(from, frame) {
    let ref = this.#busIn.get(from);
    if (ref === undefined) {
      if (this.#busIn.size >= 256) this.#busIn.delete(/** @type {string} */ (this.#busIn.keys().next().value));
      this.#busIn.set(from, (ref = new DeltaReceiver()));
    }
    if (frame[0] === CHANGES) {
      ref.note(frame.subarray(1));
      this.#broken.delete(from);
      return frame;
    }
    let bytes;
    try {
      const d = /** @type {{ tag: number, ops: Uint8Array }} */ (decodeFrame(frame));
      bytes = ref.decode(d.tag, d.ops);
    } catch (err) {
      this.warn(`dropped a sync delta from ${from}: ${/** @type {Error} */ (err).message}`);
      return null;
    }
    if (bytes === null) {
      // Its previous post never reached this instance (it came later): ask it, once.
      if (!this.#broken.has(from)) {
        this.#broken.add(from);
        this.session(from, (f) => this.#post(from, f), false, this.#askAll)?.hello();
      }
      return null;
    }
    return changesFrame(bytes);
  }

  /**
   * Leaves on pagehide (bye); greets again when the page comes back from the cache or becomes
   * visible (its timers may have been throttled while hidden).
   */
  #listenForPageLifecycle() {
    const g = /** @type {any} */ (globalThis);
    if (typeof g.addEventListener !== "function") return;
    const hide = () => {
      if (this.db.presence.localEntry().clock > 0) this.sendPresence([this.db.presence.leave()]);
      this.#post(null, byeFrame());
      for (const id of this.peers) this.drop(id);
    };
    const show = (/** @type {any} */ ev) => {
      if (ev?.persisted) this.#helloAll();
    };
    const visible = () => {
      if (g.document?.visibilityState === "visible") this.#helloAll();
    };
    g.addEventListener("pagehide", hide);
    g.addEventListener("pageshow", show);
    g.document?.addEventListener?.("visibilitychange", visible);
    this.#unlisten = () => {
      g.removeEventListener("pagehide", hide);
      g.removeEventListener("pageshow", show);
      g.document?.removeEventListener?.("visibilitychange", visible);
    };
  }

  close() {
    this.#unlisten?.();
    const bc = this.#bc;
    if (bc === null) return;
    const bye = () => {
      try {
        bc.postMessage({ from: this.db.peerId, to: null, frame: byeFrame() });
      } catch {
        // the channel is already closed
      }
      bc.close();
    };
    const key = this.#key;
    if (key === null) return bye();
    // After the frames still being sealed (the presence leave), a sealed bye.
    const from = this.db.peerId;
    this.#out.run(async () => {
      try {
        bc.postMessage({ from, to: null, frame: await seal(key.key, byeFrame(), this.#context(from, null)) });
      } finally {
        bc.close();
      }
    });
  }
}

