// crdtdb-server (docs/server.md): one HTTP server with three jobs.
//   GET /healthz            → 200, JSON counts of rooms and connections
//   ws://host:port/         → signaling for WebRTCSync (./signaling.js)
//   ws://host:port/sync/ROOM → the relay for WebSocketSync: a plain room (./plain_room.js), or
//                              with ?sealed=1 a password room's sealed log (./sealed_room.js)
// Every connection is limited in message size, rate and buffered bytes; a connection that
// keeps sending what is refused is closed. Nothing a client sends can stop the server.

import { createServer as createHttpServer } from "node:http";
import { WebSocketServer } from "ws";
import { checkLimits, RateLimit } from "./limits.js";
import { PlainRoom } from "./plain_room.js";
import { FileRoomStore, MemoryRoomStore } from "./room_store.js";
import { SealedRoom } from "./sealed_room.js";
import { MAX_ID, SignalingHub } from "./signaling.js";

/** Connections are pinged this often; one that missed a pong is cut (ms). */
const PING_MS = 30_000;

/**
 * @typedef {object} ServerOptions
 * @property {number} [port] 0 picks a free one (default 4444)
 * @property {string} [host] default 127.0.0.1
 * @property {string} [data] persist relay rooms under this directory
 * @property {Partial<import("./limits.js").Limits>} [limits]
 * @property {(message: string) => void} [log] where warnings go (console.warn)
 */

/**
 * @typedef {object} CrdtdbServer
 * @property {number} port
 * @property {string} url ws://host:port
 * @property {() => { rooms: { signaling: number, relay: number }, connections: number }} stats
 * @property {() => Promise<void>} close closes every connection (1001), waits for pending
 *   writes, and stops listening
 */

/**
 * Starts a server; resolves once it listens.
 * @param {ServerOptions} [opts]
 * @returns {Promise<CrdtdbServer>}
 */
