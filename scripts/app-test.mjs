// The app test: the package as users get it. `npm pack` the repository, install the tarball
// into a temp app holding the fixtures of tests/app/, then:
//   Node      node/esm.mjs (ESM), node/cjs.cjs (CommonJS via require(esm)), and
//             node/bundled.mjs bundled by esbuild for Node
//   types     tsc --strict on tests/types/usage.ts against the installed package
//   Chromium  (a) vite build + vite preview (default config), and the dev server configured as
//             docs/bundlers.md says, (b) an esbuild bundle made as
//             docs/bundlers.md says, (c) plain files with an import map, (d) a module Worker,
//             (e) a wrong wasm URL gives the documented CRDTDBError
// Every app adds rows and reads them back with their keys, then syncs a second replica
// (tests/app/common/exercise.js). Vite and esbuild are the repository's devDependencies; the
// tarball installs offline, beside a tarball of its one runtime dependency (ws) packed from
// the repository's own node_modules: npm's cache after `npm ci` holds ws's tarball but not
// its registry metadata, which resolving the dependency would need. `npx crdtdb-server`
// starts from the installed package.
//
//   node scripts/app-test.mjs          (needs dist/ built: node scripts/build.mjs --wasm-only)

import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { LAUNCH } from "../tests/e2e/harness.js";
import { EXPECTED } from "../tests/app/common/exercise.js";
import { isMain, ROOT, run } from "./lib.mjs";
import { startServer } from "./serve.mjs";

const BIN = join(ROOT, "node_modules", ".bin");
const REQUIRED = [
  "package.json",
  "README.md",
  "LICENSE",
  "js/index.js",
  "js/index.node.js",
  "js/index.d.ts",
  "dist/crdtdb.mjs",
  "dist/crdtdb.wasm",
  "docs/api/README.md",
];

/** @param {boolean} ok @param {string} what */
function check(ok, what) {
  if (!ok) throw new Error(what);
}

/** Packs the repository into `dir`; checks what the tarball holds. @returns {string} its path */
/**
 * Packs the repository's installed copy of dependency `name` into `dir`; returns the tarball.
 * @param {string} name
 * @param {string} dir
 */
function packInstalled(name, dir) {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir, join(ROOT, "node_modules", name)], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return join(dir, JSON.parse(out)[0].filename);
}

function pack(dir) {
  console.log(`$ npm pack --json --pack-destination ${dir}`);
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [info] = JSON.parse(out);
  const files = info.files.map((/** @type {{ path: string }} */ f) => f.path).sort();
  console.log(`tarball ${info.filename}: ${info.size} bytes packed, ${files.length} files`);
  const missing = REQUIRED.filter((f) => !files.includes(f));
  check(missing.length === 0, `tarball lacks ${missing.join(", ")}`);
  const stray = files.filter((f) => !/^(js\/|docs\/|dist\/crdtdb\.(mjs|wasm)$|package\.json$|README\.md$|LICENSE$)/.test(f));
  check(stray.length === 0, `tarball holds files it should not: ${stray.join(", ")}`);
  return join(dir, info.filename);
}

/** @returns {Promise<number>} a free loopback port */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `vite preview` (or with `dev`, the dev server) on a free port and waits until it
 * answers.
 * @param {string} cwd
 * @param {boolean} [dev]
 * @returns {Promise<{ url: string, stop: () => void }>}
 */
