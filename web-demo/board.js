// The board: three columns, each a live query on the index [status, order], so a column
// re-renders exactly when one of its tasks changes: here, in another tab, or from a peer.
// Cards are kept by row key and updated in place, so a title being edited keeps its focus
// while other cards move around it.

import { startsWith } from "../js/index.js";
import { byId, h, reconcile } from "./dom.js";

/** @typedef {{ title: string, status: string, order: number, updatedBy?: string }} Task */

export const COLUMNS = [
  { status: "todo", name: "To do" },
  { status: "doing", name: "Doing" },
  { status: "done", name: "Done" },
];

/** @param {string} status */
const columnName = (status) => COLUMNS.find((c) => c.status === status)?.name ?? status;

/** A new row key: creation time first, so keys sort roughly by age; random after. */
function newKey() {
  const random = globalThis.crypto?.randomUUID?.().slice(0, 8) ?? Math.random().toString(36).slice(2, 10);
  return `${Date.now().toString(36)}-${random}`;
}

/** @param {unknown} v @returns {string} */
const text = (v) => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));

export class Board {
  /** @type {Map<string, Card>} */
  #cards = new Map();
  /** @type {Map<string, { list: HTMLElement, count: HTMLElement, rows: readonly Task[] }>} */
  #columns = new Map();
  #renderQueued = false;
  #lastOrder = 0;

  /**
   * @param {import("../js/index.js").CRDTDB} db
   * @param {{
   *   track: (write: Promise<unknown>) => void,
   *   me: () => string,
   *   onEditing: (key: string | null) => void,
   * }} opts
   */
  constructor(db, { track, me, onEditing }) {
    this.db = db;
    this.tasks = db.table("tasks");
    this.track = track;
    this.me = me;
    this.onEditing = onEditing;

    const board = byId("board");
    for (const { status, name } of COLUMNS) {
      const count = h("span", { class: "count" }, "0");
      const list = h("ul", { class: "tasks", "aria-labelledby": `col-${status}` });
      const section = h(
        "section",
        { class: "column", dataset: { status } },
        h("h3", { id: `col-${status}` }, name, " ", count),
        list,
      );
      // Cards can also be dragged between columns (the buttons on each card do the same).
      section.addEventListener("dragover", (e) => {
        if (e.dataTransfer?.types.includes("text/x-task")) {
          e.preventDefault();
          section.classList.add("drop");
        }
      });
      section.addEventListener("dragleave", () => section.classList.remove("drop"));
      section.addEventListener("drop", (e) => {
        section.classList.remove("drop");
        const key = e.dataTransfer?.getData("text/x-task");
        if (key) {
          e.preventDefault();
          this.move(key, status);
        }
      });
      board.append(section);
      this.#columns.set(status, { list, count, rows: [] });
    }

    const byStatus = db.index("tasksByStatus");
    for (const [status, column] of this.#columns) {
      // Called now, then after every transaction or merge that changes this column.
      byStatus.subscribe(startsWith([status]), (rows) => {
        column.rows = /** @type {readonly Task[]} */ (rows);
        this.#renderColumn(column);
      });
    }
    // A merge that only adds a losing value to conflicts() changes no row (no live query
    // fires), and presence moves the "editing" markers: redraw the cards for both.
    db.on("update", ({ origin }) => {
      if (origin !== "local") this.#queueRender();
    });
    db.presence.on("change", () => this.#queueRender());

    byId("add-task").addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
      e.preventDefault();
      const input = byId("new-task");
      const title = input.value.trim();
      if (title === "") return;
      input.value = "";
      this.add(title);
    });
  }

  /** Orders by time, strictly increasing here: tasks added or moved later come last. */
  #nextOrder() {
    this.#lastOrder = Math.max(Date.now(), this.#lastOrder + 1);
    return this.#lastOrder;
  }

  /** @param {string} title */
  add(title) {
    /** @type {Task} */
    const task = { title, status: "todo", order: this.#nextOrder(), updatedBy: this.me() };
    this.track(this.tasks.set(newKey(), task));
  }

  /** Moves a task to the end of another column. @param {string} key @param {string} status */
  move(key, status) {
    const task = this.tasks.get(key);
    if (task === undefined || task.status === status) return;
    this.track(this.tasks.update(key, { status, order: this.#nextOrder(), updatedBy: this.me() }));
  }

  /** @param {string} key @param {string} title */
  rename(key, title) {
    this.track(this.tasks.update(key, { title, updatedBy: this.me() }));
  }

  /** @param {string} key */
  remove(key) {
    this.track(this.tasks.delete(key));
  }

  /** @param {{ list: HTMLElement, count: HTMLElement, rows: readonly Task[] }} column */
  #renderColumn(column) {
    const editors = this.#editors();
    const wanted = column.rows.map((row) => {
      const key = /** @type {string} */ (this.db.keyOf(row));
      let card = this.#cards.get(key);
      if (card === undefined) this.#cards.set(key, (card = new Card(this, key)));
      card.update(row, this.tasks.conflicts(key), editors.get(key) ?? []);
      return card.li;
    });
    reconcile(column.list, wanted);
    column.count.textContent = String(column.rows.length);
    // Forget cards whose task is gone from every column.
    for (const [key, card] of this.#cards) if (!card.li.isConnected && !this.tasks.has(key)) this.#cards.delete(key);
  }

  #queueRender() {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    setTimeout(() => {
      this.#renderQueued = false;
      if (this.db.closed) return;
      for (const column of this.#columns.values()) this.#renderColumn(column);
    }, 0);
  }

  /** Who else is editing which task, from presence. @returns {Map<string, Array<{ name: string, color: string }>>} */
  #editors() {
    /** @type {Map<string, Array<{ name: string, color: string }>>} */
    const out = new Map();
    for (const [peer, state] of this.db.presence.getAll()) {
      if (peer === this.db.peerId || state === null || typeof state !== "object") continue;
      const s = /** @type {Record<string, unknown>} */ (state);
      if (typeof s.editing !== "string") continue;
      const who = { name: typeof s.name === "string" ? s.name.slice(0, 40) : "someone", color: safeColor(s.color) };
      out.set(s.editing, [...(out.get(s.editing) ?? []), who]);
    }
    return out;
  }
}

