// A Node program that a bundler turns into one file (esbuild --platform=node): named imports
// only, so a bundler that dropped the node entry's file read would break it.
import assert from "node:assert/strict";
import { CRDTDB, above } from "crdtdb";

const db = await CRDTDB.open("node-bundle", { storage: "memory", indexes: { byAge: { table: "users", keys: ["age"] } } });
await db.table("users").set("ada", { name: "Ada", age: 36 });
assert.deepEqual(db.index("byAge").keys(above(18)), ["ada"]);
db.close();
console.log("node bundle: OK");
