// The README's example and the guides' complete Node examples run as written (a newcomer
// copies them first), against the package's own entry.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const ROOT = new URL("../../", import.meta.url);

/** The first ```js block after `heading` in `file`. */
function codeAfter(file, heading) {
  const text = readFileSync(new URL(file, ROOT), "utf8");
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `${file} has "${heading}"`);
  const m = /```js\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(m, `${file}: a js block after "${heading}"`);
  return m[1];
}

/** Runs ES-module code in a child process at the repository root; returns its stdout. */
function runModule(code) {
  return execFileSync(process.execPath, ["--input-type=module", "-e", code], {
    cwd: ROOT,
    encoding: "utf8",
  });
}

test("the README example runs and does what its comments say", () => {
  const code = codeAfter("README.md", "## Example");
  // Print what the commented lines evaluate to, and compare with the comments.
  const out = runModule(
    `${code}\nconsole.log(JSON.stringify({ get: users.get("ada"), keys: byAge.keys(above(18), { reverse: true }),` +
      ` other: other.table("users").get("ada") }));`,
  );
  const last = JSON.parse(out.trim().split("\n").at(-1));
  assert.deepEqual(last.get, { name: "Ada", age: 37 });
  assert.deepEqual(last.keys, ["alan", "ada"]);
  assert.deepEqual(last.other, { name: "Ada", age: 37 });
});

test("the Node guide's ES module example runs", () => {
  const out = runModule(codeAfter("docs/node.md", "## ES modules"));
  assert.match(out, /\[ 'ada' \]/);
});
