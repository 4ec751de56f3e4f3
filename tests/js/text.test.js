// Text columns (api.md "Rich column types"): t.text(key, column) and its TextHandle — creating
// a text from a missing or string column, edits that commit at once, validation (nothing
// changes on a rejected edit), merging of concurrent edits through changesSince/applyChanges,
// positional patches for editors, persistence, and real editing traces replayed through the
// public API.

import assert from "node:assert/strict";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { CRDTDB, MemoryStorage, NotFoundError } from "crdtdb";
import { assertConverged, openDb, push, rng, syncBoth } from "./helpers.js";

const TRACES = new URL("../data/editing-traces/", import.meta.url);

/**
 * What a replica shows and has recorded, to check that a rejected call changed nothing.
 * @param {CRDTDB} db
 * @param {string} table
 */
function state(db, table) {
  return { rows: db.table(table).entries(), version: [...db.version()], history: [...db.changesSince()] };
}

/**
 * A database with row "d" of table "docs" holding a text in column "body".
 * @param {string} peer
 * @param {string} [content]
 */
async function docWith(peer, content = "") {
  const db = await openDb(peer);
  const docs = db.table("docs");
  await docs.set("d", { title: "t" });
  const h = docs.text("d", "body");
  if (content !== "") await h.insert(0, content);
  return { db, docs, h };
}

test("text() on a missing column creates an empty text; edits show in get() at once", async () => {
  const { db, docs, h } = await docWith("a");
  assert.deepEqual(docs.get("d"), { title: "t", body: "" });
  assert.equal(h.toString(), "");
  assert.equal(h.length, 0);
  const p = h.insert(0, "hello");
  assert.equal(docs.get("d")?.body, "hello", "applies to memory before it is awaited");
  await p;
  await h.insert(5, " world");
  await h.insert(0, ">");
  await h.delete(1, 1);
  assert.equal(h.toString(), ">ello world");
  assert.equal(h.length, 11);
  assert.deepEqual(docs.get("d"), { title: "t", body: ">ello world" });
  // Opening the text again writes nothing.
  const before = state(db, "docs");
  const again = docs.text("d", "body");
  assert.equal(again.toString(), ">ello world");
  assert.deepEqual(state(db, "docs"), before);
  // Other columns stay ordinary columns next to the text.
  await docs.update("d", { title: "u" });
  assert.deepEqual(docs.get("d"), { title: "u", body: ">ello world" });
  await h.insert(11, "!");
  assert.deepEqual(docs.get("d"), { title: "u", body: ">ello world!" });
});

test("text() on a string column turns the string into the text's content", async () => {
  const db = await openDb("a");
  const docs = db.table("docs");
  await docs.set("d", { body: "caf\u00e9 \u{1F600}" });
  const h = docs.text("d", "body");
  assert.equal(h.toString(), "caf\u00e9 \u{1F600}");
  assert.equal(h.length, 7, "lengths count UTF-16 code units");
  await h.insert(7, "!");
  await h.insert(5, "x");
  assert.equal(docs.get("d")?.body, "caf\u00e9 x\u{1F600}!");
  // Another replica sees the text, not the old string, once synced.
  const b = await openDb("b");
  push(db, b);
  assert.equal(b.table("docs").get("d")?.body, "caf\u00e9 x\u{1F600}!");
  await b.table("docs").text("d", "body").delete(0, 5);
  push(b, db);
  assert.equal(h.toString(), "x\u{1F600}!");
});

