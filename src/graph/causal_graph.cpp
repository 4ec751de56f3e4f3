#include "graph/causal_graph.h"

#include <algorithm>
#include <queue>
#include <string>

#include "core/errors.h"

namespace crdtdb {

namespace {

void internal(bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorCode::Internal, "causal graph invariant violated: " + what);
}

// Walk flags: which side(s) reached an event. Shared = both; kDominated marks shared events
// reached through another shared event (so they cannot be a greatest common ancestor).
constexpr unsigned kOnlyA = 1, kOnlyB = 2, kShared = 3, kDominated = 4;

void addRange(std::vector<LVRange>& out, LV start, LV end) {
  // Ranges arrive in descending order; merge touching neighbours.
  if (!out.empty() && out.back().start == end) {
    out.back().start = start;
  } else {
    out.push_back({start, end});
  }
}

}  // namespace

LV CausalGraph::append(PeerIdx peer, Seq seq, Lamport lamport, std::span<const LV> parents,
                       LV count) {
  LV start = size();
  internal(count > 0, "append of zero events");
  internal(seq == nextSeq(peer), "non-contiguous seq");
  std::vector<LV> ps(parents.begin(), parents.end());
  std::sort(ps.begin(), ps.end());
  ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
  for (LV p : ps) internal(p < start && lamportOf(p) < lamport, "bad parent");

  GraphRun* last = runs_.empty() ? nullptr : &runs_.back();
  if (last && last->peer == peer && last->seq + last->end - last->start == seq &&
      last->lamport + (last->end - last->start) == lamport && ps.size() == 1 &&
      ps[0] == last->end - 1) {
    last->end += count;
  } else {
    runs_.push_back({start, start + count, ps, peer, seq, lamport});
  }

  if (peer >= bySeq_.size()) {
    bySeq_.resize(peer + 1);
    nextSeq_.resize(peer + 1, 0);
  }
  auto& seqs = bySeq_[peer];
  if (!seqs.empty() && seqs.back().seq + seqs.back().len == seq &&
      seqs.back().lv + seqs.back().len == start) {
    seqs.back().len += count;
  } else {
    seqs.push_back({seq, start, count});
  }
  nextSeq_[peer] = seq + count;

  // Every frontier event that the new events descend from is one of their direct parents
  // (frontier events have no children), so the new frontier is simple to compute.
  std::vector<LV> f;
  f.reserve(frontier_.size() + 1);
  for (LV x : frontier_) {
    if (!std::binary_search(ps.begin(), ps.end(), x)) f.push_back(x);
  }
  f.push_back(start + count - 1);
  frontier_ = std::move(f);
  return start;
}

std::optional<LV> CausalGraph::lvOf(PeerIdx peer, Seq seq) const {
  if (peer >= bySeq_.size() || seq >= nextSeq_[peer]) return std::nullopt;
  const auto& seqs = bySeq_[peer];
  auto it = std::upper_bound(seqs.begin(), seqs.end(), seq,
                             [](Seq s, const SeqRun& r) { return s < r.seq; });
  --it;
  return it->lv + (seq - it->seq);
}

std::vector<LVRange> CausalGraph::rangesFromSeq(PeerIdx peer, Seq from) const {
  std::vector<LVRange> out;
  if (peer >= bySeq_.size()) return out;
  for (const auto& r : bySeq_[peer]) {
    if (r.seq + r.len <= from) continue;
    LV skip = from > r.seq ? from - r.seq : 0;
    out.push_back({r.lv + skip, r.lv + r.len});
  }
  return out;
}

const GraphRun& CausalGraph::runAt(LV lv) const {
  internal(lv < size(), "LV out of range");
  auto it = std::upper_bound(runs_.begin(), runs_.end(), lv,
                             [](LV v, const GraphRun& r) { return v < r.start; });
  return *(it - 1);
}

Stamp CausalGraph::stampOf(LV lv) const {
  const GraphRun& r = runAt(lv);
  return {lv, r.lamport + (lv - r.start), r.peer, r.seq + (lv - r.start)};
}

Lamport CausalGraph::lamportOf(LV lv) const {
  const GraphRun& r = runAt(lv);
  return r.lamport + (lv - r.start);
}

std::vector<LV> CausalGraph::parentsOf(LV lv) const {
  const GraphRun& r = runAt(lv);
  if (lv == r.start) return r.parents;
  return {lv - 1};
}

Lamport CausalGraph::maxLamport(std::span<const LV> version) const {
  Lamport m = 0;
  for (LV v : version) m = std::max(m, lamportOf(v));
  return m;
}

bool CausalGraph::contains(std::span<const LV> version, LV target) const {
  const Lamport targetLamport = lamportOf(target);
  std::priority_queue<LV> heap;
  for (LV v : version) {
    if (v >= target) heap.push(v);
  }
  while (!heap.empty()) {
    LV v = heap.top();
    heap.pop();
    const GraphRun& run = runAt(v);
    if (run.start <= target) return true;  // target lies on this run's linear chain below v
    // Every entry inside this run is covered by expanding the run's parents once.
    while (!heap.empty() && heap.top() >= run.start) heap.pop();
    for (LV p : run.parents) {
      // Events at or below target's LV, or not above its Lamport time, cannot descend from it.
      if (p >= target && (p == target || lamportOf(p) > targetLamport)) heap.push(p);
    }
  }
  return false;
}

