// The causal graph of one list/text column: the projection of the replica's event graph onto
// the events that edit this column. Its nodes are the column's events, named by their global
// LVs; an event's parents are the latest column events in its causal past. A row's text thus
// never pays for the history of other rows.
//
// Storage is run-length encoded like the global graph: an entry covers events [start, end)
// where each event after the first has the previous one as its only parent.
//
// Invariants: entries ascend by LV and do not overlap; parents of an entry are column events
// below its start, sorted and unique; no parent is an ancestor of another; frontier_ holds
// the events without column children, ascending.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/ids.h"

namespace crdtdb::list {

struct GraphDiffRanges {
  std::vector<LVRange> onlyA;  // ascending
  std::vector<LVRange> onlyB;  // ascending
};

// A concurrent region: the events after a common point `common`, every one of which has
// `common` (with its past) in its own past. kNone as common: the region starts at the root.
struct ConflictRegion {
  static constexpr LV kNone = ~LV{0};
  LV common = kNone;
  std::vector<LVRange> events;  // ascending
};

class ListGraph {
 public:
  // Adds events [start, start + len) whose first has `parents` (column events, sorted,
  // unique, none an ancestor of another). start must be above every event already held.
  void append(LV start, LV len, std::span<const LV> parents);

  const std::vector<LV>& frontier() const { return frontier_; }
  LV lastEnd() const { return entries_.empty() ? 0 : entries_.back().end; }
  // Parents of column event lv.
  std::span<const LV> parentsOf(LV lv, LV& scratch) const;
  // Calls f(lv, parents) for r.start and each run start inside r (column events): the only
  // events in r whose parents are not their predecessor.
  template <class F>
  void forEachStart(LVRange r, F&& f) const {
    LV scratch = 0;
    std::size_t i = entryAt(r.start);
    f(r.start, parentsOf(r.start, scratch));
    for (++i; i < entries_.size() && entries_[i].start < r.end; ++i) {
      f(entries_[i].start,
        std::span<const LV>(parents_.data() + entries_[i].parentsOff, entries_[i].parentCount));
    }
  }

  // Column events in past(a) but not past(b) and the converse (pasts inclusive).
  // Writes into `out` (cleared first; its buffers are reused across calls).
  void diff(std::span<const LV> a, std::span<const LV> b, GraphDiffRanges& out) const;
  // The region holding every event from `newFrom` on plus every event of past(version) that
  // is concurrent with one of them (see ConflictRegion). `tips` are the frontier of all events.
  ConflictRegion conflictRegion(std::span<const LV> tips, LV newFrom) const;

  // The latest column events in the past of an event: `seen(x)` answers whether column event
  // x is in that past. Walks back from the frontier only through column events that are not
  // seen (and the first seen ones), so the work is proportional to the concurrent part.
  template <class Seen>
  std::vector<LV> latestSeen(Seen&& seen) const;

  // Undo of appends (a message's edits that failed to merge). rollback() does not allocate:
  // the frontier's capacity never shrinks.
  struct Mark {
    std::size_t entries, parents;
    LV lastEnd;
    std::vector<LV> frontier;
  };
  Mark mark() const { return {entries_.size(), parents_.size(), lastEnd(), frontier_}; }
  void rollback(const Mark& m) noexcept {
    entries_.resize(m.entries);
    if (!entries_.empty()) entries_.back().end = m.lastEnd;
    parents_.resize(m.parents);
    frontier_.assign(m.frontier.begin(), m.frontier.end());
  }

  std::size_t memoryBytes() const {
    return entries_.capacity() * sizeof(Entry) + parents_.capacity() * sizeof(LV) +
           frontier_.capacity() * sizeof(LV);
  }

 private:
  struct Entry {
    LV start, end;
    std::uint32_t parentsOff, parentCount;
  };
  std::size_t entryAt(LV lv) const;  // index of the entry holding lv (which must be held)
  std::vector<Entry> entries_;
  std::vector<LV> parents_;
  std::vector<LV> frontier_;
  mutable std::size_t hint_ = 0;                           // entryAt's last answer (a cache)
  mutable std::vector<std::pair<LV, std::uint8_t>> heap_;  // diff's walk (reused)
};

// A max-heap walk shared by latestSeen: defined in the header because it is a template.
namespace detail {
void pushHeap(std::vector<std::pair<LV, std::uint8_t>>& heap, LV lv, std::uint8_t flag);
std::pair<LV, std::uint8_t> popHeap(std::vector<std::pair<LV, std::uint8_t>>& heap);
}  // namespace detail

template <class Seen>
std::vector<LV> ListGraph::latestSeen(Seen&& seen) const {
  // Fast path: the whole frontier is seen (a sequential edit, or one that saw every other).
  bool all = true;
  for (LV f : frontier_) {
    if (!seen(f)) {
      all = false;
      break;
    }
  }
  if (all) return frontier_;
  // Walk down from the frontier. Flag 1: below a found event (dominated), 0: still open.
  std::vector<std::pair<LV, std::uint8_t>> heap;
  std::size_t open = 0;  // heap entries with flag 0
  auto push = [&](LV lv, std::uint8_t flag) {
    if (flag == 0) ++open;
    detail::pushHeap(heap, lv, flag);
  };
  for (LV f : frontier_) push(f, 0);
  std::vector<LV> found;
  LV scratch = 0;
  while (open > 0) {
    auto [lv, flag] = detail::popHeap(heap);
    if (flag == 0) --open;
    while (!heap.empty() && heap.front().first == lv) {
      auto [_, f] = detail::popHeap(heap);
      if (f == 0) --open;
      flag |= f;
    }
    const Entry& e = entries_[entryAt(lv)];
    // This step covers [lo, lv]: down to the run's start or to the next event waiting in
    // the heap inside the same run (where the two walks meet and their flags merge).
    const LV lo = !heap.empty() && heap.front().first >= e.start ? heap.front().first + 1 : e.start;
    if (flag == 0) {
      // The seen events of one run form a prefix (one peer's chain): binary search it.
      LV a = lo, b = lv + 1;  // the first unseen in [lo, lv]
      while (a < b) {
        const LV mid = a + (b - a) / 2;
        if (seen(mid)) {
          a = mid + 1;
        } else {
          b = mid;
        }
      }
      if (a > lo) {
        found.push_back(a - 1);
        flag = 1;
      }
    }
    if (lo > e.start) {
      push(lo - 1, flag);
    } else {
      for (LV p : parentsOf(e.start, scratch)) push(p, flag);
    }
  }
  std::vector<LV> out;
  out.reserve(found.size());
  for (auto it = found.rbegin(); it != found.rend(); ++it) out.push_back(*it);
  return out;
}

}  // namespace crdtdb::list
