// Splices of long strings (a text column's string after each keystroke), in time near the
// size of the edit. A string made by `+` is a rope in V8, and slicing one first copies all of
// it into a flat string: splicing the last result the plain way copies the whole text per
// keystroke. Instead the last result is remembered as pieces (flat strings and slices of
// them) that join to it, and the next splice of that very string slices pieces. The pieces
// are a cache: any other string is spliced from scratch, with the same result.

/** Pieces up to this length merge with their neighbour (copying little, slicing cheaply). */
const SMALL = 256;
/** More pieces than this and the result is made flat again (a copy per this many edits). */
const MAX_PIECES = 64;

/** The last result and the pieces that join to it. */
let last = { text: "", pieces: /** @type {string[]} */ ([]) };

/**
 * `before` with `removed` UTF-16 code units at `pos` replaced by `inserted` (the caller checks
 * pos + removed <= before.length).
 * @param {string} before
 * @param {number} pos
 * @param {number} removed
 * @param {string} inserted
 * @returns {string}
 */
export function spliceString(before, pos, removed, inserted) {
  // (`===` is an identity check first: the remembered string itself costs nothing to find.
  // Another string of the same length is compared by value, up to its first difference.)
  const pieces = before === last.text ? last.pieces : [before];
  /** @type {string[]} */
  const out = [];
  /** @param {string} s */
  const add = (s) => {
    if (s === "") return;
    const n = out.length;
    if (n > 0 && out[n - 1].length + s.length <= SMALL) out[n - 1] += s;
    else out.push(s);
  };
  let i = 0;
  let at = 0; // units before pieces[i]
  for (; i < pieces.length && at + pieces[i].length <= pos; i++) {
    out.push(pieces[i]); // (whole pieces kept as they are: no merging needed)
    at += pieces[i].length;
  }
  if (i < pieces.length) add(pieces[i].slice(0, pos - at));
  add(inserted);
  const end = pos + removed;
  for (; i < pieces.length && at + pieces[i].length <= end; i++) at += pieces[i].length;
  if (i < pieces.length) {
    add(pieces[i].slice(end - at));
    for (i++; i < pieces.length; i++) add(pieces[i]);
  }
  let text;
  if (out.length > MAX_PIECES) {
    text = out.join(""); // flat
    last = { text, pieces: [text] };
    return text;
  }
  text = out.length === 0 ? "" : out[0];
  for (let k = 1; k < out.length; k++) text += out[k];
  last = { text, pieces: out };
  return text;
}
