// The inspector: what the database holds and who it talks to. Tables and row counts
// (table.count()), the index, db.version() (what this replica has seen: equal bytes on two
// replicas mean they are in sync), the peers of each provider, and db.storageEstimate().

import { byId, formatBytes, h } from "./dom.js";

/** db.storageEstimate() is asked at most this often (ms). */
const ESTIMATE_MS = 3000;

/** @param {Uint8Array} bytes @returns {string} */
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

export class Inspector {
  #lastEstimate = 0;
  #estimating = false;

  /**
   * @param {import("../js/index.js").CRDTDB} db
   * @param {{
   *   tables: string[],
   *   providers: () => Array<[string, { peers: string[], status: { connected: boolean, synced: boolean } }]>,
   * }} opts the tables the app uses, and the sync providers running now, by label
   */
  constructor(db, { tables, providers }) {
    this.db = db;
    this.providers = providers;
    /** The app's tables, and any other table a change (from a peer) named. */
    this.tables = new Set(tables);
    db.on("change", ({ table }) => this.tables.add(table));
    byId("ins-db").textContent = `${db.name} (IndexedDB), index tasksByStatus on [status, order]`;
  }

  refresh() {
    const db = this.db;
    if (db.closed) return;
    byId("ins-peer").textContent = db.peerId;

    const rows = [...this.tables].sort().map((name) =>
      h("tr", { dataset: { table: name } }, h("td", {}, name), h("td", { class: "num" }, String(db.table(name).count()))),
    );
    byId("ins-tables").tBodies[0].replaceChildren(...rows);

    const version = db.version();
    const prefix = hex(version.subarray(0, 12));
    byId("ins-version").textContent = `${version.length} bytes: ${prefix}${version.length > 12 ? "…" : ""}`;

    const peers = this.providers().map(([label, p]) => {
      const ids = p.peers.length === 0 ? [h("span", { class: "muted" }, "none")] : p.peers.map((id) => h("code", {}, id));
      const state = p.status.synced ? "synced" : p.status.connected ? "connected" : "offline";
      return h("li", { dataset: { provider: label } }, h("strong", {}, label), ` (${state}): `, ...ids);
    });
    byId("ins-peers").replaceChildren(h("ul", { class: "plain" }, ...peers));

    const now = Date.now();
    if (!this.#estimating && now - this.#lastEstimate >= ESTIMATE_MS) {
      this.#estimating = true;
      this.#lastEstimate = now;
      db.storageEstimate()
        .then(({ usage, quota, historyBytes }) => {
          const origin = usage === undefined ? "origin usage unknown" : `this origin uses ${formatBytes(usage)} of ${formatBytes(quota)}`;
          byId("ins-storage").textContent = `history ${formatBytes(historyBytes)}; ${origin}`;
        })
        .catch(() => {
          // closed meanwhile
        })
        .finally(() => {
          this.#estimating = false;
        });
    }
  }
}
