// In-page side of bench/p1-persistence.mjs (P1 durable writes, P2 cold open), run in headless
// Chromium against real IndexedDB. Four stores of the same rows (table/store "rows", row key
// out-of-line, two indexes: c0, and the compound [c1, c2]):
//   crdtdb  CRDTDB.open(name, { indexes }) with the default IndexedDB storage
//   raw     one IndexedDB object store with two native indexes, one readwrite transaction per
//           batch, resolved on `complete` (durability "relaxed", as crdtdb)
//   dexie   Dexie table ",c0,[c1+c2]" (outbound keys), put / bulkPut
//   yidb    a Y.Doc with y-indexeddb's IndexeddbPersistence; Y.Map "rows" holding one Y.Map per
//           row (as R1); no indexes (y-indexeddb has none)
// Every library is loaded lazily (its code is fetched only by pages that use it); the peers
// come from /bench-peers/, bundled by the script with esbuild.

const TABLE = "rows";
const CRDT_INDEXES = {
  byC0: { table: TABLE, keys: ["c0"] },
  byC1C2: { table: TABLE, keys: ["c1", "c2"] },
};
const DEXIE_SCHEMA = { [TABLE]: ",c0,[c1+c2]" };

/** @type {Record<string, Promise<any>>} */
const mods = {};
function loadLib(/** @type {string} */ lib) {
  const url = { crdtdb: "/js/index.js", dexie: "/bench-peers/dexie.js", yidb: "/bench-peers/yidb.js" }[lib];
  if (url === undefined) return Promise.resolve(null);
  return (mods[lib] ??= import(url));
}

// ---------- IndexedDB helpers ----------
function req(/** @type {IDBRequest} */ r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}
function txDone(/** @type {IDBTransaction} */ tx) {
  return new Promise((resolve, reject) => {
    tx.addEventListener("complete", () => resolve(undefined));
    tx.addEventListener("abort", () => reject(tx.error ?? new Error("transaction aborted")));
  });
}
function openIDB(/** @type {string} */ name) {
  return req(indexedDB.open(name));
}
function deleteIDB(/** @type {string} */ name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    let timer;
    r.onsuccess = () => {
      clearTimeout(timer);
      resolve(undefined);
    };
    r.onerror = () => reject(r.error);
    r.onblocked = () => {
      timer = setTimeout(() => reject(new Error(`deleting ${name}: blocked by an open connection`)), 10_000);
    };
  });
}
/** Key-order independent form of a row, for comparisons. */
const canon = (/** @type {any} */ o) =>
  o === undefined || o === null ? String(o) : JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
const chunks = (/** @type {any[]} */ xs, /** @type {number} */ n) => {
  const out = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
};

/**
 * The check of a store with the two native indexes (raw IndexedDB, Dexie): they hold the same
 * rows in the same layout, so one rule judges both — `n` records, `a` entries in byC0 and `b` in
 * byC1C2 (one per row each), and `sample`, the last row read back, equal to the one written.
 */
function nativeIndexCheck(rows, /** @type {number} */ n, /** @type {number} */ a, /** @type {number} */ b, sample) {
  const [, last] = rows[rows.length - 1];
  return {
    rows: n,
    indexEntries: a + b,
    ok: n === rows.length && a === rows.length && b === rows.length && canon(sample) === canon(last),
  };
}

/** What the last closed "memory" database held (crdtdbmem). */
let memSeen = { count: -1, last: "" };
const lastKey = (t) => t.keys(undefined, { reverse: true, limit: 1 })[0];

// ---------- the four stores ----------
// open(name) → handle; write(h, [[key, row]...], batch) (durable when it resolves);
// close(h) (resolves once the connection is released); verify(name, rows) → checks.

