// Z1 — size (shared/docs/benchmarks.md): gzip -9 size of what a browser downloads for an app
// that imports only CRDTDB: dist/crdtdb.wasm + every JS file the browser entry loads.
//
//   node bench/z1-size.mjs
//
// The module graph is walked from the package's browser entry (js/index.js): static imports,
// re-exports, dynamic import("…") with a literal, and assets named by
// new URL("…", import.meta.url) — parsed with typescript's preProcessFile (a devDependency),
// not with regular expressions. node:* imports are skipped (the browser never loads them: they
// sit behind an isNode() check). Each file is gzipped on its own (level 9, node:zlib), as a
// server would send it; "JS as one bundle" gzips the concatenated JS (what a bundler's single
// chunk would be, before minification). "comments stripped" re-emits each JS file through
// typescript's transpileModule with removeComments — a floor-ish stand-in for a minifier, which
// would shrink identifiers and whitespace further. "tree-shaken" starts the walk at the module
// that defines CRDTDB (js/database.js) instead of js/index.js, i.e. module-level tree shaking
// of the re-exports an app importing only CRDTDB leaves unused.
//
// Peers (same walker, browser conditions of their package.json exports; no minification and
// no tree shaking, so pure-JS peers read high — yjs' minified bundle is ~25 KB):
// loro-crdt (browser build, WASM) and yjs (+ lib0).
// Last, the figure the target names: a default `vite build` of a minimal app importing CRDTDB
// from the packed package, every emitted asset gzipped.
// Prints Markdown tables; writes bench/results/z1.json. Target: ≤ 120 KB (kB = 1,000 bytes).

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import ts from "typescript";
import { Report } from "./lib/common.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = 120_000;
const CONDITIONS = ["browser", "module", "import", "default"];

