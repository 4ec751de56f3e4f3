// The storage adapter contract (js/storage/adapter.js), run against both implementations:
// MemoryStorage and IndexedDBStorage (over fake-indexeddb here; real Chromium in tests/e2e).

import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CRDTDBError } from "../../js/errors.js";
import { allRows, emptyWrite } from "../../js/storage/adapter.js";
import { IndexedDBStorage } from "../../js/storage/indexeddb.js";
import { MemoryStorage } from "../../js/storage/memory.js";

let n = 0;
const adapters = {
  MemoryStorage: () => new MemoryStorage(),
  IndexedDBStorage: () => new IndexedDBStorage(`contract-${++n}`),
};

/** @param {Partial<ReturnType<typeof emptyWrite>>} parts */
function write(parts) {
  return { ...emptyWrite(), ...parts };
}

const bytes = (/** @type {number[]} */ ...b) => new Uint8Array(b);

for (const [name, make] of Object.entries(adapters)) {
  describe(`storage contract: ${name}`, () => {
    test("a new database loads empty", async () => {
      const s = make();
      const st = await s.load();
      assert.equal(st.meta.size, 0);
      assert.deepEqual(st.events, []);
      assert.deepEqual(await allRows(st.rows), []);
      s.close();
    });

    test("every row loads back, however many (IndexedDB hands them over in batches)", async () => {
      const s = make();
      const rows = Array.from({ length: 25_123 }, (_, i) => ({
        table: "t",
        key: `k${String(i).padStart(6, "0")}`,
        state: bytes(i & 255, i >> 8),
        row: null,
      }));
      await s.write(write({ rows }));
      const st = await s.load();
      const loaded = await allRows(st.rows);
      assert.equal(loaded.length, rows.length);
      // In key order, each exactly once.
      assert.ok(loaded.every((b, i) => b[0] === (i & 255) && b[1] === i >> 8));
      s.close();
    });

    test("what is written loads back; events in key order", async () => {
      const s = make();
      await s.write(
        write({
          rows: [
            { table: "users", key: "u1", state: bytes(1, 2), row: { name: "Ann" } },
            { table: "users", key: "u2", state: bytes(3), row: null },
          ],
          indexPuts: [["users", "byName", "Ann", "u1"]],
          eventPuts: [
            [[512, 600], bytes(9)],
            [[0, 0], bytes(7)],
            [[512, 512], bytes(8)],
          ],
          meta: [
            ["format", 1],
            ["peers", ["p1"]],
          ],
        }),
      );
      const st = await s.load();
      assert.deepEqual(st.events.map((e) => [...e]), [[7], [8], [9]]);
      assert.deepEqual((await allRows(st.rows)).map((e) => [...e]).sort(), [[1, 2], [3]]);
      assert.deepEqual([...st.meta].sort(), [
        ["format", 1],
        ["peers", ["p1"]],
      ]);
      assert.deepEqual(await s.entries("materialized"), [[["users", "u1"], { name: "Ann" }]]);
      assert.deepEqual(await s.entries("indexes"), [[["users", "byName", "Ann", "u1"], null]]);
      s.close();
    });

    test("deletes remove exactly what they name", async () => {
      const s = make();
      await s.write(
        write({
          rows: [
            { table: "t", key: "a", state: bytes(1), row: { x: 1 } },
            { table: "t", key: "b", state: bytes(2), row: { x: 2 } },
          ],
          indexPuts: [
            ["t", "byX", 1, "a"],
            ["t", "byX", 2, "b"],
            ["t", "byXY", 1, [1, "z"], "a"],
            ["t", "byX2", [5], "a"],
            ["t", "byX", [1, 2], "c"],
          ],
          eventPuts: [
            [[0, 0], bytes(1)],
            [[0, 5], bytes(2)],
            [[0, 9], bytes(3)],
            [[0, 12], bytes(4)],
            [[64, 64], bytes(5)],
          ],
        }),
      );
      await s.write(
        write({
          rows: [
            { table: "t", key: "a", state: null, row: null },
            { table: "t", key: "b", state: bytes(3), row: null },
          ],
          indexDeletes: [["t", "byX", 1, "a"]],
          dropIndexes: [["t", "byXY"]],
          // one key, and a range (every key from [0, 9] to [0, 12], not beyond)
          eventDeletes: [
            [0, 5, 5],
            [0, 9, 12],
          ],
        }),
      );
      const st = await s.load();
      assert.deepEqual((await allRows(st.rows)).map((r) => [...r]), [[3]]);
      assert.deepEqual(st.events.map((r) => [...r]), [[1], [5]]);
      assert.deepEqual(await s.entries("materialized"), []);
      // A dropped index loses every entry (array values too); others keep theirs.
      assert.deepEqual(
        (await s.entries("indexes")).map(([k]) => k),
        [
          ["t", "byX", 2, "b"],
          ["t", "byX", [1, 2], "c"],
          ["t", "byX2", [5], "a"],
        ],
      );
      s.close();
    });

    test("a write that fails changes nothing", async () => {
      const s = make();
      await s.write(write({ rows: [{ table: "t", key: "a", state: bytes(1), row: { v: 1 } }] }));
      await assert.rejects(
        s.write(
          write({
            rows: [{ table: "t", key: "a", state: bytes(2), row: { v: 2 } }],
            indexPuts: [["t", "ix", Number.NaN, "a"]],
          }),
        ),
        CRDTDBError,
      );
      const st = await s.load();
      assert.deepEqual((await allRows(st.rows)).map((r) => [...r]), [[1]]);
      assert.deepEqual(await s.entries("materialized"), [[["t", "a"], { v: 1 }]]);
      assert.deepEqual(await s.entries("indexes"), []);
      s.close();
    });

    test("stored values are copies of what was written", async () => {
      const s = make();
      const state = bytes(1, 2, 3);
      const row = { a: [1] };
      await s.write(write({ rows: [{ table: "t", key: "k", state, row }] }));
      state[0] = 99;
      row.a.push(2);
      assert.deepEqual([...(await allRows((await s.load()).rows))[0]], [1, 2, 3]);
      assert.deepEqual(await s.entries("materialized"), [[["t", "k"], { a: [1] }]]);
      s.close();
    });
  });
}

