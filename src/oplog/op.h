// Operations: what one event does. Row operations carry table, row key and column values.
// Later column types (text, counters, sets) add kinds here; the encoding's kind byte and the
// per-kind payload keep older readers able to reject what they do not know.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/value.h"

namespace crdtdb {

enum class OpKind : std::uint8_t {
  SetRow = 1,     // insert or replace the whole row (resurrects over concurrent deletes)
  UpdateRow = 2,  // write the named columns only (does not resurrect)
  DeleteRow = 3,  // remove everything of the row this event has observed
};

struct Op {
  OpKind kind = OpKind::SetRow;
  std::string table;
  std::string key;
  // Sorted by column name, names unique. Empty for DeleteRow.
  std::vector<std::pair<std::string, Value>> columns;

  bool operator==(const Op&) const = default;
};

inline constexpr std::size_t kMaxNameBytes = 1024;
inline constexpr std::size_t kMaxKeyBytes = 1 << 16;

// A local operation as it arrives from JS: {"op":"set"|"update"|"delete","table","key",
// "row"|"patch"}. Validates and canonicalizes; throws Error(Type) naming what is wrong.
Op opFromJson(const nlohmann::json& j);

// Throws Error(Type) unless table and key are usable (non-empty, bounded, UTF-8).
void validateTableAndKey(const std::string& table, const std::string& key);

}  // namespace crdtdb
