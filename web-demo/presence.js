// Who is here: this tab's name and color, shared with db.presence.set({ name, color, editing }),
// and everyone's state from db.presence.getAll() / on("change"). Every sync provider carries
// presence: other tabs over the BroadcastChannel, other browsers peer to peer or through the
// relay. Nothing of it is stored in the database.

import { safeColor } from "./board.js";
import { byId, h } from "./dom.js";

const ADJECTIVES = ["Brave", "Calm", "Clever", "Eager", "Gentle", "Happy", "Kind", "Lucky", "Quick", "Quiet", "Sunny", "Witty"];
const ANIMALS = ["Otter", "Fox", "Heron", "Lynx", "Panda", "Owl", "Badger", "Koala", "Falcon", "Seal", "Hare", "Wren"];
const COLORS = ["#e8590c", "#2f9e44", "#1971c2", "#9c36b5", "#c2255c", "#0c8599", "#f08c00", "#5f3dc4"];
/** Per tab (sessionStorage): each tab is its own peer, so two tabs show as two people. */
const STORAGE_KEY = "crdtdb-taskboard:me";

/** @template T @param {T[]} list @returns {T} */
const pick = (list) => list[Math.floor(Math.random() * list.length)];

export class PresencePanel {
  /** @type {string | null} the task this tab is editing */
  #editing = null;

  /**
   * @param {import("../js/index.js").CRDTDB} db
   * @param {{ where: (peer: string) => string }} opts says how a peer is connected
   */
  constructor(db, { where }) {
    this.db = db;
    this.where = where;
    this.list = byId("people");
    this.input = byId("my-name");

    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    } catch {
      // no storage, or junk in it: a new name
    }
    this.name = typeof saved?.name === "string" && saved.name !== "" ? saved.name : `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
    this.color = safeColor(saved?.color) !== "#888888" ? saved.color : pick(COLORS);
    this.input.value = this.name;
    this.input.addEventListener("input", () => {
      const name = this.input.value.trim();
      if (name === "") return; // keeps the last name until there is a new one
      this.name = name;
      this.#publish();
    });
    this.input.addEventListener("blur", () => {
      this.input.value = this.name;
    });

    // Someone new: say who this tab is again. Peers connected directly hear it anyway, but
    // through the relay a newcomer would otherwise learn of this tab only at its next
    // heartbeat (up to 10 s): the relay passes states on, it does not replay them.
    /** @type {Set<string>} */
    let known = new Set();
    db.presence.on("change", (states) => {
      const now = new Set(states.keys());
      const arrived = [...now].some((peer) => !known.has(peer) && peer !== db.peerId);
      known = now;
      if (arrived) this.#publish();
      this.render();
    });
    this.#publish();
  }

  /** Tells the others which task this tab is editing (null: none). @param {string | null} key */
  setEditing(key) {
    this.#editing = key;
    this.#publish();
  }

  #publish() {
    this.db.presence.set({ name: this.name, color: this.color, editing: this.#editing });
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ name: this.name, color: this.color }));
    } catch {
      // not kept across reloads, that is all
    }
  }

  /** Lists every peer with a state: this tab first, then by name. */
  render() {
    const me = this.db.peerId;
    const people = [...this.db.presence.getAll()]
      .map(([peer, state]) => {
        const s = state !== null && typeof state === "object" ? /** @type {Record<string, unknown>} */ (state) : {};
        const name = typeof s.name === "string" && s.name !== "" ? s.name.slice(0, 40) : "anonymous";
        return { peer, name, color: safeColor(s.color), editing: typeof s.editing === "string" };
      })
      .sort((a, b) => (a.peer === me ? -1 : b.peer === me ? 1 : a.name.localeCompare(b.name) || a.peer.localeCompare(b.peer)));
    const items = people.map((p) => {
      const dot = h("span", { class: "dot", "aria-hidden": "true" });
      dot.style.background = p.color;
      return h(
        "li",
        { dataset: { peer: p.peer }, title: `peer ${p.peer}` },
        dot,
        h("span", { class: "name" }, p.name),
        h("span", { class: "where" }, p.peer === me ? "you, this tab" : this.where(p.peer)),
        p.editing ? h("span", { class: "typing" }, "editing") : null,
      );
    });
    // Only when something changed: a screen reader hears arrivals, not a refresh each second.
    const signature = JSON.stringify(people.map((p) => [p.peer, p.name, p.color, p.editing, this.where(p.peer)]));
    if (signature !== this.list.dataset.signature) {
      this.list.dataset.signature = signature;
      this.list.replaceChildren(...items);
    }
  }
}
