// crdtdb demo: two in-page replicas of a todo list, synced on demand through the
// transport-agnostic core (changesSince / applyChanges). Imports the package the way an app
// served from static files would: the ES module entry, no bundler.

import { CRDTDB } from "../js/index.js";

const statusEl = document.getElementById("status");
const syncStatusEl = document.getElementById("sync-status");
const syncButton = document.getElementById("sync");
const autoBox = document.getElementById("auto");

/** @type {Map<string, Replica>} */
const replicas = new Map();

class Replica {
  /**
   * @param {CRDTDB} db
   * @param {HTMLElement} root the replica's <section>
   */
  constructor(db, root) {
    this.db = db;
    this.todos = db.table("todos");
    this.root = root;
    this.list = root.querySelector(".todos");
    this.counter = 0;
    /** @type {Array<[string, any]>} the todos as [key, row], in key order */
    this.entries = [];

    // A live query of every todo; db.keyOf names each row it hands over.
    this.todos.subscribe((rows) => {
      this.entries = rows.map((row) => [/** @type {string} */ (db.keyOf(row)), row]);
      this.render();
    });
    // Auto-sync once a local write is durable: that is when its changes may leave.
    db.on("update", ({ origin }) => {
      if (origin === "local" && autoBox.checked) syncAll();
    });

    root.querySelector(".add").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.target.elements.title;
      const title = input.value.trim();
      if (title === "") return;
      input.value = "";
      this.run(this.todos.set(this.newKey(), { title, done: false }));
    });
    this.render();
  }

  /** Keys sort by creation time, then by peer, so lists read in the order todos were added. */
  newKey() {
    this.counter += 1;
    const time = Date.now().toString(36).padStart(9, "0");
    return `${time}-${this.db.peerId}-${this.counter}`;
  }

  /** @param {Promise<void>} write */
  run(write) {
    write.catch((err) => showError(err));
  }

  render() {
    const items = this.entries.map(([key, row]) => this.renderItem(key, row));
    this.list.replaceChildren(...items);
  }

  /** Re-reads the rows (a merge can add conflicts to a row whose visible value did not change). */
  refresh() {
    this.entries = this.todos.entries();
    this.render();
  }

  /**
   * @param {string} key
   * @param {any} row
   */
  renderItem(key, row) {
    const li = document.createElement("li");
    li.dataset.key = key;
    li.classList.toggle("done", row.done === true);

    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = row.done === true;
    box.title = "Done";
    box.addEventListener("change", () => this.run(this.todos.update(key, { done: box.checked })));

    const title = document.createElement("span");
    title.className = "title";
    title.textContent = String(row.title);
    title.title = "Double-click to edit";
    title.addEventListener("dblclick", () => this.edit(li, key, String(row.title)));

    li.append(box, title);

    const hidden = this.todos.conflicts(key).title;
    if (hidden !== undefined) {
      const note = document.createElement("span");
      note.className = "conflict";
      note.textContent = `⚡ also “${hidden.join("”, “")}”`;
      note.title = "Concurrent edits: last-writer-wins kept the title shown; conflicts() lists the others";
      li.append(note);
    }

    const del = document.createElement("button");
    del.type = "button";
    del.className = "ghost";
    del.textContent = "✕";
    del.title = "Delete";
    del.setAttribute("aria-label", `Delete ${row.title}`);
    del.addEventListener("click", () => this.run(this.todos.delete(key)));
    li.append(del);
    return li;
  }

  /**
   * Replaces the title with an input; Enter saves (update), Escape cancels.
   * @param {HTMLLIElement} li
   * @param {string} key
   * @param {string} current
   */
  edit(li, key, current) {
    const input = document.createElement("input");
    input.value = current;
    input.className = "title";
    li.querySelector(".title").replaceWith(input);
    input.focus();
    input.select();
    const finish = (save) => {
      input.onblur = null;
      const value = input.value.trim();
      if (save && value !== "" && value !== current) this.run(this.todos.update(key, { title: value }));
      else this.render();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      if (e.key === "Escape") finish(false);
    });
    input.onblur = () => finish(true);
  }
}

/** Sends each replica what the other lacks, both ways. */
function syncAll() {
  const [a, b] = [...replicas.values()].map((r) => r.db);
  const toB = b.applyChanges(a.changesSince(b.version()));
  const toA = a.applyChanges(b.changesSince(a.version()));
  const plural = (n) => `${n} change${n === 1 ? "" : "s"}`;
  syncStatusEl.textContent =
    toA.applied + toB.applied === 0
      ? "in sync"
      : `bob ← ${plural(toB.applied)}\nalice ← ${plural(toA.applied)}`;
  // A merge can add conflicts to a row whose visible value did not change (no change event
  // for it), so redraw both lists for the conflict notes.
  for (const r of replicas.values()) r.refresh();
}

/** @param {unknown} err */
function showError(err) {
  statusEl.textContent = `Error: ${err instanceof Error ? `${err.name}: ${err.message}` : err}`;
  statusEl.classList.add("error");
}

async function main() {
  const started = performance.now();
  for (const section of document.querySelectorAll(".replica")) {
    const name = section.dataset.replica;
    // One IndexedDB database per replica: both survive reloads.
    const db = await CRDTDB.open(`todos-demo-${name}`);
    replicas.set(name, new Replica(db, section));
  }
  syncButton.addEventListener("click", () => {
    try {
      syncAll();
    } catch (err) {
      showError(err);
    }
  });
  autoBox.addEventListener("change", () => {
    if (autoBox.checked) syncAll();
  });
  const ms = Math.round(performance.now() - started);
  const rows = [...replicas.values()].map((r) => r.db.table("todos").count()).join(" and ");
  statusEl.textContent = `Opened from IndexedDB in ${ms} ms: alice and bob hold ${rows} todos.`;
  document.body.dataset.ready = "true";
}

main().catch(showError);