/** Picks the export target for the browser from a package.json `exports` value. */
function pickExport(v) {
  if (typeof v === "string") return v;
  if (v === null || typeof v !== "object") return undefined;
  for (const c of CONDITIONS) if (c in v) {
    const r = pickExport(v[c]);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Resolves a bare specifier (package or package/subpath) from node_modules. */
function resolveBare(spec) {
  const parts = spec.split("/");
  const name = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const sub = "." + spec.slice(name.length);
  const dir = join(ROOT, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  let target;
  if (pkg.exports !== undefined) {
    const ex = typeof pkg.exports === "string" || !Object.keys(pkg.exports)[0]?.startsWith(".")
      ? { ".": pkg.exports }
      : pkg.exports;
    target = pickExport(ex[sub]);
  } else if (sub === ".") {
    target = pkg.module ?? (typeof pkg.browser === "string" ? pkg.browser : undefined) ?? pkg.main ?? "index.js";
  } else {
    target = sub;
  }
  if (target === undefined) throw new Error(`cannot resolve ${spec} for the browser`);
  return resolveFile(join(dir, target));
}

/** A relative path as a bundler would resolve it: as is, + .js, or /index.js. */
function resolveFile(p) {
  for (const c of [p, p + ".js", join(p, "index.js")]) {
    if (existsSync(c) && statSync(c).isFile()) return c;
  }
  throw new Error(`cannot resolve ${p}`);
}

/**
 * Walks the browser module graph from `entry`.
 * @returns {{ files: string[], skipped: string[] }} files in discovery order (JS and assets)
 */
function graph(entry) {
  const seen = new Set();
  const files = [];
  const skipped = new Set();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    files.push(file);
    if (!/\.(m?js)$/.test(file)) continue; // an asset (.wasm)
    const text = readFileSync(file, "utf8");
    const specs = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    // assets: new URL("…", import.meta.url) — in the code, not in comments
    const code = ts.transpileModule(text, { compilerOptions: { removeComments: true, target: 99, module: 99 } }).outputText;
    for (const m of code.matchAll(/new URL\(\s*["'`]([^"'`]+)["'`]\s*,\s*import\.meta\.url\s*\)/g)) {
      specs.push(m[1].startsWith(".") ? m[1] : "./" + m[1]); // a URL relative to the module
    }
    for (const spec of specs) {
      if (spec.startsWith("node:")) {
        skipped.add(spec);
        continue;
      }
      try {
        queue.push(spec.startsWith(".") ? resolveFile(resolve(dirname(file), spec)) : resolveBare(spec));
      } catch (err) {
        skipped.add(`${spec} (${err.message})`);
      }
    }
  }
  return { files, skipped: [...skipped] };
}

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const stripComments = (text) =>
  ts.transpileModule(text, { compilerOptions: { removeComments: true, target: 99, module: 99 } }).outputText;
/** gzip size of a JS file with its comments stripped (never more than as is: minified files). */
const gzStripped = (buf) => Math.min(gz(buf), gz(Buffer.from(stripComments(buf.toString("utf8")))));

/** Sizes of one graph. */
function measure(entry) {
  const { files, skipped } = graph(entry);
  const parts = files.map((f) => {
    const buf = readFileSync(f);
    const isJs = /\.m?js$/.test(f);
    return {
      file: relative(ROOT, f),
      js: isJs,
      raw: buf.length,
      gzip: gz(buf),
      gzipStripped: isJs ? gzStripped(buf) : gz(buf),
    };
  });
  const sum = (k, pred = () => true) => parts.filter(pred).reduce((a, p) => a + p[k], 0);
  const jsConcat = Buffer.concat(parts.filter((p) => p.js).map((p) => readFileSync(join(ROOT, p.file))));
  const jsConcatStripped = Buffer.from(
    parts.filter((p) => p.js).map((p) => stripComments(readFileSync(join(ROOT, p.file), "utf8"))).join("\n"),
  );
  return {
    entry: relative(ROOT, entry),
    parts,
    skipped,
    total: {
      raw: sum("raw"),
      gzip: sum("gzip"),
      gzipStripped: sum("gzipStripped"),
      wasmGzip: sum("gzip", (p) => !p.js),
      jsGzip: sum("gzip", (p) => p.js),
      jsBundleGzip: gz(jsConcat),
      jsBundleStrippedGzip: gz(jsConcatStripped),
    },
  };
}

/** The .wasm without its custom sections ("name", producers…): what a stripped release ships. */
function stripCustomSections(buf) {
  const parts = [buf.subarray(0, 8)];
  const custom = [];
  let p = 8;
  while (p < buf.length) {
    const start = p;
    const id = buf[p++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[p++];
      size += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    if (id !== 0) parts.push(buf.subarray(start, p + size));
    else {
      const n = buf[p]; // name length (< 128 for the usual names)
      custom.push({ name: buf.toString("utf8", p + 1, p + 1 + n), bytes: p + size - start });
    }
    p += size;
  }
  return { stripped: Buffer.concat(parts), custom };
}

const kb = (n) => (n / 1000).toFixed(1);
const report = new Report("z1", "Z1 — download size of the core (gzip -9)");
report.log(`Z1 size — gzip -9 per file (node:zlib), kB = 1,000 bytes`);

const full = measure(join(ROOT, "js/index.js"));
const shaken = measure(join(ROOT, "js/database.js"));
const onlyIn = new Set(full.parts.map((p) => p.file).filter((f) => !shaken.parts.some((q) => q.file === f)));
report.table(
  `Z1, crdtdb: files the browser entry js/index.js loads`,
  ["file", "raw bytes", "gzip -9 bytes", "gzip, comments stripped"],
  [
    ...full.parts.map((p) => [
      p.file + (onlyIn.has(p.file) ? " (†)" : ""),
      p.raw.toLocaleString("en-US"),
      p.gzip.toLocaleString("en-US"),
      p.gzipStripped.toLocaleString("en-US"),
    ]),
    ["**total, each file gzipped**", full.total.raw.toLocaleString("en-US"), full.total.gzip.toLocaleString("en-US"), full.total.gzipStripped.toLocaleString("en-US")],
  ],
  `† not reachable from js/database.js (dropped by module-level tree shaking). ` +
    `Skipped (not loaded by browsers): ${full.skipped.join(", ") || "none"}.`,
);
const wasmFile = full.parts.find((p) => p.file.endsWith(".wasm"));
const { stripped, custom } = stripCustomSections(readFileSync(join(ROOT, wasmFile.file)));
const strippedWasmGzip = gz(stripped);
if (custom.length > 0) {
  report.note(
    `${wasmFile.file} carries custom sections (${custom.map((c) => `"${c.name}" ${c.bytes.toLocaleString("en-US")} B`).join(", ")}); ` +
      `without them it is ${stripped.length.toLocaleString("en-US")} B raw, ${strippedWasmGzip.toLocaleString("en-US")} B gzip -9 ` +
      `(vs ${wasmFile.gzip.toLocaleString("en-US")} B): see the "wasm stripped" row.`,
  );
}
const row = (label, m) => {
  const t = m.total;
  const best = t.wasmGzip + t.jsBundleStrippedGzip;
  return [label, kb(t.wasmGzip), kb(t.jsGzip), kb(t.jsBundleGzip), kb(t.jsBundleStrippedGzip), kb(t.gzip), kb(best), (best / TARGET).toFixed(2) + "×"];
};
const peers = [];
for (const [name, spec] of [["loro-crdt", "loro-crdt"], ["yjs", "yjs"]]) {
  try {
    peers.push([name, measure(resolveBare(spec))]);
  } catch (err) {
    report.note(`${name}: not measured (${err.message})`);
  }
}
const H = ["gzip -9, kB", "wasm", "JS, per file", "JS, one bundle", "JS bundle, no comments", "total, per file", "total: wasm + JS bundle, no comments", "/ 120 kB target"];
report.table(
  "Z1 totals (gzip -9) — crdtdb vs peers",
  H,
  [
    row("crdtdb (js/index.js)", full),
    row("crdtdb tree-shaken (js/database.js graph)", shaken),
    ...(custom.length > 0
      ? [row("crdtdb tree-shaken, wasm stripped of custom sections", {
          total: { ...shaken.total, wasmGzip: strippedWasmGzip, gzip: shaken.total.gzip - shaken.total.wasmGzip + strippedWasmGzip },
        })]
      : []),
    ...peers.map(([n, m]) => row(`${n} (${m.parts.length} files, unminified)`, m)),
  ],
  "target (benchmarks.md): ≤ 120 kB for the core (bundled with Vite, tree-shaken: wasm + JS). " +
    "Peers as published, without minification or tree shaking (yjs' real minified cost is ~25 kB; loro ~1 MB).",
);
const best = full.total.wasmGzip + full.total.jsBundleStrippedGzip;
for (const [n, m] of peers) {
  const p = m.total.wasmGzip + m.total.jsBundleStrippedGzip;
  report.note(`crdtdb / ${n} (wasm + bundle, no comments): ${(best / p).toFixed(2)}×`);
}
// What the target literally names: an app that imports only CRDTDB, built by `vite build`
// (default config: minified, tree-shaken) from the packed package; every emitted asset gzipped.
function viteBuildSize() {
  const work = mkdtempSync(join(tmpdir(), "crdtdb-z1-"));
  try {
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const tarball = join(work, JSON.parse(out)[0].filename);
    const app = join(work, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "z1-app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: app, stdio: "ignore" });
    writeFileSync(join(app, "index.html"), '<!doctype html><script type="module" src="./main.js"></script>\n');
    writeFileSync(
      join(app, "main.js"),
      'import { CRDTDB } from "crdtdb";\nconst db = await CRDTDB.open("z1");\nawait db.table("t").set("k", { v: 1 });\nconsole.log(db.table("t").get("k"));\n',
    );
    execFileSync(join(ROOT, "node_modules", ".bin", "vite"), ["build", "--logLevel", "error"], { cwd: app, stdio: "ignore" });
    const dir = join(app, "dist", "assets");
    return readdirSync(dir).map((f) => {
      const bytes = readFileSync(join(dir, f));
      return { file: f.replace(/-[\w-]{8}\./, "-<hash>."), raw: bytes.length, gzip: gz(bytes) };
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
try {
  const assets = viteBuildSize();
  const total = assets.reduce((n, a) => n + a.gzip, 0);
  report.table(
    "Z1, crdtdb as an app ships it: a default `vite build` of a page that imports only CRDTDB",
    ["asset", "raw bytes", "gzip -9 bytes"],
    [
      ...assets.map((a) => [a.file, a.raw.toLocaleString("en-US"), a.gzip.toLocaleString("en-US")]),
      ["**total**", assets.reduce((n, a) => n + a.raw, 0).toLocaleString("en-US"), `${total.toLocaleString("en-US")} (${kb(total)} kB, ${(total / TARGET).toFixed(2)}× the target)`],
    ],
    "the app's own main.js (4 lines) is in the JS asset.",
  );
  report.set("viteBuild", { assets, totalGzip: total });
} catch (err) {
  report.note(`vite build size: not measured (${err.message})`);
}
report.set("wasmCustomSections", { custom, strippedBytes: stripped.length, strippedGzip: strippedWasmGzip });
report.set("crdtdb", full);
report.set("crdtdbTreeShaken", shaken);
report.set("peers", Object.fromEntries(peers.map(([n, m]) => [n, { total: m.total, files: m.parts.length, skipped: m.skipped }])));
report.save();
