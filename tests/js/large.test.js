// A large honest history applies into a fresh replica in one call and one Node process: 1M
// rows of 8 columns (about 60 MB encoded), as a new replica catching up would receive it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDb } from "./helpers.js";

test("a 1M-row history applies into a fresh replica in one call", { timeout: 180_000 }, async () => {
  const N = 1_000_000;
  const a = await openDb("big-a");
  for (let b = 0; b < N; b += 5000) {
    await a.transaction(async (tx) => {
      const t = tx.table("rows");
      for (let i = b; i < b + 5000; i++) {
        t.set(`row${String(i).padStart(7, "0")}`, {
          c0: i, c1: `s${(i * 7919) % 1000003}`, c2: i % 1000, c3: `name-${i % 777}`,
          c4: i * 3, c5: `t${i % 10}`, c6: (i % 13) / 4, c7: i % 2 === 0,
        });
      }
    });
  }
  const bytes = a.changesSince();
  assert.ok(bytes.length > 40e6, `history of ${bytes.length} bytes`);
  a.close();
  const b = await openDb("big-b");
  const r = b.applyChanges(bytes);
  assert.deepEqual(r, { applied: N, pending: 0 });
  const t = b.table("rows");
  assert.equal(t.count(), N);
  assert.deepEqual(t.get("row0123456"), {
    c0: 123456, c1: `s${(123456 * 7919) % 1000003}`, c2: 456, c3: `name-${123456 % 777}`,
    c4: 370368, c5: "t6", c6: (123456 % 13) / 4, c7: true,
  });
  assert.equal(t.query(undefined, { limit: 1, reverse: true })[0].c0, N - 1);
  // The replica keeps working after the large call.
  await t.update("row0000000", { c0: -1 });
  assert.equal(t.get("row0000000").c0, -1);
  b.close();
});