const ADAPTERS = {
  crdtdb: {
    async open(/** @type {string} */ name, storage) {
      const { CRDTDB } = await loadLib("crdtdb");
      return CRDTDB.open(name, storage ? { indexes: CRDT_INDEXES, storage } : { indexes: CRDT_INDEXES });
    },
    async write(db, rows, batch) {
      if (batch === 1) {
        const t = db.table(TABLE);
        for (const [k, row] of rows) await t.set(k, row);
        return;
      }
      for (const c of chunks(rows, batch)) {
        await db.transaction(async (tx) => {
          const t = tx.table(TABLE);
          await Promise.all(c.map(([k, row]) => t.set(k, row)));
        });
      }
    },
    async update(db, ops, batch) {
      if (batch === 1) {
        const t = db.table(TABLE);
        for (const op of ops) await t.update(op.key, { [op.col]: op.v });
        return;
      }
      for (const c of chunks(ops, batch)) {
        await db.transaction(async (tx) => {
          const t = tx.table(TABLE);
          await Promise.all(c.map((op) => t.update(op.key, { [op.col]: op.v })));
        });
      }
    },
    async close(db) {
      db.close();
    },
    async verify(name, rows) {
      // What reached IndexedDB, read with the raw API (the crdtdb instance is closed).
      const idb = await openIDB(name);
      const tx = idb.transaction(["crdt_rows", "materialized", "indexes"], "readonly");
      const [states, mat, ix, sample] = await Promise.all([
        req(tx.objectStore("crdt_rows").count()),
        req(tx.objectStore("materialized").count()),
        req(tx.objectStore("indexes").count()),
        req(tx.objectStore("materialized").get([TABLE, rows[rows.length - 1][0]])),
      ]);
      idb.close();
      return {
        rows: mat,
        states,
        indexEntries: ix,
        ok: mat === rows.length && states === rows.length && ix === 2 * rows.length &&
          canon(sample) === canon(rows[rows.length - 1][1]),
      };
    },
  },

  // Diagnostic: the same calls with storage "memory" (engine and API only, nothing durable).
  crdtdbmem: {
    async open(/** @type {string} */ name) {
      const { CRDTDB } = await loadLib("crdtdb");
      return CRDTDB.open(name, { indexes: CRDT_INDEXES, storage: "memory" });
    },
    write: (db, rows, batch) => ADAPTERS.crdtdb.write(db, rows, batch),
    async close(db) {
      const t = db.table(TABLE);
      memSeen = { count: t.count(), last: canon(t.get(lastKey(t))) };
      db.close();
    },
    async verify(name, rows) {
      const ok = memSeen.count === rows.length && memSeen.last === canon(rows[rows.length - 1][1]);
      return { rows: memSeen.count, ok };
    },
  },

  raw: {
    async open(/** @type {string} */ name) {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => {
        const s = r.result.createObjectStore(TABLE);
        s.createIndex("byC0", "c0");
        s.createIndex("byC1C2", ["c1", "c2"]);
      };
      return req(r);
    },
    async write(/** @type {IDBDatabase} */ db, rows, batch) {
      for (const c of chunks(rows, batch)) {
        const tx = db.transaction(TABLE, "readwrite", { durability: "relaxed" });
        const s = tx.objectStore(TABLE);
        for (const [k, row] of c) s.put(row, k);
        await txDone(tx);
      }
    },
    async close(/** @type {IDBDatabase} */ db) {
      db.close();
    },
    async verify(name, rows) {
      const db = await openIDB(name);
      const tx = db.transaction(TABLE, "readonly");
      const s = tx.objectStore(TABLE);
      const [n, a, b, sample] = await Promise.all([
        req(s.count()),
        req(s.index("byC0").count()),
        req(s.index("byC1C2").count()),
        req(s.get(rows[rows.length - 1][0])),
      ]);
      db.close();
      return nativeIndexCheck(rows, n, a, b, sample);
    },
  },

  dexie: {
    async open(/** @type {string} */ name) {
      const { Dexie } = await loadLib("dexie");
      const db = new Dexie(name, { chromeTransactionDurability: "relaxed" });
      db.version(1).stores(DEXIE_SCHEMA);
      await db.open();
      return db;
    },
    async write(db, rows, batch) {
      const t = db.table(TABLE);
      if (batch === 1) {
        for (const [k, row] of rows) await t.put(row, k);
        return;
      }
      for (const c of chunks(rows, batch)) {
        await t.bulkPut(c.map((e) => e[1]), c.map((e) => e[0]));
      }
    },
    async close(db) {
      db.close();
    },
    async verify(name, rows) {
      const db = await ADAPTERS.dexie.open(name);
      const t = db.table(TABLE);
      const [n, a, b, sample] = await Promise.all([
        t.count(),
        t.orderBy("c0").count(),
        t.orderBy("[c1+c2]").count(),
        t.get(rows[rows.length - 1][0]),
      ]);
      db.close();
      return nativeIndexCheck(rows, n, a, b, sample);
    },
  },

  yidb: {
    async open(/** @type {string} */ name) {
      const { Y, IndexeddbPersistence } = await loadLib("yidb");
      const doc = new Y.Doc();
      const p = new IndexeddbPersistence(name, doc);
      await p.whenSynced;
      // y-indexeddb stores each doc update from its `update` handler (_storeUpdate) in a
      // readwrite transaction of its own on this connection, and returns nothing to wait on.
      // Record the transactions it opens: a write is durable once its transaction completed.
      const conn = /** @type {IDBDatabase} */ (p.db);
      const h = { Y, doc, p, map: doc.getMap(TABLE), txs: /** @type {IDBTransaction[]} */ ([]) };
      const orig = conn.transaction;
      conn.transaction = function (...args) {
        const tx = orig.apply(this, args);
        h.txs.push(tx);
        return tx;
      };
      return h;
    },
    async write(h, rows, batch) {
      for (const c of chunks(rows, batch)) {
        h.txs.length = 0;
        h.doc.transact(() => {
          for (const [k, row] of c) h.map.set(k, new h.Y.Map(Object.entries(row)));
        });
        // _storeUpdate ran synchronously inside transact: exactly one transaction holds it.
        if (h.txs.length !== 1) throw new Error(`y-indexeddb opened ${h.txs.length} transactions for one update`);
        await txDone(h.txs[0]);
      }
    },
    async close(h) {
      await h.p.destroy();
    },
    async verify(name, rows) {
      const { Y, IndexeddbPersistence } = await loadLib("yidb");
      const doc = new Y.Doc();
      const p = new IndexeddbPersistence(name, doc);
      await p.whenSynced;
      const m = doc.getMap(TABLE);
      const n = m.size;
      const sample = m.get(rows[rows.length - 1][0])?.toJSON();
      const tx = /** @type {IDBDatabase} */ (p.db).transaction("updates", "readonly");
      const updates = await req(tx.objectStore("updates").count()); // records, this open's included
      await p.destroy();
      doc.destroy();
      return { rows: n, updates, ok: n === rows.length && canon(sample) === canon(rows[rows.length - 1][1]) };
    },
  },
};

