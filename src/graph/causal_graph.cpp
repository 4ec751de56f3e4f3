#include "graph/causal_graph.h"

#include <algorithm>
#include <queue>
#include <string>

#include "core/errors.h"
#include "core/reserve.h"
#include "core/sort.h"

namespace crdtdb {

namespace {

void internal(bool ok, const char* what) {
  if (!ok)
    throw Error(ErrorCode::Internal, std::string("causal graph invariant violated: ") + what);
}

constexpr unsigned kOnlyA = 1, kOnlyB = 2, kShared = 3;

void addRange(std::vector<LVRange>& out, LV start, LV end) {
  // Ranges arrive in descending order; merge touching neighbours.
  if (!out.empty() && out.back().start == end) {
    out.back().start = start;
  } else {
    out.push_back({start, end});
  }
}

}  // namespace

std::vector<LV> CausalGraph::frontier() const {
  std::vector<LV> f;
  f.reserve(frontier_.size());
  frontier_.forEach([&](LV v) { f.push_back(v); });
  sortRange(f.begin(), f.end());
  return f;
}

LV CausalGraph::append(PeerIdx peer, Seq seq, std::span<const LV> parents, LV count) {
  const LV start = size();
  internal(count > 0, "append of zero events");
  internal(count <= kMaxEvents - start, "event count limit");
  internal(seq == nextSeq(peer), "non-contiguous seq");
  for (std::size_t i = 0; i < parents.size(); ++i) {
    internal(parents[i] < start && (i == 0 || parents[i - 1] < parents[i]), "bad parents");
  }
  const Lamport lamport = maxLamport(parents) + 1;
  internal(lamport + count <= kMaxClock && seq + count <= kMaxClock, "clock limit");

  GraphRun* last = runs_.empty() ? nullptr : &runs_.back();
  const bool extends = last && last->peer == peer && last->seq + (last->end - last->start) == seq &&
                       parents.size() == 1 && parents[0] == last->end - 1;

  // Allocate everything first; below this point nothing throws.
  reserveMore(journal_, 3 + parents.size());
  if (!extends) {
    reserveMore(runs_, 1);
    reserveMore(parents_, parents.size());
  }
  if (peer >= bySeq_.size()) {  // undone by rollback (truncated to the mark's peer count)
    bySeq_.resize(peer + 1);
    nextSeq_.resize(peer + 1, 0);
  }
  auto& seqs = bySeq_[peer];
  const bool grows = !seqs.empty() && seqs.back().seq + seqs.back().len == seq &&
                     seqs.back().lv + seqs.back().len == start;
  if (!grows) reserveMore(seqs, 1);
  frontier_.reserveOne();

  // Commit (nothrow).
  frontier_.insert(start + count - 1);
  journal_.push_back(Undo{Undo::FrontierAdded, 0, start + count - 1, 0});
  for (LV p : parents) {
    if (frontier_.erase(p)) journal_.push_back(Undo{Undo::FrontierRemoved, 0, p, 0});
  }
  if (extends) {
    last->end += count;
  } else {
    auto off = static_cast<std::uint32_t>(parents_.size());
    parents_.insert(parents_.end(), parents.begin(), parents.end());
    runs_.push_back(GraphRun{start,
                             start + count,
                             peer,
                             off,
                             static_cast<std::uint32_t>(parents.size()),
                             {},
                             false,
                             seq,
                             lamport});
  }
  if (grows) {
    journal_.push_back(Undo{Undo::SeqRunGrown, peer, seqs.back().len, nextSeq_[peer]});
    seqs.back().len += count;
  } else {
    journal_.push_back(Undo{Undo::SeqRunPushed, peer, 0, nextSeq_[peer]});
    seqs.push_back({seq, start, count});
  }
  nextSeq_[peer] = seq + count;
  maxLamport_ = std::max(maxLamport_, lamport + count - 1);
  return start;
}

CausalGraph::Mark CausalGraph::mark() const {
  return Mark{runs_.size(), parents_.size(), journal_.size(), bySeq_.size(), size(), maxLamport_};
}

void CausalGraph::rollback(const Mark& m) noexcept {
  while (journal_.size() > m.journal) {
    Undo& u = journal_.back();
    switch (u.kind) {
      case Undo::SeqRunPushed:
        bySeq_[u.peer].pop_back();
        nextSeq_[u.peer] = u.oldNext;
        break;
      case Undo::SeqRunGrown:
        bySeq_[u.peer].back().len = u.lv;
        nextSeq_[u.peer] = u.oldNext;
        break;
      case Undo::FrontierAdded:
        frontier_.erase(u.lv);
        break;
      case Undo::FrontierRemoved:
        frontier_.insert(u.lv);  // capacity never shrinks: no allocation
        break;
    }
    journal_.pop_back();
  }
  runs_.resize(m.runs);
  if (!runs_.empty()) runs_.back().end = m.lastEnd;
  parents_.resize(m.parents);
  bySeq_.resize(m.peers);
  nextSeq_.resize(m.peers);
  maxLamport_ = m.maxLamport;
}

std::optional<LV> CausalGraph::lvOf(PeerIdx peer, Seq seq) const {
  if (peer >= bySeq_.size() || seq >= nextSeq_[peer]) return std::nullopt;
  const auto& seqs = bySeq_[peer];
  auto it = std::upper_bound(seqs.begin(), seqs.end(), seq,
                             [](Seq s, const SeqRun& r) { return s < r.seq; });
  --it;
  return static_cast<LV>(it->lv + (seq - it->seq));
}

std::vector<LVRange> CausalGraph::rangesFromSeq(PeerIdx peer, Seq from) const {
  std::vector<LVRange> out;
  if (peer >= bySeq_.size()) return out;
  const auto& seqs = bySeq_[peer];
  auto it = std::upper_bound(seqs.begin(), seqs.end(), from,
                             [](Seq s, const SeqRun& r) { return s < r.seq; });
  if (it != seqs.begin()) --it;
  for (; it != seqs.end(); ++it) {
    if (it->seq + it->len <= from) continue;
    LV skip = from > it->seq ? static_cast<LV>(from - it->seq) : 0;
    out.push_back({it->lv + skip, it->lv + it->len});
  }
  return out;
}

std::size_t CausalGraph::runIndexAt(LV lv) const {
  internal(lv < size(), "LV out of range");
  auto it = std::upper_bound(runs_.begin(), runs_.end(), lv,
                             [](LV v, const GraphRun& r) { return v < r.start; });
  return static_cast<std::size_t>(it - runs_.begin()) - 1;
}

const GraphRun& CausalGraph::runAt(LV lv) const { return runs_[runIndexAt(lv)]; }

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
  if (lv == r.start) {
    auto ps = parentsOfRun(r);
    return {ps.begin(), ps.end()};
  }
  return {lv - 1};
}

