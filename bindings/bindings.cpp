// Embind module: the only code that sees Emscripten headers. It exposes a small raw API
// (class RawDB) that js/engine.js wraps into the public CRDTDB API. Rows cross the boundary
// as JSON text, changes and versions as bytes; one call per operation batch, never one per
// property.
//
// Raw API (mirrored in js/engine.js):
//   new RawDB(peerId: string, maxPendingBytes: number)
//   commit(opsJson: string) -> string
//       opsJson: [{"op":"set","table":t,"key":k,"row":{...}}
//                |{"op":"update","table":t,"key":k,"patch":{...}}
//                |{"op":"delete","table":t,"key":k}, ...]   one causal transaction
//       -> {"changes":[[table,key,row|null],...]} ; the encoded events of the commit are then
//          available from lastEncoded()
//   lastEncoded() -> Uint8Array view (copy it before the next call)
//   applyChanges(bytes: Uint8Array) -> string {"applied":n,"pending":m,"changes":[...]}
//   version() -> Uint8Array view
//   changesSince(bytes: Uint8Array, useEmpty: bool) -> Uint8Array view | error string
//   row(table, key) -> string JSON row, or "" when absent
//   rows(table) -> string JSON [[key,row],...] in key order
//   conflicts(table, key) -> string JSON {column:[losers...]}
//   peerId() -> string
// Every method returning a string or bytes returns the string '{"error":{"code":C,"message":M}}'
// on failure, with C one of the ErrorCode names in src/core/errors.h (mirrored in js/errors.js).
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "db/database.h"

namespace {

using crdtdb::Database;
using nlohmann::json;

std::string errorJson(crdtdb::ErrorCode code, const std::string& message) {
  json e = {{"error", {{"code", crdtdb::errorCodeName(code)}, {"message", message}}}};
  return e.dump();
}

json changesJson(const std::vector<crdtdb::RowChange>& changes) {
  json out = json::array();
  for (const auto& c : changes) {
    out.push_back(json::array({c.table, c.key, c.row ? *c.row : json(nullptr)}));
  }
  return out;
}

std::vector<std::uint8_t> bytesOf(const std::string& s) { return {s.begin(), s.end()}; }

class RawDB {
 public:
  RawDB(const std::string& peerId, double maxPendingBytes)
      : db_(peerId, crdtdb::DatabaseOptions{static_cast<std::size_t>(maxPendingBytes)}) {}

  std::string peerId() const { return db_.peerId(); }

  std::string commit(const std::string& opsJson) {
    return guarded([&] {
      json ops = json::parse(opsJson, nullptr, false);
      if (ops.is_discarded() || !ops.is_array()) {
        throw crdtdb::Error(crdtdb::ErrorCode::Type, "commit expects a JSON array of operations");
      }
      std::vector<crdtdb::Op> local;
      local.reserve(ops.size());
      for (const auto& op : ops) local.push_back(crdtdb::opFromJson(op));
      auto result = db_.commit(local);
      encoded_ = std::move(result.encoded);
      return json{{"changes", changesJson(result.changes)}}.dump();
    });
  }

  emscripten::val lastEncoded() const { return view(encoded_); }

  std::string applyChanges(const std::string& bytes) {
    return guarded([&] {
      auto result = db_.applyChanges(bytesOf(bytes));
      return json{{"applied", result.applied},
                  {"pending", result.pending},
                  {"changes", changesJson(result.changes)}}
          .dump();
    });
  }

  emscripten::val version() {
    out_ = db_.version();
    return view(out_);
  }

  emscripten::val changesSince(const std::string& bytes, bool useEmpty) {
    try {
      out_ = useEmpty ? db_.changesSince({}) : db_.changesSince(bytesOf(bytes));
      return view(out_);
    } catch (const crdtdb::Error& e) {
      return emscripten::val(errorJson(e.code(), e.what()));
    }
  }

  std::string row(const std::string& table, const std::string& key) const {
    auto r = db_.row(table, key);
    return r ? r->dump() : std::string();
  }

  std::string rows(const std::string& table) const {
    json out = json::array();
    db_.forEachRow(table, [&](const std::string& key, const json& row) {
      out.push_back(json::array({key, row}));
    });
    return out.dump();
  }

  std::string conflicts(const std::string& table, const std::string& key) const {
    return db_.conflicts(table, key).dump();
  }

 private:
  template <typename F>
  std::string guarded(F&& f) {
    try {
      return f();
    } catch (const crdtdb::Error& e) {
      return errorJson(e.code(), e.what());
    } catch (const std::exception& e) {
      return errorJson(crdtdb::ErrorCode::Internal, e.what());
    }
  }

  static emscripten::val view(const std::vector<std::uint8_t>& bytes) {
    return emscripten::val(emscripten::typed_memory_view(bytes.size(), bytes.data()));
  }

  Database db_;
  std::vector<std::uint8_t> encoded_;
  std::vector<std::uint8_t> out_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(crdtdb) {
  emscripten::class_<RawDB>("RawDB")
      .constructor<const std::string&, double>()
      .function("peerId", &RawDB::peerId)
      .function("commit", &RawDB::commit)
      .function("lastEncoded", &RawDB::lastEncoded)
      .function("applyChanges", &RawDB::applyChanges)
      .function("version", &RawDB::version)
      .function("changesSince", &RawDB::changesSince)
      .function("row", &RawDB::row)
      .function("rows", &RawDB::rows)
      .function("conflicts", &RawDB::conflicts);
}
