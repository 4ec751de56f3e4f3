// Peers' acknowledged versions, per database: what each known peer said it has (its hello,
// its acks). compact() folds only history every one of them has, so a peer that reconnects
// catches up with events rather than a snapshot. Kept in memory for as long as the database is
// open; a peer forgotten (at most MAX_KNOWN are kept) only costs it a snapshot.

/** Known peers kept per database (the oldest acknowledgement is forgotten first). */
const MAX_KNOWN = 1024;

/** @type {WeakMap<object, Map<string, Uint8Array>>} */
const byDatabase = new WeakMap();

/**
 * Records what a peer has.
 * @param {object} db
 * @param {string} peerId
 * @param {Uint8Array} version
 */
export function noteAcked(db, peerId, version) {
  let known = byDatabase.get(db);
  if (known === undefined) byDatabase.set(db, (known = new Map()));
  known.delete(peerId); // (re-inserted last: the most recent)
  known.set(peerId, version);
  if (known.size > MAX_KNOWN) known.delete(/** @type {string} */ (known.keys().next().value));
}

/**
 * Every known peer's acknowledged version.
 * @param {object} db
 * @returns {Uint8Array[]}
 */
export function ackedVersions(db) {
  return [...(byDatabase.get(db)?.values() ?? [])];
}

/**
 * Forgets the acknowledged versions `keep` rejects (ones that do not decode).
 * @param {object} db
 * @param {(version: Uint8Array) => boolean} keep
 */
export function keepAcked(db, keep) {
  const known = byDatabase.get(db);
  if (known === undefined) return;
  for (const [peer, version] of [...known]) if (!keep(version)) known.delete(peer);
}