test("text() refuses a missing row, a bad column name and a column of another type, writing nothing", async () => {
  const db = await openDb("a");
  const docs = db.table("docs");
  await docs.set("d", { n: 1, flag: true, list: [1], obj: { a: 1 }, nil: null });
  await docs.increment("d", "c", 2);
  await docs.addToSet("d", "s", "x");
  const before = state(db, "docs");
  assert.throws(() => docs.text("nope", "body"), NotFoundError);
  assert.throws(() => docs.text("nope", "body"), /cannot edit a text on row "nope"/);
  for (const [column, type] of [
    ["n", /number/],
    ["flag", /boolean/],
    ["list", /array/],
    ["obj", /object/],
    ["nil", /null/],
    ["c", /number|counter/],
    ["s", /set/],
  ]) {
    assert.throws(() => docs.text("d", /** @type {string} */ (column)), (e) => {
      assert.ok(e instanceof TypeError, `${column}: ${e}`);
      assert.match(String(e.message), /** @type {RegExp} */ (type));
      return true;
    });
  }
  for (const column of [1, null, undefined, {}, "\ud800"]) {
    assert.throws(() => docs.text("d", /** @type {any} */ (column)), TypeError);
  }
  assert.throws(() => docs.text(/** @type {any} */ (5), "body"), TypeError);
  assert.deepEqual(state(db, "docs"), before, "nothing was written");
});

test("bad edits reject with RangeError or TypeError and change nothing", async () => {
  const { db, h } = await docWith("a", "ab\u{1F600}cd"); // a b hi lo c d: 6 units
  const before = state(db, "docs");
  /** @type {[() => Promise<void>, Function][]} */
  const cases = [
    [() => h.insert(7, "x"), RangeError],
    [() => h.insert(-1, "x"), RangeError],
    [() => h.insert(3, "x"), RangeError], // between the halves of the pair
    [() => h.insert(2 ** 40, "x"), RangeError],
    [() => h.delete(5, 2), RangeError],
    [() => h.delete(7, 0), RangeError],
    [() => h.delete(0, 3), RangeError], // ends inside the pair
    [() => h.delete(3, 1), RangeError], // starts inside the pair
    [() => h.delete(-1, 1), RangeError],
    [() => h.insert(3, ""), RangeError], // an empty edit inside the pair
    [() => h.delete(3, 0), RangeError],
    [() => h.insert(0xfffffff5, "x"), RangeError], // past the end, within 32 bits
    [() => h.delete(0, 2 ** 32 - 1), RangeError],
    [() => h.insert(1.5, "x"), TypeError],
    [() => h.insert(NaN, "x"), TypeError],
    [() => h.insert(/** @type {any} */ ("1"), "x"), TypeError],
    [() => h.insert(0, /** @type {any} */ (5)), TypeError],
    [() => h.insert(0, /** @type {any} */ (null)), TypeError],
    [() => h.insert(0, "\ud800"), TypeError], // a lone surrogate
    [() => h.insert(0, "x\udc00"), TypeError],
    [() => h.delete(0, 0.5), TypeError],
    [() => h.delete(0, /** @type {any} */ (undefined)), TypeError],
  ];
  for (const [call, type] of cases) {
    await assert.rejects(call(), type, String(call));
  }
  assert.deepEqual(state(db, "docs"), before);
  // Empty edits in range change nothing and resolve.
  await h.insert(6, "");
  await h.delete(2, 0);
  assert.deepEqual(state(db, "docs"), before);
  // Whole pairs are fine.
  await h.delete(2, 2);
  await h.insert(2, "\u{1F601}");
  assert.equal(h.toString(), "ab\u{1F601}cd");
});

test("a set or update replaces the text; a deleted row refuses edits", async () => {
  const { db, docs, h } = await docWith("a", "text");
  await docs.update("d", { body: 5 });
  assert.equal(docs.get("d")?.body, 5);
  assert.equal(h.toString(), "", "a handle on a column that is no longer a string reads empty");
  const before = state(db, "docs");
  await assert.rejects(h.insert(0, "x"), TypeError);
  await assert.rejects(h.insert(0, ""), TypeError);
  assert.deepEqual(state(db, "docs"), before);
  // A string written by update is a plain string; text() makes it a text again.
  await docs.update("d", { body: "plain" });
  await assert.rejects(h.insert(0, "x"), TypeError, "a plain string column is not a text until text() opens it");
  const h2 = docs.text("d", "body");
  await h2.insert(5, "!");
  assert.equal(h.toString(), "plain!");
  // set without the column removes it.
  await docs.set("d", { title: "x" });
  assert.deepEqual(docs.get("d"), { title: "x" });
  await assert.rejects(h2.insert(0, "x"), TypeError);
  await docs.delete("d");
  await assert.rejects(h2.insert(0, "x"), NotFoundError);
  await assert.rejects(h2.delete(0, 0), NotFoundError);
});