async function viteServer(cwd, dev = false) {
  const port = await freePort();
  const args = [...(dev ? [] : ["preview"]), "--host", "127.0.0.1", "--port", String(port), "--strictPort"];
  console.log(`$ vite ${args.join(" ")}   (in ${cwd})`);
  const child = spawn(join(BIN, "vite"), args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
  const url = `http://127.0.0.1:${port}/`;
  const stop = () => child.kill("SIGTERM");
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`vite ${args[0]} exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  stop();
  throw new Error(`vite ${args[0]} did not answer within 10 s`);
}

/**
 * Loads `url` in a fresh context and returns `globalThis.__result` once the page set it.
 * @param {import("playwright-core").Browser} browser
 * @param {string} url
 * @param {(path: string, type: string) => void} [onResponse]
 */
async function resultOf(browser, url, onResponse) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("response", (res) => onResponse?.(new URL(res.url()).pathname, res.headers()["content-type"] ?? ""));
    /** @type {string[]} */
    const consoleErrors = []; // diagnostics only (a missing favicon logs one)
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(`console: ${msg.text()} (${msg.location().url})`);
    });
    await page.goto(url);
    try {
      await page.waitForFunction(() => /** @type {any} */ (globalThis).__result !== undefined, null, { timeout: 20_000 });
    } catch (err) {
      const seen = [...errors, ...consoleErrors].join("; ");
      throw new Error(`${url}: no result within 20 s (${seen || /** @type {Error} */ (err).message})`);
    }
    const result = await page.evaluate(() => /** @type {any} */ (globalThis).__result);
    check(errors.length === 0, `${url}: page errors: ${errors.join("; ")}`);
    return result;
  } finally {
    await context.close();
  }
}

/**
 * `npx crdtdb-server` from the installed package: it listens, answers /healthz, and exits 0 on
 * SIGTERM.
 * @param {string} app
 */
async function serverStarts(app) {
  const port = await freePort();
  const child = spawn(join(app, "node_modules", ".bin", "crdtdb-server"), ["--port", String(port)], { cwd: app, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    for (let i = 0; i < 200 && !out.includes("listening"); i++) await new Promise((r) => setTimeout(r, 25));
    check(out.includes(`listening on ws://127.0.0.1:${port}`), `crdtdb-server did not start: ${out}`);
    const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
    check(health.status === "ok", `crdtdb-server /healthz said ${JSON.stringify(health)}`);
  } finally {
    child.kill("SIGTERM");
  }
  const code = await exited;
  check(code === 0, `crdtdb-server exited with ${code} on SIGTERM`);
  console.log("  ok  npx crdtdb-server: listens, /healthz ok, exits 0 on SIGTERM");
}

/** @param {string} what @param {any} result */
function expectWorks(what, result) {
  const want = JSON.stringify({ ok: true, ...EXPECTED });
  check(JSON.stringify(result) === want, `${what}: got ${JSON.stringify(result)}, want ${want}`);
  console.log(`  ok  ${what}: ${JSON.stringify(result)}`);
}

