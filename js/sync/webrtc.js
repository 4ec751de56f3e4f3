// WebRTCSync: peers of a room sync directly over WebRTC data channels (docs/sync.md,
// "Peer to peer"). crdtdb-server's signaling introduces them; then each pair of peers has one
// ordered, reliable data channel carrying the ordinary sync protocol. The mesh is bounded by
// `maxConns`; a peer relays what it learns to its other peers, so a partial mesh converges
// too. Of each pair, the peer with the smaller id makes the offer (no glare) and, when the
// link fails, reconnects with backoff. With a password, signaling payloads and every frame are
// sealed with the room key, and the signaling server sees only the derived room id.

import { Backoff } from "./backoff.js";
import { checkProviderOptions, SyncProvider } from "./provider.js";
import { base64url, roomKey, seal, Serial, unseal } from "./room_key.js";
import { SignalingClient } from "./signaling_client.js";

/** Frames larger than this go in parts (data channels carry 256 KiB messages at most). */
const MAX_FRAME_BYTES = 64 * 1024;
/** A link not open after this long is abandoned and tried again (ms). */
const CONNECT_TIMEOUT_MS = 20_000;
/** Sending waits while a channel has this much queued... */
const HIGH_WATER = 4 * 1024 * 1024;
/** ...until it drains to this. */
const LOW_WATER = 1024 * 1024;
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

