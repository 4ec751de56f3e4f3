// Secondary indexes and per-table primary-key order, maintained incrementally from row
// changes (local and remote alike) and queried by key range.
//
// An entry is encodeKey(index key) ‖ encodeKey(row key) (key_codec.h), so equal index keys
// are ordered by row key. The index key of a row is its single indexed column's value, or for
// a compound index the array of its columns' values; a row whose indexed value is missing or
// not a valid key has no entry (as in IndexedDB).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/value.h"
#include "store/ordered_index.h"

namespace crdtdb {

struct IndexDef {
  std::string name;
  std::string table;
  std::vector<std::string> keys;  // one column, or several for a compound index
  bool operator==(const IndexDef&) const = default;
};

// A key range as the public API builds it (equals, above, between, startsWith, anyOf, ...).
struct KeyRange {
  enum class Kind { All, Bounds, Prefix, AnyOf };
  Kind kind = Kind::All;
  std::optional<Value> lower, upper;  // Bounds: either may be absent (unbounded)
  bool lowerOpen = false, upperOpen = false;
  Value prefix;               // Prefix: a string, or an array (compound prefix)
  std::vector<Value> values;  // AnyOf

  // Parses {"type":"all"|"equals"|"above"|...} (see js/range.js); throws Error(Type).
  static KeyRange fromJson(const Value& j);
};

struct QueryOptions {
  std::size_t limit = SIZE_MAX;
  std::size_t offset = 0;
  bool reverse = false;
  // Keyset paging: only entries strictly after this one in the query's direction (an entry
  // returned through `lastEntry` by the previous page). Offset applies after it.
  std::optional<std::string> after;
};

class IndexSet {
 public:
  // Replaces the declared indexes; new or changed ones are built from `rows`.
  template <typename ForEachRow>
  void declare(const std::vector<IndexDef>& defs, ForEachRow&& forEachRow) {
    std::map<std::string, Secondary> next;
    for (const IndexDef& d : defs) {
      auto old = secondary_.find(d.name);
      if (old != secondary_.end() && old->second.def == d) {
        next.emplace(d.name, std::move(old->second));
        continue;
      }
      Secondary s{d, {}};
      forEachRow(d.table, [&](const std::string& key, const Value& row) {
        if (auto e = entryFor(d, key, row)) s.entries.insert(std::move(*e));
      });
      next.emplace(d.name, std::move(s));
    }
    secondary_ = std::move(next);
  }
  static void validate(const IndexDef& def);  // throws Error(Type)

  void onRowChange(const std::string& table, const std::string& key,
                   const std::optional<Value>& before, const std::optional<Value>& after);

  bool hasIndex(const std::string& name) const { return secondary_.count(name) > 0; }
  const IndexDef* def(const std::string& name) const;
  std::vector<IndexDef> defs() const;

  // Rows a staged (uncommitted) transaction has written: key → its row as the transaction
  // sees it (nullopt: deleted), with the committed row it replaces.
  struct Overlay {
    struct Row {
      std::optional<Value> committed;
      std::optional<Value> staged;
    };
    std::map<std::string, Row> rows;  // row key → rows of the queried table
  };

  // Row keys in range order. `index` empty: the table's primary-key order. With an overlay,
  // results are as if the staged rows were committed.
  // `lastEntry`, when given, receives the entry of the last key returned (a paging cursor).
  std::vector<std::string> query(const std::string& table, const std::string& index,
                                 const KeyRange& range, const QueryOptions& opts,
                                 const Overlay* overlay = nullptr,
                                 std::string* lastEntry = nullptr) const;
  std::size_t count(const std::string& table, const std::string& index, const KeyRange& range,
                    const Overlay* overlay = nullptr) const;
  // The table an index belongs to (`index` empty: `table` itself). Throws UnknownIndex.
  const std::string& tableOf(const std::string& table, const std::string& index) const;

  void checkInvariants() const;

 private:
  struct Secondary {
    IndexDef def;
    OrderedIndex entries;
  };
  static std::optional<std::string> entryFor(const IndexDef& def, const std::string& key,
                                             const Value& row);
  // The entry of a row in an index (`def` null: the primary order).
  static std::optional<std::string> entryIn(const IndexDef* def, const std::string& key,
                                            const std::optional<Value>& row);
  std::vector<std::string> queryOverlay(const OrderedIndex* ix, const IndexDef* def,
                                        const KeyRange& range, const QueryOptions& opts,
                                        const Overlay& overlay, std::string* lastEntry) const;
  static void clipAfter(const OrderedIndex& ix, const QueryOptions& opts,
                        std::vector<std::pair<std::size_t, std::size_t>>& ranges);
  const OrderedIndex* resolve(const std::string& table, const std::string& index) const;
  static std::vector<std::pair<std::size_t, std::size_t>> rankRanges(const OrderedIndex& ix,
                                                                     const KeyRange& range);

  std::map<std::string, Secondary> secondary_;
  std::map<std::string, OrderedIndex> primary_;  // table → encoded row keys
};

// The row key held in an entry of a secondary index (or of a primary order).
std::string rowKeyOfEntry(const std::string& entry, bool secondary);

}  // namespace crdtdb