GraphDiff CausalGraph::walk(std::span<const LV> a, std::span<const LV> b,
                            std::vector<LV>* meets) const {
  struct Entry {
    LV lv;
    unsigned flag;
    bool operator<(const Entry& o) const { return lv < o.lv; }
  };
  std::priority_queue<Entry> heap;
  std::size_t pendingOnly = 0;  // entries in the heap that are not shared
  auto push = [&](LV lv, unsigned flag) {
    heap.push({lv, flag});
    if ((flag & kShared) != kShared) ++pendingOnly;
  };
  auto pop = [&]() {
    Entry e = heap.top();
    heap.pop();
    if ((e.flag & kShared) != kShared) --pendingOnly;
    return e;
  };
  for (LV v : a) push(v, kOnlyA);
  for (LV v : b) push(v, kOnlyB);

  GraphDiff out;
  while (!heap.empty() && (pendingOnly > 0 || meets)) {
    if (pendingOnly == 0) {
      // Only shared entries remain: they are meet candidates unless dominated.
      Entry e = pop();
      bool dominated = e.flag & kDominated;
      while (!heap.empty() && heap.top().lv == e.lv) dominated |= (pop().flag & kDominated) != 0;
      if (!dominated) meets->push_back(e.lv);
      continue;
    }
    Entry e = pop();
    unsigned sides = e.flag & kShared;
    bool dominated = e.flag & kDominated;
    while (!heap.empty() && heap.top().lv == e.lv) {
      Entry same = pop();
      sides |= same.flag & kShared;
      // Reached from below a shared event along any path: an ancestor of a common event.
      dominated = dominated || (same.flag & kDominated);
    }
    if (sides != kShared) dominated = false;
    if (sides == kShared && !dominated && meets) meets->push_back(e.lv);

    const GraphRun& run = runAt(e.lv);
    LV lo = run.start;
    if (!heap.empty() && heap.top().lv >= lo) {
      // Another entry lies inside this run: process down to it, then merge flags there.
      LV next = heap.top().lv;
      if (sides == kOnlyA) addRange(out.onlyA, next + 1, e.lv + 1);
      if (sides == kOnlyB) addRange(out.onlyB, next + 1, e.lv + 1);
      unsigned carry = sides | ((sides == kShared) ? kDominated : 0);
      push(next, carry);
      continue;
    }
    if (sides == kOnlyA) addRange(out.onlyA, lo, e.lv + 1);
    if (sides == kOnlyB) addRange(out.onlyB, lo, e.lv + 1);
    unsigned carry = sides | ((sides == kShared) ? kDominated : 0);
    for (LV p : run.parents) push(p, carry);
  }
  std::reverse(out.onlyA.begin(), out.onlyA.end());
  std::reverse(out.onlyB.begin(), out.onlyB.end());
  return out;
}

GraphDiff CausalGraph::diff(std::span<const LV> a, std::span<const LV> b) const {
  return walk(a, b, nullptr);
}

std::vector<LV> CausalGraph::commonAncestor(std::span<const LV> a, std::span<const LV> b) const {
  std::vector<LV> meets;
  walk(a, b, &meets);
  std::sort(meets.begin(), meets.end());
  meets.erase(std::unique(meets.begin(), meets.end()), meets.end());
  // The walk can report a meet point that another meet point descends from; drop those.
  std::vector<LV> out;
  for (std::size_t i = 0; i < meets.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = i + 1; j < meets.size() && !dominated; ++j) {
      dominated = contains(std::span<const LV>(&meets[j], 1), meets[i]);
    }
    if (!dominated) out.push_back(meets[i]);
  }
  return out;
}

void CausalGraph::checkInvariants() const {
  LV expect = 0;
  std::vector<bool> hasChild(size(), false);
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    const GraphRun& r = runs_[i];
    internal(r.start == expect && r.end > r.start, "runs do not tile the LV space");
    internal(std::is_sorted(r.parents.begin(), r.parents.end()) &&
                 std::adjacent_find(r.parents.begin(), r.parents.end()) == r.parents.end(),
             "parents not sorted and unique");
    for (LV p : r.parents) {
      internal(p < r.start, "parent not before child");
      internal(lamportOf(p) < r.lamport, "Lamport not increasing along an edge");
      hasChild[p] = true;
    }
    for (LV v = r.start + 1; v < r.end; ++v) hasChild[v - 1] = true;
    if (i > 0) {
      const GraphRun& prev = runs_[i - 1];
      bool mergeable = prev.peer == r.peer && prev.seq + (prev.end - prev.start) == r.seq &&
                       prev.lamport + (prev.end - prev.start) == r.lamport &&
                       r.parents.size() == 1 && r.parents[0] == prev.end - 1;
      internal(!mergeable, "adjacent runs could be merged");
    }
    auto lv = lvOf(r.peer, r.seq);
    internal(lv && *lv == r.start, "seq index disagrees with runs");
    auto lvEnd = lvOf(r.peer, r.seq + (r.end - r.start) - 1);
    internal(lvEnd && *lvEnd == r.end - 1, "seq index disagrees with runs at run end");
    expect = r.end;
  }
  for (std::size_t p = 0; p < bySeq_.size(); ++p) {
    Seq s = 0;
    for (const auto& sr : bySeq_[p]) {
      internal(sr.seq == s && sr.len > 0, "seqs not contiguous");
      s += sr.len;
    }
    internal(s == nextSeq_[p], "nextSeq disagrees with seq index");
  }
  std::vector<LV> f;
  for (LV v = 0; v < size(); ++v) {
    if (!hasChild[v]) f.push_back(v);
  }
  internal(f == frontier_, "frontier is not the set of childless events");
}

}  // namespace crdtdb
