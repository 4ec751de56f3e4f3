#include "store/row_store.h"

#include "core/errors.h"

namespace crdtdb {

const RowState* RowStore::find(const std::string& table, const std::string& key) const {
  auto t = tables_.find(table);
  if (t == tables_.end()) return nullptr;
  auto r = t->second.find(key);
  return r == t->second.end() ? nullptr : &r->second;
}

RowState& RowStore::getOrCreate(const std::string& table, const std::string& key) {
  return tables_[table][key];
}

void RowStore::eraseIfEmpty(const std::string& table, const std::string& key) {
  auto t = tables_.find(table);
  if (t == tables_.end()) return;
  auto r = t->second.find(key);
  if (r != t->second.end() && r->second.empty()) t->second.erase(r);
  if (t->second.empty()) tables_.erase(t);
}

Bytes RowStore::encodeState(const PeerTable& peers) const {
  ByteWriter w;
  w.varint(tables_.size());
  for (const auto& [table, rows] : tables_) {
    w.string(table);
    w.varint(rows.size());
    for (const auto& [key, state] : rows) {
      w.string(key);
      state.encode(w, peers);
    }
  }
  return w.take();
}

std::size_t RowStore::rowCount() const {
  std::size_t n = 0;
  for (const auto& [table, rows] : tables_) {
    for (const auto& [key, state] : rows) n += state.visible();
  }
  return n;
}

void RowStore::checkInvariants(const PeerTable& peers) const {
  for (const auto& [table, rows] : tables_) {
    if (rows.empty()) throw Error(ErrorCode::Internal, "empty table map " + table);
    for (const auto& [key, state] : rows) {
      if (state.empty()) throw Error(ErrorCode::Internal, "empty row state kept for " + key);
      state.checkInvariants(peers);
    }
  }
}

void ChangeTracker::touch(const std::string& table, const std::string& key) {
  auto k = std::make_pair(table, key);
  if (before_.count(k)) return;
  const RowState* r = store_.find(table, key);
  before_.emplace(std::move(k), r ? r->materialize() : std::nullopt);
}

std::vector<RowChange> ChangeTracker::finish() const {
  std::vector<RowChange> out;
  for (const auto& [k, before] : before_) {
    const RowState* r = store_.find(k.first, k.second);
    std::optional<Value> after = r ? r->materialize() : std::nullopt;
    if (after != before) out.push_back({k.first, k.second, std::move(after), before});
  }
  return out;
}

}  // namespace crdtdb
