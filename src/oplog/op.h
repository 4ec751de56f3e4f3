// Operations: what one event does to one row. An operation names its table, its row key and,
// for set and update, its columns with canonical encoded values (core/value.h).
// Later column types (text, counters, sets) add kinds; the encoding's kind bits keep older
// readers able to reject what they do not know.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"
#include "core/value.h"

namespace crdtdb {

enum class OpKind : std::uint8_t {
  SetRow = 1,     // insert or replace the whole row (resurrects over concurrent deletes)
  UpdateRow = 2,  // write the named columns only (does not resurrect)
  DeleteRow = 3,  // remove everything of the row this event has observed
  // Add-wins set columns (merge/add_wins_set.h): one column, its value the element.
  AddToSet = 4,       // add the element (removes the element's dots it observed); also a
                      // write of the column (a set marker), so the column becomes a set
  RemoveFromSet = 5,  // remove the element's dots it observed (not a write of the column)
  // Counter columns (merge/counter.h): one column. Neither is a write of the column.
  Increment = 6,     // add the column's value, a safe integer, to the counter
  CounterReset = 7,  // engine-made, after a local plain write: per column its claims value
  // Text columns (merge/text_op.h): one column.
  TextCreate = 8,  // a new text with the column's value (a string) as its content; a write of
                   // the column (the text is named by this event)
  TextEdit = 9,    // insert or delete in a text the op names (merge/text_op.h); not a write
};
inline bool isSetOp(OpKind k) { return k == OpKind::AddToSet || k == OpKind::RemoveFromSet; }
inline bool isTextOp(OpKind k) { return k == OpKind::TextCreate || k == OpKind::TextEdit; }
// Kinds that name exactly one column.
inline bool isOneColumnOp(OpKind k) { return isSetOp(k) || k == OpKind::Increment || isTextOp(k); }
// Kinds that write the columns they name (or the whole row).
inline bool isPlainWrite(OpKind k) { return k <= OpKind::DeleteRow; }

inline constexpr std::size_t kMaxNameBytes = 1024;
inline constexpr std::size_t kMaxKeyBytes = 1 << 16;
inline constexpr std::size_t kMaxPeerIdBytes = 256;

struct ColumnRef {
  std::string_view name;
  ValueRef value;  // canonical encoding
  NameId id = 0;   // the name's id in the replica when the caller knows it (0: look it up)
};

// An operation as views into someone else's buffers (the boundary input, a message, a test's
// owned op). Columns sorted by name bytes, names unique.
struct OpRef {
  OpKind kind = OpKind::SetRow;
  std::string_view table;
  std::string_view key;
  std::span<const ColumnRef> columns;
  NameId tableId = 0;  // as ColumnRef::id
};

// An operation that owns its bytes (staged transactions, tests).
struct Op {
  OpKind kind = OpKind::SetRow;
  std::string table;
  std::string key;
  std::vector<std::pair<std::string, Bytes>> columns;  // sorted by name, unique

  bool operator==(const Op&) const = default;
};

// Views of an owned op; `cols` is the storage for the column views.
OpRef refOf(const Op& op, std::vector<ColumnRef>& cols);
Op ownedOf(const OpRef& op);

// Throws Error(Type) unless table and key are usable (non-empty, bounded, UTF-8).
void validateTableAndKey(std::string_view table, std::string_view key);
// Throws Error(Type) unless `name` is a usable peer id (non-empty, UTF-8, bounded).
void validatePeerId(std::string_view name);

}  // namespace crdtdb
