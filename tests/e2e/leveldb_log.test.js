// The LevelDB log reader the kill test uses to recognise Chromium dropping a backing store
// after a reused log (tests/e2e/leveldb_log.js), on logs written here the way LevelDB writes
// them.

import assert from "node:assert/strict";
import { test } from "node:test";
import { findTornRecord, maskedRecordCrc } from "./leveldb_log.js";

const BLOCK = 32768;

/** Appends records to a byte log as LevelDB's log::Writer does (fragments across blocks). */
class LogWriter {
  /** @type {number[]} */
  bytes = [];

  /** @param {Uint8Array} payload */
  add(payload) {
    let left = payload;
    let first = true;
    do {
      const room = BLOCK - (this.bytes.length % BLOCK);
      if (room < 7) {
        for (let i = 0; i < room; i++) this.bytes.push(0);
        continue;
      }
      const n = Math.min(left.length, room - 7);
      const last = n === left.length;
      const type = first && last ? 1 : first ? 2 : last ? 4 : 3;
      this.header(type, left.subarray(0, n));
      this.bytes.push(...left.subarray(0, n));
      left = left.subarray(n);
      first = false;
    } while (left.length > 0);
  }

  /** @param {number} type @param {Uint8Array} fragment */
  header(type, fragment) {
    const h = new DataView(new ArrayBuffer(7));
    h.setUint32(0, maskedRecordCrc(type, fragment), true);
    h.setUint16(4, fragment.length, true);
    h.setUint8(6, type);
    this.bytes.push(...new Uint8Array(h.buffer));
  }

  get log() {
    return Uint8Array.from(this.bytes);
  }
}

/** @param {number} seed @param {number} n */
function payload(seed, n) {
  return Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

test("a log of whole records, fragmented across blocks, has no torn record", () => {
  const w = new LogWriter();
  for (let i = 0; i < 40; i++) w.add(payload(i, 12 + ((i * 5003) % 70_000)));
  assert.ok(w.log.length > 3 * BLOCK);
  assert.equal(findTornRecord(w.log), -1);
});

test("an incomplete record at the end (a plain crash) is not a torn record", () => {
  const w = new LogWriter();
  for (let i = 0; i < 5; i++) w.add(payload(i, 300));
  const whole = w.log.length;
  w.add(payload(9, 500));
  assert.equal(findTornRecord(w.log.subarray(0, whole + 7)), -1, "header only");
  assert.equal(findTornRecord(w.log.subarray(0, whole + 200)), -1, "part of the payload");
});

test("records appended after an incomplete one (a reused log) reveal it", () => {
  const w = new LogWriter();
  for (let i = 0; i < 5; i++) w.add(payload(i, 300));
  const torn = w.bytes.length;
  w.add(payload(9, 500));
  w.bytes.length = torn + 7; // the kill: the header was written, the payload was not
  for (let i = 10; i < 13; i++) w.add(payload(i, 200));
  assert.equal(findTornRecord(w.log), torn);
});

test("a flipped payload byte mid-log is found as well", () => {
  const w = new LogWriter();
  for (let i = 0; i < 5; i++) w.add(payload(i, 300));
  const at = w.bytes.length;
  for (let i = 5; i < 9; i++) w.add(payload(i, 300));
  const log = w.log;
  log[at + 50] ^= 1;
  assert.equal(findTornRecord(log), at);
});
