// Module worker for sync.test.js: an instance of the page's database in a worker, synced with
// the page by BroadcastChannelSync (workers.md).
import { BroadcastChannelSync, CRDTDB } from "/js/index.js";

/** @type {CRDTDB | null} */
let db = null;

self.onmessage = async ({ data }) => {
  try {
    if (data.op === "start") {
      db = await CRDTDB.open(data.name, { indexes: { byTab: { table: "t", keys: ["tab"] } } });
      new BroadcastChannelSync(db, { channel: data.name });
      self.postMessage({ ok: db.peerId });
    } else if (data.op === "write") {
      await db?.table("t").set(data.key, data.row);
      self.postMessage({ ok: true });
    } else if (data.op === "rows") {
      self.postMessage({ ok: db?.table("t").entries() });
    }
  } catch (err) {
    self.postMessage({ error: `${/** @type {Error} */ (err).name}: ${/** @type {Error} */ (err).message}` });
  }
};
