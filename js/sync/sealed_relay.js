// The client side of a relay room with a password (docs/sync.md, "Relay rooms with a
// password"): every payload is sealed with the room key before it leaves, so the relay stores
// and passes on ciphertext only. The relay keeps a numbered log; this client resumes from the
// last number it saw, pushes what the log lacks, and uploads a sealed snapshot when asked.
//
// What the log lacks: on the first connection, the log's content is replayed into a scratch
// in-memory replica whose version says what the relay has; afterwards, the version of the
// last push the relay acknowledged does. A log that went back (a lower head, or another epoch:
// the relay lost it) lacks everything.
//
// A snapshot is this replica's changes folded in a scratch replica (compact()): the rows'
// state, not every update ever made, so the log shrinks when it is replaced.
//
// Presence is not stored: a client that goes live says its own state (no entries when it has
// none: "who is here?"), and the others answer a peer they have not heard before, or that
// question, with their own, so peers see each other at once (not at the next heartbeat).

import { DecodeError } from "../errors.js";
import { CHANGES, changesFrame, decodeFrame, PRESENCE, presenceFrame } from "./frames.js";
import {
  BASE,
  decodeRelayMessage,
  ENTRY,
  EPHEMERAL,
  LIVE,
  PASS,
  PING,
  PONG,
  PUSH,
  PUSHED,
  relayMessage,
  RESUME,
  SNAPSHOT,
  WANT_SNAPSHOT,
} from "./relay_frames.js";
import { seal, Serial, unseal } from "./room_key.js";
import { sameBytes } from "./session.js";

/** Updates kept while disconnected, at most (bytes). */
const QUEUE_BYTES = 16 * 1024 * 1024;


export class SealedRelayClient {
  /** The last log number seen (persists across reconnects of one provider)... */
  lastSeq = 0;
  /** ...and the epoch of the log it is in (0: none yet). */
  epoch = 0;
  /** The backlog is in and what the relay lacked was pushed: updates stream live. */
  live = false;
  #gen = 0;
  /** @type {((bytes: Uint8Array) => void) | null} */
  #send = null;
  /** @type {Uint8Array | null} what the relay is known to hold (the last acknowledged push) */
  #known = null;
  /** @type {Promise<any> | null} the scratch replica of the first connection */
  #mirror = null;
  /**
   * This replica's version at each push the relay has not numbered yet, oldest first (the
   * relay answers pushes in order; one it refused is never answered, and a new connection
   * starts afresh).
   * @type {Uint8Array[]}
   */
  #inFlight = [];
  /** The bytes of those pushes (pushed again after a reconnect: the relay may lack them). @type {Uint8Array[]} */
  #inFlightBytes = [];
  /** Updates made while not live, pushed once live (their versions were never pushed). @type {Uint8Array[]} */
  #queue = [];
  #queueBytes = 0;
  /** When something last came from the relay (ms): a silent link is closed. */
  lastHeard = 0;
  #in;
  #out;

  /**
   * @param {import("./provider.js").SyncProvider} provider
   * @param {import("./room_key.js").RoomKey} key
   * @param {() => void} onLive the backlog is applied (the provider resets its backoff)
   */
  constructor(provider, key, onLive) {
    this.provider = provider;
    this.db = provider.db;
    this.key = key.key;
    this.context = `crdtdb relay\0${key.id}`;
    this.onLive = onLive;
    const report = (/** @type {any} */ err) => this.provider.warn(`sealed relay: ${err?.message ?? err}`);
    this.#in = new Serial(report);
    this.#out = new Serial(report);
  }

