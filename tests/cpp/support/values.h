// Test convenience: nlohmann::json <-> canonical value bytes (core/value.h), owned ops built
// from JSON rows, and the span-of-OpRef calls of Database (commit, stage, commitStaged).
// The engine never sees JSON: these helpers only spare the tests from writing bytes by hand.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/value.h"
#include "db/database.h"
#include "oplog/op.h"

namespace crdtdb::testing {

using Json = nlohmann::json;

inline void writeJson(ByteWriter& w, const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      writeNull(w);
      break;
    case Json::value_t::boolean:
      writeBool(w, j.get<bool>());
      break;
    case Json::value_t::number_integer: {
      const auto i = j.get<std::int64_t>();
      if (std::fabs(static_cast<double>(i)) <= kMaxSafeInteger) {
        writeInt(w, i);
      } else {
        writeNumber(w, static_cast<double>(i));
      }
      break;
    }
    case Json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (static_cast<double>(u) <= kMaxSafeInteger) {
        writeInt(w, static_cast<std::int64_t>(u));
      } else {
        writeNumber(w, static_cast<double>(u));
      }
      break;
    }
    case Json::value_t::number_float: {
      const double d = j.get<double>();
      if (!std::isfinite(d)) throw std::invalid_argument("non-finite number in a test value");
      writeNumber(w, d);  // integral doubles within 2^53 become integers, -0 becomes 0
      break;
    }
    case Json::value_t::string:
      writeString(w, j.get_ref<const std::string&>());
      break;
    case Json::value_t::array:
      writeArrayHeader(w, j.size());
      for (const Json& e : j) writeJson(w, e);
      break;
    case Json::value_t::object: {
      std::vector<std::pair<std::string, const Json*>> entries;
      for (auto it = j.begin(); it != j.end(); ++it) entries.emplace_back(it.key(), &it.value());
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });  // bytewise
      writeObjectHeader(w, entries.size());
      for (const auto& [k, v] : entries) {
        writeKey(w, k);
        writeJson(w, *v);
      }
      break;
    }
    default:
      throw std::invalid_argument("unsupported JSON value in a test");
  }
}

// Canonical bytes of a JSON value.
inline Bytes enc(const Json& j) {
  ByteWriter w;
  writeJson(w, j);
  return w.take();
}

// JSON of canonical bytes (through the engine's own toJson).
inline Json dec(ValueRef v) { return Json::parse(toJson(v)); }

inline std::string hexOf(ByteSpan b, std::size_t max = 256) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < b.size() && i < max; ++i) {
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  if (b.size() > max) s += "... (" + std::to_string(b.size()) + " bytes)";
  return s;
}

// ---- owned ops ----

