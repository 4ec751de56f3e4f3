// Every conversion between the JS side's binary shapes and the engine's types. Plain C++ (no
// Emscripten): built into the WASM module and into the native test suite, where the boundary
// decoders are fuzzed. Mirrored in js/codec.js (inputs) and js/record.js (outputs).
//
// Strings are varint length + UTF-8 bytes; values use the engine's encoding (core/value.h)
// except that object keys may come in any order (converted to canonical here); f64 numbers are
// 8 bytes little-endian (they carry limits and offsets up to 2^53).
//
// Inputs (JS → engine):
//   ops     varint n, n × op; op = u8 kind (1 set, 2 update, 3 delete, 4 add to set,
//           5 remove from set: as update, one column whose value is the element; 6 increment:
//           one column whose value is the delta; 7, counter resets, are the engine's own;
//           8 text create: one column, value null; 9 text edit: one column, value
//           [pos, insert string | delete length] (merge/text_op.h); 8 and 9 commit at once),
//           name table,
//           string key, [set, update] varint nCols, nCols × (name column, value)
//           name = varint id (a name id the JS side learned from change records), or
//                  varint 0 then string (a name it does not know, or may not rely on)
//   range   u8 type: 0 all · 1 equals v · 2 above v · 3 aboveOrEqual v · 4 below v ·
//           5 belowOrEqual v · 6 between u8 flags(1 includeLower, 2 includeUpper) lo hi ·
//           7 startsWith v (string or array) · 8 anyOf varint n, n × v
//   query   string table, string index ("" = primary order), range, f64 limit (< 0: none),
//           f64 offset, u8 flags (1 reverse, 2 staged, 4 return a cursor), varint cursorLen,
//           cursor bytes (continue strictly after this entry)
//   indexes varint n, n × (string name, string table, varint nKeys, nKeys × string column)
//   row     string table, string key
//   column  string table, string key, string column
// Outputs (engine → JS):
//   change record (commit, applyChanges, commitStaged):
//           varint nNames, nNames × string          names new to the JS side (ids continue)
//           varint applied, varint pending
//           varint nRows, nRows × (varint rowId, u8 kind, …)
//             1 new   varint tableNameId, string key, varint nCols, nCols × (varint nameId, value)
//             2 full  varint nCols, nCols × (varint nameId, value)
//             3 patch varint nCols, nCols × (varint nameId, value | splice)
//                     splice = u8 0x3f (no value starts so), varint pos, varint removed,
//                     string inserted: the column's previous string with `removed` UTF-16
//                     units at `pos` replaced (long strings changed by a short edit)
//             4 gone
//           varint nSubs, nSubs × (varint subId, varint n, n × varint rowId)   new results
//           varint updateLen, update bytes (a Changes message; 0 when not asked for)
//   query   varint n, n × varint rowId, [flag 4] string cursor (the last entry; for paging)
//   staged query   varint n, n × (u8 0, varint rowId | u8 1, string key, staged row)
//   staged row     varint nCols, nCols × (string name, value)   (preceded by u8 present)
//   conflicts      varint nCols, nCols × (string name, varint n, n × value)
//   text state     u8 1 when the column (input: column) of a visible row shows a text, else 0
//   load rows      a change record (as above) with each loaded visible row as new
// Record lists (JS → engine, crdtdb_load_history / crdtdb_load_rows): varint n, n × (varint
//   len, len bytes): events values in key order, or a batch of crdt_rows values. The load
//   fuzzer frames a whole stored state as two such lists (events, then rows).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "db/database.h"

namespace crdtdb::boundary {

// Marks a splice in place of a value in a change record (no value tag is 0x3f).
constexpr std::uint8_t kSpliceTag = 0x3f;

// A size JS passed as a number: negative or NaN is 0, beyond SIZE_MAX is SIZE_MAX.
std::size_t toSize(double d);

struct OpBatch {
  std::vector<OpRef> ops;
  std::vector<ColumnRef> columns;  // storage the ops' column spans point into
  Bytes canonical;                 // values re-encoded canonically (objects with sorted keys)
};
// Throws Error(Type) naming what is malformed. Views point into `in`, out.canonical and the
// replica's name table (names sent as ids are resolved through `db`).
void decodeOps(ByteSpan in, OpBatch& out, const Database& db);

KeyRange decodeRange(ByteReader& r);

struct QuerySpec {
  std::string table, index;
  KeyRange range;
  QueryOptions opts;
  bool staged = false;
  bool wantCursor = false;
};
QuerySpec decodeQuery(ByteSpan in);

std::vector<IndexDef> decodeIndexDefs(ByteSpan in);

// Views into the input. Throws Error(Type) when the framing is malformed (the records
// themselves are the engine's).
std::vector<ByteSpan> decodeRecordList(ByteSpan in);
struct StoredState {
  std::vector<ByteSpan> events, rows;  // views into the input
};
StoredState decodeStoredState(ByteSpan in);
// The change record of rows just loaded: each visible one as new.
void writeLoadRecord(const Database& db, std::span<const RowId> loaded, std::uint32_t& namesSent,
                     ByteWriter& out);

// `namesSent`: how many names the JS side holds (advanced past the names written).
void writeChangeRecord(const Database& db, const ChangeSet& cs, std::uint32_t& namesSent,
                       ByteWriter& out);
void writeQuery(const Database& db, const QuerySpec& q, ByteWriter& out);
void writeCount(const Database& db, const QuerySpec& q, ByteWriter& out);
void writeStagedRow(const Database& db, ByteSpan in, ByteWriter& out);
void writeConflicts(const Database& db, ByteSpan in, ByteWriter& out);
void writeTextState(const Database& db, ByteSpan in, ByteWriter& out);

}  // namespace crdtdb::boundary