Lamport CausalGraph::maxLamport(std::span<const LV> version) const {
  Lamport m = 0;
  for (LV v : version) m = std::max(m, lamportOf(v));
  return m;
}

void CausalGraph::computeVV(std::size_t runIndex) {
  // Iterative: a long chain of runs must not recurse once per run.
  std::vector<std::size_t> stack{runIndex};
  while (!stack.empty()) {
    const std::size_t r = stack.back();
    if (runs_[r].vvReady) {
      stack.pop_back();
      continue;
    }
    bool pending = false;
    for (LV p : parentsOfRun(runs_[r])) {
      std::size_t q = runIndexAt(p);
      if (!runs_[q].vvReady) {
        stack.push_back(q);
        pending = true;
      }
    }
    if (pending) continue;
    VV v = vvOfParents(parentsOfRun(runs_[r]));
    runs_[r].vv = v;
    runs_[r].vvReady = true;
    stack.pop_back();
  }
}

VV CausalGraph::runVV(std::size_t runIndex) {
  if (!runs_[runIndex].vvReady) computeVV(runIndex);
  return runs_[runIndex].vv;
}

VV CausalGraph::vvOfParents(std::span<const LV> parents) {
  VV out;
  for (LV p : parents) {
    std::size_t q = runIndexAt(p);
    VV base = runVV(q);
    const GraphRun& run = runs_[q];
    out = vvs_.join(out, vvs_.raise(base, run.peer, run.seq + (p - run.start) + 1));
  }
  return out;
}

