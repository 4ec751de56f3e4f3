// One remote peer of a sync provider: the protocol of docs/sync.md over a link that delivers
// frames in order (BroadcastChannel, a data channel, a WebSocket). Merging is the engine's:
// this only decides what to send, from versions.
//
// On connect each side sends HELLO(version); the other answers with CHANGES holding exactly
// what that version lacks (a snapshot and later events when it predates a compaction point)
// and SYNCED. Afterwards each durable update is streamed as CHANGES. A message whose causal
// predecessors are missing (a lost frame) makes the receiver say HELLO again, so a gap heals
// from versions instead of from scratch. ACK tells the sender what the receiver now has (the
// peer's acknowledged version) and doubles as a heartbeat.

import { ClosedError, DecodeError } from "../errors.js";
import {
  ACK,
  ackFrame,
  BYE,
  CHANGES,
  changesFrame,
  decodeFrame,
  frameName,
  HELLO,
  helloFrame,
  PART,
  PROTOCOL,
  Reassembler,
  splitFrame,
  SYNCED,
  syncedFrame,
} from "./frames.js";

/**
 * @typedef {object} SessionOptions
 * @property {(frame: Uint8Array) => void} send sends one frame to this peer
 * @property {object} origin passed to applyChanges (the provider)
 * @property {number} maxFrameBytes the largest frame the link carries (larger ones go in parts)
 * @property {number} maxMessageBytes the largest frame accepted from the peer
 * @property {(message: string) => void} warn reports a dropped frame
 * @property {() => void} onState called when `synced` changes or the peer says bye
 */

/** @param {Uint8Array} a @param {Uint8Array} b */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Frames refused before a session is closed as abusive. */
export const MAX_BAD_FRAMES = 20;

export class SyncSession {
  /** @type {Uint8Array | null} the peer's last acknowledged version (HELLO or ACK) */
  remoteVersion = null;
  /** The peer answered our latest HELLO: it sent everything we lacked then. */
  synced = false;
  /** The peer said hello: our updates are streamed to it. */
  live = false;
  /** The peer said bye, or broke the protocol too often. */
  closed = false;
  /** Frames refused so far. */
  badFrames = 0;
  /** When the peer was last heard from (ms, the provider's clock). */
  lastHeard = 0;
  #askedAgain = false;
  /** Changes were sent since the peer's last ACK. */
  #sentSinceAck = false;
  /** Changes held after the last CHANGES frame, and after the peer's last answer. */
  #pending = 0;
  #pendingAfterAnswer = 0;
  #ackDue = false;
  #parts;

  /**
   * @param {import("../database.js").CRDTDB} db
   * @param {SessionOptions} opts
   */
  constructor(db, opts) {
    this.db = db;
    this.opts = opts;
    this.#parts = new Reassembler(opts.maxMessageBytes);
  }

  /** Says hello: asks the peer for what this replica lacks. */
  hello() {
    this.synced = false;
    this.#send(helloFrame(this.db.version()));
  }

  /** Streams one durable update to the peer (once it said hello). @param {Uint8Array} bytes */
  sendUpdate(bytes) {
    if (this.live && !this.closed) {
      this.#sentSinceAck = true;
      this.#send(changesFrame(bytes));
    }
  }