// ---------- P1: durable writes ----------

/**
 * Writes `rows` in batches of `batch` into a fresh database `name` (opened before the clock
 * starts), then closes it, checks what IndexedDB holds, and deletes it.
 * @returns {Promise<{ ms: number, verify: any }>}
 */
async function p1Write({ lib, name, rows, batch, keep = false }) {
  const ad = ADAPTERS[lib];
  await deleteIDB(name);
  const h = await ad.open(name);
  const t0 = performance.now();
  await ad.write(h, rows, batch);
  const ms = performance.now() - t0;
  await ad.close(h);
  const verify = await ad.verify(name, rows);
  if (!keep) await deleteIDB(name);
  return { ms, verify };
}

/**
 * Diagnostic: the IndexedDB cost of crdtdb's writes alone. Records the StorageWrites crdtdb
 * hands its adapter while writing `rows` (untimed, into a scratch database), then replays them
 * one after another with `IndexedDBStorage.write` into a fresh database (timed): the same
 * IndexedDB transactions without the engine, the JS API or the write pipeline.
 */
async function p1Replay({ name, rows, batch }) {
  const { IndexedDBStorage } = await import("/js/storage/indexeddb.js");
  const scratch = `${name}-rec`;
  await deleteIDB(scratch);
  const inner = new IndexedDBStorage(scratch);
  const recorded = [];
  const adapter = {
    load: () => inner.load(),
    write: (w) => {
      recorded.push(w);
      return inner.write(w);
    },
    close: () => inner.close(),
  };
  const db = await ADAPTERS.crdtdb.open(scratch, adapter);
  recorded.length = 0; // the open's meta write: done below, untimed
  await ADAPTERS.crdtdb.write(db, rows, batch);
  db.close();
  await new Promise((r) => setTimeout(r, 50));
  await deleteIDB(scratch);
  await deleteIDB(name);
  const st = new IndexedDBStorage(name);
  await st.load(); // creates the five stores
  const t0 = performance.now();
  for (const w of recorded) await st.write(w);
  const ms = performance.now() - t0;
  st.close();
  const verify = await ADAPTERS.crdtdb.verify(name, rows);
  verify.writes = recorded.length;
  await deleteIDB(name);
  return { ms, verify };
}

/**
 * Sizes of what database `name` holds, read back with the raw API: per object store, key
 * (JSON length) + value (bytes for binary values, JSON length otherwise) of every record, and
 * per native index, index key + primary key (JSON length) of every entry.
 */
