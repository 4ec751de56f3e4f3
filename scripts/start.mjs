// npm start: installs what is missing, builds the WASM package artifact if anything changed,
// serves the demo (web-demo/ at /, plus /js/ and /dist/) on http://127.0.0.1:8080/ (PORT
// overrides the port), and starts crdtdb-server (signaling and relay) on ws://127.0.0.1:4444
// (CRDTDB_SERVER_PORT overrides it), so two browsers on this machine sync out of the box.
// The native build is not needed to serve and is left to npm test.

import { bootstrap, build } from "./lib.mjs";
import { startServer } from "./serve.mjs";

const HOST = "127.0.0.1";
const port = Number(process.env.PORT ?? 8080);
const relayPort = Number(process.env.CRDTDB_SERVER_PORT ?? 4444);
try {
  await bootstrap();
  await build("wasm");
} catch (err) {
  console.error(`\nnpm start failed: ${err.message}`);
  process.exit(1);
}

let demo;
try {
  demo = await startServer({ port });
} catch (err) {
  const hint = err.code === "EADDRINUSE" ? ` (port ${port} is in use; try PORT=8081 npm start)` : "";
  console.error(`cannot serve on ${HOST}:${port}: ${err.message}${hint}`);
  process.exit(1);
}

/**
 * Whether a crdtdb-server already answers on the port (then the demo can use it).
 * @param {number} p
 */
async function crdtdbServerAt(p) {
  try {
    const res = await fetch(`http://${HOST}:${p}/healthz`, { signal: AbortSignal.timeout(1000) });
    return (await res.json())?.status === "ok";
  } catch {
    return false;
  }
}

// Imported after bootstrap: it needs the ws package, which `npm ci` may just have installed.
const { startServer: startRelay } = await import("../js/server/server.js");
/** @type {Awaited<ReturnType<typeof startRelay>> | null} */
let relay = null;
let relayUrl = `ws://${HOST}:${relayPort}`;
let relayNote = "";
try {
  relay = await startRelay({ host: HOST, port: relayPort });
  relayUrl = relay.url;
} catch (err) {
  if (err.code === "EADDRINUSE") {
    relayNote = (await crdtdbServerAt(relayPort))
      ? `  (port ${relayPort} is in use by a crdtdb-server that is already running: the demo uses it)`
      : `  NOT STARTED: port ${relayPort} is in use by another program. The demo still works in this\n` +
        `  browser (offline, tabs); to sync browsers, stop that program or pick another port:\n` +
        `  CRDTDB_SERVER_PORT=4445 npm start`;
  } else {
    relayNote = `  NOT STARTED: ${err.message}. The demo still works in this browser (offline, tabs).`;
  }
}

// The page defaults to ws://<its host>:4444; another port goes in the URL.
const demoUrl = relayPort === 4444 ? demo.url : `${demo.url}?server=${relayUrl}`;
console.log(`
crdtdb task board:   ${demoUrl}
crdtdb-server:       ${relayUrl}  (signaling ${relayUrl}/, relay ${relayUrl}/sync/<room>)${relayNote === "" ? "" : `\n${relayNote}`}

Open the board in two browsers (or a normal and a private window) and press Connect in
both: they sync peer to peer, and through the relay when one of them is offline.
(Ctrl-C to stop)`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second Ctrl-C does not wait
    stopping = true;
    Promise.allSettled([demo.close(), relay?.close()]).then(() => process.exit(0));
  });
}
