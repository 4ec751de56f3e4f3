// WebRTCSync: peers of a room sync directly over WebRTC data channels (docs/sync.md,
// "Peer to peer"). crdtdb-server's signaling introduces them; then each pair of peers has one
// ordered, reliable data channel carrying the ordinary sync protocol.
//
// Topology: each peer connects to the next `maxConns` peers of the room in id order (round
// the ring, so the last connects to the first), and accepts the peers that connect to it.
// Those links form a ring at least, so the room is connected; a peer relays what it learns to
// its other peers, so a partial mesh converges too; a room of up to maxConns + 1 peers is a
// full mesh. A link that neither end wants any more (peers came or left) is closed; one that
// failed is tried again with backoff by the end that wants it. Both ends may offer at once:
// the offer of the smaller peer id wins (the larger answers it and drops its own).
//
// With a password, signaling payloads and every frame are sealed with the room key, and the
// signaling server sees only the derived room id.

import { Backoff } from "./backoff.js";
import { checkProviderOptions, MAX_PEERS, SyncProvider } from "./provider.js";
import { base64url, fromBase64url, roomKey, seal, Serial, unseal } from "./room_key.js";
import { SignalingClient } from "./signaling_client.js";

/** Frames larger than this go in parts (data channels carry 256 KiB messages at most). */
const MAX_FRAME_BYTES = 64 * 1024;
/** A link not open after this long is abandoned and tried again (ms). */
const CONNECT_TIMEOUT_MS = 20_000;
/** Sending waits while a channel has this much queued... */
const HIGH_WATER = 4 * 1024 * 1024;
/** ...until it drains to this. */
const LOW_WATER = 1024 * 1024;
/** Frames waiting for a channel to drain, at most (bytes). */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_CONNS = 20;

/**
 * @typedef {import("./provider.js").ProviderOptions & {
 *   room: string,
 *   signaling?: string,
 *   password?: string,
 *   maxConns?: number,
 *   iceServers?: RTCIceServer[],
 *   RTCPeerConnection?: any,
 *   WebSocket?: any,
 * }} WebRTCSyncOptions
 */