test("each edit commits at once: a following changesSince carries it", async () => {
  const { db: a, h } = await docWith("a");
  const b = await openDb("b");
  push(a, b);
  h.insert(0, "abc"); // not awaited
  push(a, b);
  assert.equal(b.table("docs").get("d")?.body, "abc");
  h.delete(1, 1);
  h.insert(2, "Z");
  push(a, b);
  assert.equal(b.table("docs").get("d")?.body, "acZ");
  assertConverged(a, b, "docs", ["d"]);
});

test("concurrent edits on three replicas merge: nothing typed is lost", async () => {
  const { db: a, h: ha } = await docWith("a", "The cat");
  const b = await openDb("b");
  const c = await openDb("c");
  push(a, b);
  push(a, c);
  const hb = b.table("docs").text("d", "body");
  const hc = c.table("docs").text("d", "body");
  assert.equal(hb.toString(), "The cat");
  await ha.insert(7, " sat"); // end
  await hb.insert(4, "big "); // middle
  await hc.insert(7, " ran"); // same place as a
  await hc.delete(0, 4);
  syncBoth(a, b);
  syncBoth(b, c);
  syncBoth(a, b);
  const s = ha.toString();
  assert.equal(hb.toString(), s);
  assert.equal(hc.toString(), s);
  assert.ok(s.startsWith("big cat"), s);
  assert.ok(s.includes(" sat") && s.includes(" ran"), s);
  assert.equal(s.length, "big cat sat ran".length);
  assertConverged(a, c, "docs", ["d"]);
});

test("a concurrent set replaces the text by last-writer-wins; edits to the replaced text vanish with it", async () => {
  const { db: a, docs, h } = await docWith("a", "draft");
  const b = await openDb("b");
  push(a, b);
  await b.table("docs").update("d", { body: "final" });
  await h.insert(5, "!"); // concurrent with b's update
  syncBoth(a, b);
  assertConverged(a, b, "docs", ["d"]);
  const body = docs.get("d")?.body;
  assert.ok(body === "final" || body === "draft!", String(body));
});

test("subscribe reports local edits exactly and merges as patches that rebuild the content", async () => {
  const { db: a, h } = await docWith("a", "hello");
  const b = await openDb("b");
  push(a, b);
  const hb = b.table("docs").text("d", "body");
  /** @type {{ patches: import("crdtdb").TextPatch[], origin: unknown }[]} */
  const seen = [];
  let mirror = h.toString();
  const stop = h.subscribe((patches, { origin }) => {
    seen.push({ patches, origin });
    for (const p of patches) mirror = mirror.slice(0, p.pos) + p.insert + mirror.slice(p.pos + p.delete);
  });
  assert.equal(seen.length, 0, "not called at once");
  await h.insert(5, " world");
  await h.delete(0, 1);
  assert.deepEqual(
    seen.map((s) => s.patches),
    [[{ pos: 5, delete: 0, insert: " world" }], [{ pos: 0, delete: 1, insert: "" }]],
  );
  assert.equal(seen[0].origin, "local");
  // Typing the same letter after itself: still exactly the edit made.
  await h.insert(1, "l");
  assert.deepEqual(seen.at(-1)?.patches, [{ pos: 1, delete: 0, insert: "l" }]);
  await hb.insert(0, "[");
  await hb.insert(6, "]");
  a.applyChanges(b.changesSince(a.version()), { origin: "peer-b" });
  assert.equal(seen.at(-1)?.origin, "peer-b");
  assert.equal(mirror, h.toString());
  // Writes to other columns and rows do not call back.
  const count = seen.length;
  await a.table("docs").update("d", { title: "other" });
  await a.table("docs").set("e", { body: "x" });
  assert.equal(seen.length, count);
  // A plain write replacing the text reports the new content.
  await a.table("docs").update("d", { body: "gone" });
  assert.equal(mirror, "gone");
  stop();
  stop();
  await a.table("docs").update("d", { body: "again" });
  assert.equal(mirror, "gone", "stopped");
  assert.throws(() => h.subscribe(/** @type {any} */ (null)), TypeError);
});

