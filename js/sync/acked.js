// Peers' acknowledged versions, per database: what each known peer said it has (its hello,
// its acks). compact() folds only history every one of them has, so a peer that reconnects
// catches up with events rather than a snapshot. Kept in memory while the database is open;
// a peer forgotten (not heard from for ACKED_TTL_MS, or beyond MAX_KNOWN) only costs it a
// snapshot, and cannot hold compaction back forever.

/** Known peers kept per database (the oldest acknowledgement is forgotten first). */
const MAX_KNOWN = 1024;
/** A peer's acknowledgement older than this no longer holds compaction back (ms). */
export const ACKED_TTL_MS = 24 * 60 * 60 * 1000;

/** @type {WeakMap<object, Map<string, { version: Uint8Array, at: number }>>} */
const byDatabase = new WeakMap();

/**
 * Records what a peer has.
 * @param {object} db
 * @param {string} peerId
 * @param {Uint8Array} version
 * @param {number} [at] when (ms)
 */
export function noteAcked(db, peerId, version, at = Date.now()) {
  let known = byDatabase.get(db);
  if (known === undefined) byDatabase.set(db, (known = new Map()));
  known.delete(peerId); // (re-inserted last: the most recent)
  known.set(peerId, { version, at });
  if (known.size > MAX_KNOWN) known.delete(/** @type {string} */ (known.keys().next().value));
}

/**
 * Every known peer's acknowledged version (heard within ACKED_TTL_MS).
 * @param {object} db
 * @param {number} [now]
 * @returns {Uint8Array[]}
 */
export function ackedVersions(db, now = Date.now()) {
  const known = byDatabase.get(db);
  if (known === undefined) return [];
  for (const [peer, k] of [...known]) if (now - k.at > ACKED_TTL_MS) known.delete(peer);
  return [...known.values()].map((k) => k.version);
}

/**
 * Forgets the acknowledged versions `keep` rejects (ones that do not decode).
 * @param {object} db
 * @param {(version: Uint8Array) => boolean} keep
 */
export function keepAcked(db, keep) {
  const known = byDatabase.get(db);
  if (known === undefined) return;
  for (const [peer, k] of [...known]) if (!keep(k.version)) known.delete(peer);
}