Seq CausalGraph::seenOf(std::span<const LV> parents, PeerIdx peer) {
  Seq out = 0;
  for (LV p : parents) {
    const std::size_t q = runIndexAt(p);
    const GraphRun& run = runs_[q];
    // The run's own peer: its chain up to p (past the run's start, beyond its runVV).
    out =
        std::max(out, run.peer == peer ? run.seq + (p - run.start) + 1 : vvs_.get(runVV(q), peer));
  }
  return out;
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
    while (!heap.empty() && heap.top() >= run.start) heap.pop();
    for (LV p : parentsOfRun(run)) {
      if (p >= target && (p == target || lamportOf(p) > targetLamport)) heap.push(p);
    }
  }
  return false;
}

GraphDiff CausalGraph::diff(std::span<const LV> a, std::span<const LV> b) const {
  struct Entry {
    LV lv;
    unsigned flag;
    bool operator<(const Entry& o) const { return lv < o.lv; }
  };
  std::priority_queue<Entry> heap;
  std::size_t pendingOnly = 0;  // entries in the heap that are not shared
  auto push = [&](LV lv, unsigned flag) {
    heap.push({lv, flag});
    if (flag != kShared) ++pendingOnly;
  };
  auto pop = [&]() {
    Entry e = heap.top();
    heap.pop();
    if (e.flag != kShared) --pendingOnly;
    return e;
  };
  for (LV v : a) push(v, kOnlyA);
  for (LV v : b) push(v, kOnlyB);

  GraphDiff out;
  while (!heap.empty() && pendingOnly > 0) {
    Entry e = pop();
    unsigned sides = e.flag;
    while (!heap.empty() && heap.top().lv == e.lv) sides |= pop().flag;
    const GraphRun& run = runAt(e.lv);
    LV lo = run.start;
    if (!heap.empty() && heap.top().lv >= lo) {
      // Another entry lies inside this run: process down to it, then merge flags there.
      LV next = heap.top().lv;
      if (sides == kOnlyA) addRange(out.onlyA, next + 1, e.lv + 1);
      if (sides == kOnlyB) addRange(out.onlyB, next + 1, e.lv + 1);
      push(next, sides);
      continue;
    }
    if (sides == kOnlyA) addRange(out.onlyA, lo, e.lv + 1);
    if (sides == kOnlyB) addRange(out.onlyB, lo, e.lv + 1);
    for (LV p : parentsOfRun(run)) push(p, sides);
  }
  std::reverse(out.onlyA.begin(), out.onlyA.end());
  std::reverse(out.onlyB.begin(), out.onlyB.end());
  return out;
}

void CausalGraph::checkInvariants() const {
  LV expect = 0;
  std::vector<bool> hasChild(size(), false);
  Lamport maxL = 0;
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    const GraphRun& r = runs_[i];
    internal(r.start == expect && r.end > r.start, "runs do not tile the LV space");
    auto ps = parentsOfRun(r);
    internal(std::is_sorted(ps.begin(), ps.end()) &&
                 std::adjacent_find(ps.begin(), ps.end()) == ps.end(),
             "parents not sorted and unique");
    Lamport pl = 0;
    for (LV p : ps) {
      internal(p < r.start, "parent not before child");
      pl = std::max(pl, lamportOf(p));
      hasChild[p] = true;
    }
    internal(r.lamport == pl + 1, "Lamport is not max(parents) + 1");
    maxL = std::max(maxL, r.lamport + (r.end - r.start) - 1);
    for (LV v = r.start + 1; v < r.end; ++v) hasChild[v - 1] = true;
    if (i > 0) {
      const GraphRun& prev = runs_[i - 1];
      bool mergeable = prev.peer == r.peer && prev.seq + (prev.end - prev.start) == r.seq &&
                       ps.size() == 1 && ps[0] == prev.end - 1;
      internal(!mergeable, "adjacent runs could be merged");
    }
    auto lv = lvOf(r.peer, r.seq);
    internal(lv && *lv == r.start, "seq index disagrees with runs");
    auto lvEnd = lvOf(r.peer, r.seq + (r.end - r.start) - 1);
    internal(lvEnd && *lvEnd == r.end - 1, "seq index disagrees with runs at run end");
    if (r.seq > 0 && r.vvReady) {
      internal(vvs_.get(r.vv, r.peer) >= r.seq, "a peer's events do not form a chain");
    }
    expect = r.end;
  }
  internal(maxL == maxLamport_, "maxLamport disagrees with runs");
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
  internal(f == frontier(), "frontier is not the set of childless events");
}

}  // namespace crdtdb
