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
//   declareIndexes(defsJson: string) -> string "{}"   defs: [{"name","table","keys":[...]}]
//   query(table, index, rangeJson, limit, offset, reverse, staged) -> string JSON [rowKey,...]
//       index "" = the table's primary-key order; limit < 0 = no limit; staged = see the
//       open staged transaction's writes
//   queryPage(table, index, rangeJson, limit, offset, reverse, cursor) -> string JSON
//       {"keys":[...],"cursor":C}: keyset paging; pass "" first, then the returned cursor
//       (hex of the last entry) to continue strictly after the last key returned
//   count(table, index, rangeJson, staged) -> string JSON number
//   stage(opsJson) -> string "{}" (same ops as commit; validated now, committed later)
//   stagedRow(table, key) -> string JSON row or "" (as the staged transaction sees it)
//   commitStaged() -> string like commit(); rollbackStaged()
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
      auto result = db_.commit(parseOps(opsJson));
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

  std::string declareIndexes(const std::string& defsJson) {
    return guarded([&] {
      json defs = parseJson(defsJson, "index definitions");
      std::vector<crdtdb::IndexDef> out;
      for (const auto& d : defs) {
        crdtdb::IndexDef def;
        def.name = d.at("name").get<std::string>();
        def.table = d.at("table").get<std::string>();
        def.keys = d.at("keys").get<std::vector<std::string>>();
        out.push_back(std::move(def));
      }
      db_.declareIndexes(out);
      return std::string("{}");
    });
  }

  std::string query(const std::string& table, const std::string& index,
                    const std::string& rangeJson, double limit, double offset, bool reverse,
                    bool staged) {
    return guarded([&] {
      crdtdb::QueryOptions opts;
      opts.limit = limit < 0 ? SIZE_MAX : static_cast<std::size_t>(limit);
      opts.offset = static_cast<std::size_t>(offset);
      opts.reverse = reverse;
      auto keys = db_.query(table, index, crdtdb::KeyRange::fromJson(parseJson(rangeJson, "range")),
                            opts, staged);
      return json(keys).dump();
    });
  }

  std::string queryPage(const std::string& table, const std::string& index,
                        const std::string& rangeJson, double limit, double offset, bool reverse,
                        const std::string& cursor) {
    return guarded([&] {
      crdtdb::QueryOptions opts;
      opts.limit = limit < 0 ? SIZE_MAX : static_cast<std::size_t>(limit);
      opts.offset = static_cast<std::size_t>(offset);
      opts.reverse = reverse;
      if (!cursor.empty()) opts.after = fromHex(cursor);
      std::string last;
      auto keys = db_.query(table, index, crdtdb::KeyRange::fromJson(parseJson(rangeJson, "range")),
                            opts, false, &last);
      return json{{"keys", keys}, {"cursor", keys.empty() ? cursor : toHex(last)}}.dump();
    });
  }

  std::string count(const std::string& table, const std::string& index,
                    const std::string& rangeJson, bool staged) {
    return guarded([&] {
      return json(db_.count(table, index, crdtdb::KeyRange::fromJson(parseJson(rangeJson, "range")),
                            staged))
          .dump();
    });
  }

  std::string stage(const std::string& opsJson) {
    return guarded([&] {
      db_.stage(parseOps(opsJson));
      return std::string("{}");
    });
  }

  std::string stagedRow(const std::string& table, const std::string& key) const {
    auto r = db_.stagedRow(table, key);
    return r ? r->dump() : std::string();
  }

  std::string commitStaged() {
    return guarded([&] {
      auto result = db_.commitStaged();
      encoded_ = std::move(result.encoded);
      return json{{"changes", changesJson(result.changes)}}.dump();
    });
  }

  void rollbackStaged() { db_.rollbackStaged(); }

 private:
  static std::string toHex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
      out.push_back(digits[b >> 4]);
      out.push_back(digits[b & 15]);
    }
    return out;
  }

  static std::string fromHex(const std::string& hex) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      throw crdtdb::Error(crdtdb::ErrorCode::Type, "malformed query cursor");
    };
    if (hex.size() % 2) throw crdtdb::Error(crdtdb::ErrorCode::Type, "malformed query cursor");
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
    }
    return out;
  }

  static json parseJson(const std::string& text, const char* what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) {
      throw crdtdb::Error(crdtdb::ErrorCode::Type, std::string("malformed ") + what);
    }
    return j;
  }

  static std::vector<crdtdb::Op> parseOps(const std::string& opsJson) {
    json ops = parseJson(opsJson, "operations");
    if (!ops.is_array()) {
      throw crdtdb::Error(crdtdb::ErrorCode::Type, "expected a JSON array of operations");
    }
    std::vector<crdtdb::Op> out;
    out.reserve(ops.size());
    for (const auto& op : ops) out.push_back(crdtdb::opFromJson(op));
    return out;
  }

  template <typename F>
  std::string guarded(F&& f) {
    try {
      return f();
    } catch (const crdtdb::Error& e) {
      return errorJson(e.code(), e.what());
    } catch (const nlohmann::json::exception& e) {
      return errorJson(crdtdb::ErrorCode::Type, e.what());
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
      .function("conflicts", &RawDB::conflicts)
      .function("declareIndexes", &RawDB::declareIndexes)
      .function("query", &RawDB::query)
      .function("queryPage", &RawDB::queryPage)
      .function("count", &RawDB::count)
      .function("stage", &RawDB::stage)
      .function("stagedRow", &RawDB::stagedRow)
      .function("commitStaged", &RawDB::commitStaged)
      .function("rollbackStaged", &RawDB::rollbackStaged);
}
