// What the in-browser benches share: the peer libraries bundled for the browser into a
// temporary folder (each page imports only the library it measures), and the mounts that
// serve bench/pages/ with the package and those bundles.

import { build } from "esbuild";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib.mjs";

/**
 * Bundles each entry (file name → module source) for the browser into a new temporary folder.
 * @param {string} prefix the folder name's start
 * @param {Record<string, string>} entries
 * @returns {Promise<string>} the folder (the caller removes it)
 */
export async function bundlePeers(prefix, entries) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [file, contents] of Object.entries(entries)) {
    const out = await build({
      stdin: { contents, resolveDir: ROOT, loader: "js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      logLevel: "error",
    });
    writeFileSync(join(dir, file), out.outputFiles[0].contents);
  }
  return dir;
}

/** scripts/serve.mjs mounts for bench/pages/, the package, and the peers' bundles. @param {string} peersDir */
export const pageMounts = (peersDir) => ({ "/bench/": "bench/pages", "/js/": "js", "/dist/": "dist", "/bench-peers/": peersDir });
