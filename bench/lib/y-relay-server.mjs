// The y-websocket relay for bench/s1-relay.mjs, as y-websocket's own server runs it
// (@y/websocket-server's setupWSConnection on a ws server). Prints "listening PORT".
import { createServer } from "node:http";
import { setupWSConnection } from "@y/websocket-server/utils";
import { WebSocketServer } from "ws";

const http = createServer((_req, res) => res.end("y relay"));
const wss = new WebSocketServer({ server: http });
wss.on("connection", (ws, req) => setupWSConnection(ws, req));
http.listen(0, "127.0.0.1", () => console.log(`listening ${/** @type {any} */ (http.address()).port}`));
process.on("SIGTERM", () => process.exit(0));