export async function appTest() {
  const work = mkdtempSync(join(tmpdir(), "crdtdb-app-"));
  try {
    const tarball = pack(join(work));
    const app = join(work, "app");
    cpSync(join(ROOT, "tests", "app"), app, { recursive: true });
    cpSync(join(ROOT, "tests", "types", "usage.ts"), join(app, "types", "usage.ts"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "crdtdb-app", private: true, type: "module" }, null, 2));
    // ws as a local tarball: it satisfies the package's dependency without the registry.
    const ws = packInstalled("ws", work);
    await run("npm", ["install", "--offline", "--no-audit", "--no-fund", ws, tarball], { cwd: app });
    const installed = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    check(Boolean(installed.dependencies?.crdtdb), "npm install did not record crdtdb");
    const pkg = JSON.parse(readFileSync(join(app, "node_modules", "crdtdb", "package.json"), "utf8"));
    check(JSON.stringify(Object.keys(pkg.dependencies ?? {})) === '["ws"]', "the package's runtime dependencies are not just ws");
    await serverStarts(app);

    // Node and TypeScript
    await run(process.execPath, ["node/esm.mjs"], { cwd: app });
    await run(process.execPath, ["node/cjs.cjs"], { cwd: app });
    // A Node program bundled with esbuild: the node entry's file read must survive bundling
    // (package.json "sideEffects" names it); the bundle looks for ../dist/crdtdb.wasm.
    await run(join(BIN, "esbuild"), ["node/bundled.mjs", "--bundle", "--platform=node", "--format=esm", "--outfile=bundle/app.mjs", "--log-level=warning"], {
      cwd: app,
    });
    mkdirSync(join(app, "dist"));
    cpSync(join(app, "node_modules", "crdtdb", "dist", "crdtdb.wasm"), join(app, "dist", "crdtdb.wasm"));
    await run(process.execPath, ["bundle/app.mjs"], { cwd: app });
    await run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "types/tsconfig.json"], {
      cwd: app,
    });
    console.log("  ok  tsc --strict against the installed types (every @ts-expect-error line rejected)");

    // Builds
    await run(join(BIN, "vite"), ["build", "--logLevel", "warn"], { cwd: join(app, "vite") });
    const assets = readdirSync(join(app, "vite", "dist", "assets"));
    const wasmAsset = assets.find((f) => /^crdtdb-.*\.wasm$/.test(f));
    check(wasmAsset !== undefined, `vite build emitted no hashed crdtdb wasm: ${assets.join(", ")}`);
    for (const f of assets.filter((a) => a.endsWith(".js"))) {
      const js = readFileSync(join(app, "vite", "dist", "assets", f), "utf8");
      check(!/["']node:/.test(js), `the Vite bundle ${f} imports a node: module`);
    }
    const esbuildDir = join(app, "esbuild");
    mkdirSync(join(esbuildDir, "public"));
    await run(join(BIN, "esbuild"), ["app.js", "--bundle", "--format=esm", "--outfile=public/app.js", "--log-level=warning"], {
      cwd: esbuildDir,
    });
    cpSync(join(app, "node_modules", "crdtdb", "dist", "crdtdb.wasm"), join(esbuildDir, "public", "crdtdb.wasm"));
    cpSync(join(esbuildDir, "index.html"), join(esbuildDir, "public", "index.html"));

    // Browsers
    const browser = await chromium.launch(LAUNCH);
    const preview = await viteServer(join(app, "vite"));
    const dev = await viteServer(join(app, "vite-dev"), true);
    const esbuildServer = await startServer({ port: 0, mounts: { "/": join(esbuildDir, "public") } });
    const plainServer = await startServer({ port: 0, mounts: { "/": app } });
    try {
      /** @type {string[]} */
      const viteRequests = [];
      expectWorks("vite build + vite preview", await resultOf(browser, preview.url, (p) => viteRequests.push(p)));
      check(viteRequests.includes(`/assets/${wasmAsset}`), `the Vite page did not load /assets/${wasmAsset}`);
      expectWorks("vite dev server (optimizeDeps.exclude)", await resultOf(browser, dev.url));
      expectWorks("esbuild bundle", await resultOf(browser, esbuildServer.url));
      expectWorks("plain files + import map", await resultOf(browser, new URL("plain/", plainServer.url).href));
      expectWorks("module Worker", await resultOf(browser, new URL("plain/worker.html", plainServer.url).href));
      const wrong = await resultOf(browser, new URL("plain/wrong-url.html", plainServer.url).href);
      check(wrong.ok === true && wrong.name === "CRDTDBError", `wrong wasm URL: ${JSON.stringify(wrong)}`);
      for (const part of [new URL("nope/crdtdb.wasm", plainServer.url).href, "HTTP 404", "CRDTDB.init()", "application/wasm"]) {
        check(wrong.message.includes(part), `wrong wasm URL: the error does not say ${part}: ${wrong.message}`);
      }
      console.log(`  ok  wrong wasm URL: ${wrong.name}: ${wrong.message}`);
    } finally {
      preview.stop();
      dev.stop();
      await esbuildServer.close();
      await plainServer.close();
      await browser.close();
    }
    console.log("app test: OK");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  try {
    await appTest();
  } catch (err) {
    console.error(`app test FAILED: ${/** @type {Error} */ (err).message}`);
    process.exitCode = 1;
  }
}