test("texts survive close and reopen (MemoryStorage) and go on merging", async () => {
  const mem = new MemoryStorage();
  const a = await CRDTDB.open("text-persist", { storage: mem, peerId: "a" });
  const b = await openDb("b");
  const docs = a.table("docs");
  await docs.set("d", { title: "t" });
  const h = docs.text("d", "body");
  await h.insert(0, "one two");
  push(a, b);
  await b.table("docs").text("d", "body").insert(3, " and a half"); // concurrent with what follows
  await h.insert(7, " three");
  await a.close();
  const a2 = await CRDTDB.open("text-persist", { storage: mem, peerId: "a" });
  const h2 = a2.table("docs").text("d", "body");
  assert.equal(h2.toString(), "one two three");
  const version = [...a2.version()];
  assert.deepEqual([...a2.table("docs").text("d", "body").toString()], [..."one two three"]);
  assert.deepEqual([...a2.version()], version, "reopening the text wrote nothing");
  await h2.insert(0, ">");
  syncBoth(a2, b);
  assert.equal(h2.toString(), ">one and a half two three");
  assertConverged(a2, b, "docs", ["d"]);
  await a2.close();
});

test("random concurrent editing with surrogate pairs converges on every replica", async () => {
  const alphabet = ["a", "b", "c", " ", "\u00e9", "\u{1F600}", "\u{10400}"];
  for (let seed = 1; seed <= 8; seed++) {
    const r = rng(seed);
    // Odd seeds start long: the rows then change by splices (records carry the edit of a long
    // string, not the string), on local edits and merges alike.
    const start = seed % 2 === 1 ? "st\u{1F600}art\u00e9 ".repeat(40) : "start";
    const { db: first } = await docWith("p0", start);
    const dbs = [first];
    for (let i = 1; i < 3 + (seed % 3); i++) {
      const db = await openDb(`p${i}`);
      push(first, db);
      dbs.push(db);
    }
    const handles = dbs.map((db) => db.table("docs").text("d", "body"));
    for (let step = 0; step < 120; step++) {
      const i = r.int(dbs.length);
      const h = handles[i];
      const s = h.toString();
      // Code point boundaries of the current content.
      const cuts = [0];
      for (const ch of s) cuts.push(cuts[cuts.length - 1] + ch.length);
      const roll = r.next();
      if (roll < 0.55 || s.length === 0) {
        let str = "";
        for (let n = 1 + r.int(4); n > 0; n--) str += alphabet[r.int(alphabet.length)];
        const pos = cuts[r.int(cuts.length)];
        await h.insert(pos, str);
        assert.equal(h.toString(), s.slice(0, pos) + str + s.slice(pos));
      } else if (roll < 0.85) {
        const from = r.int(cuts.length - 1);
        const to = Math.min(cuts.length - 1, from + 1 + r.int(4));
        await h.delete(cuts[from], cuts[to] - cuts[from]);
        assert.equal(h.toString(), s.slice(0, cuts[from]) + s.slice(cuts[to]));
      } else {
        const j = r.int(dbs.length);
        // Deliver out of order and twice: everything, then a stale repeat.
        const bytes = dbs[j].changesSince(dbs[i].version());
        dbs[i].applyChanges(bytes);
        dbs[i].applyChanges(bytes);
      }
    }
    for (let k = 0; k < 2; k++) for (const a of dbs) for (const b of dbs) push(a, b);
    const text = handles[0].toString();
    for (const [i, h] of handles.entries()) {
      assert.equal(h.toString(), text, `seed ${seed}: replica ${i}`);
      assertConverged(dbs[0], dbs[i], "docs", ["d"]);
    }
    // A new replica reads the row whole: the same text.
    const fresh = await openDb("fresh");
    push(first, fresh);
    assert.equal(fresh.table("docs").get("d")?.body, text, `seed ${seed}: a new replica`);
  }
});

