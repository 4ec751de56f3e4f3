// Live-query registrations: which subscriptions does a changed index entry touch?
//
// Each subscription is a key range over one index (or a table's primary order), kept as
// half-open intervals of encoded keys (KeyRange::intervals). Per index, a static segment tree
// over the intervals' endpoints answers "which ranges contain this key" in O(log n + hits);
// it is rebuilt lazily after subscriptions change (O(n log n)). So a write that touches no
// subscribed range costs a few comparisons however many subscriptions exist.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/index_set.h"

namespace crdtdb {

class Subscriptions {
 public:
  // Registers a range over `index` of `table` ("" = primary order); returns its id.
  std::uint32_t add(const std::string& table, const std::string& index, const KeyRange& range);
  void remove(std::uint32_t id);
  bool empty() const { return byId_.empty(); }
  bool watches(std::string_view table) const;

  // Appends the ids of subscriptions on `index` of `table` whose range holds `keyPart`.
  void stab(std::string_view table, std::string_view index, std::string_view keyPart,
            std::vector<std::uint32_t>& out) const;

  struct Spec {
    std::string table, index;
    KeyRange range;
  };
  const Spec* spec(std::uint32_t id) const {
    auto it = byId_.find(id);
    return it == byId_.end() ? nullptr : &it->second;
  }

 private:
  struct Interval {
    std::string lo;
    std::optional<std::string> hi;
    std::uint32_t id;
  };
  struct Tree {
    std::vector<Interval> intervals;
    mutable bool dirty = true;
    mutable std::vector<std::string> points;  // sorted unique finite endpoints
    mutable std::vector<std::vector<std::uint32_t>> nodes;
    void build() const;
  };
  std::map<std::string, std::map<std::string, Tree, std::less<>>, std::less<>> trees_;
  std::map<std::uint32_t, Spec> byId_;
  std::map<std::string, std::uint32_t, std::less<>> tables_;  // table → subscription count
  std::uint32_t next_ = 1;
};

}  // namespace crdtdb
