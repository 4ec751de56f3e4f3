// The task board's service worker: the app loads without a network after one visit.
//
// Install caches the app shell (SHELL below: the page, its modules, every module of the
// package entry js/index.js imports, and the engine) in one versioned cache; the worker
// activates only if every file arrived. Requests for those files are answered from the cache
// first (a navigation with a query string, e.g. /?server=…, gets the cached page).
//
// So that a changed demo or package does not stay hidden behind the cache, each navigation
// also refreshes the whole shell in the background while online: into a new cache that
// replaces the current one only once every file arrived, so one load never mixes versions.
// The load after a change shows it. Bump VERSION when this file's logic changes.
//
// SHELL must name every file the page loads: tests/e2e/demo.test.js checks that everything
// a visit loaded is in the cache, and that the app loads with the network off.

const VERSION = "v1";
const PREFIX = `crdtdb-taskboard-${VERSION}-`;
const OLD_PREFIX = "crdtdb-taskboard-";
/** Marks a cache whose every SHELL file arrived. */
const COMPLETE = "./.shell-complete";

const SHELL = [
  // the demo
  "./",
  "./index.html",
  "./style.css",
  "./app.js",
  "./board.js",
  "./dom.js",
  "./inspector.js",
  "./presence.js",
  "./sync_panel.js",
  // the engine
  "../dist/crdtdb.mjs",
  "../dist/crdtdb.wasm",
  // js/index.js and every module it imports
  "../js/index.js",
  "../js/codec.js",
  "../js/database.js",
  "../js/engine.js",
  "../js/errors.js",
  "../js/forwarder.js",
  "../js/index_view.js",
  "../js/live_query.js",
  "../js/loader.js",
  "../js/locks.js",
  "../js/persistence.js",
  "../js/presence.js",
  "../js/range.js",
  "../js/record.js",
  "../js/replica.js",
  "../js/storage/adapter.js",
  "../js/storage/indexeddb.js",
  "../js/storage/memory.js",
  "../js/storage_host.js",
  "../js/string_splice.js",
  "../js/sync/acked.js",
  "../js/sync/backoff.js",
  "../js/sync/broadcast.js",
  "../js/sync/delta.js",
  "../js/sync/frames.js",
  "../js/sync/provider.js",
  "../js/sync/relay_frames.js",
  "../js/sync/room_key.js",
  "../js/sync/sealed_relay.js",
  "../js/sync/session.js",
  "../js/sync/signaling_client.js",
  "../js/sync/webrtc.js",
  "../js/sync/websocket.js",
  "../js/table.js",
  "../js/text.js",
  "../js/transaction.js",
  "../js/validate.js",
].map((path) => new URL(path, self.location.href).href);
// (From /sw.js, "../js/" is /js/; served from /web-demo/sw.js it is /js/ as well.)

/** @type {string | null} the cache answering requests (found again after a restart) */
let current = null;
/** @type {Promise<void> | null} */
let refreshing = null;

/** Fills a new cache with the whole shell; it becomes current only if every file arrived. */
async function fillCache() {
  const name = `${PREFIX}${Date.now()}`;
  const cache = await caches.open(name);
  try {
    // "reload": never an HTTP-cached copy.
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
    await cache.put(new URL(COMPLETE, self.location.href).href, new Response("ok"));
  } catch (err) {
    await caches.delete(name);
    throw err;
  }
  current = name;
}

/** The newest complete cache of this version. @returns {Promise<string | null>} */
async function currentCache() {
  if (current !== null) return current;
  const names = (await caches.keys()).filter((n) => n.startsWith(PREFIX)).sort().reverse();
  for (const name of names) {
    const cache = await caches.open(name);
    if (await cache.match(new URL(COMPLETE, self.location.href).href)) return (current = name);
  }
  return null;
}

/** Deletes every cache of this app but the current one (old versions, replaced shells). */
async function deleteOthers() {
  const keep = await currentCache();
  for (const name of await caches.keys()) {
    if (name.startsWith(OLD_PREFIX) && name !== keep) await caches.delete(name);
  }
}

/** @returns {Promise<void>} settles when the refresh ended, whatever its outcome */
function refreshInBackground() {
  if (refreshing !== null) return refreshing;
  refreshing = deleteOthers()
    .then(fillCache)
    .catch(() => {
      // offline, or the server is gone: the current shell stays
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

self.addEventListener("install", (event) => {
  event.waitUntil(fillCache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  // Takes the open pages at once, so the page that installed it already works offline.
  event.waitUntil(deleteOthers().then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  const navigate = request.mode === "navigate";
  event.respondWith(
    (async () => {
      const name = await currentCache();
      const cached = name === null ? undefined : await (await caches.open(name)).match(request, { ignoreSearch: navigate });
      if (cached === undefined) return fetch(request);
      if (navigate) event.waitUntil(refreshInBackground());
      return cached;
    })(),
  );
});