test("IndexedDBStorage: exactly the five stores, and delete removes the database", async () => {
  const s = new IndexedDBStorage("layout");
  await s.write(write({ meta: [["format", 1]] }));
  s.close();
  const names = await new Promise((resolve, reject) => {
    const req = indexedDB.open("layout");
    req.onsuccess = () => {
      const list = [...req.result.objectStoreNames].sort();
      req.result.close();
      resolve(list);
    };
    req.onerror = () => reject(req.error);
  });
  assert.deepEqual(names, ["crdt_rows", "events", "indexes", "materialized", "meta"]);
  await IndexedDBStorage.delete("layout");
  const dbs = await indexedDB.databases();
  assert.ok(!dbs.some((d) => d.name === "layout"));
});

test("IndexedDBStorage: a connection closed under it is replaced, not reused", async () => {
  const s = new IndexedDBStorage("reconnect");
  await s.write(write({ meta: [["a", 1]] }));
  // Another connection upgrades the database: ours gets versionchange and closes.
  await new Promise((resolve, reject) => {
    const req = indexedDB.open("reconnect", 2);
    req.onsuccess = () => {
      req.result.close();
      resolve(undefined);
    };
    req.onerror = () => reject(req.error);
  });
  // The adapter's next call opens a new connection (version 1 < 2 now: a clear error).
  await assert.rejects(s.write(write({ meta: [["b", 2]] })), CRDTDBError);
  s.close();
});

test("IndexedDBStorage: a request that fails aborts the whole write", async () => {
  // A factory whose connections turn one put into an add of a key that exists: that request
  // fails with ConstraintError (as a quota failure of one put would), and nothing may commit.
  const wrapDb = (/** @type {IDBDatabase} */ db) =>
    new Proxy(db, {
      get(target, prop) {
        if (prop !== "transaction") {
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        }
        return (/** @type {any[]} */ ...args) => {
          const tx = target.transaction(...args);
          const objectStore = tx.objectStore.bind(tx);
          tx.objectStore = (/** @type {string} */ name) => {
            const store = objectStore(name);
            if (name !== "meta") return store;
            const put = store.put.bind(store);
            store.put = (/** @type {any} */ v, /** @type {any} */ k) => (k === "dup" ? store.add(v, k) : put(v, k));
            return store;
          };
          return tx;
        };
      },
    });
  const factory = /** @type {IDBFactory} */ ({
    open: (/** @type {string} */ name, /** @type {number} */ v) => {
      const req = indexedDB.open(name, v);
      return new Proxy(req, {
        get(target, prop) {
          if (prop === "result") return wrapDb(target.result);
          return Reflect.get(target, prop, target);
        },
        set(target, prop, value) {
          return Reflect.set(target, prop, value, target);
        },
      });
    },
    deleteDatabase: (/** @type {string} */ name) => indexedDB.deleteDatabase(name),
  });
  const s = new IndexedDBStorage("failing-request", factory);
  await s.write(write({ meta: [["dup", 1]] })); // an add of a new key succeeds
  await assert.rejects(
    s.write(write({ rows: [{ table: "t", key: "a", state: bytes(1), row: { v: 1 } }], meta: [["dup", 2]] })),
    CRDTDBError,
  );
  const st = await s.load();
  assert.deepEqual(await allRows(st.rows), [], "the row written beside the failed request was not committed");
  assert.equal(st.meta.get("dup"), 1);
  s.close();
});