/** @param {unknown} c @returns {string} */
export function safeColor(c) {
  return typeof c === "string" && /^#[0-9a-f]{6}$/i.test(c) ? c : "#888888";
}

/** One task's card. The title is an input: focus it to edit, Enter saves, Escape cancels. */
class Card {
  editing = false;
  /** @type {Task | null} */
  row = null;

  /** @param {Board} board @param {string} key */
  constructor(board, key) {
    this.board = board;
    this.key = key;
    this.title = /** @type {HTMLInputElement} */ (h("input", { class: "title", "aria-label": "Task title", maxlength: 200 }));
    this.meta = h("p", { class: "meta" });
    this.prev = h("button", { type: "button", class: "icon move-prev", onclick: () => this.#step(-1) }, "←");
    this.next = h("button", { type: "button", class: "icon move-next", onclick: () => this.#step(1) }, "→");
    this.del = h("button", { type: "button", class: "icon delete", onclick: () => board.remove(key) }, "✕");
    const grip = h("span", { class: "grip", draggable: "true", "aria-hidden": "true", title: "Drag to another column" }, "⠿");
    grip.addEventListener("dragstart", (e) => {
      e.dataTransfer?.setData("text/x-task", key);
      e.dataTransfer?.setDragImage(this.li, 12, 12);
    });
    this.li = h(
      "li",
      { class: "task", dataset: { key } },
      h("div", { class: "line" }, grip, this.title),
      h("div", { class: "foot" }, this.meta, h("div", { class: "actions" }, this.prev, this.next, this.del)),
    );

    this.title.addEventListener("focus", () => {
      this.editing = true;
      board.onEditing(key);
    });
    this.title.addEventListener("keydown", (e) => {
      if (e.key === "Enter") this.title.blur();
      if (e.key === "Escape") {
        this.title.value = this.row?.title ?? "";
        this.title.blur();
      }
    });
    this.title.addEventListener("blur", () => {
      this.editing = false;
      board.onEditing(null);
      const value = this.title.value.trim();
      const current = this.row?.title ?? "";
      if (value !== "" && value !== current && board.tasks.has(key)) board.rename(key, value);
      else this.title.value = current;
    });
  }

  /** @param {-1 | 1} step */
  #step(step) {
    const i = COLUMNS.findIndex((c) => c.status === this.row?.status);
    const to = COLUMNS[i + step];
    if (to !== undefined) this.board.move(this.key, to.status);
  }

  /**
   * @param {Task} row
   * @param {Record<string, unknown[]>} conflicts what last-writer-wins hid, by column
   * @param {Array<{ name: string, color: string }>} editors other peers editing this task
   */
  update(row, conflicts, editors) {
    this.row = row;
    const title = text(row.title);
    // Never overwrite what is being typed: the edit wins when it is saved (it has seen this).
    if (!this.editing && this.title.value !== title) this.title.value = title;
    this.li.dataset.status = row.status;

    const i = COLUMNS.findIndex((c) => c.status === row.status);
    const prev = COLUMNS[i - 1];
    const next = COLUMNS[i + 1];
    this.prev.hidden = prev === undefined;
    this.next.hidden = next === undefined;
    if (prev) this.prev.setAttribute("aria-label", `Move “${title}” to ${prev.name}`);
    if (next) this.next.setAttribute("aria-label", `Move “${title}” to ${next.name}`);
    this.del.setAttribute("aria-label", `Delete “${title}”`);

    const parts = [];
    if (typeof row.updatedBy === "string") parts.push(h("span", { class: "by" }, `by ${row.updatedBy.slice(0, 40)}`));
    for (const who of editors) {
      const chip = h("span", { class: "editing" }, `✎ ${who.name}`);
      chip.style.setProperty("--who", who.color);
      parts.push(chip);
    }
    const lostTitles = conflicts.title ?? [];
    const lostMoves = conflicts.status ?? [];
    if (lostTitles.length > 0 || lostMoves.length > 0) {
      const also = [...lostTitles.map((t) => `“${text(t)}”`), ...lostMoves.map((s) => `moved to ${columnName(text(s))}`)];
      parts.push(
        h(
          "span",
          {
            class: "conflict",
            title: "Concurrent edits: last-writer-wins kept what is shown; conflicts() lists what lost. Edit the task to settle it.",
          },
          `⚡ also ${also.join(", ")}`,
        ),
      );
    }
    this.meta.replaceChildren(...parts);
  }
}
