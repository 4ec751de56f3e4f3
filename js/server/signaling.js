// Signaling for WebRTCSync (docs/server.md, "Signaling"): peers join a room and pass
// offers, answers and ICE candidates to each other through the server. JSON text messages:
//   client → server  {type:"join", room, peer}  {type:"signal", to, data}  {type:"leave"}  {type:"ping"}
//   server → client  {type:"welcome", room, peers}  {type:"joined", peer}  {type:"left", peer}
//                    {type:"signal", from, data}  {type:"pong"}  {type:"error", message}
// The server stamps `from` itself: a client cannot speak as another peer. `data` is opaque
// (sealed when the room has a password).

/** Longest room name and peer id accepted. */
export const MAX_ID = 256;

/**
 * @typedef {object} SignalConn
 * @property {(text: string) => void} send
 * @property {(code: number, reason: string) => void} close
 * @property {string | null} room
 * @property {string | null} peer
 */

/** @param {unknown} v */
const isId = (v) => typeof v === "string" && v.length > 0 && v.length <= MAX_ID;

export class SignalingHub {
  /** @type {Map<string, Map<string, SignalConn>>} */
  rooms = new Map();

  /** @param {import("./limits.js").Limits} limits */
  constructor(limits) {
    this.limits = limits;
  }

  /** @returns {SignalConn} */
  connect(/** @type {(text: string) => void} */ send, /** @type {(code: number, reason: string) => void} */ close) {
    return { send, close, room: null, peer: null };
  }

  /**
   * One message from a connection.
   * @param {SignalConn} conn
   * @param {string} text
   * @returns {string | null} why it was refused (the server counts refusals), or null
   */
  receive(conn, text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return "not JSON";
    }
    if (msg === null || typeof msg !== "object") return "not an object";
    switch (msg.type) {
      case "join":
        if (!isId(msg.room) || !isId(msg.peer)) return `join needs a room and a peer id of 1 to ${MAX_ID} characters`;
        return this.#join(conn, msg.room, msg.peer);
      case "signal": {
        if (conn.room === null || conn.peer === null) return "signal before join";
        if (!isId(msg.to) || msg.data === undefined) return "signal needs `to` and `data`";
        const to = this.rooms.get(conn.room)?.get(msg.to);
        if (to === undefined) return null; // it left meanwhile: not the sender's fault
        to.send(JSON.stringify({ type: "signal", from: conn.peer, data: msg.data }));
        return null;
      }
      case "leave":
        this.leave(conn);
        return null;
      case "ping":
        conn.send('{"type":"pong"}');
        return null;
      default:
        return `unknown message type ${JSON.stringify(String(msg.type)).slice(0, 40)}`;
    }
  }

  /** @param {SignalConn} conn @param {string} room @param {string} peer */
  #join(conn, room, peer) {
    this.leave(conn);
    let members = this.rooms.get(room);
    if (members === undefined) {
      if (this.rooms.size >= this.limits.maxRooms) {
        conn.send(JSON.stringify({ type: "error", message: "too many rooms on this server" }));
        return null;
      }
      this.rooms.set(room, (members = new Map()));
    }
    const old = members.get(peer);
    if (old !== undefined) {
      // The same peer again (a reload, a reconnect before the old link timed out).
      this.leave(old, false);
      old.close(4000, "replaced by a newer connection of the same peer");
    } else if (members.size >= this.limits.maxPeersPerRoom) {
      conn.send(JSON.stringify({ type: "error", message: `room is full (${this.limits.maxPeersPerRoom} peers)` }));
      if (members.size === 0) this.rooms.delete(room);
      return null;
    }
    const peers = [...members.keys()];
    const joined = JSON.stringify({ type: "joined", peer });
    for (const other of members.values()) other.send(joined);
    members.set(peer, conn);
    conn.room = room;
    conn.peer = peer;
    conn.send(JSON.stringify({ type: "welcome", room, peers }));
    return null;
  }

  /** The connection leaves its room (it closed, or joined another). @param {SignalConn} conn @param {boolean} [tell] */
  leave(conn, tell = true) {
    if (conn.room === null || conn.peer === null) return;
    const members = this.rooms.get(conn.room);
    if (members?.get(conn.peer) === conn) {
      members.delete(conn.peer);
      if (tell) {
        const left = JSON.stringify({ type: "left", peer: conn.peer });
        for (const other of members.values()) other.send(left);
      }
      if (members.size === 0) this.rooms.delete(conn.room);
    }
    conn.room = null;
    conn.peer = null;
  }
}