  /** Sends the version this replica reached, if something arrived since the last one. */
  flushAck() {
    if (!this.#ackDue || this.closed) return;
    this.#ackDue = false;
    this.#send(ackFrame(this.db.version()));
  }

  /** Sends an ACK even when nothing arrived (a heartbeat). */
  heartbeat() {
    if (this.closed) return;
    this.#ackDue = false;
    this.#send(ackFrame(this.db.version()));
  }

  /**
   * Takes one frame from the peer. A malformed or refused frame is dropped with a warning;
   * past MAX_BAD_FRAMES the session closes.
   * @param {Uint8Array} bytes
   * @param {number} now
   * @returns {{ applied: number, pending: number, before: Uint8Array } | undefined} for
   *   changes: how many events were new (counting held ones they released), how many are
   *   held now, and the version before (what is new since it can be relayed)
   */
  receive(bytes, now) {
    if (this.closed) return undefined;
    this.lastHeard = now;
    try {
      let frame = decodeFrame(bytes);
      if (frame.type === PART) {
        const whole = this.#parts.add(frame);
        if (whole === null) return undefined;
        frame = decodeFrame(whole);
        if (frame.type === PART) throw new DecodeError("sync frame part holds another part");
      } else if (this.#parts.pendingBytes > 0) {
        // The rest of a frame in parts never came (a lost slice): drop it, keep this one.
        this.#parts.reset();
        this.badFrames++;
        this.opts.warn(`dropped an incomplete sync frame (a ${frameName(frame.type)} frame came before its last part)`);
      }
      return this.#handle(frame);
    } catch (err) {
      if (err instanceof ClosedError) throw err;
      this.badFrames++;
      this.opts.warn(`dropped a sync frame: ${/** @type {Error} */ (err)?.message ?? err}`);
      if (this.badFrames >= MAX_BAD_FRAMES) {
        this.opts.warn(`closing a sync session after ${this.badFrames} bad frames`);
        this.close();
      }
      return undefined;
    }
  }

  /**
   * @param {import("./frames.js").Frame} frame
   * @returns {{ applied: number, pending: number, before: Uint8Array } | undefined}
   */
  #handle(frame) {
    switch (frame.type) {
      case HELLO: {
        if (frame.protocol !== PROTOCOL) {
          throw new DecodeError(`peer speaks sync protocol ${frame.protocol}, this one ${PROTOCOL}`);
        }
        // changesSince validates the version (DecodeError on a malformed one).
        const changes = this.db.changesSince(frame.version);
        this.remoteVersion = frame.version.slice();
        this.live = true;
        this.#sentSinceAck = true;
        this.#send(changesFrame(changes));
        this.#send(syncedFrame(this.db.version()));
        return undefined;
      }
      case CHANGES: {
        const before = this.db.version();
        const { applied, pending } = this.db.applyChanges(frame.bytes, { origin: this.opts.origin });
        this.#ackDue = true;
        this.#pending = pending;
        // More changes held than after this peer's last answer: they wait for something it
        // sent that never arrived, so ask again (once per answer; what is still held after
        // an answer is not this peer's to send, and asking again for it would never end).
        if (pending > this.#pendingAfterAnswer && !this.#askedAgain) {
          this.#askedAgain = true;
          this.hello();
        }
        return { applied, pending, before };
      }
      case SYNCED: {
        this.#askedAgain = false;
        this.#pendingAfterAnswer = this.#pending;
        if (!this.synced) {
          this.synced = true;
          this.opts.onState();
        }
        return undefined;
      }
      case ACK: {
        this.remoteVersion = frame.version.slice();
        // Nothing was sent to the peer since its previous ACK, yet it lacks what we have: a
        // frame got lost on the way (a slice of one, or the last update before a quiet spell).
        // Send what it lacks; on a healthy link the versions are equal and this costs nothing.
        // (Its version is as good as a hello whose frame was lost: stream to it from now on.)
        const quiet = !this.#sentSinceAck || !this.live;
        this.#sentSinceAck = false;
        if (quiet && !sameBytes(this.remoteVersion, this.db.version())) {
          const changes = this.db.changesSince(this.remoteVersion);
          this.live = true;
          this.#sentSinceAck = true;
          this.#send(changesFrame(changes));
        }
        this.live = true;
        return undefined;
      }
      case BYE:
        this.close();
        return undefined;
    }
    return undefined;
  }

  /** @param {Uint8Array} frame */
  #send(frame) {
    if (this.closed) return;
    for (const part of splitFrame(frame, this.opts.maxFrameBytes)) this.opts.send(part);
  }

  /** Stops the session (the provider forgets the peer). */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    this.opts.onState();
  }
}

