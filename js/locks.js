// Exclusive locks on a database name: Web Locks where the platform has them (shared by every
// tab and worker of an origin, released by the browser when the holder dies), else a registry
// of this JS realm (Node: every instance of a process lives in one realm or its workers hold
// their own databases).

/** @type {Map<string, { held: boolean, queue: Array<() => void> }>} this realm's locks */
const local = new Map();

/** @returns {any} the Web Locks manager, if there is one */
const webLocks = () => /** @type {any} */ (globalThis).navigator?.locks;

/**
 * @param {string} key
 * @returns {() => void} releases a lock of this realm's registry, granting the next waiter
 */
function localRelease(key) {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const entry = /** @type {{ held: boolean, queue: Array<() => void> }} */ (local.get(key));
    const next = entry.queue.shift();
    if (next) next();
    else local.delete(key);
  };
}

/**
 * Takes `key` if nobody holds it.
 * @param {string} key
 * @returns {Promise<(() => void) | null>} its release, or null when it is held
 */
export async function tryLock(key) {
  const locks = webLocks();
  if (!locks) {
    if (local.has(key)) return null;
    local.set(key, { held: true, queue: [] });
    return localRelease(key);
  }
  return new Promise((resolve, reject) => {
    locks
      .request(key, { ifAvailable: true }, (/** @type {unknown} */ lock) => {
        if (!lock) return resolve(null);
        return new Promise((done) => resolve(() => done(undefined)));
      })
      .catch(reject);
  });
}

/**
 * Waits in line for `key`.
 * @param {string} key
 * @param {AbortSignal} signal stops waiting (the promise then rejects with its reason)
 * @returns {Promise<() => void>} its release, once granted
 */
export function waitLock(key, signal) {
  const locks = webLocks();
  if (!locks) {
    return new Promise((resolve, reject) => {
      const entry = local.get(key);
      if (!entry) {
        local.set(key, { held: true, queue: [] });
        resolve(localRelease(key));
        return;
      }
      const grant = () => {
        signal.removeEventListener("abort", abort);
        resolve(localRelease(key));
      };
      const abort = () => {
        entry.queue.splice(entry.queue.indexOf(grant), 1);
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      entry.queue.push(grant);
      signal.addEventListener("abort", abort, { once: true });
    });
  }
  return new Promise((resolve, reject) => {
    locks
      .request(key, { signal }, () => new Promise((done) => resolve(() => done(undefined))))
      .catch(reject);
  });
}

/**
 * Takes `key` right after this realm released it: the release of a Web Lock lands a moment
 * later, so wait for it briefly unless others wait in line (one of them gets it first).
 * @param {string} key
 * @returns {Promise<(() => void) | null>} its release, or null when another holds it
 */
export async function lockAfterRelease(key) {
  const locks = webLocks();
  if (!locks) return tryLock(key);
  const { pending = [] } = await locks.query();
  if (pending.some((/** @type {{ name: string }} */ p) => p.name === key)) return tryLock(key);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new DOMException("timed out", "TimeoutError")), 5000);
  try {
    return await waitLock(key, stop.signal);
  } catch (err) {
    if (/** @type {any} */ (err)?.name === "TimeoutError") return null;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
