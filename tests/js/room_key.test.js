// Room passwords (js/sync/room_key.js): the room id and key derived from (room, password), and
// sealing: a payload opens only with the same key and context, and any damage is a DecodeError.

import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError } from "crdtdb";
import { base64url, PBKDF2_ITERATIONS, roomKey, SEAL_OVERHEAD, seal, Serial, unseal } from "../../js/sync/room_key.js";

const utf8 = new TextEncoder();

test("PBKDF2 runs at least 100,000 iterations", () => {
  assert.ok(Number.isSafeInteger(PBKDF2_ITERATIONS));
  assert.ok(PBKDF2_ITERATIONS >= 100_000, `${PBKDF2_ITERATIONS} iterations`);
});

test("the room id is deterministic per (room, password), differs otherwise, and says nothing of the name", async () => {
  const room = "team-notes-roomname";
  const a = await roomKey(room, "correct horse");
  const again = await roomKey(room, "correct horse");
  assert.equal(again.id, a.id);
  // Not only the cache: a derivation from scratch in another realm gives the same id.
  const { execFileSync } = await import("node:child_process");
  const script = `import { roomKey } from ${JSON.stringify(new URL("../../js/sync/room_key.js", import.meta.url).href)};
    process.stdout.write((await roomKey(${JSON.stringify(room)}, "correct horse")).id);`;
  assert.equal(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }), a.id);

  const otherPassword = await roomKey(room, "correct horse!");
  const otherRoom = await roomKey(`${room}2`, "correct horse");
  // (room, password) pairs that concatenate alike must not collide either.
  const shifted1 = await roomKey("ab", "c");
  const shifted2 = await roomKey("a", "bc");
  const ids = [a.id, otherPassword.id, otherRoom.id, shifted1.id, shifted2.id];
  assert.equal(new Set(ids).size, ids.length, "every id differs");
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9_-]{22}$/, "128 bits, base64url without padding");
    assert.ok(!id.includes("team"), id);
    assert.ok(!id.toLowerCase().includes("room"), id);
  }
  assert.equal(a.key.type, "secret");
  assert.equal(a.key.extractable, false);
  assert.deepEqual([...a.key.usages].sort(), ["decrypt", "encrypt"]);
});

test("seal and unseal round-trip; every payload gets a fresh IV", async () => {
  const { key } = await roomKey("seal-room", "pw");
  for (const size of [0, 1, 100, 70_000]) {
    const plain = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
    const sealed = await seal(key, plain, "ctx");
    assert.equal(sealed.length, size + SEAL_OVERHEAD);
    assert.deepEqual(await unseal(key, sealed, "ctx"), plain);
  }
  // A view into a larger buffer seals exactly its own bytes.
  const backing = utf8.encode("xxxxHELLOyyyy");
  const view = backing.subarray(4, 9);
  assert.deepEqual(await unseal(key, await seal(key, view, "c"), "c"), utf8.encode("HELLO"));
  const one = await seal(key, utf8.encode("same"), "c");
  const two = await seal(key, utf8.encode("same"), "c");
  assert.notDeepEqual(one, two);
  assert.notDeepEqual(one.subarray(0, 12), two.subarray(0, 12));
  // The ciphertext does not contain the plaintext.
  const marker = "PLAINTEXT-MARKER-12345";
  const sealed = await seal(key, utf8.encode(marker.repeat(4)), "c");
  assert.ok(!Buffer.from(sealed).includes(marker));
});

test("wrong key, wrong context, truncation and bit flips are DecodeErrors", async () => {
  const { key } = await roomKey("damage-room", "right");
  const { key: wrong } = await roomKey("damage-room", "wrong");
  const plain = utf8.encode("some sync frame bytes");
  const sealed = await seal(key, plain, "crdtdb relay\0id");
  await assert.rejects(unseal(wrong, sealed, "crdtdb relay\0id"), DecodeError);
  await assert.rejects(unseal(key, sealed, "crdtdb relay\0other"), DecodeError);
  await assert.rejects(unseal(key, sealed, ""), DecodeError);
  for (const n of [0, 1, 11, 12, SEAL_OVERHEAD - 1, SEAL_OVERHEAD, sealed.length - 1]) {
    await assert.rejects(unseal(key, sealed.slice(0, n), "crdtdb relay\0id"), DecodeError, `truncated to ${n}`);
  }
  for (let bit = 0; bit < sealed.length * 8; bit += 7) {
    const flipped = sealed.slice();
    flipped[bit >> 3] ^= 1 << (bit & 7);
    await assert.rejects(unseal(key, flipped, "crdtdb relay\0id"), DecodeError, `bit ${bit} flipped`);
  }
  const longer = new Uint8Array(sealed.length + 1);
  longer.set(sealed);
  await assert.rejects(unseal(key, longer, "crdtdb relay\0id"), DecodeError);
  await assert.rejects(unseal(key, /** @type {any} */ ("not bytes"), "c"), DecodeError);
  // Still intact after all that.
  assert.deepEqual(await unseal(key, sealed, "crdtdb relay\0id"), plain);
});

test("base64url and Serial", async () => {
  assert.equal(base64url(new Uint8Array([0xfb, 0xff, 0xfe])), "-__-");
  assert.equal(base64url(new Uint8Array([1])), "AQ");
  /** @type {unknown[]} */
  const errors = [];
  const s = new Serial((e) => errors.push(e));
  /** @type {number[]} */
  const order = [];
  s.run(async () => {
    await new Promise((r) => setTimeout(r, 20));
    order.push(1);
  });
  s.run(() => {
    throw new Error("boom");
  });
  s.run(() => {
    order.push(3);
  });
  assert.equal(s.queued, 3);
  await new Promise((resolve) => s.run(() => resolve(undefined)));
  assert.deepEqual(order, [1, 3]);
  assert.equal(errors.length, 1);
  assert.equal(/** @type {Error} */ (errors[0]).message, "boom");
});
