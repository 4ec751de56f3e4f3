// Secondary indexes and per-table primary-key order, maintained incrementally from row
// changes (local and remote alike) and queried by key range.
//
// An entry is encodeKey(index key) ‖ encodeKey(row key) (key_codec.h) with the row's RowId
// beside it, so equal index keys are ordered by row key and results come back as RowIds. The
// index key of a row is its single indexed column's value, or for a compound index the array
// of its columns' values; a row whose indexed value is missing or not a valid key has no
// entry (as in IndexedDB), nor has one whose index key encodes to more than
// kMaxIndexKeyBytes (a 1 MiB key: deterministic on every replica, so no valid message is ever
// refused because an index could not hold it).
//
// Updates are journaled through each OrderedIndex (mark / rollback / clearJournal).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/value.h"
#include "store/ordered_index.h"

namespace crdtdb {

inline constexpr std::size_t kMaxIndexKeyBytes = std::size_t{1} << 20;

struct IndexDef {
  std::string name;
  std::string table;
  std::vector<std::string> keys;  // one column, or several for a compound index
  bool operator==(const IndexDef&) const = default;
};

// A key range with its bounds already key-encoded (the bindings build it).
struct KeyRange {
  enum class Kind { All, Bounds, Prefix, AnyOf };
  Kind kind = Kind::All;
  std::optional<std::string> lower, upper;  // Bounds: either may be absent (unbounded)
  bool lowerOpen = false, upperOpen = false;
  std::string prefix;               // Prefix: encoded string or array prefix (no terminator)
  std::vector<std::string> values;  // AnyOf: encoded keys

  // The same range as half-open intervals [lo, hi) over encoded keys (hi empty = unbounded),
  // for subscriptions.
  std::vector<std::pair<std::string, std::optional<std::string>>> intervals() const;
};

struct QueryOptions {
  std::size_t limit = SIZE_MAX;
  std::size_t offset = 0;
  bool reverse = false;
  // Keyset paging: only entries strictly after this one in the query's direction (an entry
  // returned through `lastEntry` by the previous page). Offset applies after it.
  std::optional<std::string> after;
};

// Looks up a column's current value of a row: nullopt when absent.
using ColumnLookup = std::function<std::optional<ValueRef>(std::string_view column)>;

// One query result: the row, and (for staged reads) its key when it has no RowId yet.
struct QueryHit {
  std::uint32_t row;  // kNoRow for a row that exists only in the staged transaction
  std::string_view entry;
};
inline constexpr std::uint32_t kNoRow = 0xffffffffu;

class IndexSet {
 public:
  // Index of each declared secondary index, and of tables' primary orders.
  struct Secondary {
    IndexDef def;
    OrderedIndex entries;
  };

  // Declaring indexes is two-phase, so a failure leaves the old set: prepare() returns the new
  // set with new or changed indexes empty (`build` lists them; the caller fills them with
  // addTo), install() swaps it in, keeping the entries of unchanged indexes. Not journaled.
  using Declared = std::map<std::string, Secondary>;
  Declared prepare(const std::vector<IndexDef>& defs, std::vector<std::string>& build) const;
  static void addTo(Declared& set, const std::string& index, std::uint32_t row,
                    std::string_view key, const ColumnLookup& col);
  void install(Declared&& set) noexcept;
  static void validate(const IndexDef& def);  // throws Error(Type)

  // The entry of a row in an index (nullopt when the row has none there). For a row whose
  // indexed column holds a set, see entriesFor.
  static std::optional<std::string> entryFor(const IndexDef* def, std::string_view key,
                                             const ColumnLookup& col);
  // Every entry of a row in an index, appended to `out`: one at most, except that an index
  // over one column holding a set has one per element that is a key (like an IndexedDB
  // multiEntry index). Calls element(e) for each such element, when given.
  static void entriesFor(const IndexDef* def, std::string_view key, const ColumnLookup& col,
                         std::vector<std::string>& out,
                         const std::function<void(ValueRef)>& element = nullptr);

  // Index upkeep for one row whose visible state changed from `before` to `after` (a lookup
  // is null when the row was / is not visible). `onEntry(indexName, keyPart)` is told every
  // old and new entry's key part (for subscriptions). Journaled.
  void onRowChange(
      std::uint32_t row, std::string_view table, std::string_view key, const ColumnLookup* before,
      const ColumnLookup* after,
      const std::function<void(std::string_view index, std::string_view keyPart)>& onEntry);

  bool hasIndex(const std::string& name) const { return secondary_.count(name) > 0; }
  // The index (or "" = the table's primary order), for checks: nullptr when none exists.
  const OrderedIndex* find(std::string_view table, const std::string& index) const;
  template <typename F>  // f(const IndexDef&) for each declared index
  void forEachDef(F&& f) const {
    for (const auto& [name, s] : secondary_) f(s.def);
  }
  const IndexDef* def(const std::string& name) const;
  // The table an index (or "" = primary) is over; throws Error(UnknownIndex).
  const std::string& tableOf(const std::string& table, const std::string& index) const;

  // Rank ranges of a key range in an index, ascending.
  static std::vector<std::pair<std::size_t, std::size_t>> rankRanges(const OrderedIndex& ix,
                                                                     const KeyRange& r);
  std::vector<QueryHit> query(const std::string& table, const std::string& index,
                              const KeyRange& range, const QueryOptions& opts) const;
  std::size_t count(const std::string& table, const std::string& index,
                    const KeyRange& range) const;
  // A staged transaction's view: committed entries minus `removed`, plus `added` (both
  // entries of the queried index, with the row or kNoRow).
  std::vector<QueryHit> queryOverlay(
      const std::string& table, const std::string& index, const KeyRange& range,
      const QueryOptions& opts, const std::vector<std::string>& removed,
      const std::vector<std::pair<std::string, std::uint32_t>>& added) const;

  // Calls: begin() starts a call; indexes changed since are rolled back or confirmed together.
  struct Mark {
    std::size_t touched;
  };
  Mark begin();
  void rollback(const Mark& m) noexcept;
  void confirm() noexcept;  // forgets the journals, merges thin chunks
  std::size_t memoryBytes() const;
  void checkInvariants() const;

 private:
  const OrderedIndex* resolve(const std::string& table, const std::string& index) const;
  // Journals `ix` in the current call (records its journal size on first use).
  OrderedIndex& use(OrderedIndex& ix);

  std::map<std::string, Secondary> secondary_;
  std::map<std::string, OrderedIndex, std::less<>> primary_;  // table → row keys
  std::uint32_t epoch_ = 1;
  std::vector<std::pair<OrderedIndex*, OrderedIndex::Mark>> touched_;
};

}  // namespace crdtdb