/**
 * @param {string} name
 * @returns {any}
 */
function readTrace(name) {
  return JSON.parse(gunzipSync(readFileSync(new URL(name, TRACES))).toString("utf8"));
}

test("a sequential editing trace typed through the handle ends in its recorded text", async () => {
  const trace = readTrace("friendsforever_flat.json.gz");
  const { db, h } = await docWith("a");
  const b = await openDb("b");
  let edits = 0;
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      if (del > 0) h.delete(pos, del);
      if (ins !== "") h.insert(pos, ins);
      edits++;
    }
    // A peer follows along now and then, as a live collaborator would.
    if (edits % 2000 === 0) push(db, b);
  }
  assert.equal(h.toString(), trace.endContent);
  push(db, b);
  assert.equal(b.table("docs").get("d")?.body, trace.endContent);
  const reopened = await openDb("c");
  reopened.applyChanges(db.changesSince());
  assert.equal(reopened.table("docs").get("d")?.body, trace.endContent);
});

test("a concurrent editing trace replayed by one replica per agent merges to its recorded text", async () => {
  const trace = readTrace("friendsforever.json.gz");
  const n = trace.txns.length;
  const { db: base } = await docWith("base");
  /** @type {Uint8Array[][]} the update messages of each transaction */
  const records = [];
  /** @type {Uint8Array[]} what the transaction being typed has sent so far */
  let sending = [];
  /** @type {{ db: CRDTDB, h: import("crdtdb").TextHandle, has: Uint8Array }[]} */
  const agents = [];
  for (let i = 0; i < trace.numAgents; i++) {
    const db = await openDb(`agent${i}`);
    push(base, db);
    // Each edit's update message, as a sync provider would send it.
    db.on("update", ({ bytes, origin }) => {
      if (origin === "local") sending.push(bytes);
    });
    agents.push({ db, h: db.table("docs").text("d", "body"), has: new Uint8Array(n) });
  }
  for (const [i, txn] of trace.txns.entries()) {
    const agent = agents[txn.agent];
    // Bring the agent's replica to exactly the transaction's parents: what it lacks of their
    // history, oldest first (parents always precede their children in the file).
    const missing = [];
    const stack = [...txn.parents];
    while (stack.length > 0) {
      const t = stack.pop();
      if (agent.has[t]) continue;
      agent.has[t] = 1;
      missing.push(t);
      stack.push(...trace.txns[t].parents);
    }
    missing.sort((x, y) => x - y);
    for (const t of missing) for (const bytes of records[t]) agent.db.applyChanges(bytes);
    sending = [];
    for (const [pos, del, ins] of txn.patches) {
      if (del > 0) agent.h.delete(pos, del);
      if (ins !== "") agent.h.insert(pos, ins);
    }
    records.push(sending);
    agent.has[i] = 1;
  }
  const all = await openDb("all");
  push(base, all);
  for (const rec of records) for (const bytes of rec) all.applyChanges(bytes);
  assert.equal(all.table("docs").get("d")?.body, trace.endContent);
  for (const agent of agents) {
    syncBoth(agent.db, all);
    assert.equal(agent.h.toString(), trace.endContent);
  }
});