/** @param {string} s @returns {Uint8Array} */
function fromBase64url(s) {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * One peer connection and its data channel.
 * @typedef {object} Link
 * @property {any} pc
 * @property {any} dc the data channel (null until the answerer receives it)
 * @property {boolean} open
 * @property {any[]} candidates ICE candidates that came before the remote description
 * @property {Uint8Array[]} queue frames waiting for the channel to drain
 * @property {Serial} inbound unsealing, in order
 * @property {Serial} outbound sealing, in order
 * @property {ReturnType<typeof setTimeout>} timeout
 */

export class WebRTCSync extends SyncProvider {
  /** @type {Map<string, Link>} */
  #links = new Map();
  /** Peers the signaling server says are in the room. @type {Set<string>} */
  #present = new Set();
  /** @type {Map<string, { backoff: Backoff, timer: ReturnType<typeof setTimeout> | null }>} */
  #retries = new Map();
  /** @type {SignalingClient | null} */
  #signaling = null;
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
    if (cfg.password === undefined) {
      this.#start(cfg.room);
      return;
    }
    roomKey(cfg.room, cfg.password).then(
      (k) => {
        this.#key = k.key;
        this.#start(k.id);
      },
      (err) => this.warn(`cannot derive the room key: ${err.message}`),
    );
  }

  /** @param {string} roomId what the signaling server sees */
  #start(roomId) {
    if (this.destroyed) return;
    this.#roomId = roomId;
    this.#signaling = new SignalingClient(
      { url: this.#cfg.signaling, room: roomId, peer: this.db.peerId, WebSocket: this.#cfg.WS },
      {
        welcome: (peers) => {
          this.#present = new Set(peers);
          for (const p of peers) this.#maybeConnect(p);
        },
        joined: (peer) => {
          this.#present.add(peer);
          // It may have restarted: a link to its old self is useless.
          if (this.#links.has(peer) && !this.#links.get(peer)?.open) this.#closeLink(peer, false);
          this.#maybeConnect(peer);
        },
        left: (peer) => {
          this.#present.delete(peer);
        },
        signal: (from, data) => this.#onSignal(from, data),
        status: () => this.#refreshConnected(),
        warn: (m) => this.warn(m),
      },
    );
  }

  #refreshConnected() {
    const open = [...this.#links.values()].some((l) => l.open);
    this.setConnected((this.#signaling?.connected ?? false) || open);
  }

  /** Makes the offer to a present peer if this one is the offerer of the pair. @param {string} peer */
  #maybeConnect(peer) {
    if (this.destroyed || this.#links.has(peer) || !this.#present.has(peer)) return;
    if (this.db.peerId >= peer) return; // the other one offers
    if (this.#links.size >= this.#cfg.maxConns) return;
    if (this.#retries.get(peer)?.timer) return;
    const link = this.#newLink(peer);
    link.dc = link.pc.createDataChannel("crdtdb", { ordered: true });
    this.#wireChannel(peer, link);
    (async () => {
      await link.pc.setLocalDescription(await link.pc.createOffer());
      this.#signal(peer, { kind: "description", description: link.pc.localDescription?.toJSON?.() ?? link.pc.localDescription });
    })().catch((err) => this.#linkFailed(peer, link, `offer failed: ${err.message}`));
  }

  /** @param {string} peer @returns {Link} */
  #newLink(peer) {
    const pc = new this.#cfg.PC({ iceServers: this.#cfg.iceServers });
    const report = (/** @type {any} */ err) => this.warn(`${err?.message ?? err} (peer ${peer})`);
    /** @type {Link} */
    const link = {
      pc,
      dc: null,
      open: false,
      candidates: [],
      queue: [],
      inbound: new Serial(report),
      outbound: new Serial(report),
      timeout: setTimeout(() => this.#linkFailed(peer, link, "did not connect in time"), CONNECT_TIMEOUT_MS),
    };
    this.#links.set(peer, link);
    pc.onicecandidate = (/** @type {any} */ ev) => {
      // Trickle ICE: each candidate as it is found (null: gathering is done).
      if (ev.candidate) this.#signal(peer, { kind: "candidate", candidate: ev.candidate.toJSON?.() ?? ev.candidate });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.#linkFailed(peer, link, `connection ${pc.connectionState}`);
    };
    return link;
  }

  /** @param {string} peer @param {Link} link */
  #wireChannel(peer, link) {
    const dc = link.dc;
    dc.binaryType = "arraybuffer";
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onopen = () => {
      if (this.#links.get(peer) !== link) return;
      clearTimeout(link.timeout);
      link.open = true;
      this.#retries.get(peer)?.backoff.reset();
      this.#refreshConnected();
      this.session(peer, (frame) => this.#send(peer, link, frame));
    };
    dc.onmessage = (/** @type {{ data: unknown }} */ ev) => {
      if (this.#links.get(peer) !== link) return;
      const data = ev.data;
      if (!(data instanceof ArrayBuffer)) return this.warn(`dropped a non-binary message (peer ${peer})`);
      const bytes = new Uint8Array(data);
      const deliver = (/** @type {Uint8Array} */ frame) => this.receive(peer, frame, (f) => this.#send(peer, link, f));
      const key = this.#key;
      if (key === null) deliver(bytes);
      else link.inbound.run(async () => deliver(await unseal(key, bytes, this.#context(peer, this.db.peerId))));
    };
    dc.onbufferedamountlow = () => this.#drain(link);
    dc.onclose = () => this.#linkFailed(peer, link, "data channel closed");
  }

  /** Routing metadata sealed payloads are bound to. @param {string} from @param {string} to */
  #context(from, to) {
    return `crdtdb p2p\0${this.#roomId}\0${from}\0${to}`;
  }

  /** @param {string} peer @param {Link} link @param {Uint8Array} frame */
  #send(peer, link, frame) {
    const key = this.#key;
    if (key === null) return this.#enqueue(link, frame);
    link.outbound.run(async () => this.#enqueue(link, await seal(key, frame, this.#context(this.db.peerId, peer))));
  }

  /** @param {Link} link @param {Uint8Array} frame */
  #enqueue(link, frame) {
    link.queue.push(frame);
    this.#drain(link);
  }

  /** Sends queued frames while the channel has room. @param {Link} link */
  #drain(link) {
    const dc = link.dc;
    if (dc === null || dc.readyState !== "open") return;
    while (link.queue.length > 0 && dc.bufferedAmount < HIGH_WATER) {
      try {
        dc.send(/** @type {Uint8Array} */ (link.queue.shift()));
      } catch {
        return; // closing: onclose follows
      }
    }
  }

  /** @param {string} peer @param {object} data */
  #signal(peer, data) {
    const key = this.#key;
    if (key === null) return this.#signaling?.send(peer, data);
    const context = `crdtdb signal\0${this.#roomId}\0${this.db.peerId}\0${peer}`;
    seal(key, utf8.encode(JSON.stringify(data)), context).then(
      (sealed) => this.#signaling?.send(peer, { sealed: base64url(sealed) }),
      (err) => this.warn(`cannot seal a signal: ${err.message}`),
    );
  }

  /** @param {string} from @param {unknown} data */
  #onSignal(from, data) {
    const key = this.#key;
    if (key === null) return this.#guardSignal(from, data);
    const sealed = /** @type {any} */ (data)?.sealed;
    if (typeof sealed !== "string" || sealed.length > 64 * 1024) return this.warn(`dropped an unsealed signal (peer ${from})`);
    const context = `crdtdb signal\0${this.#roomId}\0${from}\0${this.db.peerId}`;
    unseal(key, fromBase64url(sealed), context).then(
      (plain) => this.#guardSignal(from, JSON.parse(fromUtf8.decode(plain))),
      (err) => this.warn(`dropped a signal: ${err.message} (peer ${from})`),
    );
  }

  /** @param {string} from @param {any} data */
  #guardSignal(from, data) {
    if (this.destroyed) return;
    this.#handleSignal(from, data).catch((err) => {
      const link = this.#links.get(from);
      if (link !== undefined) this.#linkFailed(from, link, `signal failed: ${err.message}`);
      else this.warn(`dropped a signal: ${err.message} (peer ${from})`);
    });
  }

  /** @param {string} from @param {any} data */
  async #handleSignal(from, data) {
    switch (data?.kind) {
      case "description": {
        const d = data.description;
        if (d?.type === "offer") {
          // A new offer replaces whatever link there was (the peer restarted or retried).
          if (this.#links.has(from)) this.#closeLink(from, false);
          if (this.#links.size >= this.#cfg.maxConns) return this.#signal(from, { kind: "busy" });
          const link = this.#newLink(from);
          link.pc.ondatachannel = (/** @type {any} */ ev) => {
            if (this.#links.get(from) !== link) return;
            link.dc = ev.channel;
            this.#wireChannel(from, link);
          };
          await link.pc.setRemoteDescription(d);
          await this.#flushCandidates(link);
          await link.pc.setLocalDescription(await link.pc.createAnswer());
          this.#signal(from, { kind: "description", description: link.pc.localDescription?.toJSON?.() ?? link.pc.localDescription });
        } else if (d?.type === "answer") {
          const link = this.#links.get(from);
          if (link === undefined || link.pc.signalingState !== "have-local-offer") return;
          await link.pc.setRemoteDescription(d);
          await this.#flushCandidates(link);
        } else throw new TypeError("a description that is neither offer nor answer");
        return;
      }
      case "candidate": {
        const link = this.#links.get(from);
        if (link === undefined) return;
        if (link.pc.remoteDescription) await link.pc.addIceCandidate(data.candidate);
        else if (link.candidates.length < 256) link.candidates.push(data.candidate);
        return;
      }
      case "busy": {
        const link = this.#links.get(from);
        if (link !== undefined) this.#linkFailed(from, link, "the peer has no room for another connection");
        return;
      }
      default:
        this.warn(`dropped a signal of unknown kind (peer ${from})`);
    }
  }

  /** @param {Link} link */
  async #flushCandidates(link) {
    const queued = link.candidates;
    link.candidates = [];
    for (const c of queued) await link.pc.addIceCandidate(c);
  }

  /**
   * A link failed or closed: its session goes, and the offerer tries again with backoff while
   * the peer is in the room.
   * @param {string} peer @param {Link} link @param {string} why
   */
  #linkFailed(peer, link, why) {
    if (this.#links.get(peer) !== link) return;
    if (!this.destroyed) this.warn(`link to ${peer} closed: ${why}`);
    this.#closeLink(peer, true);
  }

  /** @param {string} peer @param {boolean} retry */
  #closeLink(peer, retry) {
    const link = this.#links.get(peer);
    if (link === undefined) return;
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
    if (!retry || this.destroyed || this.db.peerId >= peer) return;
    let r = this.#retries.get(peer);
    if (r === undefined) this.#retries.set(peer, (r = { backoff: new Backoff({ min: 500 }), timer: null }));
    if (r.timer !== null) return;
    const entry = r;
    r.timer = setTimeout(() => {
      entry.timer = null;
      this.#maybeConnect(peer);
    }, r.backoff.next());
    if (this.#retries.size > 1024) this.#retries.delete(/** @type {string} */ (this.#retries.keys().next().value));
  }

  /** A peer went silent: its link goes too. @param {string} peerId */
  drop(peerId) {
    super.drop(peerId);
    if (this.#links.has(peerId)) this.#closeLink(peerId, true);
  }

  close() {
    for (const r of this.#retries.values()) if (r.timer !== null) clearTimeout(r.timer);
    this.#retries.clear();
    const links = [...this.#links.values()];
    // Sealed frames (the presence leave) still being sealed go out before the links close.
    Promise.all(links.map((l) => new Promise((resolve) => l.outbound.run(() => resolve(undefined))))).then(() => {
      for (const peer of [...this.#links.keys()]) this.#closeLink(peer, false);
    });
    this.#signaling?.close();
    this.#signaling = null;
  }
}
