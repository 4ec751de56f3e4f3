// spliceString (js/string_splice.js): splices of the last result (its remembered pieces) and
// of any other string give exactly what slicing gives, whatever the positions, lengths,
// surrogate halves and interleaving with other strings.

import assert from "node:assert/strict";
import { test } from "node:test";
import { spliceString } from "../../js/string_splice.js";
import { rng } from "./helpers.js";

/** @param {string} s @param {number} pos @param {number} removed @param {string} inserted */
const naive = (s, pos, removed, inserted) => s.slice(0, pos) + inserted + s.slice(pos + removed);

test("random splices of a long string match slicing, across piece limits and other strings", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed).next;
    const alphabet = ["a", "b", "é", "\u{1F600}", "xyz", "\uD800"]; // (lone halves are units too)
    let s = "0123456789".repeat(50 + Math.floor(r() * 100));
    let expect = s;
    for (let step = 0; step < 400; step++) {
      const pos = Math.floor(r() * (expect.length + 1));
      const removed = Math.min(expect.length - pos, r() < 0.4 ? Math.floor(r() * 40) : 0);
      let inserted = "";
      const n = r() < 0.2 ? Math.floor(r() * 600) : Math.floor(r() * 3);
      for (let k = 0; k < n; k++) inserted += alphabet[Math.floor(r() * alphabet.length)];
      expect = naive(expect, pos, removed, inserted);
      s = spliceString(s, pos, removed, inserted);
      assert.equal(s, expect, `seed ${seed} step ${step}`);
      if (r() < 0.05) {
        // Another string spliced in between: the next splice of `s` starts from scratch.
        const other = "other".repeat(10);
        assert.equal(spliceString(other, 3, 2, "!"), naive(other, 3, 2, "!"));
      }
      if (r() < 0.05) {
        // An equal string that is not the remembered one.
        s = [...s].join("");
      }
    }
  }
});

test("edge splices: empty strings, whole-string removal, the ends", () => {
  assert.equal(spliceString("", 0, 0, ""), "");
  assert.equal(spliceString("", 0, 0, "abc"), "abc");
  const long = "x".repeat(1000);
  let s = spliceString(long, 0, 1000, "");
  assert.equal(s, "");
  s = spliceString(s, 0, 0, long);
  assert.equal(s, long);
  s = spliceString(s, 1000, 0, "end");
  assert.equal(s, long + "end");
  s = spliceString(s, 0, 0, "start");
  assert.equal(s, "start" + long + "end");
  s = spliceString(s, 5, 1000, "");
  assert.equal(s, "startend");
});
