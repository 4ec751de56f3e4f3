// The API reference in docs/api/ is generated from js/index.d.ts by TypeDoc (typedoc.json).
//
//   npm run docs                  regenerate docs/api/
//   node scripts/docs.mjs --check  regenerate into a temp dir and fail if docs/api/ differs
//                                  (npm test runs this, so the reference cannot drift)

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { isMain, ROOT, run } from "./lib.mjs";

const typedoc = join(ROOT, "node_modules", "typedoc", "bin", "typedoc");
const OUT = join(ROOT, "docs", "api");

/** @param {string} dir @returns {Map<string, string>} relative path → contents */
function files(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

/** Regenerates docs/api/, or with `check` compares a fresh copy with it. */
export async function docs(check = false) {
  if (!check) {
    await run(process.execPath, [typedoc, "--out", OUT], { cwd: ROOT });
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), "crdtdb-docs-"));
  try {
    await run(process.execPath, [typedoc, "--out", tmp], { cwd: ROOT });
    const want = files(tmp);
    const have = files(OUT);
    const stale = [...new Set([...want.keys(), ...have.keys()])].filter((f) => want.get(f) !== have.get(f));
    if (stale.length > 0) {
      throw new Error(`docs/api is out of date with js/index.d.ts (${stale.join(", ")}): run npm run docs`);
    }
    console.log(`docs/api matches js/index.d.ts (${want.size} file(s))`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await docs(process.argv.includes("--check"));