/** @param {WebRTCSyncOptions} opts */
function checkOptions(opts) {
  if (opts === null || typeof opts !== "object") throw new TypeError("WebRTCSync needs options with a room");
  checkProviderOptions(opts);
  if (typeof opts.room !== "string" || opts.room === "" || opts.room.length > 256) {
    throw new TypeError(`WebRTCSync option room must be a string of 1 to 256 characters, got ${String(opts.room)}`);
  }
  const signaling = opts.signaling ?? "ws://127.0.0.1:4444";
  if (typeof signaling !== "string" || !/^wss?:\/\//.test(signaling)) {
    throw new TypeError(`WebRTCSync option signaling must be a ws:// or wss:// URL, got ${String(signaling)}`);
  }
  const maxConns = opts.maxConns ?? DEFAULT_MAX_CONNS;
  if (!Number.isSafeInteger(maxConns) || maxConns < 1) throw new TypeError(`WebRTCSync option maxConns must be a positive integer, got ${String(maxConns)}`);
  if (opts.iceServers !== undefined && !Array.isArray(opts.iceServers)) throw new TypeError("WebRTCSync option iceServers must be an array");
  if (opts.password !== undefined && (typeof opts.password !== "string" || opts.password === "")) {
    throw new TypeError("WebRTCSync option password must be a non-empty string");
  }
  const PC = opts.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  if (typeof PC !== "function") throw new TypeError("WebRTCSync needs RTCPeerConnection (a browser, or pass { RTCPeerConnection })");
  const WS = opts.WebSocket ?? globalThis.WebSocket;
  if (typeof WS !== "function") throw new TypeError("WebRTCSync needs WebSocket for signaling (pass { WebSocket } where there is no global one)");
  return { room: opts.room, signaling, maxConns, iceServers: opts.iceServers ?? [], password: opts.password, PC, WS };
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();


/**
 * One peer connection and its data channel.
 * @typedef {object} Link
 * @property {string} id names the link in signals (made by the offerer): signals about
 *   another link of the same pair (an older one, a lost race) are told apart and dropped
 * @property {any} pc
 * @property {any} dc the data channel (null until the answerer receives it)
 * @property {boolean} mine this end made the offer
 * @property {boolean} open
 * @property {boolean} iWant this end wants the link (the peer is one of its next maxConns)
 * @property {boolean} remoteWants the peer wants it (as it last said)
 * @property {any[]} candidates ICE candidates that came before the remote description
 * @property {Uint8Array[]} queue frames waiting for the channel to drain
 * @property {number} queued their bytes
 * @property {Serial} inbound unsealing, in order
 * @property {Serial} outbound sealing, in order
 * @property {ReturnType<typeof setTimeout>} timeout
 */

export class WebRTCSync extends SyncProvider {
  /** @type {Map<string, Link>} */
  #links = new Map();
  /** Peers the signaling server says are in the room. @type {Set<string>} */
  #present = new Set();
  /** Peers this one waits for before offering again. @type {Map<string, { backoff: Backoff, timer: ReturnType<typeof setTimeout> | null }>} */
  #retries = new Map();
  /** @type {SignalingClient | null} */
  #signaling = null;
  /** Signaling events, handled one after another in arrival order (unsealing is async). */
  #inbox;
  /** Signals, sealed and sent in call order. */
  #outbox;
  /** @type {CryptoKey | null} */
  #key = null;
  #roomId = "";
  #cfg;

  /**
   * Starts syncing `db` with the other peers of a room.
   * @param {import("../database.js").CRDTDB} db an open database
   * @param {WebRTCSyncOptions} opts
   */
  constructor(db, opts) {
    const cfg = checkOptions(opts);
    super(db, { maxFrameBytes: MAX_FRAME_BYTES, ...opts, relay: true });
    this.#cfg = cfg;
    this.room = cfg.room;
    this.listenForPagehide();
    const report = (/** @type {any} */ err) => this.warn(`signaling: ${err?.message ?? err}`);
    this.#inbox = new Serial(report);
    this.#outbox = new Serial(report);
    if (cfg.password === undefined) {
      this.#start(cfg.room);
      return;
    }
    roomKey(cfg.room, cfg.password).then(
      (k) =>
        this.guard(() => {
          this.#key = k.key;
          this.#start(k.id);
        }),
      (err) => this.warn(`cannot derive the room key: ${err.message}`),
    );
  }

  /** @param {string} roomId what the signaling server sees */
  #start(roomId) {
    if (this.destroyed) return;
    this.#roomId = roomId;
    /** @param {() => Promise<void> | void} step */
    const queue = (step) =>
      this.#inbox.run(() => {
        if (!this.destroyed) return step();
      });
    this.#signaling = new SignalingClient(
      { url: this.#cfg.signaling, room: roomId, peer: this.db.peerId, WebSocket: this.#cfg.WS },
      {
        welcome: (peers) =>
          queue(() => {
            this.#present = new Set(peers);
            this.#reconcile();
          }),
        joined: (peer) =>
          queue(() => {
            this.#present.add(peer);
            // It joined again: it restarted, or only its signaling reconnected. A link that
            // is not open yet starts again; an open one is asked about (a restarted peer has
            // no such link and says to close it). Whichever end wants the link makes a new one.
            const link = this.#links.get(peer);
            if (link !== undefined && !link.open) this.#closeLink(peer, false);
            else if (link !== undefined) this.#signal(peer, { kind: "probe", link: link.id });
            const retry = this.#retries.get(peer);
            if (retry !== undefined) {
              retry.backoff.reset();
              if (retry.timer !== null) clearTimeout(retry.timer);
              retry.timer = null;
            }
            this.#reconcile();
          }),
        left: (peer) =>
          queue(() => {
            this.#present.delete(peer);
            // Its open link (if any) stays until it closes; the ring closes over the gap.
            this.#reconcile();
          }),
        signal: (from, data) => queue(() => this.#onSignal(from, data)),
        status: () => this.#refreshConnected(),
        warn: (m) => this.warn(m),
      },
    );
  }

  #refreshConnected() {
    const open = [...this.#links.values()].some((l) => l.open);
    this.setConnected((this.#signaling?.connected ?? false) || open);
  }

  /**
   * The peers this one connects to: the next maxConns present peers in id order, round the
   * ring. @returns {Set<string>}
   */
  #wanted() {
    const me = this.db.peerId;
    const sorted = [...this.#present].filter((p) => p !== me).sort();
    const after = sorted.filter((p) => p > me);
    const before = sorted.filter((p) => p < me);
    return new Set([...after, ...before].slice(0, this.#cfg.maxConns));
  }

  /**
   * Brings the links in line with who is here: tells peers which links this end wants,
   * closes links neither end wants, and offers to wanted peers without a link (unless one is
   * waiting to try again).
   */
  #reconcile() {
    if (this.destroyed || this.#signaling === null) return;
    const wanted = this.#wanted();
    for (const [peer, link] of [...this.#links]) {
      const want = wanted.has(peer);
      if (want === link.iWant) continue;
      link.iWant = want;
      if (!want && !link.remoteWants) this.#closeLink(peer, false);
      else this.#signal(peer, { kind: "want", link: link.id, want });
    }
    for (const peer of wanted) {
      if (!this.#links.has(peer) && !this.#retries.get(peer)?.timer) this.#offer(peer);
    }
  }

  /** Makes an offer to a peer. @param {string} peer */
  #offer(peer) {
    const link = this.#newLink(peer, newLinkId());
    link.dc = link.pc.createDataChannel("crdtdb", { ordered: true });
    this.#wireChannel(peer, link);
    (async () => {
      await link.pc.setLocalDescription(await link.pc.createOffer());
      if (this.#links.get(peer) !== link) return;
      this.#signal(peer, { kind: "description", link: link.id, description: describe(link.pc.localDescription), want: true });
    })().catch((err) => this.#linkFailed(peer, link, `offer failed: ${err.message}`));
  }

  /**
   * @param {string} peer
   * @param {string} id the link's id
   * @param {boolean} [mine] this end offers
   * @returns {Link}
   */
  #newLink(peer, id, mine = true) {
    const pc = new this.#cfg.PC({ iceServers: this.#cfg.iceServers });
    const report = (/** @type {any} */ err) => this.warn(`${err?.message ?? err} (peer ${peer})`);
    /** @type {Link} */
    const link = {
      id,
      pc,
      dc: null,
      mine,
      open: false,
      iWant: mine || this.#wanted().has(peer),
      remoteWants: !mine,
      candidates: [],
      queue: [],
      queued: 0,
      inbound: new Serial(report),
      outbound: new Serial(report),
      timeout: setTimeout(() => this.#linkFailed(peer, link, "did not connect in time"), CONNECT_TIMEOUT_MS),
    };
    this.#links.set(peer, link);
    pc.onicecandidate = (/** @type {any} */ ev) => {
      // Trickle ICE: each candidate as it is found (null: gathering is done).
      if (ev.candidate && this.#links.get(peer) === link) this.#signal(peer, { kind: "candidate", link: id, candidate: ev.candidate.toJSON?.() ?? ev.candidate });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.#linkFailed(peer, link, `connection ${pc.connectionState}`);
    };
    return link;
  }

  /** A link's channel opened. @param {string} peer @param {Link} link */
  #opened(peer, link) {
    if (this.#links.get(peer) !== link || link.open) return;
    clearTimeout(link.timeout);
    link.open = true;
    this.#retries.get(peer)?.backoff.reset();
    this.#refreshConnected();
    // The offerer speaks first; the answerer's session starts with the offerer's first
    // frame. (Chromium sometimes loses a message the answerer sends as its channel opens:
    // it reaches the offerer before the offerer's channel is open.)
    if (link.mine) this.session(peer, (frame) => this.#send(peer, link, frame));
  }

  /** @param {string} peer @param {Link} link */
  #wireChannel(peer, link) {
    const dc = link.dc;
    dc.binaryType = "arraybuffer";
    dc.bufferedAmountLowThreshold = LOW_WATER;
    const opened = () => this.guard(() => this.#opened(peer, link));
    dc.onopen = opened;
    dc.onmessage = (/** @type {{ data: unknown }} */ ev) => {
      if (this.#links.get(peer) !== link) return;
      const data = ev.data;
      if (!(data instanceof ArrayBuffer)) return this.warn(`dropped a non-binary message (peer ${peer})`);
      const bytes = new Uint8Array(data);
      const deliver = (/** @type {Uint8Array} */ frame) => {
        if (this.#links.get(peer) === link) this.receive(peer, frame, (f) => this.#send(peer, link, f));
      };
      const key = this.#key;
      if (key === null) deliver(bytes);
      else link.inbound.run(async () => deliver(await unseal(key, bytes, this.#context(peer, this.db.peerId))));
    };
    dc.onbufferedamountlow = () => this.#drain(link);
    dc.onclose = () => this.#linkFailed(peer, link, "data channel closed", true);
    // The answerer's channel may be open when it is announced.
    if (dc.readyState === "open") opened();
  }

  /** Routing metadata sealed payloads are bound to. @param {string} from @param {string} to */
  #context(from, to) {
    return `crdtdb p2p\0${this.#roomId}\0${from}\0${to}`;
  }

  /** @param {string} peer @param {Link} link @param {Uint8Array} frame */
  #send(peer, link, frame) {
    const key = this.#key;
    if (key === null) return this.#enqueue(peer, link, frame);
    link.outbound.run(async () => this.#enqueue(peer, link, await seal(key, frame, this.#context(this.db.peerId, peer))));
  }

  /** @param {string} peer @param {Link} link @param {Uint8Array} frame */
  #enqueue(peer, link, frame) {
    link.queue.push(frame);
    link.queued += frame.length;
    this.#drain(link);
    // A peer that does not read (while asking for more) would hold this page's memory: past
    // the bound the link goes (#linkFailed ignores a link already replaced), and is made
    // again later.
    if (link.queued > MAX_QUEUED_BYTES) this.#linkFailed(peer, link, `more than ${MAX_QUEUED_BYTES} bytes queued: the peer does not read`);
  }

  /** Sends queued frames while the channel has room. @param {Link} link */
  #drain(link) {
    const dc = link.dc;
    if (dc === null || dc.readyState !== "open") return;
    while (link.queue.length > 0 && dc.bufferedAmount < HIGH_WATER) {
      try {
        const frame = /** @type {Uint8Array} */ (link.queue.shift());
        link.queued -= frame.length;
        dc.send(frame);
      } catch {
        return; // closing: onclose follows
      }
    }
  }

  /** Sends a signal (sealed with a password), after the ones before it. @param {string} peer @param {object} data */
  #signal(peer, data) {
    this.#outbox.run(async () => {
      const key = this.#key;
      if (key === null) return this.#signaling?.send(peer, data);
      const context = `crdtdb signal\0${this.#roomId}\0${this.db.peerId}\0${peer}`;
      const sealed = await seal(key, utf8.encode(JSON.stringify(data)), context);
      this.#signaling?.send(peer, { sealed: base64url(sealed) });
    });
  }

  /** @param {string} from @param {unknown} data */
  async #onSignal(from, data) {
    const key = this.#key;
    let plain = data;
    if (key !== null) {
      const sealed = /** @type {any} */ (data)?.sealed;
      if (typeof sealed !== "string" || sealed.length > 64 * 1024) return this.warn(`dropped an unsealed signal (peer ${from})`);
      const context = `crdtdb signal\0${this.#roomId}\0${from}\0${this.db.peerId}`;
      try {
        plain = JSON.parse(fromUtf8.decode(await unseal(key, fromBase64url(sealed), context)));
      } catch (err) {
        return this.warn(`dropped a signal: ${/** @type {Error} */ (err).message} (peer ${from})`);
      }
      if (this.destroyed) return;
    }
    try {
      await this.#handleSignal(from, plain);
    } catch (err) {
      const link = this.#links.get(from);
      if (link !== undefined) this.#linkFailed(from, link, `signal failed: ${/** @type {Error} */ (err).message}`);
      else this.warn(`dropped a signal: ${/** @type {Error} */ (err).message} (peer ${from})`);
    }
  }

  /** @param {string} from @param {any} data */
  async #handleSignal(from, data) {
    const id = data?.link;
    if (typeof id !== "string" || id === "" || id.length > 64) return this.warn(`dropped a signal without a link id (peer ${from})`);
    const current = this.#links.get(from);
    // A signal about this pair's current link, or null (an older link's, a lost offer's).
    const link = current?.id === id ? current : null;
    switch (data.kind) {
      case "description": {
        const d = data.description;
        if (d?.type === "offer") {
          if (current !== undefined) {
            if (link !== null) return; // the same offer again
            // Both ends offered at once: the smaller id's offer wins. (Ours is still pending,
            // and the peer drops its own when ours arrives.)
            if (current.mine && !current.open && current.pc.signalingState === "have-local-offer" && this.db.peerId < from) return;
            // Otherwise a new offer replaces whatever link there was (the peer restarted or retried).
            this.#closeLink(from, false);
          }
          if (this.#links.size >= Math.min(MAX_PEERS, 2 * this.#cfg.maxConns)) return this.#signal(from, { kind: "busy", link: id });
          const answering = this.#newLink(from, id, false);
          answering.remoteWants = data.want !== false;
          answering.pc.ondatachannel = (/** @type {any} */ ev) => {
            if (this.#links.get(from) !== answering || answering.dc !== null) return;
            answering.dc = ev.channel;
            this.#wireChannel(from, answering);
          };
          await answering.pc.setRemoteDescription(d);
          await this.#flushCandidates(answering);
          await answering.pc.setLocalDescription(await answering.pc.createAnswer());
          if (this.#links.get(from) !== answering) return;
          this.#signal(from, { kind: "description", link: id, description: describe(answering.pc.localDescription), want: answering.iWant });
        } else if (d?.type === "answer") {
          if (link === null || !link.mine || link.pc.signalingState !== "have-local-offer") return;
          link.remoteWants = data.want !== false;
          await link.pc.setRemoteDescription(d);
          await this.#flushCandidates(link);
          // It answered without wanting the link, and this end stopped wanting it meanwhile.
          if (!link.iWant && !link.remoteWants) this.#closeLink(from, false);
        } else throw new TypeError("a description that is neither offer nor answer");
        return;
      }
      case "candidate": {
        if (link === null || data.candidate === null || typeof data.candidate !== "object") return;
        if (link.pc.remoteDescription) await this.#addCandidate(link, data.candidate);
        else if (link.candidates.length < 256) link.candidates.push(data.candidate);
        return;
      }
      case "want": {
        if (link === null || typeof data.want !== "boolean") return;
        link.remoteWants = data.want;
        if (!link.iWant && !link.remoteWants) this.#closeLink(from, false);
        return;
      }
      case "busy": {
        // The peer has as many links as it takes: try again later.
        if (link !== null && link.mine && !link.open) this.#closeLink(from, true, false);
        return;
      }
      case "close": {
        // The peer closed its end (it may not have connected yet: no channel would tell).
        if (link !== null) this.#closeLink(from, true, false);
        return;
      }
      case "probe": {
        // Whether this end still has that link (it restarted if not).
        if (link === null) this.#signal(from, { kind: "close", link: id });
        return;
      }
      default:
        this.warn(`dropped a signal of unknown kind (peer ${from})`);
    }
  }

  /**
   * Adds a remote candidate. One the connection refuses is dropped: the link connects with
   * the others, or times out.
   * @param {Link} link @param {any} candidate
   */
  async #addCandidate(link, candidate) {
    try {
      await link.pc.addIceCandidate(candidate);
    } catch {
      // (a candidate of a generation or transport this connection does not have)
    }
  }

  /** @param {Link} link */
  async #flushCandidates(link) {
    const queued = link.candidates;
    link.candidates = [];
    for (const c of queued) await this.#addCandidate(link, c);
  }

  /**
   * A link failed or closed: its session goes, and the end that wants it tries again with
   * backoff.
   * @param {string} peer @param {Link} link @param {string} why
   * @param {boolean} [quiet] an orderly close (the peer left, or no longer wants the link)
   */
  #linkFailed(peer, link, why, quiet = false) {
    if (this.#links.get(peer) !== link) return;
    if (!this.destroyed && !quiet) this.warn(`link to ${peer} closed: ${why}`);
    this.#closeLink(peer, true);
  }

  /**
   * @param {string} peer
   * @param {boolean} retry try again later (if this end wants the link)
   * @param {boolean} [tell] tell the peer, which may not notice otherwise (a link that did not
   *   connect yet has no channel to close)
   */
  #closeLink(peer, retry, tell = true) {
    const link = this.#links.get(peer);
    if (link === undefined) return;
    if (tell) this.#signal(peer, { kind: "close", link: link.id });
    this.#links.delete(peer);
    clearTimeout(link.timeout);
    try {
      link.dc?.close();
      link.pc.close();
    } catch {
      // already closed
    }
    super.drop(peer);
    this.#refreshConnected();
    if (!retry || this.destroyed) return;
    let r = this.#retries.get(peer);
    if (r === undefined) this.#retries.set(peer, (r = { backoff: new Backoff({ min: 500 }), timer: null }));
    if (r.timer !== null) return;
    const entry = r;
    r.timer = setTimeout(() => {
      entry.timer = null;
      this.#reconcile();
    }, r.backoff.next());
    if (this.#retries.size > 1024) {
      const [oldest, e] = /** @type {[string, any]} */ (this.#retries.entries().next().value);
      if (e.timer !== null) clearTimeout(e.timer);
      this.#retries.delete(oldest);
    }
  }

  /** A peer went silent: its link goes too. @param {string} peerId */
  drop(peerId) {
    super.drop(peerId);
    const link = this.#links.get(peerId);
    if (link !== undefined) this.#linkFailed(peerId, link, "the peer went silent");
  }

  close() {
    for (const r of this.#retries.values()) if (r.timer !== null) clearTimeout(r.timer);
    this.#retries.clear();
    const links = [...this.#links.entries()];
    this.#links.clear();
    for (const [, link] of links) clearTimeout(link.timeout);
    // Frames still being sealed (the presence leave) go out first; then the channel closes
    // once what it buffered is sent, and the connection after it.
    for (const [, link] of links) link.outbound.run(() => closeGently(link));
    this.#refreshConnected();
    this.#signaling?.close();
    this.#signaling = null;
  }
}

/** How long a closing channel may take to send what it buffered (ms). */
const CLOSE_GRACE_MS = 1_000;

/** Closes a link's channel, then its connection (at once if the channel cannot close). @param {Link} link */
function closeGently(link) {
  const dc = link.dc;
  const closePc = () => {
    try {
      link.pc.close();
    } catch {
      // already closed
    }
  };
  if (dc === null || dc.readyState !== "open") return closePc();
  dc.onclose = closePc;
  dc.onmessage = null;
  setTimeout(closePc, CLOSE_GRACE_MS);
  try {
    dc.close();
  } catch {
    closePc();
  }
}

let linkCount = 0;

/** A link id: unique among this realm's links, and unlikely to be any other peer's. */
function newLinkId() {
  return `${(++linkCount).toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
}

/** A session description as JSON. @param {any} d */
function describe(d) {
  return d?.toJSON?.() ?? d;
}
