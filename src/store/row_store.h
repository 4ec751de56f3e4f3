// All rows of all tables: table name → row key → RowState, both in byte order, so scans and
// the canonical state encoding are deterministic. Rows whose state is empty (no tokens, no
// column writes) are erased: under causal delivery nothing ever needs their tombstones.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "merge/row_state.h"

namespace crdtdb {

struct RowChange {
  std::string table;
  std::string key;
  std::optional<Value> row;     // the new visible row; nullopt when it is now absent
  std::optional<Value> before;  // the visible row before the change (for index upkeep)
};

class RowStore {
 public:
  const RowState* find(const std::string& table, const std::string& key) const;
  RowState& getOrCreate(const std::string& table, const std::string& key);
  void eraseIfEmpty(const std::string& table, const std::string& key);
  bool visible(const std::string& table, const std::string& key) const {
    const RowState* r = find(table, key);
    return r && r->visible();
  }

  template <typename F>  // f(const std::string& key, const Value& row) for each visible row
  void forEachRow(const std::string& table, F&& f) const {
    auto t = tables_.find(table);
    if (t == tables_.end()) return;
    for (const auto& [key, state] : t->second) {
      if (auto row = state.materialize()) f(key, *row);
    }
  }

  // Canonical bytes of every row's CRDT state (see RowState::encode).
  Bytes encodeState(const PeerTable& peers) const;
  std::size_t rowCount() const;
  void checkInvariants(const PeerTable& peers) const;

 private:
  std::map<std::string, std::map<std::string, RowState>> tables_;
};

// Collects which rows a batch of operations touched and reports the ones whose visible
// value changed (what JS caches, subscribers and indexes need).
class ChangeTracker {
 public:
  explicit ChangeTracker(const RowStore& store) : store_(store) {}
  // Call before the row is modified.
  void touch(const std::string& table, const std::string& key);
  std::vector<RowChange> finish() const;

 private:
  const RowStore& store_;
  std::map<std::pair<std::string, std::string>, std::optional<Value>> before_;
};

}  // namespace crdtdb
