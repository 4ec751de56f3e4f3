// Small DOM helpers shared by the demo's panels (no framework).

/**
 * Creates an element: `h("button", { class: "x", onclick: fn, "aria-label": "…" }, "text")`.
 * Props named on… become listeners, `class` the class name, `dataset` data attributes, a
 * boolean true an empty attribute; false, null and undefined are skipped.
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

/** @param {string} id @returns {any} the element (the page defines every id the demo uses) */
export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

/**
 * Puts `wanted` into `parent` in that order, moving only nodes that are out of place and
 * removing the others: a focused input among them keeps its focus (replaceChildren would
 * detach it).
 * @param {Element} parent
 * @param {Element[]} wanted
 */
export function reconcile(parent, wanted) {
  const keep = new Set(wanted);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  wanted.forEach((node, i) => {
    const at = parent.children[i];
    if (at !== node) parent.insertBefore(node, at ?? null);
  });
}

/** @param {number | undefined} n @returns {string} */
export function formatBytes(n) {
  if (n === undefined || !Number.isFinite(n)) return "unknown";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** @param {unknown} err @returns {string} */
export function describeError(err) {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
