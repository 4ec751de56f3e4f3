#include "oplog/op.h"

#include "core/errors.h"

namespace crdtdb {

OpRef refOf(const Op& op, std::vector<ColumnRef>& cols) {
  cols.clear();
  cols.reserve(op.columns.size());
  for (const auto& [name, value] : op.columns) cols.push_back({name, value});
  return OpRef{op.kind, op.table, op.key, cols};
}

Op ownedOf(const OpRef& op) {
  Op out{op.kind, std::string(op.table), std::string(op.key), {}};
  out.columns.reserve(op.columns.size());
  for (const ColumnRef& c : op.columns) {
    out.columns.emplace_back(std::string(c.name), Bytes(c.value.begin(), c.value.end()));
  }
  return out;
}

void validateTableAndKey(std::string_view table, std::string_view key) {
  if (table.empty() || table.size() > kMaxNameBytes || !isValidUtf8(table)) {
    throw Error(ErrorCode::Type, "table name must be a non-empty string of at most " +
                                     std::to_string(kMaxNameBytes) + " bytes");
  }
  if (key.empty() || key.size() > kMaxKeyBytes || !isValidUtf8(key)) {
    throw Error(ErrorCode::Type, "row key must be a non-empty string of at most " +
                                     std::to_string(kMaxKeyBytes) + " bytes");
  }
}

void validatePeerId(std::string_view name) {
  if (name.empty() || name.size() > kMaxPeerIdBytes || !isValidUtf8(name)) {
    throw Error(ErrorCode::Type, "peerId must be a non-empty UTF-8 string of at most " +
                                     std::to_string(kMaxPeerIdBytes) + " bytes");
  }
}

}  // namespace crdtdb
