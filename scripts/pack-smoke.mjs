// Packaging smoke test: `npm pack` the repo into a temp dir, check what the tarball holds,
// install it into an empty project with `npm install --offline <tgz>` (the package has no
// runtime dependencies, so no network is needed), then run an ES module there that imports
// "crdtdb" like an app would, syncs two memory databases and asserts the result.
//
//   node scripts/pack-smoke.mjs        (needs dist/ built: node scripts/build.mjs --wasm-only)

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run } from "./lib.mjs";

const REQUIRED = ["package.json", "README.md", "js/index.js", "js/index.d.ts", "dist/crdtdb.mjs", "dist/crdtdb.wasm"];

const APP = `
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CRDTDB, CRDTDBError, DecodeError } from "crdtdb";

const entry = import.meta.resolve("crdtdb");
const installed = new URL("./node_modules/crdtdb/", import.meta.url).href;
assert.equal(entry, installed + "js/index.js", "crdtdb resolves to the installed tarball");
const pkg = JSON.parse(readFileSync(new URL("package.json", installed), "utf8"));
assert.deepEqual(pkg.dependencies ?? {}, {}, "the package has no runtime dependencies");

const a = await CRDTDB.open("smoke", { storage: "memory", peerId: "smoke-a" });
const b = await CRDTDB.open("smoke", { storage: "memory", peerId: "smoke-b" });
await a.table("todos").set("t1", { title: "pack", done: false });
await b.table("todos").set("t2", { title: "install", done: true });

b.applyChanges(a.changesSince(b.version()));
a.applyChanges(b.changesSince(a.version()));
for (const db of [a, b]) {
  assert.deepEqual(db.table("todos").get("t1"), { title: "pack", done: false });
  assert.deepEqual(db.table("todos").get("t2"), { title: "install", done: true });
}
assert.deepEqual(a.version(), b.version(), "same changes seen => identical versions");
assert.throws(() => a.applyChanges(new Uint8Array([255, 1, 2])), DecodeError);
assert.ok(new DecodeError("x") instanceof CRDTDBError);
a.close();
b.close();
console.log("package smoke test: OK (installed crdtdb " + pkg.version + ", two replicas converged)");
`;

const work = mkdtempSync(join(tmpdir(), "crdtdb-pack-"));
try {
  const packDir = join(work, "pack");
  const appDir = join(work, "app");
  mkdirSync(packDir);
  mkdirSync(appDir);

  console.log(`$ npm pack --json --pack-destination ${packDir}`);
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", packDir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [info] = JSON.parse(out);
  const files = info.files.map((/** @type {{ path: string }} */ f) => f.path).sort();
  console.log(`tarball ${info.filename}: ${info.size} bytes packed, ${files.length} files`);
  for (const f of files) console.log(`  ${f}`);
  const missing = REQUIRED.filter((f) => !files.includes(f));
  if (missing.length > 0) throw new Error(`tarball lacks ${missing.join(", ")}`);
  const stray = files.filter(
    (f) => !(f.startsWith("js/") || REQUIRED.includes(f) || /^(LICENSE|README)/i.test(f)),
  );
  if (stray.length > 0) throw new Error(`tarball holds files it should not: ${stray.join(", ")}`);

  writeFileSync(
    join(appDir, "package.json"),
    JSON.stringify({ name: "crdtdb-smoke-app", private: true, type: "module" }, null, 2),
  );
  writeFileSync(join(appDir, "smoke.mjs"), APP);
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(packDir, info.filename)], {
    cwd: appDir,
  });
  const installed = JSON.parse(readFileSync(join(appDir, "package.json"), "utf8"));
  if (!installed.dependencies?.crdtdb) throw new Error("npm install did not record crdtdb");
  await run(process.execPath, ["smoke.mjs"], { cwd: appDir });
} catch (err) {
  console.error(`package smoke test FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