// Columns of a JSON object row, sorted by name bytes.
inline std::vector<std::pair<std::string, Bytes>> columnsOf(const Json& row) {
  std::vector<std::pair<std::string, Bytes>> cols;
  for (auto it = row.begin(); it != row.end(); ++it) cols.emplace_back(it.key(), enc(it.value()));
  std::sort(cols.begin(), cols.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return cols;
}

inline Op setOp(std::string table, std::string key, const Json& row) {
  return Op{OpKind::SetRow, std::move(table), std::move(key), columnsOf(row)};
}
inline Op updateOp(std::string table, std::string key, const Json& cols) {
  return Op{OpKind::UpdateRow, std::move(table), std::move(key), columnsOf(cols)};
}
inline Op deleteOp(std::string table, std::string key) {
  return Op{OpKind::DeleteRow, std::move(table), std::move(key), {}};
}

// OpRef views of owned ops (the ops must outlive this).
class OpRefs {
 public:
  explicit OpRefs(const std::vector<Op>& ops) : cols_(ops.size()) {
    refs_.reserve(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) refs_.push_back(refOf(ops[i], cols_[i]));
  }
  std::span<const OpRef> span() const { return refs_; }

 private:
  std::vector<std::vector<ColumnRef>> cols_;
  std::vector<OpRef> refs_;
};

inline ChangeSet commitOps(Database& db, const std::vector<Op>& ops, bool wantUpdate = true) {
  OpRefs refs(ops);
  return db.commit(refs.span(), wantUpdate);
}
inline void stageOps(Database& db, const std::vector<Op>& ops) {
  OpRefs refs(ops);
  db.stage(refs.span());
}
inline ChangeSet commitStagedOps(Database& db, const std::vector<Op>& extra = {},
                                 bool wantUpdate = true) {
  OpRefs refs(extra);
  return db.commitStaged(refs.span(), wantUpdate);
}

// ---- reads ----

// A staged row as JSON (null when the transaction sees no row).
inline Json stagedJson(const std::optional<StagedRow>& r) {
  if (!r) return nullptr;
  Json j = Json::object();
  for (const auto& [name, value] : r->columns) j[name] = dec(value);
  return j;
}

using RowValues = std::map<std::string, Bytes>;                  // column -> value bytes
using RowConflicts = std::map<std::string, std::vector<Bytes>>;  // column -> losers, best first

// The visible columns of a row, or nullopt when it is not visible.
inline std::optional<RowValues> rowOf(const Database& db, std::string_view table,
                                      std::string_view key) {
  auto id = db.findRow(table, key);
  if (!id || !db.rows().row(*id).visible()) return std::nullopt;
  RowValues out;
  db.forEachColumn(*id, [&](NameId col, ValueRef v) {
    out.emplace(std::string(db.name(col)), Bytes(v.begin(), v.end()));
  });
  return out;
}

inline std::optional<Json> rowJson(const Database& db, std::string_view table,
                                   std::string_view key) {
  auto r = rowOf(db, table, key);
  if (!r) return std::nullopt;
  Json j = Json::object();
  for (const auto& [col, v] : *r) j[col] = dec(v);
  return j;
}

// Every (column, loser) the engine reports for a row, in its order.
inline std::vector<std::pair<NameId, Bytes>> losersOf(const Database& db, std::string_view table,
                                                      std::string_view key) {
  std::vector<std::pair<NameId, Bytes>> out;
  auto id = db.findRow(table, key);
  if (!id) return out;
  db.forEachLoser(
      *id, [&](NameId col, ValueRef v) { out.emplace_back(col, Bytes(v.begin(), v.end())); });
  return out;
}

// The conflicts of a visible row's columns (the row-existence token is not a column).
inline RowConflicts conflictsOf(const Database& db, std::string_view table, std::string_view key) {
  RowConflicts out;
  auto id = db.findRow(table, key);
  if (!id || !db.rows().row(*id).visible()) return out;
  db.forEachLoser(*id, [&](NameId col, ValueRef v) {
    if (col == kTokenColumn) return;  // see "conflicts name columns only" in db_database_test
    out[std::string(db.name(col))].emplace_back(v.begin(), v.end());
  });
  return out;
}

inline Json conflictsJson(const Database& db, std::string_view table, std::string_view key) {
  Json j = Json::object();
  for (const auto& [col, losers] : conflictsOf(db, table, key)) {
    Json a = Json::array();
    for (const Bytes& v : losers) a.push_back(dec(v));
    j[col] = a;
  }
  return j;
}

// Keys of query hits, in order.
inline std::vector<std::string> keysOf(const Database& db, const std::vector<QueryHit>& hits) {
  std::vector<std::string> out;
  for (const QueryHit& h : hits) out.push_back(db.rows().row(h.row).key);
  return out;
}

// Sync helpers.
inline ChangeSet syncFrom(Database& to, const Database& from) {
  const Bytes v = to.version();
  const ByteSpan vs(v);
  return to.applyChanges(from.changesSince(&vs));
}
inline Bytes changesSinceVersion(const Database& db, const Bytes& version) {
  const ByteSpan vs(version);
  return db.changesSince(&vs);
}
inline Bytes allChanges(const Database& db) { return db.changesSince(nullptr); }

}  // namespace crdtdb::testing
