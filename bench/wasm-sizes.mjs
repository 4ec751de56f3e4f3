// Where the bytes of a .wasm file go: function body sizes summed by origin, source file,
// class/namespace, plus the largest functions and the section sizes.
//
//   node bench/wasm-sizes.mjs [path/to/crdtdb.wasm] [--depth 3] [--top 25] [--src src] [--json out.json]
//
// Needs function names: build with emcc --profiling-funcs (a release build's "name" section is
// stripped; then only exported functions are named and the rest is "(unnamed)"). Parses the
// binary itself (import section → function index offset, code section → body sizes, "name"
// custom section → function names). Mangled names are demangled with c++filt (binutils) when
// it is on the PATH. Groups:
//   origin       crdtdb (our code), std (libc++), C / runtime (libc, dlmalloc, emscripten glue)
//   source file  for crdtdb:: functions: the file under --src (default src/ and bindings/ of this
//                repository) that declares the class, or defines the free function (a grep
//                heuristic: "(guess)" marks free functions found by name only)
//   path         the demangled qualified name cut to --depth components (template and call
//                arguments removed), e.g. crdtdb::OpLog or std::__2::vector
// Default path: dist/crdtdb.wasm.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mdTable, opt } from "./lib/common.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const valued = new Set(["--depth", "--top", "--src", "--json"]);
const file = args.find((a, i) => !a.startsWith("--") && !valued.has(args[i - 1])) ?? join(ROOT, "dist/crdtdb.wasm");
const DEPTH = Number(opt("depth", "3"));
const TOP = Number(opt("top", "25"));
const SRC = opt("src") ? opt("src").split(",") : [join(ROOT, "src"), join(ROOT, "bindings")];

