#include "oplog/op.h"

#include "core/bytes.h"
#include "core/errors.h"

namespace crdtdb {

namespace {

std::string requireString(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) {
    throw Error(ErrorCode::Type, std::string("operation needs a string \"") + field + "\"");
  }
  return it->get<std::string>();
}

std::vector<std::pair<std::string, Value>> columnsFrom(const nlohmann::json& j, const char* field,
                                                       const std::string& key) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_object()) {
    throw Error(ErrorCode::Type,
                std::string("the ") + field + " for key \"" + key + "\" must be a plain object");
  }
  std::vector<std::pair<std::string, Value>> cols;
  cols.reserve(it->size());
  for (auto c = it->begin(); c != it->end(); ++c) {  // std::map order: sorted, unique
    if (c.key().size() > kMaxNameBytes) {
      throw Error(ErrorCode::Type, "column name longer than " + std::to_string(kMaxNameBytes) +
                                       " bytes in key \"" + key + "\"");
    }
    Value v = c.value();
    canonicalizeValue(v, "\"" + c.key() + "\"");
    cols.emplace_back(c.key(), std::move(v));
  }
  return cols;
}

}  // namespace

void validateTableAndKey(const std::string& table, const std::string& key) {
  if (table.empty() || table.size() > kMaxNameBytes || !isValidUtf8(table)) {
    throw Error(ErrorCode::Type, "table name must be a non-empty string of at most " +
                                     std::to_string(kMaxNameBytes) + " bytes");
  }
  if (key.empty() || key.size() > kMaxKeyBytes || !isValidUtf8(key)) {
    throw Error(ErrorCode::Type, "row key must be a non-empty string of at most " +
                                     std::to_string(kMaxKeyBytes) + " bytes");
  }
}

Op opFromJson(const nlohmann::json& j) {
  if (!j.is_object()) throw Error(ErrorCode::Type, "operation must be an object");
  Op op;
  std::string kind = requireString(j, "op");
  op.table = requireString(j, "table");
  op.key = requireString(j, "key");
  validateTableAndKey(op.table, op.key);
  if (kind == "set") {
    op.kind = OpKind::SetRow;
    op.columns = columnsFrom(j, "row", op.key);
  } else if (kind == "update") {
    op.kind = OpKind::UpdateRow;
    op.columns = columnsFrom(j, "patch", op.key);
  } else if (kind == "delete") {
    op.kind = OpKind::DeleteRow;
  } else {
    throw Error(ErrorCode::Type, "unknown operation \"" + kind + "\"");
  }
  return op;
}

}  // namespace crdtdb
