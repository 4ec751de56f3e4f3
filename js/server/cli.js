#!/usr/bin/env node
// crdtdb-server: signaling for WebRTCSync and a relay for WebSocketSync (docs/server.md).
//   npx crdtdb-server [--port 4444] [--host 127.0.0.1] [--data DIR] [--max-rooms N]
//                     [--max-peers-per-room N] [--max-message-bytes N]
// Stops cleanly on SIGTERM and SIGINT: closes connections, finishes writes, exits 0.

import { parseArgs } from "node:util";
import { startServer } from "./server.js";

const HELP = `usage: crdtdb-server [options]
  --port N                listen on port N (default 4444; 0 picks a free one)
  --host H                listen on host H (default 127.0.0.1; 0.0.0.0 for every interface)
  --data DIR              keep relay rooms in DIR (default: in memory, gone on exit)
  --max-rooms N           rooms held at once (default 10000)
  --max-peers-per-room N  connections in one room (default 100)
  --max-message-bytes N   largest relay message (default 67108864)
  -h, --help              this text

endpoints: ws://HOST:PORT/ (WebRTCSync signaling), ws://HOST:PORT/sync/ROOM (WebSocketSync
relay), http://HOST:PORT/healthz (health)`;

/** @param {string | undefined} v @param {string} name @param {number} min @param {number} [max] */
function int(v, name, min, max = Number.MAX_SAFE_INTEGER) {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < min || n > max) {
    const what = max < Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : min === 0 ? "a non-negative integer" : `an integer of at least ${min}`;
    console.error(`crdtdb-server: ${name} must be ${what}, got ${v}\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      data: { type: "string" },
      "max-rooms": { type: "string" },
      "max-peers-per-room": { type: "string" },
      "max-message-bytes": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (err) {
  console.error(`crdtdb-server: ${/** @type {Error} */ (err).message}\n\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

/** @type {Record<string, number>} */
const limits = {};
for (const [flag, key] of [["max-rooms", "maxRooms"], ["max-peers-per-room", "maxPeersPerRoom"], ["max-message-bytes", "maxMessageBytes"]]) {
  const v = int(/** @type {any} */ (args)[flag], `--${flag}`, 1);
  if (v !== undefined) limits[key] = v;
}

const server = await startServer({ port: int(args.port, "--port", 0, 65535) ?? 4444, host: args.host, data: args.data, limits }).catch((err) => {
  console.error(`crdtdb-server: could not start: ${err.message}`);
  process.exit(1);
});
const http = server.url.replace(/^ws/, "http");
console.log(`crdtdb-server listening on ${server.url}`);
console.log(`  signaling (WebRTCSync): ${server.url}/`);
console.log(`  relay (WebSocketSync):  ${server.url}/sync/<room>`);
console.log(`  health:                 ${http}/healthz`);
console.log(`  rooms: ${args.data === undefined ? "in memory" : `persisted in ${args.data}`}`);

let stopping = false;
for (const sig of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.log(`crdtdb-server: ${sig}, shutting down`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error(`crdtdb-server: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  });
}