async function liveBytes(name) {
  const idb = await openIDB(name);
  const out = { records: 0, keyB: 0, valueB: 0, indexEntries: 0, indexB: 0 };
  const size = (v) => (v instanceof Uint8Array || v instanceof ArrayBuffer ? v.byteLength : JSON.stringify(v ?? null).length);
  for (const s of idb.objectStoreNames) {
    const tx = idb.transaction(s, "readonly");
    const store = tx.objectStore(s);
    const walk = (source, fn) =>
      new Promise((resolve, reject) => {
        const r = source.openCursor();
        r.onerror = () => reject(r.error);
        r.onsuccess = () => {
          const c = r.result;
          if (!c) return resolve(undefined);
          fn(c);
          c.continue();
        };
      });
    await walk(store, (c) => {
      out.records++;
      out.keyB += JSON.stringify(c.key).length;
      out.valueB += size(c.value);
    });
    for (const ix of store.indexNames) {
      await walk(store.index(ix), (c) => {
        out.indexEntries++;
        out.indexB += JSON.stringify(c.key).length + JSON.stringify(c.primaryKey).length;
      });
    }
  }
  idb.close();
  return out;
}

/** Bytes in what one storage write hands the adapter (see sumWrite). */
function zeroBytes() {
  return {
    writes: 0, rows: 0, stateB: 0, matB: 0, indexPuts: 0, indexDeletes: 0, indexB: 0,
    eventPuts: 0, eventDeletes: 0, eventB: 0, metaB: 0,
  };
}
/**
 * Adds one StorageWrite (js/storage/adapter.js) to `acc`: row states and event values are
 * exact byte lengths; materialized rows, index keys and meta are JSON lengths (an
 * approximation of their structured-clone size).
 */
function sumWrite(acc, w) {
  acc.writes++;
  for (const r of w.rows) {
    acc.rows++;
    if (r.state) acc.stateB += r.state.byteLength;
    if (r.row) acc.matB += JSON.stringify(r.row).length;
  }
  for (const k of w.indexPuts) {
    acc.indexPuts++;
    acc.indexB += JSON.stringify(k).length;
  }
  for (const k of w.indexDeletes) {
    acc.indexDeletes++;
    acc.indexB += JSON.stringify(k).length;
  }
  for (const [k, v] of w.eventPuts) {
    acc.eventPuts++;
    acc.eventB += v.byteLength + JSON.stringify(k).length;
  }
  acc.eventDeletes += w.eventDeletes.length;
  for (const [k, v] of w.meta) acc.metaB += k.length + JSON.stringify(v).length;
}

/**
 * crdtdb only: what the storage adapter is handed while `rows` are inserted, then while
 * `updates` (single-column updates) are applied, in batches of `batch`. The adapter is
 * `new IndexedDBStorage(name)` wrapped to sum the sizes (the same writes reach IndexedDB).
 */
async function p1Bytes({ name, rows, updates, batch }) {
  const { IndexedDBStorage } = await import("/js/storage/indexeddb.js");
  await deleteIDB(name);
  const inner = new IndexedDBStorage(name);
  let acc = zeroBytes();
  const adapter = {
    load: () => inner.load(),
    write: (w) => {
      sumWrite(acc, w);
      return inner.write(w);
    },
    close: () => inner.close(),
  };
  const db = await ADAPTERS.crdtdb.open(name, adapter);
  acc = zeroBytes(); // the open's own meta write is not counted
  await ADAPTERS.crdtdb.write(db, rows, batch);
  const insert = acc;
  acc = zeroBytes();
  await ADAPTERS.crdtdb.update(db, updates, batch);
  const update = acc;
  db.close();
  await new Promise((r) => setTimeout(r, 50));
  await deleteIDB(name);
  return { insert, update };
}

/**
 * Stored size: navigator.storage.estimate() before and after writing `rows` (batch 100) into
 * a fresh database of this origin, connections closed. The caller runs it in a fresh browser
 * profile per library.
 */
async function p1Stored({ lib, name, rows, batch }) {
  const ad = ADAPTERS[lib];
  const est = async () => {
    const e = await navigator.storage.estimate();
    return { usage: e.usage, indexedDB: e.usageDetails?.indexedDB ?? null };
  };
  const before = await est();
  const h = await ad.open(name);
  await ad.write(h, rows, batch);
  await ad.close(h);
  const verify = await ad.verify(name, rows);
  await new Promise((r) => setTimeout(r, 500));
  const after = await est();
  const live = await liveBytes(name);
  return { before, after, verify, live };
}

