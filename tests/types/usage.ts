// Type-checked (tsc --noEmit, never run) against the hand-written js/index.d.ts, imported the
// way an app does: through the package's own name and its exports map ("types" condition).
// Lines marked @ts-expect-error must fail to type-check; if the .d.ts stops rejecting them,
// tsc reports the unused directive.

import {
  CRDTDB,
  CRDTDBError,
  ClosedError,
  DecodeError,
  NotFoundError,
  QuotaError,
  UnknownIndexError,
  MemoryStorage,
  BroadcastChannelSync,
  WebRTCSync,
  WebSocketSync,
  type SyncProvider,
  type SyncStatus,
  type ApplyResult,
  type ChangeEvent,
  type UpdateEvent,
  type JsonValue,
  type Row,
  type Table,
  type Index,
  type KeyRange,
  type Transaction,
  type TextHandle,
  type TextPatch,
  equals,
  above,
  aboveOrEqual,
  below,
  belowOrEqual,
  between,
  startsWith,
  anyOf,
} from "crdtdb";

interface User {
  name: string;
  age: number;
  firstname?: string;
  lastname?: string;
}

export async function queries(): Promise<void> {
  const db = await CRDTDB.open("q", {
    indexes: {
      usersByAge: { table: "users", keys: ["age"] },
      usersByFullName: { table: "users", keys: ["firstname", "lastname"] },
    },
  });
  const users: Table<User> = db.table<User>("users");
  await users.set("u1", { name: "Ada", age: 36 });
  await users.update("u1", { age: 37 });
  const u: User | undefined = users.get("u1");
  const all: User[] = users.query(undefined, { limit: 10, offset: 0, reverse: true });
  const n: number = users.count(between("a", "z", { includeUpper: true }));
  for await (const row of users.iterate(startsWith("u"))) {
    const name: string = row.name;
    console.log(name);
  }
  const stopAll: () => void = users.subscribe((rows: User[]) => console.log(rows.length));
  stopAll();

  const byAge: Index<User> = db.index<User>("usersByAge");
  const first: User | undefined = byAge.get(30);
  const full = db.index<User>("usersByFullName").get(["kalle", "kula"]);
  const ranges: KeyRange[] = [
    equals(1), above(18), aboveOrEqual("a"), below([1, "x"]), belowOrEqual(2),
    between(18, 65), startsWith(["kalle"]), anyOf(1, "two", [3]),
  ];
  const adults: User[] = byAge.query(above(18), { limit: 50 });
  const stop: () => void = byAge.subscribe(above(18), (rows) => console.log(rows[0]?.age));
  stop();
  for await (const row of byAge.iterate(undefined, { reverse: true })) console.log(row.age);

  const total: number = await db.transaction(async (tx: Transaction) => {
    const t = tx.table<User>("users");
    const user = t.get("u1");
    if (user) await t.set("u1", { ...user, age: user.age + 1 });
    await t.update("u1", { name: "Ada L." });
    await t.delete("u2");
    const seen: User[] = t.query();
    return t.count() + tx.index<User>("usersByAge").count(above(0)) + seen.length;
  });
  console.log(u, all, n, first, full, ranges, adults, total);

  // Row keys beside rows, and the key of any row a read returned.
  const keys: string[] = byAge.keys(above(18), { limit: 10 });
  const pairs: [string, { readonly name: string; readonly age: number }][] = users.entries();
  const keyOfFirst: string | undefined = db.keyOf(adults[0]);
  console.log(keys, pairs, keyOfFirst, users.keys(startsWith("u")), byAge.entries());

  // Add-wins set columns: the element type comes from the column's array type.
  const tagged = db.table<{ name: string; tags?: string[] }>("tagged");
  await tagged.addToSet("k", "tags", "x");
  await tagged.removeFromSet("k", "tags", "x");
  await db.table("untyped").addToSet("k", "anything", { any: ["json", 1, null] });
  await db.transaction(async (tx) => {
    await tx.table<{ tags: number[] }>("tagged").addToSet("k", "tags", 1);
    await tx.table("untyped").removeFromSet("k", "anything", [1, "a"]);
  });
  // @ts-expect-error: the element must be of the set's element type
  await tagged.addToSet("k", "tags", 1);
  // @ts-expect-error: a column that is not an array cannot hold a set
  await tagged.addToSet("k", "name", "x");
  // @ts-expect-error: nor can a column the row type lacks
  await tagged.addToSet("k", "nope", "x");

  // Counter columns: any column whose type admits a number.
  const liked = db.table<{ title: string; likes: number; views?: number; level: 1 | 2 }>("liked");
  await liked.increment("k", "likes");
  await liked.increment("k", "views", -3);
  await db.table("untyped").increment("k", "anything", 2);
  await db.transaction(async (tx) => {
    await tx.table<{ likes: number }>("liked").increment("k", "likes", 5);
    await tx.table("untyped").increment("k", "anything");
  });
  const likes: number | undefined = liked.get("k")?.likes;
  console.log(likes);
  // @ts-expect-error: a string column is not a counter
  await liked.increment("k", "title");
  // @ts-expect-error: nor is a column typed as number literals (an increment leaves them)
  await liked.increment("k", "level");
  // @ts-expect-error: nor a column the row type lacks
  await liked.increment("k", "nope");
  // @ts-expect-error: the delta is a number
  await liked.increment("k", "likes", "1");

  // Text columns: any column whose type admits any string.
  const notes = db.table<{ title: string; body?: string; kind: "a" | "b"; n: number }>("notes");
  const body: TextHandle = notes.text("k", "body");
  await body.insert(0, "hi");
  await body.delete(0, 1);
  const content: string = body.toString();
  const units: number = body.length;
  const stopText: () => void = body.subscribe((patches: TextPatch[], { origin }) => {
    for (const p of patches) console.log(p.pos, p.delete, p.insert, origin);
  });
  stopText();
  console.log(content, units, notes.text("k", "title").length, db.table("untyped").text("k", "any").length);
  // @ts-expect-error: a number column is not a text
  notes.text("k", "n");
  // @ts-expect-error: nor is a column typed as string literals (edits leave them)
  notes.text("k", "kind");
  // @ts-expect-error: nor a column the row type lacks
  notes.text("k", "nope");
  // @ts-expect-error: an insert takes a string
  await body.insert(0, 5);

  const read = users.get("u1");
  // @ts-expect-error: rows read back are deeply read-only (frozen at run time)
  if (read) read.age = 1;
  // @ts-expect-error: so are their arrays
  db.table<{ tags: string[] }>("t").get("k")?.tags.push("x");
  // @ts-expect-error: a Date column is not JSON
  db.table<{ when: Date }>("events");
  // @ts-expect-error: a Map column is not JSON
  db.table<{ m: Map<string, number> }>("maps");
  // @ts-expect-error: a function column is not JSON
  db.table<{ f: () => void }>("fns");
  // @ts-expect-error: an undefined column is not JSON (an optional one is)
  db.table<{ u: string | undefined }>("undef");
  // @ts-expect-error: nested values are checked too
  db.table<{ nested: { at: Date }[] }>("nested");
  // @ts-expect-error: index names come from the indexes option
  db.index("usersByAgeTypo");
  // Tuples read back stay tuples (read-only).
  const pos = db.table<{ pos: [number, number] }>("points").get("p")?.pos;
  if (pos) {
    const [x, y] = pos;
    const sum: number = x + y;
    console.log(sum);
    // @ts-expect-error: a tuple read back is read-only
    pos[0] = 1;
  }
  const optional = db.table<{ note?: string; tags: readonly string[] }>("opt");
  await optional.set("k", { tags: ["a"] });
  // @ts-expect-error: rows of a typed table have its shape
  await users.set("u2", { name: 1, age: 2 });
  // @ts-expect-error: a Date is not an index key
  byAge.get(new Date());
  // @ts-expect-error: ranges come from the range helpers
  byAge.query({ type: "nope" });
  // @ts-expect-error: reverse is a boolean
  users.query(undefined, { reverse: "yes" });
  // @ts-expect-error: between options are booleans
  between(1, 2, { includeLower: 1 });
  // @ts-expect-error: subscribe on an index takes a range first
  byAge.subscribe((rows: User[]) => rows);
  // @ts-expect-error: the transaction resolves with the callback's value
  const wrong: string = await db.transaction(async () => 42);
  console.log(wrong);
}