  /** A connection opened: resume from the last number seen. @param {(bytes: Uint8Array) => void} send */
  open(send) {
    this.#gen++;
    this.#send = send;
    this.live = false;
    this.lastHeard = Date.now();
    // Pushes the relay never numbered may be lost: they go again once live.
    for (const b of this.#inFlightBytes) this.#enqueue(b);
    this.#inFlight = [];
    this.#inFlightBytes = [];
    if (this.#known === null && this.#mirror === null) {
      const DB = /** @type {any} */ (this.db.constructor);
      this.#mirror = DB.open(`${this.db.name}:relay-mirror`, { storage: "memory" });
    }
    send(relayMessage(RESUME, this.lastSeq, undefined, this.epoch));
  }

  /** The connection closed. */
  close() {
    this.#gen++;
    this.#send = null;
    this.live = false;
  }

  /** Stops for good: the scratch replica goes. */
  destroy() {
    this.close();
    this.#mirror?.then((m) => m.close()).catch(() => {});
    this.#mirror = null;
  }

  /** Resolves once every queued outgoing payload was handed to the connection. */
  flush() {
    return new Promise((resolve) => this.#out.run(() => resolve(undefined)));
  }

  /** Updates kept while not live, bounded: past it, what the relay lacks is learnt again. @param {Uint8Array} bytes */
  #enqueue(bytes) {
    if (this.#queueBytes + bytes.length > QUEUE_BYTES) {
      this.#queue = [];
      this.#queueBytes = 0;
      this.#known = null; // the next connection replays the log into a scratch replica
      return;
    }
    this.#queue.push(bytes);
    this.#queueBytes += bytes.length;
  }

  /** Asks the relay whether it is there (its PONG counts as heard). */
  ping() {
    if (this.#send !== null) this.#send(relayMessage(PING));
  }

  /** A message from the relay. @param {Uint8Array} bytes */
  receive(bytes) {
    this.lastHeard = Date.now();
    let m;
    try {
      m = decodeRelayMessage(bytes, "relay");
    } catch (err) {
      this.provider.warn(`dropped a relay message: ${/** @type {Error} */ (err).message}`);
      return;
    }
    const gen = this.#gen;
    this.#in.run(() => this.#handle(m, gen));
  }

  /**
   * @param {import("./relay_frames.js").RelayMessage} m
   * @param {number} gen the connection it came on
   */
  async #handle(m, gen) {
    switch (m.type) {
      case BASE:
      case ENTRY: {
        // Whatever happens to its content, this number is seen: a forged or damaged entry
        // would fail again on every resume.
        this.lastSeq = Math.max(this.lastSeq, m.seq);
        // A snapshot is sealed for the number it covers: an old one uploaded again later
        // (a replay by someone who knows the room id) fails authentication.
        const frame = await this.#open(m.payload, m.type === BASE ? `base\0${m.seq}` : "entry");
        if (frame === null) return;
        if (frame.type !== CHANGES) throw new DecodeError(`a relay log entry holds a ${frame.type} frame, not changes`);
        const mirror = this.#mirror === null ? null : await this.#mirror;
        this.db.applyChanges(frame.bytes, { origin: this.provider });
        mirror?.applyChanges(frame.bytes, { origin: "relay" });
        return;
      }
      case PONG:
        return;
      case PASS: {
        const frame = await this.#open(m.payload, "presence");
        if (frame?.type !== PRESENCE) return;
        const known = this.db.presence.getAll();
        this.db.presence.receive(frame.entries);
        // A peer heard for the first time, or one asking who is here (it just came): it learns
        // this one's state now.
        const newcomer = frame.entries.some((e) => e.state !== null && !known.has(e.peer) && e.peer !== this.db.peerId);
        if (newcomer || frame.entries.length === 0) this.#sayPresence(false);
        return;
      }
      case LIVE: {
        if (gen !== this.#gen) return;
        // A head behind what this client saw, or another epoch: the relay lost the log this
        // client saw (one without --data restarted) and sent everything it has. It gets
        // everything this replica has.
        const lost = m.seq < this.lastSeq || (this.epoch !== 0 && m.epoch !== this.epoch);
        this.lastSeq = m.seq;
        this.epoch = m.epoch;
        let relayHas = lost ? null : this.#known;
        if (this.#mirror !== null) {
          const mirror = await this.#mirror;
          relayHas = mirror.version();
          mirror.close();
          this.#mirror = null;
          if (gen !== this.#gen) {
            this.#known = relayHas;
            return;
          }
        }
        if (lost) relayHas = null;
        this.live = true;
        if (relayHas === null || !sameBytes(relayHas, this.db.version())) {
          this.push(relayHas === null ? this.db.changesSince() : this.db.changesSince(relayHas));
        } else this.#known = relayHas;
        // Updates made while not live (whole pushes make them redundant, harmlessly).
        const queued = this.#queue;
        this.#queue = [];
        this.#queueBytes = 0;
        for (const b of queued) this.push(b);
        this.provider.refreshStatus();
        this.onLive();
        this.#sayPresence(true);
        return;
      }
      case PUSHED:
        if (gen !== this.#gen) return;
        this.lastSeq = Math.max(this.lastSeq, m.seq);
        this.#known = this.#inFlight.shift() ?? this.#known;
        this.#inFlightBytes.shift();
        return;
      case WANT_SNAPSHOT: {
        if (gen !== this.#gen || !this.live) return;
        const upTo = this.lastSeq;
        const changes = this.db.changesSince();
        const version = this.db.version();
        this.#out.run(async () => {
          if (gen !== this.#gen) return;
          const folded = await this.#fold(changes, version);
          // Own writes not durable yet are held back from changesSince(): a snapshot without
          // them could cover entries they stand on. The relay asks again later.
          if (folded === null) return;
          const sealed = await seal(this.key, changesFrame(folded), `${this.context}\0base\0${upTo}`);
          if (gen === this.#gen) this.#send?.(relayMessage(SNAPSHOT, upTo, sealed));
        });
        return;
      }
    }
  }

  /**
   * Changes folded into the rows' state (history dropped), in a scratch replica: this
   * database's own history is the application's to compact.
   * @param {Uint8Array} changes
   * @param {Uint8Array} version this replica's version when they were taken
   * @returns {Promise<Uint8Array | null>} null when they are not everything this replica has
   */
  async #fold(changes, version) {
    const DB = /** @type {any} */ (this.db.constructor);
    const scratch = await DB.open(`${this.db.name}:relay-snapshot`, { storage: "memory" });
    try {
      scratch.applyChanges(changes, { origin: "relay" });
      if (!sameBytes(scratch.version(), version)) return null;
      await scratch.compact();
      return scratch.changesSince();
    } finally {
      scratch.close();
    }
  }

  /**
   * Tells the room's other clients this one's presence state, if it has one.
   * @param {boolean} ask without a state, ask who is here (an empty presence frame)
   */
  #sayPresence(ask) {
    const local = this.db.presence.localEntry();
    if (local.clock > 0 && local.state !== null) this.ephemeral(presenceFrame([local]));
    else if (ask) this.ephemeral(presenceFrame([]));
  }

  /**
   * Unseals a payload into a sync frame; null (with a warning) when it is not sealed with the
   * room key: a client with another password, or a forgery.
   * @param {Uint8Array} payload
   * @param {string} kind what it must be (entry, base and its number, presence)
   */
  async #open(payload, kind) {
    try {
      return decodeFrame(await unseal(this.key, payload, `${this.context}\0${kind}`));
    } catch (err) {
      this.provider.warn(`dropped a relay payload: ${/** @type {Error} */ (err).message}`);
      return null;
    }
  }

  /** Pushes changes to the log (once live). @param {Uint8Array} bytes */
  push(bytes) {
    if (!this.live) {
      this.#enqueue(bytes);
      return;
    }
    const gen = this.#gen;
    this.#inFlight.push(this.db.version());
    this.#inFlightBytes.push(bytes);
    const frame = changesFrame(bytes);
    this.#out.run(async () => {
      const sealed = await seal(this.key, frame, `${this.context}\0entry`);
      if (gen === this.#gen) this.#send?.(relayMessage(PUSH, undefined, sealed));
    });
  }

  /** Passes a presence frame to the room's other clients (never stored). @param {Uint8Array} frame */
  ephemeral(frame) {
    if (!this.live) return;
    const gen = this.#gen;
    this.#out.run(async () => {
      const sealed = await seal(this.key, frame, `${this.context}\0presence`);
      if (gen === this.#gen) this.#send?.(relayMessage(EPHEMERAL, undefined, sealed));
    });
  }
}