// ---------- P2: cold open ----------

/**
 * Builds a P2 database (untimed): `rows` in transactions of `chunk` rows; with `alt`, every
 * row is first written with the values of `alt` (same keys), then with its final values, so
 * the history holds two full writes of every row.
 */
async function p2Build({ lib, name, rows, alt, chunk }) {
  const ad = ADAPTERS[lib];
  await deleteIDB(name);
  const t0 = performance.now();
  const h = await ad.open(name);
  if (alt) await ad.write(h, alt, chunk);
  await ad.write(h, rows, chunk);
  await ad.close(h);
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 100));
  // Stored sizes (crdtdb: history and row states) for the record.
  const idb = await openIDB(name);
  const sizes = {};
  for (const s of idb.objectStoreNames) {
    const tx = idb.transaction(s, "readonly");
    const vals = await req(tx.objectStore(s).getAll());
    let b = 0;
    for (const v of vals) b += v instanceof Uint8Array || v instanceof ArrayBuffer ? v.byteLength : JSON.stringify(v ?? null).length;
    sizes[s] = { records: vals.length, bytes: b };
  }
  idb.close();
  return { ms, sizes };
}

/**
 * Cold open (runs by itself when the page is loaded with ?open=…): imports the library, then
 * (clock t0) opens the database, reads row `key` (tGet), then the first row of the compound
 * index entry `pair` (tIdx; y-indexeddb has no index). Times are performance.now(): ms since
 * navigation start.
 */
async function p2Open(/** @type {URLSearchParams} */ q) {
  const tScript = performance.now();
  const lib = q.get("open");
  const name = q.get("name");
  const key = q.get("key");
  const pair = JSON.parse(q.get("pair") ?? "null");
  const m = await loadLib(lib === "crdtdbload" ? "crdtdb" : lib);
  // crdtdb compiles its engine on the first open: do it before t0 (it is in tNav).
  if (lib === "crdtdb") await m.CRDTDB.init();
  const t0 = performance.now();
  let row;
  let idxRow;
  let tGet;
  let tIdx = null;
  let close;
  if (lib === "crdtdb") {
    const db = await m.CRDTDB.open(name, { indexes: CRDT_INDEXES });
    row = db.table(TABLE).get(key);
    tGet = performance.now();
    idxRow = db.index("byC1C2").get(pair);
    tIdx = performance.now();
    close = () => db.close();
  } else if (lib === "crdtdbload") {
    // Diagnostic: only the IndexedDB reads of crdtdb's open (its storage adapter's load()).
    const { IndexedDBStorage } = await import("/js/storage/indexeddb.js");
    const { allRows } = await import("/js/storage/adapter.js");
    const st = new IndexedDBStorage(name);
    const state = await st.load();
    const rows = await allRows(state.rows);
    tGet = performance.now();
    row = { loadedRows: rows.length, historyRecords: state.events.length };
    close = () => st.close();
  } else if (lib === "dexie") {
    const db = new m.Dexie(name, { chromeTransactionDurability: "relaxed" });
    db.version(1).stores(DEXIE_SCHEMA);
    row = await db.table(TABLE).get(key);
    tGet = performance.now();
    idxRow = await db.table(TABLE).where("[c1+c2]").equals(pair).first();
    tIdx = performance.now();
    close = () => db.close();
  } else if (lib === "yidb") {
    const doc = new m.Y.Doc();
    const p = new m.IndexeddbPersistence(name, doc);
    await p.whenSynced;
    row = doc.getMap(TABLE).get(key)?.toJSON();
    tGet = performance.now();
    close = async () => {
      await p.destroy();
      doc.destroy();
    };
  } else {
    throw new Error(`unknown library ${lib}`);
  }
  await close();
  return {
    tScript,
    t0,
    tGet,
    tIdx,
    openGetMs: tGet - t0,
    openIdxMs: tIdx === null ? null : tIdx - t0,
    navGetMs: tGet,
    row: canon(row),
    idxRow: idxRow === undefined ? null : canon(idxRow),
  };
}

const q = new URLSearchParams(location.search);
if (q.has("open")) {
  p2Open(q).then(
    (r) => (window.p2result = r),
    (err) => (window.p2result = { error: String(err?.stack ?? err) }),
  );
}

Object.assign(window, { p1Write, p1Replay, p1Bytes, p1Stored, p2Build, deleteIDB, canon, pageReady: true });
