// What every fixture app does with the installed package, in a page, a worker or Node: open
// a database with an index, write rows, read them back with their keys, sync a second replica,
// and keep a database across close and reopen (IndexedDB where it exists, else MemoryStorage).

/**
 * @param {typeof import("crdtdb")} crdtdb
 * @param {string} name
 */
export async function exercise({ CRDTDB, above, MemoryStorage }, name) {
  const db = await CRDTDB.open(name, { storage: "memory", indexes: { byAge: { table: "users", keys: ["age"] } } });
  const users = db.table("users");
  await users.set("ada", { name: "Ada", age: 36 });
  await users.set("bob", { name: "Bob", age: 17 });
  await db.transaction(async (tx) => {
    await tx.table("users").set("cy", { name: "Cy", age: 52 });
  });
  const adults = db.index("byAge").entries(above(18)).map(([key, row]) => [key, row.name]);
  const keys = users.keys();
  const keyOf = db.keyOf(users.query()[1]);
  const other = await CRDTDB.open(`${name}-peer`, { storage: "memory" });
  other.applyChanges(db.changesSince(other.version()));
  const synced = other.table("users").get("cy")?.name ?? null;
  db.close();
  other.close();
  // The default storage is IndexedDB wherever it exists (pages, workers).
  const opts = typeof indexedDB === "undefined" ? { storage: new MemoryStorage() } : {};
  const first = await CRDTDB.open(`${name}-kept`, opts);
  await first.table("users").set("ada", { name: "Ada" });
  first.close();
  const again = await CRDTDB.open(`${name}-kept`, opts);
  const kept = again.table("users").get("ada")?.name ?? null;
  again.close();
  await CRDTDB.deleteDatabase(`${name}-kept`);
  return { adults, keys, keyOf, synced, kept };
}

/** What exercise() returns when the package works. */
export const EXPECTED = {
  adults: [
    ["ada", "Ada"],
    ["cy", "Cy"],
  ],
  keys: ["ada", "bob", "cy"],
  keyOf: "bob",
  synced: "Cy",
  kept: "Ada",
};

/**
 * Runs exercise() and publishes the outcome as `globalThis.__result` (pages) or returns it.
 * @param {typeof import("crdtdb")} crdtdb
 * @param {string} name
 */
export async function report(crdtdb, name) {
  try {
    return { ok: true, ...(await exercise(crdtdb, name)) };
  } catch (err) {
    return { ok: false, error: `${err?.name}: ${err?.message}` };
  }
}
