// The sealed relay's messages (docs/sync.md, "Relay rooms with a password"). A relay cannot
// merge ciphertext, so for a room with a password it keeps a numbered log of sealed payloads:
// clients push payloads, resume from the last number they saw, and now and then replace the
// log's prefix with a sealed snapshot. Each message is a type byte, varints, then bytes.
//
// A log has an epoch: a random number the relay picks when it starts a room's log from nothing
// (a new room, or one whose stored state was lost). A client resumes with the last number and
// the epoch it saw; a number from another epoch names nothing in this log, so the relay sends
// everything, and the client pushes everything it has (the log it saw is gone).

import { DecodeError } from "../errors.js";
import { encode, FrameReader } from "./frames.js";

// client → relay
export const PUSH = 0x10; // a sealed payload to append to the log and pass on
export const RESUME = 0x11; // seq, epoch: send every entry after seq (all, in another epoch), then LIVE
export const SNAPSHOT = 0x12; // seq, sealed snapshot: it covers the log up to seq
export const EPHEMERAL = 0x13; // a sealed payload to pass on, never stored (presence)
export const PING = 0x14; // are you there? (the relay answers PONG: a silent link is noticed)
// relay → client
export const ENTRY = 0x20; // seq, sealed payload
export const BASE = 0x21; // seq, sealed snapshot covering every entry up to seq
export const LIVE = 0x22; // seq, epoch: the backlog asked for is sent (seq is the head); later entries follow live
export const PUSHED = 0x23; // seq: the number the relay gave your push
export const WANT_SNAPSHOT = 0x24; // seq: please upload a snapshot (the log has grown)
export const PASS = 0x25; // a sealed ephemeral payload from another client
export const PONG = 0x26; // the answer to PING
/** The largest ephemeral payload passed on (presence states are 16 KiB of JSON at most). */
export const MAX_EPHEMERAL_BYTES = 256 * 1024;

/**
 * @param {number} type
 * @param {number} [seq]
 * @param {Uint8Array} [payload]
 * @param {number} [epoch] RESUME and LIVE only
 */
export const relayMessage = (type, seq, payload, epoch) =>
  encode(type, seq === undefined ? [] : WITH_EPOCH.has(type) ? [seq, epoch ?? 0] : [seq], payload);

/**
 * @typedef {{ type: number, seq: number, epoch: number, payload: Uint8Array }} RelayMessage seq
 *   is -1, epoch 0 and payload empty where the type has none
 */

const WITH_SEQ = new Set([RESUME, SNAPSHOT, ENTRY, BASE, LIVE, PUSHED, WANT_SNAPSHOT]);
const WITH_EPOCH = new Set([RESUME, LIVE]);
const WITH_PAYLOAD = new Set([PUSH, SNAPSHOT, EPHEMERAL, ENTRY, BASE, PASS]);

/**
 * Decodes a sealed relay message; DecodeError if malformed.
 * @param {Uint8Array} buf
 * @param {"client" | "relay"} from who may send it
 * @returns {RelayMessage}
 */
export function decodeRelayMessage(buf, from) {
  if (!(buf instanceof Uint8Array) || buf.length === 0) throw new DecodeError("relay message is empty or not binary");
  const type = buf[0];
  const fromClient = type >= 0x10 && type <= 0x14;
  const fromRelay = type >= 0x20 && type <= 0x26;
  if (!(from === "client" ? fromClient : fromRelay)) throw new DecodeError(`relay message has unknown type ${type}`);
  const r = new FrameReader(buf);
  const seq = WITH_SEQ.has(type) ? r.varint("sequence number") : -1;
  const epoch = WITH_EPOCH.has(type) ? r.varint("log epoch") : 0;
  const payload = r.rest();
  if (WITH_PAYLOAD.has(type) ? payload.length === 0 : payload.length !== 0) {
    throw new DecodeError(`relay message of type ${type} has ${payload.length === 0 ? "no payload" : "trailing bytes"}`);
  }
  return { type, seq, epoch, payload };
}
