// Node, CommonJS: require("crdtdb") loads the ES module (require(esm), Node >= 20.19).
const assert = require("node:assert/strict");
const { CRDTDB, above, CRDTDBError } = require("crdtdb");

(async () => {
  const db = await CRDTDB.open("node-cjs", { storage: "memory", indexes: { byAge: { table: "users", keys: ["age"] } } });
  await db.table("users").set("ada", { name: "Ada", age: 36 });
  await db.table("users").set("bob", { name: "Bob", age: 17 });
  assert.deepEqual(db.index("byAge").keys(above(18)), ["ada"]);
  assert.equal(db.keyOf(db.table("users").get("bob")), "bob");
  assert.ok(typeof require.resolve("crdtdb/crdtdb.wasm") === "string");
  assert.ok(new CRDTDBError("x") instanceof Error);
  db.close();
  console.log("node CommonJS: OK");
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
