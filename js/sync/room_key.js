// Room passwords (docs/sync.md, "Room passwords"): a key derived from the room name and the
// password, and authenticated encryption of every payload with it. Only routing metadata
// stays readable: peer ids, and a room id derived from the name and the key (never the name).
// WebCrypto only (browsers, workers, Node's globalThis.crypto).

import { DecodeError } from "../errors.js";

/** PBKDF2-SHA-256 iterations: slow enough that guessing passwords offline costs. */
export const PBKDF2_ITERATIONS = 210_000;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed payload adds to its plaintext. */
export const SEAL_OVERHEAD = IV_BYTES + TAG_BYTES;

const utf8 = new TextEncoder();

/** @returns {SubtleCrypto} */
function subtle() {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new TypeError("a room password needs WebCrypto (crypto.subtle), which this context lacks (it needs a secure context: https or localhost)");
  return s;
}

/** @param {Uint8Array} bytes @returns {string} */
export function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The inverse of base64url (atob's error on bad input). @param {string} s @returns {Uint8Array} */
export function fromBase64url(s) {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * @typedef {object} RoomKey
 * @property {string} id the room id the server and other routers see: derived from the room
 *   name and the key, so it says neither
 * @property {CryptoKey} key the AES-GCM-256 key (not extractable)
 */

/** Derivations by room and password: one PBKDF2 run per pair in a realm. @type {Map<string, Promise<RoomKey>>} */
const derived = new Map();

/**
 * Derives a room's key: PBKDF2-SHA-256 over the password with a salt made from the room name
 * (so each room has its own), then HKDF splits the result into the encryption key and the
 * room id.
 * @param {string} room
 * @param {string} password
 * @returns {Promise<RoomKey>}
 */
export function roomKey(room, password) {
  const cacheKey = JSON.stringify([room, password]);
  let p = derived.get(cacheKey);
  if (p === undefined) {
    p = deriveRoomKey(room, password);
    derived.set(cacheKey, p);
    if (derived.size > 64) derived.delete(/** @type {string} */ (derived.keys().next().value));
    p.catch(() => derived.delete(cacheKey));
  }
  return p;
}

/** @param {string} room @param {string} password @returns {Promise<RoomKey>} */
async function deriveRoomKey(room, password) {
  const s = subtle();
  const pw = await s.importKey("raw", utf8.encode(password), "PBKDF2", false, ["deriveBits"]);
  const salt = utf8.encode(`crdtdb room salt\0${room}`);
  const bits = await s.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: PBKDF2_ITERATIONS }, pw, 256);
  const master = await s.importKey("raw", bits, "HKDF", false, ["deriveBits", "deriveKey"]);
  const hkdf = (/** @type {string} */ info) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8.encode(info) });
  const key = await s.deriveKey(hkdf("crdtdb aes-gcm key"), master, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const id = new Uint8Array(await s.deriveBits(hkdf("crdtdb room id"), master, 128));
  return { id: base64url(id), key };
}

/**
 * Encrypts and authenticates a payload: a random IV, then AES-GCM's ciphertext and tag.
 * `context` (routing metadata) is authenticated too, so a payload cannot be replayed under
 * another sender or room.
 * @param {CryptoKey} key
 * @param {Uint8Array} plain
 * @param {string} context
 * @returns {Promise<Uint8Array>}
 */
export async function seal(key, plain, context) {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = new Uint8Array(
    await subtle().encrypt({ name: "AES-GCM", iv, additionalData: utf8.encode(context) }, key, plain),
  );
  const out = new Uint8Array(IV_BYTES + ct.length);
  out.set(iv);
  out.set(ct, IV_BYTES);
  return out;
}

/**
 * Decrypts a sealed payload; DecodeError when it is not one sealed with this key and context
 * (a wrong password, a forgery, a payload replayed from elsewhere).
 * @param {CryptoKey} key
 * @param {Uint8Array} sealed
 * @param {string} context
 * @returns {Promise<Uint8Array>}
 */
export async function unseal(key, sealed, context) {
  if (!(sealed instanceof Uint8Array) || sealed.length < SEAL_OVERHEAD) {
    throw new DecodeError("a sealed payload is too short (a peer without the room password?)");
  }
  try {
    const plain = await subtle().decrypt(
      { name: "AES-GCM", iv: sealed.subarray(0, IV_BYTES), additionalData: utf8.encode(context) },
      key,
      sealed.subarray(IV_BYTES),
    );
    return new Uint8Array(plain);
  } catch {
    throw new DecodeError("a sealed payload failed authentication (a wrong room password, or forged)");
  }
}

/**
 * Runs async steps one after another, in call order (sealing is async; frames must stay in
 * order on a link). A failed step is reported and does not stop later ones.
 */
export class Serial {
  /** @type {Promise<void>} */
  #tail = Promise.resolve();
  #queued = 0;

  /** @param {(err: unknown) => void} onError */
  constructor(onError) {
    this.onError = onError;
  }

  /** Steps queued and not finished. */
  get queued() {
    return this.#queued;
  }

  /** @param {() => Promise<void> | void} step */
  run(step) {
    this.#queued++;
    this.#tail = this.#tail
      .then(step)
      .catch(this.onError)
      .finally(() => {
        this.#queued--;
      });
  }
}