// ---------- the binary ----------
function parseWasm(buf) {
  let p = 0;
  const u8 = () => buf[p++];
  const leb = () => {
    let r = 0;
    let shift = 0;
    for (;;) {
      const b = buf[p++];
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return r;
    }
  };
  const str = () => {
    const n = leb();
    const s = buf.toString("utf8", p, p + n);
    p += n;
    return s;
  };
  const limits = () => {
    const flags = u8();
    leb();
    if (flags & 1) leb();
  };
  if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file} is not a WebAssembly binary`);
  p = 8;
  const SECTION = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount", "tag"];
  const sections = [];
  let importedFuncs = 0;
  const bodies = []; // sizes of defined function bodies, in order
  const names = new Map(); // function index → name
  const exportNames = new Map();
  while (p < buf.length) {
    const id = u8();
    const size = leb();
    const start = p;
    const end = p + size;
    let label = SECTION[id] ?? `unknown ${id}`;
    if (id === 0) {
      const name = str();
      label = `custom "${name}"`;
      if (name === "name") {
        while (p < end) {
          const sub = u8();
          const subSize = leb();
          const subEnd = p + subSize;
          if (sub === 1) {
            const n = leb();
            for (let i = 0; i < n; i++) {
              const idx = leb();
              names.set(idx, str());
            }
          }
          p = subEnd;
        }
      }
    } else if (id === 2) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        str();
        str();
        const kind = u8();
        if (kind === 0) {
          leb();
          importedFuncs++;
        } else if (kind === 1) {
          u8();
          limits();
        } else if (kind === 2) limits();
        else if (kind === 3) {
          u8();
          u8();
        } else if (kind === 4) {
          u8();
          leb();
        }
      }
    } else if (id === 7) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        const name = str();
        const kind = u8();
        const idx = leb();
        if (kind === 0) exportNames.set(idx, name);
      }
    } else if (id === 10) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        const sz = leb();
        bodies.push(sz);
        p += sz;
      }
    }
    sections.push({ id, label, size });
    p = end;
    if (p !== end || end < start) throw new Error("malformed section");
  }
  const funcs = bodies.map((size, i) => {
    const idx = importedFuncs + i;
    return { idx, size, name: names.get(idx) ?? exportNames.get(idx) ?? "(unnamed)" };
  });
  return { sections, funcs, hasNames: names.size > 0 };
}

// ---------- names ----------
function demangleAll(list) {
  const mangled = list.filter((n) => /^_?_Z/.test(n));
  const out = new Map(list.map((n) => [n, n]));
  if (mangled.length === 0) return { out, tool: "none needed" };
  const r = spawnSync("c++filt", [], { input: mangled.join("\n"), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0 || r.error) return { out, tool: "c++filt not available: names left mangled" };
  const lines = r.stdout.split("\n");
  mangled.forEach((m, i) => out.set(m, lines[i] || m));
  return { out, tool: "c++filt" };
}

/** "void crdtdb::OpLog::add<int>(int) const" → ["crdtdb", "OpLog", "add"] */
function qualifiedPath(demangled) {
  let s = demangled
    .replace(/\.\d+$/, "") // LLVM's suffix of a cloned function (foo.1)
    .replace(/\(anonymous namespace\)/g, "{anon}")
    .replace(/operator\s*(\(\)|\[\]|[^\s(]+)/g, "operator")
    .replace(/'lambda\d*'/g, "{lambda}");
  for (let prev = ""; prev !== s; ) {
    prev = s;
    s = s.replace(/<[^<>]*>/g, "").replace(/\([^()]*\)/g, "");
  }
  s = s.replace(/\s+(const|volatile|&&?|noexcept)\b/g, "").trim();
  const tokens = s.split(/\s+/);
  const q = tokens.find((t) => t.includes("::")) ?? tokens[tokens.length - 1];
  return q.split("::").filter(Boolean);
}

function origin(path, name) {
  if (path[0] === "crdtdb" || /^crdtdb_/.test(name)) return "crdtdb";
  if (path[0] === "std" || path[0] === "__cxxabiv1" || path[0] === "__cxxabi") return "std (libc++, libc++abi)";
  if (name === "(unnamed)") return "(unnamed)";
  return path.length > 1 ? `other C++ (${path[0]})` : "C / runtime (libc, malloc, glue)";
}

// ---------- source files ----------
function listSources(dirs) {
  const files = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d)) {
      const f = join(d, e);
      if (statSync(f).isDirectory()) walk(f);
      else if (/\.(h|hpp|cpp|cc)$/.test(e)) files.push(f);
    }
  };
  dirs.forEach(walk);
  return files.map((f) => ({ f, text: readFileSync(f, "utf8") }));
}
function sourceMapper(sources) {
  const classFile = new Map();
  for (const { f, text } of sources) {
    for (const m of text.matchAll(/^\s*(?:class|struct)\s+(?:\[\[[^\]]*\]\]\s*)?(\w+)\s*(?:final\s*)?[:{]/gm)) {
      const impl = f.replace(/\.(h|hpp)$/, ".cpp");
      if (!classFile.has(m[1])) classFile.set(m[1], existsSync(impl) ? impl : f);
    }
  }
  const cache = new Map();
  return (path) => {
    // innermost known class on the path (skipping the function name itself)
    for (let i = path.length - 2; i >= 1; i--) {
      const f = classFile.get(path[i]);
      if (f) return relative(ROOT, f);
    }
    const fn = [...path].reverse().find((c) => !c.startsWith("{") && !/^\$/.test(c) && c !== "operator") ?? path[path.length - 1];
    if (cache.has(fn)) return cache.get(fn);
    const re = new RegExp(`^[\\w:<>,*&\\s]*\\b${fn.replace(/\W/g, "")}\\([^;]*$`, "m");
    const hit = sources.find(({ f, text }) => /\.(cpp|cc)$/.test(f) && re.test(text));
    const r = hit ? relative(ROOT, hit.f) + " (guess)" : "(not found)";
    cache.set(fn, r);
    return r;
  };
}

// ---------- report ----------
const buf = readFileSync(file);
const { sections, funcs, hasNames } = parseWasm(buf);
const { out: dem, tool } = demangleAll([...new Set(funcs.map((f) => f.name))]);
const toSource = sourceMapper(listSources(SRC));
for (const f of funcs) {
  f.demangled = dem.get(f.name);
  f.path = qualifiedPath(f.demangled);
  f.origin = origin(f.path, f.name);
  f.source = f.origin === "crdtdb" ? (/^crdtdb_/.test(f.name) ? "bindings/bindings.cpp" : toSource(f.path)) : f.origin;
  f.group = f.path.slice(0, f.path.length > DEPTH ? DEPTH : Math.max(1, f.path.length - 1)).join("::") || f.name;
}
const codeTotal = funcs.reduce((a, f) => a + f.size, 0);
const pct = (n, of) => ((100 * n) / of).toFixed(1) + " %";
const groupBy = (key) => {
  const m = new Map();
  for (const f of funcs) {
    const g = m.get(f[key]) ?? { bytes: 0, count: 0 };
    g.bytes += f.size;
    g.count++;
    m.set(f[key], g);
  }
  return [...m].sort((a, b) => b[1].bytes - a[1].bytes);
};
const fmtRows = (groups, limit = Infinity) =>
  groups.slice(0, limit).map(([k, g]) => [k, g.count, g.bytes.toLocaleString("en-US"), pct(g.bytes, codeTotal)]);

console.log(`# ${relative(process.cwd(), file) || file}: ${buf.length.toLocaleString("en-US")} bytes, ` +
  `${funcs.length} functions, code ${codeTotal.toLocaleString("en-US")} bytes; names: ` +
  `${hasNames ? "name section" : "exports only (build with --profiling-funcs for names)"}; demangling: ${tool}\n`);
console.log("## Sections\n" + mdTable(["section", "bytes", "share"],
  sections.map((s) => [s.label, s.size.toLocaleString("en-US"), pct(s.size, buf.length)])));
console.log("\n## Code by origin\n" + mdTable(["origin", "functions", "bytes", "of code"], fmtRows(groupBy("origin"))));
console.log("\n## crdtdb code by source file\n" + mdTable(["source file", "functions", "bytes", "of code"],
  fmtRows(groupBy("source").filter(([k]) => !funcs.some((f) => f.origin === k && f.source === k)))));
console.log(`\n## Code by qualified name (depth ${DEPTH}), top ${TOP}\n` +
  mdTable(["path", "functions", "bytes", "of code"], fmtRows(groupBy("group"), TOP)));
console.log(`\n## Largest functions, top ${TOP}\n` + mdTable(["function", "bytes", "of code"],
  [...funcs].sort((a, b) => b.size - a.size).slice(0, TOP).map((f) => [
    f.demangled.length > 110 ? f.demangled.slice(0, 107) + "…" : f.demangled,
    f.size.toLocaleString("en-US"),
    pct(f.size, codeTotal),
  ])));
if (opt("json")) {
  writeFileSync(opt("json"), JSON.stringify({ file, bytes: buf.length, sections, codeTotal, funcs }, null, 1));
  console.log(`\n(written to ${opt("json")})`);
}
