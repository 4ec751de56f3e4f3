#include "store/subscriptions.h"

#include <algorithm>

#include "core/sort.h"

namespace crdtdb {

std::uint32_t Subscriptions::add(const std::string& table, const std::string& index,
                                 const KeyRange& range) {
  const std::uint32_t id = next_++;
  Tree& t = trees_[table][index];
  for (auto& [lo, hi] : range.intervals()) t.intervals.push_back({lo, hi, id});
  t.dirty = true;
  byId_.emplace(id, Spec{table, index, range});
  ++tables_[table];
  return id;
}

void Subscriptions::remove(std::uint32_t id) {
  auto it = byId_.find(id);
  if (it == byId_.end()) return;
  auto& byIndex = trees_.find(it->second.table)->second;
  auto tree = byIndex.find(it->second.index);
  std::erase_if(tree->second.intervals, [&](const Interval& i) { return i.id == id; });
  tree->second.dirty = true;
  if (tree->second.intervals.empty()) byIndex.erase(tree);
  if (byIndex.empty()) trees_.erase(it->second.table);
  auto tc = tables_.find(it->second.table);
  if (--tc->second == 0) tables_.erase(tc);
  byId_.erase(it);
}

bool Subscriptions::watches(std::string_view table) const { return tables_.count(table) > 0; }

void Subscriptions::Tree::build() const {
  points.clear();
  for (const Interval& i : intervals) {
    if (!i.lo.empty()) points.push_back(i.lo);
    if (i.hi) points.push_back(*i.hi);
  }
  sortRange(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  // Leaf j covers [points[j-1], points[j]) (unbounded at both ends).
  const std::size_t n = points.size() + 1;
  nodes.assign(2 * n, {});
  for (const Interval& i : intervals) {
    std::size_t lo =
        i.lo.empty() ? 0
                     : static_cast<std::size_t>(
                           std::lower_bound(points.begin(), points.end(), i.lo) - points.begin()) +
                           1;
    std::size_t hi =
        i.hi ? static_cast<std::size_t>(std::lower_bound(points.begin(), points.end(), *i.hi) -
                                        points.begin()) +
                   1
             : n;
    for (std::size_t l = lo + n, r = hi + n; l < r; l >>= 1, r >>= 1) {
      if (l & 1) nodes[l++].push_back(i.id);
      if (r & 1) nodes[--r].push_back(i.id);
    }
  }
  dirty = false;
}

void Subscriptions::stab(std::string_view table, std::string_view index, std::string_view keyPart,
                         std::vector<std::uint32_t>& out) const {
  auto byIndex = trees_.find(table);
  if (byIndex == trees_.end()) return;
  auto it = byIndex->second.find(index);
  if (it == byIndex->second.end()) return;
  const Tree& t = it->second;
  if (t.dirty) t.build();
  const std::size_t n = t.points.size() + 1;
  const std::size_t leaf = static_cast<std::size_t>(
      std::upper_bound(t.points.begin(), t.points.end(), keyPart,
                       [](std::string_view k, const std::string& p) { return k < p; }) -
      t.points.begin());
  for (std::size_t i = leaf + n; i > 0; i >>= 1) {
    out.insert(out.end(), t.nodes[i].begin(), t.nodes[i].end());
  }
}

}  // namespace crdtdb