export async function usage(): Promise<void> {
  const db = new CRDTDB("mydb", { storage: "memory", peerId: "alice" });
  const same: CRDTDB = await db.ready;
  const opened: CRDTDB = await CRDTDB.open("other", { maxPendingBytes: 1 << 20 });
  const peer: string = db.peerId;

  const users: Table = db.table("users");
  await users.set("user_123", { name: "Ada", age: 36, tags: ["math"], address: { city: "London" } });
  await users.update("user_123", { age: 37 });
  const user: Row | undefined = users.get("user_123");
  if (user !== undefined) {
    const age: JsonValue | undefined = user["age"];
    // Rows read back can be copied into a write (readonly shapes are accepted).
    await users.set("user_123", { ...user, visits: typeof age === "number" ? age + 1 : 1 });
  }
  const exists: boolean = users.has("user_123");
  const losers: JsonValue[] | undefined = users.conflicts("user_123")["age"];
  await users.delete("user_123");

  const version: Uint8Array = db.version();
  const changes: Uint8Array = opened.changesSince(version);
  const all: Uint8Array = db.changesSince();
  const result: ApplyResult = db.applyChanges(changes);
  const counts: number = result.applied + result.pending;

  const off: () => void = db.on("change", (e: ChangeEvent) => {
    const origin: string | object = e.origin;
    console.log(e.table, e.key, origin);
  });
  off();
  const offUpdate = db.on("update", (e: UpdateEvent) => {
    const bytes: Uint8Array = e.bytes;
    opened.applyChanges(bytes, { origin: "provider" });
  });
  offUpdate();
  db.applyChanges(all, { origin: opened }); // a provider passes itself
  // @ts-expect-error: origin is a string or an object
  db.applyChanges(all, { origin: 5 });

  try {
    db.applyChanges(all);
  } catch (err) {
    if (err instanceof DecodeError || err instanceof QuotaError) console.log(err.message);
    const errors = [CRDTDBError, ClosedError, NotFoundError, UnknownIndexError];
    console.log(errors.every((E) => new E("x") instanceof CRDTDBError));
  }
  db.close();
  console.log(same, peer, exists, losers, counts);

  // Storage: "indexeddb", "memory" or an adapter such as MemoryStorage.
  const kept = new MemoryStorage();
  const persisted = await CRDTDB.open("kept", { storage: kept });
  persisted.close();
  await CRDTDB.deleteDatabase("kept");
  console.log(await kept.entries("meta"));
  // @ts-expect-error: storage is "indexeddb", "memory" or an adapter
  new CRDTDB("x", { storage: "disk" });
  // @ts-expect-error: keys are strings
  users.get(1);
  // @ts-expect-error: a Date is not a JSON value
  await users.set("k", { when: new Date() });
  // @ts-expect-error: functions are not JSON values
  await users.set("k", { f: () => 1 });
  // @ts-expect-error: undefined is not a JSON value
  await users.set("k", { u: undefined });
  // @ts-expect-error: only "change" events exist
  db.on("changes", () => {});
  // @ts-expect-error: applyChanges takes bytes
  db.applyChanges("bytes");
  // @ts-expect-error: query options are validated (limit is a number)
  users.query(undefined, { limit: "10" });
}

