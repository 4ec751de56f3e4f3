// A tiny static file server for the demo (npm start) and the browser tests (tests/e2e).
// Serves only the mounted folders, only GET/HEAD, only on loopback, with `.wasm` as
// application/wasm and no caching.
//
//   node scripts/serve.mjs [--port 8080]     serves web-demo/ at / plus /js/ and /dist/

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { isMain, ROOT } from "./lib.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** What `npm start` serves: the demo at the root, and the package files it imports. */
export const DEMO_MOUNTS = Object.freeze({
  "/js/": "js",
  "/dist/": "dist",
  "/web-demo/": "web-demo",
  "/": "web-demo",
});

/**
 * Maps a URL path to a file under one of the mounts, refusing anything that escapes it.
 * @param {Record<string, string>} mounts URL prefix (ending in "/") → folder relative to ROOT
 * @param {string} urlPath decoded URL path
 * @returns {string | null}
 */
function resolvePath(mounts, urlPath) {
  // Longest prefix first, so "/js/" wins over "/".
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  for (const prefix of prefixes) {
    if (!urlPath.startsWith(prefix)) continue;
    const base = resolve(ROOT, mounts[prefix]);
    const rest = urlPath.slice(prefix.length);
    const file = resolve(base, `.${sep}${rest}`);
    if (file !== base && !file.startsWith(base + sep)) return null;
    return file;
  }
  return null;
}

/**
 * Starts the server.
 * @param {{ host?: string, port?: number, mounts?: Record<string, string>, quiet?: boolean }} [opts]
 *   port 0 picks a free port
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void> }>}
 */
export async function startServer({ host = "127.0.0.1", port = 0, mounts = DEMO_MOUNTS, quiet = true } = {}) {
  const server = createServer(async (req, res) => {
    const send = (/** @type {number} */ status, /** @type {string} */ text) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      res.end(req.method === "HEAD" ? undefined : `${text}\n`);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed");
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      return send(400, "bad request");
    }
    if (urlPath.includes("\0")) return send(400, "bad request");
    if (!urlPath.endsWith("/") && Object.hasOwn(mounts, `${urlPath}/`)) {
      res.writeHead(301, { location: `${urlPath}/` });
      return res.end();
    }
    let file = resolvePath(mounts, urlPath);
    if (file === null) return send(404, "not found");
    try {
      let info = await stat(file);
      if (info.isDirectory()) {
        file = join(file, "index.html");
        info = await stat(file);
      }
      if (!info.isFile()) return send(404, "not found");
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "content-length": info.size,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      });
      if (req.method === "HEAD") return res.end();
      createReadStream(file)
        .on("error", () => res.destroy())
        .pipe(res);
    } catch {
      send(404, "not found");
    } finally {
      if (!quiet) console.log(`${req.method} ${urlPath}`);
    }
  });
  await new Promise((resolveListen, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(port, host, () => {
      server.off("error", rejectListen);
      resolveListen(undefined);
    });
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose(undefined));
      }),
  };
}

if (isMain(import.meta.url)) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 8080);
  const { url } = await startServer({ port, quiet: false });
  console.log(`serving web-demo on ${url}`);
}
