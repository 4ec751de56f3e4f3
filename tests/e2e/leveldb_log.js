// Reads LevelDB write-ahead logs (the `*.log` files of Chromium's IndexedDB backing store) to
// recognise one known Chromium/LevelDB failure: a process killed between writing a record's
// header and its payload leaves an incomplete record at the log's end; on the next start
// LevelDB's `reuse_logs` appends after it instead of starting a new log, so the incomplete
// record now sits mid-file, the open after that reads it as a checksum mismatch, and Chromium
// deletes the whole backing store as corrupt (google/leveldb#1287). The kill test uses it to
// tell that browser failure apart from a database we lost ourselves.
//
// Log format (leveldb doc/log_format.md): 32 KiB blocks of records; a record is a masked
// CRC-32C (4 bytes, over type and payload), a length (2), a type (1: full, 2: first,
// 3: middle, 4: last) and the payload; fewer than 7 bytes left in a block are padding.

const BLOCK = 32768;
const HEADER = 7;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32C of `type` followed by `bytes`, masked the way LevelDB stores it.
 * @param {number} type
 * @param {Uint8Array} bytes
 */
export function maskedRecordCrc(type, bytes) {
  let crc = 0xffffffff;
  crc = CRC_TABLE[(crc ^ type) & 0xff] ^ (crc >>> 8);
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  crc = (crc ^ 0xffffffff) >>> 0;
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/**
 * Whether a well-formed record (known type, length within the file, checksum right) starts at
 * `at`.
 * @param {Uint8Array} log
 * @param {number} at
 */
function validRecordAt(log, at) {
  if (BLOCK - (at % BLOCK) < HEADER || at + HEADER > log.length) return false;
  const view = new DataView(log.buffer, log.byteOffset + at, HEADER);
  const length = view.getUint16(4, true);
  const type = view.getUint8(6);
  if (type < 1 || type > 4 || at + HEADER + length > log.length) return false;
  return view.getUint32(0, true) === maskedRecordCrc(type, log.subarray(at + HEADER, at + HEADER + length));
}

/**
 * Finds a record that fails its checksum while well-formed records follow it: the mark of an
 * incomplete record that a reused log was appended after. An incomplete record at the very end
 * (a plain crash, which LevelDB discards safely) does not count.
 * @param {Uint8Array} log the bytes of one `*.log` file
 * @returns {number} the broken record's offset, or -1
 */
export function findTornRecord(log) {
  let at = 0;
  while (at + HEADER <= log.length) {
    if (BLOCK - (at % BLOCK) < HEADER) {
      at += BLOCK - (at % BLOCK);
      continue;
    }
    if (!validRecordAt(log, at)) {
      // Appended data resumes somewhere after the broken header (the payload never made it).
      for (let next = at + 1; next < Math.min(log.length, at + 2 * BLOCK); next++) {
        if (validRecordAt(log, next)) return at;
      }
      return -1; // broken only at the end
    }
    at += HEADER + new DataView(log.buffer, log.byteOffset + at + 4, 2).getUint16(0, true);
  }
  return -1;
}
