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
  type ApplyResult,
  type ChangeEvent,
  type JsonValue,
  type Row,
  type Table,
} from "crdtdb";

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
    const origin: "local" | "remote" = e.origin;
    console.log(e.table, e.key, origin);
  });
  off();

  try {
    db.applyChanges(all);
  } catch (err) {
    if (err instanceof DecodeError || err instanceof QuotaError) console.log(err.message);
    const errors = [CRDTDBError, ClosedError, NotFoundError, UnknownIndexError];
    console.log(errors.every((E) => new E("x") instanceof CRDTDBError));
  }
  db.close();
  console.log(same, peer, exists, losers, counts);

  // @ts-expect-error: storage "indexeddb" is not available in this version
  new CRDTDB("x", { storage: "indexeddb" });
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
  // @ts-expect-error: not implemented in this version (queries come later)
  users.query();
}
