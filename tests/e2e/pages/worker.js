// Module worker for browser.test.js: the package works off the main thread too.
import { CRDTDB } from "/js/index.js";

self.onmessage = async ({ data }) => {
  try {
    const db = await CRDTDB.open("in-worker", { storage: "memory", peerId: "worker" });
    await db.table("t").set("k", { from: "worker", n: data.n });
    const row = db.table("t").get("k");
    const changes = db.changesSince();
    db.close();
    // Hand the encoded changes to the page, which applies them to its own replica.
    self.postMessage({ row, changes }, [changes.buffer]);
  } catch (err) {
    self.postMessage({ error: `${err.name}: ${err.message}` });
  }
};
