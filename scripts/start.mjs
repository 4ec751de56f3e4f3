// npm start: installs what is missing, builds the WASM package artifact if anything changed,
// and serves the demo (web-demo/ at /, plus /js/ and /dist/) on http://127.0.0.1:8080/
// (PORT overrides the port). The native build is not needed to serve and is left to npm test.

import { bootstrap, build } from "./lib.mjs";
import { startServer } from "./serve.mjs";

const port = Number(process.env.PORT ?? 8080);
try {
  await bootstrap();
  await build("wasm");
} catch (err) {
  console.error(`\nnpm start failed: ${err.message}`);
  process.exit(1);
}

let server;
try {
  server = await startServer({ port });
} catch (err) {
  const hint = err.code === "EADDRINUSE" ? ` (port ${port} is in use; try PORT=8081 npm start)` : "";
  console.error(`cannot serve on 127.0.0.1:${port}: ${err.message}${hint}`);
  process.exit(1);
}
console.log(`\ncrdtdb demo: ${server.url}\n(Ctrl-C to stop)`);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close().then(() => process.exit(0));
  });
}
