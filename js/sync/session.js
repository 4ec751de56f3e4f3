// One remote peer of a sync provider: the protocol of docs/sync.md over a link that delivers
// frames in order (BroadcastChannel, a data channel, a WebSocket). Merging is the engine's:
// this only decides what to send, from versions.
//
// On connect each side sends HELLO(ask, version); the other answers with CHANGES holding
// exactly what that version lacks (a snapshot and later events when it predates a compaction
// point) and SYNCED(ask). Afterwards each durable update is streamed as CHANGES. A message
// whose causal predecessors are missing (a lost frame) makes the receiver say HELLO again, so
// a gap heals from versions instead of from scratch. ACK tells the sender what the receiver
// now has (the peer's acknowledged version) and doubles as a heartbeat. On a link whose peer
// speaks protocol 2, a change frame may go as a DELTA against the previous one (./delta.js).

import { DecodeError, QuotaError } from "../errors.js";
import { DeltaReceiver, DeltaSender } from "./delta.js";
import {
  ACK,
  ackFrame,
  BYE,
  CHANGES,
  changesFrame,
  decodeFrame,
  DELTA,
  deltaFrame,
  frameName,
  HELLO,
  helloFrame,
  MIN_PROTOCOL,
  PART,
  PRESENCE,
  presenceFrame,
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
 * @property {() => void} onState called when `synced` or `closed` changes
 * @property {() => boolean} [relay] whether the provider would relay a CHANGES frame now:
 *   receive() then reports the version before it (what is new since it is what gets relayed)
 * @property {(entries: import("../presence.js").PresenceEntry[]) => void} [onPresence] presence
 *   entries the peer sent
 * @property {(version: Uint8Array) => void} [onAcked] the peer said what it has (hello, ack)
 * @property {boolean} [deltas] send change frames as deltas when the peer understands them
 *   (not on a bus, where a provider posts updates to every peer at once)
 */

/** Frames refused within one heartbeat window before a session is closed as abusive. */
export const MAX_BAD_FRAMES = 20;
/** Hellos answered within one heartbeat window; more are refused. */
export const MAX_HELLOS = 10;
/** The largest version kept as a peer's acknowledged one (10,000s of peers fit). */
export const MAX_VERSION_BYTES = 1024 * 1024;

/** Whether two byte arrays hold the same bytes (versions are canonical: equal means equal). @param {Uint8Array} a @param {Uint8Array} b */
export function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let asks = 0;

/** A fresh ask id, unique in this realm (hellos to one peer, and to a whole bus). */
export function nextAsk() {
  return ++asks;
}

export class SyncSession {
  /** @type {Uint8Array | null} the peer's last acknowledged version (HELLO or ACK) */
  remoteVersion = null;
  /** The peer answered our latest HELLO completely: it sent everything we lacked then. */
  synced = false;
  /** The peer said hello (or acknowledged a version): our updates are streamed to it. */
  live = false;
  /** The peer said bye, broke the protocol too often, or the provider stopped. */
  closed = false;
  /** @type {"bye" | "abuse" | "provider" | null} why it closed */
  closedBy = null;
  /** Hellos answered in the current heartbeat window. */
  #hellos = 0;
  /** Frames refused in the current heartbeat window. */
  badFrames = 0;
  /** When the peer was last heard from (ms, the provider's clock). */
  lastHeard = 0;
  /** The ask id of our latest hello: only the SYNCED naming it counts as its answer. */
  #ask = -1;
  /** A frame of the answer to our latest hello was refused: its SYNCED does not count. */
  #answerFailed = false;
  #askedAgain = false;
  /** Changes were sent since the peer's last ACK. */
  #sentSinceAck = false;
  /** Changes held after the last CHANGES frame, and after the peer's last answer. */
  #pending = 0;
  #pendingAfterAnswer = 0;
  /** The peer's version at the last repair (or answer) sent, and how often a repair for the
   * same one is skipped before it is sent again. */
  /** @type {Uint8Array | null} */
  #lastRepair = null;
  #repairBackoff = 1;
  #repairSkips = 0;
  /** A part failed: later parts of that frame are skipped quietly until a new one starts. */
  #skipParts = false;
  /** The peer's protocol (from its hello; 0 before one). */
  #peerProtocol = 0;
  #deltaOut = new DeltaSender();
  #deltaIn = new DeltaReceiver();
  /** A delta came against a reference this end does not hold: asked again, waiting. */
  #deltaBroken = false;
  /** Something of an answer (changes, parts, synced) arrived since the last heartbeat... */
  #answerSeen = false;
  /** ...and heartbeats since our hello with none of it: after two, the hello was lost. */
  #silentBeats = 0;
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

  /** The peer's sync protocol, from its hello (0 before one). */
  get peerProtocol() {
    return this.#peerProtocol;
  }

  /** Says hello: asks the peer for what this replica lacks. */
  hello() {
    this.expectAnswer(nextAsk());
    this.#send(helloFrame(this.#ask, this.db.version()));
  }

  /**
   * Waits for the answer to a hello sent some other way (a provider's hello to every peer
   * of a bus at once).
   * @param {number} ask
   */
  expectAnswer(ask) {
    this.#ask = ask;
    this.#answerFailed = false;
    this.#silentBeats = 0;
    if (this.synced) {
      this.synced = false;
      this.opts.onState();
    }
  }

  /** Streams one durable update to the peer (once it said hello). @param {Uint8Array} bytes */
  sendUpdate(bytes) {
    if (this.live && !this.closed) {
      this.#sentSinceAck = true;
      this.#sendChanges(bytes);
    }
  }

  /** Sends presence entries. @param {import("../presence.js").PresenceEntry[]} entries */
  sendPresence(entries) {
    if (!this.closed && entries.length > 0) this.#send(presenceFrame(entries));
  }

  /** Notes that an update reached the peer another way (a post to a whole bus). */
  noteSent() {
    this.#sentSinceAck = true;
  }

  /** Sends the version this replica reached, if something arrived since the last one. */
  flushAck() {
    if (!this.#ackDue || this.closed) return;
    this.#ackDue = false;
    this.#send(ackFrame(this.db.version()));
  }

  #ackDue = false;

  /** Sends an ACK even when nothing arrived (a heartbeat), and starts a new bad-frame window. */
  heartbeat() {
    if (this.closed) return;
    this.#ackDue = false;
    this.badFrames = 0;
    this.#hellos = 0;
    this.#send(ackFrame(this.db.version()));
    // A lost reference whose hello went unanswered: ask once more.
    if (this.#deltaBroken) this.hello();
    // Not synced, and no answer came for two heartbeats: the hello (or its whole answer) was
    // lost on a link that stayed up. Ask again. (An answer refused as too large is not asked
    // for again: it would only be refused again.)
    else if (!this.synced && this.#ask >= 0 && !this.#answerFailed) {
      if (this.#answerSeen) this.#silentBeats = 0;
      else if (++this.#silentBeats >= 2) this.hello();
    }
    this.#answerSeen = false;
  }

  /**
   * Takes one frame from the peer. A malformed or refused frame is dropped with a warning;
   * past MAX_BAD_FRAMES in a heartbeat window the session closes. Errors that are not the
   * peer's fault (the database failing) are thrown.
   * @param {Uint8Array} bytes
   * @param {number} now
   * @returns {{ applied: number, pending: number, before: Uint8Array | null } | undefined} for
   *   changes: how many events were new (counting held ones they released), how many are
   *   held now, and (with opts.relay) the version before
   */
  receive(bytes, now) {
    if (this.closed) return undefined;
    this.lastHeard = now;
    try {
      let frame = decodeFrame(bytes);
      if (frame.type === CHANGES || frame.type === DELTA || frame.type === PART || frame.type === SYNCED) this.#answerSeen = true;
      if (frame.type === PART) {
        if (frame.offset > 0 && this.#skipParts) return undefined;
        this.#skipParts = false;
        const abandoned = this.#parts.abandoned;
        let whole;
        try {
          whole = this.#parts.add(frame);
        } catch (err) {
          this.#skipParts = true;
          throw err;
        }
        if (this.#parts.abandoned > abandoned) this.#refused("an incomplete sync frame (a new one started before its last part)");
        if (whole === null) return undefined;
        frame = decodeFrame(whole);
        if (frame.type === PART) throw new DecodeError("sync frame part holds another part");
      } else if (this.#parts.arriving) {
        // The rest of a frame in parts never came: drop it, keep this one.
        this.#parts.reset();
        this.#refused(`an incomplete sync frame (a ${frameName(frame.type)} frame came before its last part)`);
      }
      return this.#handle(frame);
    } catch (err) {
      // The peer's fault: a malformed frame, or changes too large to hold. Anything else
      // (the database closed or failing) is not, and goes up.
      if (!(err instanceof DecodeError || err instanceof QuotaError)) throw err;
      this.#refused(`a sync frame: ${err.message}`);
      return undefined;
    }
  }

  /** @param {string} what */
  #refused(what) {
    this.badFrames++;
    if (!this.synced) this.#answerFailed = true;
    this.opts.warn(`dropped ${what}`);
    if (this.badFrames >= MAX_BAD_FRAMES && !this.closed) {
      this.opts.warn(`closing a sync session after ${this.badFrames} bad frames`);
      this.close(false, "abuse");
    }
  }

  /**
   * @param {import("./frames.js").Frame} frame
   * @returns {{ applied: number, pending: number, before: Uint8Array | null } | undefined}
   */
  #handle(frame) {
    switch (frame.type) {
      case HELLO: {
        if (frame.protocol < MIN_PROTOCOL) {
          throw new DecodeError(`peer speaks sync protocol ${frame.protocol}, this one ${MIN_PROTOCOL} to ${PROTOCOL}`);
        }
        if (frame.version.length > MAX_VERSION_BYTES) throw new DecodeError(`sync hello version of ${frame.version.length} bytes`);
        // Each answer costs what the peer lacks: a few per heartbeat window are plenty.
        if (++this.#hellos > MAX_HELLOS) throw new DecodeError(`more than ${MAX_HELLOS} hellos within one heartbeat`);
        // changesSince validates the version (DecodeError on a malformed one).
        const changes = this.db.changesSince(frame.version);
        this.remoteVersion = frame.version.slice();
        this.#noteAcked();
        this.live = true;
        this.#sentSinceAck = true;
        this.#lastRepair = this.remoteVersion;
        this.#repairBackoff = 1;
        this.#repairSkips = 0;
        // The peer starts over (it may have lost the reference): the answer goes whole.
        this.#peerProtocol = frame.protocol;
        this.#deltaOut.reset();
        this.#sendChanges(changes);
        this.#send(syncedFrame(frame.ask, this.db.version()));
        return undefined;
      }
      case DELTA: {
        const bytes = this.#deltaIn.decode(frame.tag, frame.ops);
        if (bytes === null) {
          // Not against the reference this end holds (a frame was lost or reordered): ask
          // again, once; the answer comes whole and both ends share a reference again.
          if (!this.#deltaBroken) {
            this.#deltaBroken = true;
            this.hello();
          }
          return undefined;
        }
        return this.#applyChanges(bytes);
      }
      case CHANGES: {
        this.#deltaIn.note(frame.bytes);
        this.#deltaBroken = false;
        return this.#applyChanges(frame.bytes);
      }
      case SYNCED: {
        if (frame.ask !== this.#ask) return undefined; // the answer to an older hello
        this.#askedAgain = false;
        this.#pendingAfterAnswer = this.#pending;
        if (this.#answerFailed) {
          this.opts.warn("the answer to a sync hello arrived incomplete (see the frames dropped before)");
          return undefined;
        }
        if (!this.synced) {
          this.synced = true;
          this.opts.onState();
        }
        return undefined;
      }
      case ACK: {
        if (frame.version.length > MAX_VERSION_BYTES) throw new DecodeError(`sync ack version of ${frame.version.length} bytes`);
        this.remoteVersion = frame.version.slice();
        this.#noteAcked();
        // Nothing was sent to the peer since its previous ACK, yet it lacks what we have: a
        // frame got lost on the way (a slice of one, or the last update before a quiet spell).
        // Send what it lacks; on a healthy link the versions are equal and this costs nothing.
        // (Its version is as good as a hello whose frame was lost: stream to it from now on.)
        // Once per pair of versions: a peer that did not take a repair (it refused it as too
        // large) is not sent the same bytes again until either side moves on.
        const quiet = !this.#sentSinceAck || !this.live;
        this.#sentSinceAck = false;
        this.live = true;
        const mine = this.db.version();
        if (quiet && !sameBytes(this.remoteVersion, mine)) {
          const key = this.remoteVersion;
          if (this.#lastRepair !== null && sameBytes(key, this.#lastRepair)) {
            // The same repair again (lost, or refused as too large): back off exponentially.
            if (++this.#repairSkips < this.#repairBackoff) return undefined;
            this.#repairBackoff *= 2;
          } else {
            this.#repairBackoff = 1;
          }
          this.#repairSkips = 0;
          this.#lastRepair = key;
          this.#sentSinceAck = true;
          this.#sendChanges(this.db.changesSince(this.remoteVersion));
        }
        return undefined;
      }
      case BYE:
        this.close(false, "bye");
        return undefined;
      case PRESENCE:
        this.opts.onPresence?.(frame.entries);
        return undefined;
    }
    return undefined;
  }

  /**
   * Merges change bytes the peer sent.
   * @param {Uint8Array} bytes
   * @returns {{ applied: number, pending: number, before: Uint8Array | null }}
   */
  #applyChanges(bytes) {
    // (Encoding the version is work only a relaying provider needs.)
    const before = this.opts.relay?.() ? this.db.version() : null;
    const { applied, pending } = this.db.applyChanges(bytes, { origin: this.opts.origin });
    this.#ackDue = true;
    this.#pending = pending;
    // Held changes released since the peer's last answer lower the bar.
    this.#pendingAfterAnswer = Math.min(this.#pendingAfterAnswer, pending);
    // More changes held than after this peer's last answer: they wait for something it
    // sent that never arrived, so ask again (once per answer; what is still held after
    // an answer is not this peer's to send, and asking again for it would never end).
    if (pending > this.#pendingAfterAnswer && !this.#askedAgain) {
      this.#askedAgain = true;
      this.hello();
    }
    return { applied, pending, before };
  }

  /**
   * Sends change bytes: as a delta against the previous change frame when the peer reads
   * deltas and that is smaller.
   * @param {Uint8Array} bytes
   */
  #sendChanges(bytes) {
    if (this.closed) return;
    const delta = this.#peerProtocol >= 2 && this.opts.deltas !== false ? this.#deltaOut.encode(bytes) : null;
    if (delta === null) {
      this.#deltaOut.note(bytes);
      this.#send(changesFrame(bytes));
    } else this.#send(deltaFrame(delta.tag, delta.ops));
  }

  /** @param {Uint8Array} frame */
  #send(frame) {
    if (this.closed) return;
    for (const part of splitFrame(frame, this.opts.maxFrameBytes)) this.opts.send(part);
  }

  /** Tells the provider what the peer has (its acknowledged version). */
  #noteAcked() {
    if (this.remoteVersion !== null && this.remoteVersion.length <= MAX_VERSION_BYTES) this.opts.onAcked?.(this.remoteVersion);
  }

  /**
   * Stops the session (the provider forgets the peer).
   * @param {boolean} [quiet] no onState
   * @param {"bye" | "abuse" | "provider"} [by]
   */
  close(quiet = false, by = "provider") {
    if (this.closed) return;
    this.closed = true;
    this.closedBy = by;
    this.live = false;
    if (!quiet) this.opts.onState();
  }
}
