#include "merge/list/list_graph.h"

#include <algorithm>

#include "core/errors.h"
#include "core/reserve.h"

namespace crdtdb::list {

namespace detail {

void pushHeap(std::vector<std::pair<LV, std::uint8_t>>& heap, LV lv, std::uint8_t flag) {
  heap.emplace_back(lv, flag);
  std::push_heap(heap.begin(), heap.end(),
                 [](const auto& a, const auto& b) { return a.first < b.first; });
}

std::pair<LV, std::uint8_t> popHeap(std::vector<std::pair<LV, std::uint8_t>>& heap) {
  std::pop_heap(heap.begin(), heap.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
  auto top = heap.back();
  heap.pop_back();
  return top;
}

}  // namespace detail

void ListGraph::append(LV start, LV len, std::span<const LV> parents) {
  if (len == 0) return;
  if (!entries_.empty() && start < entries_.back().end) {
    throw Error(ErrorCode::Internal, "list graph: events appended out of order");
  }
  // Reserve first so that a failed allocation changes nothing.
  reserveMore(frontier_, 1);
  const bool extends = !entries_.empty() && entries_.back().end == start && parents.size() == 1 &&
                       parents[0] == start - 1;
  if (extends) {
    entries_.back().end = start + len;
  } else {
    reserveMore(entries_, 1);
    reserveMore(parents_, parents.size());
    entries_.push_back({start, start + len, static_cast<std::uint32_t>(parents_.size()),
                        static_cast<std::uint32_t>(parents.size())});
    parents_.insert(parents_.end(), parents.begin(), parents.end());
  }
  // The new events' parents leave the frontier; its last event joins it (it is the highest).
  std::erase_if(frontier_,
                [&](LV f) { return std::binary_search(parents.begin(), parents.end(), f); });
  frontier_.push_back(start + len - 1);
}

std::size_t ListGraph::entryAt(LV lv) const {
  // Walks and replays ask about nearby events in turn: try the last answer and its
  // neighbours before searching.
  const std::size_t n = entries_.size();
  for (std::size_t i : {hint_, hint_ + 1, hint_ - 1}) {
    if (i < n && entries_[i].start <= lv && lv < entries_[i].end) return hint_ = i;
  }
  auto it = std::upper_bound(entries_.begin(), entries_.end(), lv,
                             [](LV v, const Entry& e) { return v < e.start; });
  if (it == entries_.begin() || lv >= (it - 1)->end) {
    throw Error(ErrorCode::Internal, "list graph: not a column event");
  }
  return hint_ = static_cast<std::size_t>(it - entries_.begin()) - 1;
}

std::span<const LV> ListGraph::parentsOf(LV lv, LV& scratch) const {
  const Entry& e = entries_[entryAt(lv)];
  if (lv > e.start) {
    scratch = lv - 1;
    return {&scratch, 1};
  }
  return {parents_.data() + e.parentsOff, e.parentCount};
}

namespace {
constexpr std::uint8_t kA = 1, kB = 2, kShared = 3;

void addRange(std::vector<LVRange>& out, LV lo, LV hiInclusive) {
  // Walks go downwards: ranges arrive descending; merge touching ones.
  if (!out.empty() && out.back().start == hiInclusive + 1) {
    out.back().start = lo;
  } else {
    out.push_back({lo, hiInclusive + 1});
  }
}
}  // namespace

void ListGraph::diff(std::span<const LV> a, std::span<const LV> b, GraphDiffRanges& out) const {
  out.onlyA.clear();
  out.onlyB.clear();
  std::vector<std::pair<LV, std::uint8_t>>& heap = heap_;
  heap.clear();
  std::size_t open = 0;  // entries not yet known to be shared
  auto push = [&](LV lv, std::uint8_t flag) {
    if (flag != kShared) ++open;
    detail::pushHeap(heap, lv, flag);
  };
  for (LV v : a) push(v, kA);
  for (LV v : b) push(v, kB);
  LV scratch = 0;
  while (open > 0) {
    auto [lv, flag] = detail::popHeap(heap);
    if (flag != kShared) --open;
    while (!heap.empty() && heap.front().first == lv) {
      auto [_, f] = detail::popHeap(heap);
      if (f != kShared) --open;
      flag |= f;
    }
    const Entry& e = entries_[entryAt(lv)];
    const LV lo = !heap.empty() && heap.front().first >= e.start ? heap.front().first + 1 : e.start;
    if (flag == kA) addRange(out.onlyA, lo, lv);
    if (flag == kB) addRange(out.onlyB, lo, lv);
    if (lo > e.start) {
      push(lo - 1, flag);
    } else {
      for (LV p : parentsOf(e.start, scratch)) push(p, flag);
    }
  }
  std::reverse(out.onlyA.begin(), out.onlyA.end());
  std::reverse(out.onlyB.begin(), out.onlyB.end());
}

ConflictRegion ListGraph::conflictRegion(std::span<const LV> tips, LV newFrom) const {
  ConflictRegion out;
  std::vector<std::pair<LV, std::uint8_t>> heap;
  for (LV v : tips) detail::pushHeap(heap, v, 0);
  LV scratch = 0;
  bool rooted = false;  // a walked path ended at the root: no common point but the root
  while (!heap.empty()) {
    auto [lv, flag] = detail::popHeap(heap);
    while (!heap.empty() && heap.front().first == lv) detail::popHeap(heap);
    // One point left below every new event, and no path got past it to the root:
    // everything walked descends from it.
    if (heap.empty() && lv < newFrom && !rooted) {
      out.common = lv;
      break;
    }
    const Entry& e = entries_[entryAt(lv)];
    const LV lo = !heap.empty() && heap.front().first >= e.start ? heap.front().first + 1 : e.start;
    addRange(out.events, lo, lv);
    if (lo > e.start) {
      detail::pushHeap(heap, lo - 1, flag);
    } else {
      const std::span<const LV> parents = parentsOf(e.start, scratch);
      if (parents.empty()) rooted = true;
      for (LV p : parents) detail::pushHeap(heap, p, flag);
    }
  }
  std::reverse(out.events.begin(), out.events.end());
  return out;
}

}  // namespace crdtdb::list