export async function startServer(opts = {}) {
  const limits = checkLimits(opts.limits);
  const log = opts.log ?? ((m) => console.warn(`crdtdb-server: ${m}`));
  const store = opts.data === undefined ? new MemoryRoomStore() : new FileRoomStore(opts.data);
  const hub = new SignalingHub(limits);
  /** @type {Map<string, Promise<PlainRoom | SealedRoom>>} key: "plain:" or "sealed:" + room */
  const rooms = new Map();
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const idle = new Map();
  /** Rooms loaded, in load order. @type {Map<string, PlainRoom | SealedRoom>} */
  const loaded = new Map();
  let closing = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: false });
  // Signaling messages are small: a larger one closes the connection before it is buffered.
  const signalWss = new WebSocketServer({ noServer: true, maxPayload: limits.maxSignalBytes, perMessageDeflate: false, clientTracking: false });
  const http = createHttpServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && path === "/healthz") {
      res.writeHead(closing ? 503 : 200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ status: closing ? "closing" : "ok", ...stats() }));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("crdtdb-server: WebSocket endpoints are / (signaling) and /sync/<room> (relay); health is /healthz\n");
  });

  function stats() {
    return { rooms: { signaling: hub.rooms.size, relay: rooms.size }, connections: wss.clients.size };
  }

  /** @param {import("node:stream").Duplex} socket @param {number} status @param {string} text */
  function refuse(socket, status, text) {
    socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`);
  }

  http.on("upgrade", (req, socket, head) => {
    socket.on("error", () => {});
    if (closing) return refuse(socket, 503, "Server shutting down");
    if (wss.clients.size >= limits.maxConnections) return refuse(socket, 503, "Too many connections");
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    if (path === "/" || path === "/signal") {
      signalWss.handleUpgrade(req, socket, head, (ws) => {
        // One set of connections for counting, pinging and shutdown.
        wss.clients.add(ws);
        ws.on("close", () => wss.clients.delete(ws));
        signalingConn(ws);
      });
      return;
    }
    if (path.startsWith("/sync/")) {
      let room;
      try {
        room = decodeURIComponent(path.slice("/sync/".length));
      } catch {
        room = "";
      }
      const peer = url.searchParams.get("peer") ?? "";
      if (room === "" || room.length > MAX_ID) return refuse(socket, 400, "Bad room name");
      if (peer.length > MAX_ID) return refuse(socket, 400, "Bad peer id");
      const sealed = url.searchParams.get("sealed") === "1";
      wss.handleUpgrade(req, socket, head, (ws) => relayConn(ws, room, sealed, peer));
      return;
    }
    refuse(socket, 404, "Not found");
  });

  /**
   * Rate, size and refusal accounting shared by both kinds of connection.
   * @param {import("ws").WebSocket} ws
   * @param {string} what
   */
  function guard(ws, what) {
    const rate = new RateLimit(limits.messagesPerSecond, limits.messageBurst);
    let refused = 0;
    /** @type {any} */ (ws).isAlive = true;
    ws.on("pong", () => {
      /** @type {any} */ (ws).isAlive = true;
    });
    ws.on("error", () => {});
    return {
      /** @param {string} why */
      refuse(why) {
        if (++refused <= 3 || refused % 100 === 0) log(`${what}: refused a message (${refused}): ${why}`);
        if (refused >= limits.maxRefused) ws.close(1008, "too many refused messages");
      },
      allow() {
        if (rate.take()) return true;
        this.refuse("rate limit");
        return false;
      },
      /** @param {Uint8Array | string} data */
      send(data) {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > limits.maxBufferedBytes) {
          ws.close(1013, "too slow: too much queued");
          return;
        }
        ws.send(data);
      },
      /** @param {number} code @param {string} reason */
      close(code, reason) {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
      },
    };
  }

  /** @param {import("ws").WebSocket} ws */
  function signalingConn(ws) {
    const g = guard(ws, "signaling");
    const conn = hub.connect(
      (text) => g.send(text),
      (code, reason) => g.close(code, reason),
    );
    ws.on("message", (data, isBinary) => {
      if (!g.allow()) return;
      const text = isBinary ? null : data.toString();
      if (text === null) return g.refuse("signaling messages are text");
      const why = hub.receive(conn, text);
      if (why !== null) g.refuse(why);
    });
    ws.on("close", () => hub.leave(conn));
  }

  /**
   * @param {import("ws").WebSocket} ws
   * @param {string} name
   * @param {boolean} sealed
   * @param {string} peer
   */
  function relayConn(ws, name, sealed, peer) {
    const key = `${sealed ? "sealed" : "plain"}:${name}`;
    const g = guard(ws, `relay room ${name}`);
    /** @type {Uint8Array[]} messages that came while the room loads */
    let early = [];
    let earlyBytes = 0;
    /** @type {((b: Uint8Array) => void) | null} */
    let deliver = null;
    /** @type {(() => void) | null} */
    let leave = null;
    ws.on("message", (data, isBinary) => {
      if (!g.allow()) return;
      if (!isBinary) return g.refuse("relay messages are binary");
      const bytes = new Uint8Array(/** @type {Buffer} */ (data));
      if (deliver !== null) return handle(bytes);
      if ((earlyBytes += bytes.length) > limits.maxMessageBytes) return g.refuse("too much sent before the room loaded");
      early.push(bytes);
    });
    /** @param {Uint8Array} bytes */
    const handle = (bytes) => {
      try {
        /** @type {(b: Uint8Array) => void} */ (deliver)(bytes);
      } catch (err) {
        g.refuse(/** @type {Error} */ (err).message);
      }
    };
    let closed = false;
    ws.on("close", () => {
      closed = true;
      leave?.();
    });
    loadRoom(key, name, sealed)
      .then((room) => {
        if (closed) return releaseIfIdle(key, room);
        if (room.size >= limits.maxPeersPerRoom) {
          g.close(1013, `room is full (${limits.maxPeersPerRoom} connections)`);
          return releaseIfIdle(key, room);
        }
        const conn = { send: (/** @type {Uint8Array} */ b) => g.send(b), close: g.close };
        if (room instanceof SealedRoom) {
          deliver = room.add(conn);
          leave = () => {
            room.remove(conn);
            releaseIfIdle(key, room);
          };
        } else {
          // Without a peer id the connection is its own peer (presence then names no one).
          const id = peer === "" ? `conn-${Math.random().toString(36).slice(2)}` : peer;
          deliver = room.add(id, conn);
          leave = () => {
            room.remove(id, conn);
            releaseIfIdle(key, room);
          };
        }
        clearTimeout(idle.get(key));
        idle.delete(key);
        for (const b of early) handle(b);
        early = [];
      })
      .catch((err) => {
        log(`relay room ${name}: could not load: ${err.message}`);
        g.close(1011, "room could not be loaded");
      });
  }

  /** @param {string} key @param {string} name @param {boolean} sealed */
  function loadRoom(key, name, sealed) {
    let p = rooms.get(key);
    if (p === undefined) {
      if (rooms.size >= limits.maxRooms && !evictIdleRoom()) return Promise.reject(new Error("too many rooms on this server"));
      const warn = (/** @type {string} */ m) => log(`relay room ${name}: ${m}`);
      p = sealed ? SealedRoom.open(name, store, limits, warn) : PlainRoom.open(name, store, limits, warn);
      rooms.set(key, p);
      p.then(
        (room) => {
          if (rooms.get(key) === p) loaded.set(key, room);
        },
        () => rooms.delete(key),
      );
    }
    return p;
  }

  /**
   * Makes room for a new room: the least recently loaded one without connections goes (with
   * --data its file stays; in memory its state is gone, and its clients push it again when
   * they come back). Without this, short connections to random rooms would fill maxRooms for
   * good.
   * @returns {boolean} whether one went
   */
  function evictIdleRoom() {
    for (const [key, room] of loaded) {
      if (room.size > 0) continue;
      loaded.delete(key);
      rooms.delete(key);
      clearTimeout(idle.get(key));
      idle.delete(key);
      room.close(1001, "room unloaded").catch((err) => log(`room ${key}: ${err.message}`));
      return true;
    }
    return false;
  }

  /** A persisted room with no connection is unloaded after a while. @param {string} key @param {PlainRoom | SealedRoom} room */
  function releaseIfIdle(key, room) {
    if (!store.persistent || room.size > 0 || closing || idle.has(key)) return;
    const t = setTimeout(() => {
      idle.delete(key);
      if (room.size > 0 || rooms.get(key) === undefined) return;
      rooms.delete(key);
      loaded.delete(key);
      room.close(1001, "room unloaded").catch((err) => log(`room ${key}: ${err.message}`));
    }, limits.idleRoomMs);
    t.unref();
    idle.set(key, t);
  }

  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!(/** @type {any} */ (ws).isAlive)) {
        ws.terminate();
        continue;
      }
      /** @type {any} */ (ws).isAlive = false;
      ws.ping();
    }
  }, PING_MS);
  pinger.unref();

  await new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(opts.port ?? 4444, opts.host ?? "127.0.0.1", () => resolve(undefined));
  });
  const address = /** @type {import("node:net").AddressInfo} */ (http.address());
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    port: address.port,
    url: `ws://${host}:${address.port}`,
    stats,
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(pinger);
      for (const t of idle.values()) clearTimeout(t);
      const stopped = new Promise((resolve) => http.close(() => resolve(undefined)));
      for (const ws of wss.clients) ws.close(1001, "server shutting down");
      const loaded = await Promise.allSettled([...rooms.values()]);
      await Promise.all(
        loaded.map((r) => (r.status === "fulfilled" ? r.value.close(1001, "server shutting down") : undefined)),
      );
      await store.close();
      // Clients that do not answer the close handshake are cut.
      setTimeout(() => {
        for (const ws of wss.clients) ws.terminate();
      }, 1000).unref();
      http.closeAllConnections?.();
      await stopped;
    },
  };
}
