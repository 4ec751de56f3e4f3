// Helpers the persistence tests call in the page (tests/e2e/persistence.test.js).
import { above, CRDTDB } from "/js/index.js";

export const INDEXES = {
  byG: { table: "t", keys: ["g"] },
  byPair: { table: "t", keys: ["g", "n"] },
};

/**
 * Everything observable of a database, as plain data.
 * @param {CRDTDB} db
 */
export function observe(db) {
  return {
    rows: db.table("t").entries(),
    byG: db.index("byG").keys(),
    byPair: db.index("byPair").keys(),
    countAbove: db.index("byG").count(above(3)),
    version: [...db.version()],
    history: [...db.changesSince()],
  };
}

/**
 * Writes forever: iteration i sets rows a{i%40} and b{i%40} to { n: i, g: i % 7 } in one
 * transaction plus "last" beside it in the same task; logs "ack i" once all are durable.
 * @param {number} from
 */
export async function writeForever(from) {
  const db = await CRDTDB.open("crash", { indexes: INDEXES });
  console.log(`opened ${db.peerId}`);
  for (let i = from; ; i++) {
    const row = { n: i, g: i % 7, pad: "x".repeat(i % 200) };
    await Promise.all([
      db.transaction(async (tx) => {
        await tx.table("t").set(`a${i % 40}`, row);
        await tx.table("t").set(`b${i % 40}`, row);
      }),
      db.table("t").set("last", { n: i, g: -1 }),
    ]);
    console.log(`ack ${i}`);
  }
}

/** @returns {Promise<Record<string, Array<[unknown, unknown]>>>} the raw stores */
export function rawStores() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("crash");
    let missing = false;
    // Not there at all: say so (opening it here would create an empty one, with no stores).
    req.onupgradeneeded = () => {
      missing = true;
      /** @type {IDBTransaction} */ (req.transaction).abort();
    };
    req.onerror = () =>
      reject(missing ? new Error('IndexedDB has no database "crash" for this origin after the restart') : req.error);
    req.onsuccess = () => {
      const db = req.result;
      const names = [...db.objectStoreNames];
      const tx = db.transaction(names, "readonly");
      /** @type {Record<string, Array<[unknown, unknown]>>} */
      const out = {};
      for (const name of names) {
        const keys = tx.objectStore(name).getAllKeys();
        const values = tx.objectStore(name).getAll();
        values.onsuccess = () => {
          out[name] = keys.result.map((k, i) => [k, name === "crdt_rows" || name === "events" ? null : values.result[i]]);
        };
      }
      tx.oncomplete = () => {
        db.close();
        resolve(out);
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

/** Opens the crashed database and returns what it shows, and its raw stores. */
export async function inspect() {
  const raw = await rawStores();
  const db = await CRDTDB.open("crash", { indexes: INDEXES });
  const rows = db.table("t").entries();
  const view = { byG: db.index("byG").keys(), byPair: db.index("byPair").keys() };
  db.close();
  return { raw, rows, view };
}


/**
 * One tab of several writing the database "tabs": iteration i sets row `${tab}${i % 20}` to
 * { n: i, g: i % 7 }; logs "ack <tab> <i>" once durable. The first tab to open owns the
 * storage; the others hand their writes to it, and one takes over when it goes.
 * @param {string} tab
 */
export async function writeTab(tab) {
  const db = await CRDTDB.open("tabs", { indexes: INDEXES });
  console.log(`opened ${tab} ${db.peerId}`);
  for (let i = 0; ; i++) {
    await db.table("t").set(`${tab}${i % 20}`, { n: i, g: i % 7 });
    console.log(`ack ${tab} ${i}`);
  }
}

/** @returns {Promise<{ rows: Array<[string, any]>, raw: Record<string, Array<[unknown, unknown]>> }>} */
export async function inspectTabs() {
  const db = await CRDTDB.open("tabs", { indexes: INDEXES });
  const rows = db.table("t").entries();
  db.close();
  const raw = await new Promise((resolve, reject) => {
    const req = indexedDB.open("tabs");
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const idb = req.result;
      const tx = idb.transaction(["materialized", "indexes"], "readonly");
      /** @type {Record<string, Array<[unknown, unknown]>>} */
      const out = {};
      for (const name of ["materialized", "indexes"]) {
        const keys = tx.objectStore(name).getAllKeys();
        const values = tx.objectStore(name).getAll();
        values.onsuccess = () => {
          out[name] = keys.result.map((k, i) => [k, values.result[i]]);
        };
      }
      tx.oncomplete = () => {
        idb.close();
        resolve(out);
      };
      tx.onerror = () => reject(tx.error);
    };
  });
  return { rows, raw };
}

Object.assign(window, { CRDTDB, INDEXES, observe, writeForever, inspect, rawStores, writeTab, inspectTabs, pageReady: true });