export async function syncTabs(db: CRDTDB): Promise<void> {
  const tabs = new BroadcastChannelSync(db, { channel: "tabs", maxMessageBytes: 1 << 20, warn: (m: string) => console.log(m) });
  const provider: SyncProvider = tabs;
  const peers: string[] = provider.peers;
  const off: () => void = tabs.on("status", (s: SyncStatus) => console.log(s.connected, s.synced, peers));
  off();
  db.on("change", (e) => {
    if (e.origin === tabs) console.log("from another tab");
  });
  db.presence.set({ name: "Ada", cursor: 3 });
  db.presence.set(null);
  const states: Map<string, JsonValue> = db.presence.getAll();
  const offPresence: () => void = db.presence.on("change", (all) => console.log(all.size, states.size));
  offPresence();
  // @ts-expect-error: presence states are JSON values
  db.presence.set(() => 1);
  const name: string = tabs.channel;
  console.log(name, tabs.destroyed, tabs.status.synced);
  tabs.destroy();
  // @ts-expect-error: only "status" events exist
  tabs.on("peers", () => {});
  // @ts-expect-error: the channel is a string
  new BroadcastChannelSync(db, { channel: 5 });
  new BroadcastChannelSync(db, { channel: "tabs", password: "secret" }).destroy();
}

export function syncRemote(db: CRDTDB): void {
  const rtc = new WebRTCSync(db, {
    room: "team-42",
    signaling: "ws://127.0.0.1:4444",
    password: "optional room secret",
    maxConns: 8,
    iceServers: [{ urls: "stun:stun.example.org" }, { urls: ["turn:turn.example.org"], username: "u", credential: "c" }],
  });
  const ws = new WebSocketSync(db, { url: "ws://127.0.0.1:4444/sync/team-42" });
  const providers: SyncProvider[] = [rtc, ws];
  const room: string = rtc.room + ws.room;
  console.log(room, providers.length, rtc.peers.length, ws.status.connected);
  rtc.destroy();
  ws.destroy();
  // @ts-expect-error: WebRTCSync needs a room
  new WebRTCSync(db, { signaling: "ws://127.0.0.1:4444" });
  // @ts-expect-error: WebSocketSync needs a url
  new WebSocketSync(db, {});
  // @ts-expect-error: maxConns is a number
  new WebRTCSync(db, { room: "r", maxConns: "8" });
}
