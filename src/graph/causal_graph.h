// The causal event graph: every event this replica has applied, in local (LV) order.
//
// Storage is run-length encoded: one GraphRun covers events [start, end) made by one peer with
// consecutive seqs and Lamport times, where each event after the first has exactly the previous
// one as its parent. A peer typing or writing many transactions in a row costs one run.
//
// Every peer's events form one chain (validated on append: the first event of a run by peer
// p at seq s > 0 has (p, s-1) in its causal past), so "has event e seen (q, t)?" is
// t < vv(e)[q] with vv(e) the version vector of e's causal past. Each run keeps the vector of
// its first event's parents, computed on first use from its parents' runs (persistent maps:
// a vector derived from another costs a few trie nodes).
//
// Invariants (checkInvariants(), called after every fuzz step in debug builds):
//  - runs_ tile [0, size()) in order with no gaps; no two adjacent runs could be merged.
//  - every parent LV is < its child's LV (LV order is a topological order), parent lists are
//    sorted ascending and duplicate-free; Lamport = max(parents' Lamport) + 1.
//  - bySeq_[peer] maps seqs 0..nextSeq(peer)-1 contiguously onto LVs, consistent with runs_.
//  - frontier_ is the set of events without children; maxLamport_ the highest Lamport time.
//
// Mutation is append-only and journaled: mark() / rollback(mark) undo every append since
// the mark without allocating; clearJournal() forgets the undo information.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "core/ids.h"
#include "core/reserve.h"
#include "graph/lv_set.h"
#include "graph/version_vector.h"

namespace crdtdb {

struct GraphRun {
  LV start;
  LV end;  // exclusive
  PeerIdx peer;
  std::uint32_t parentsOff;  // parents of `start` in the graph's parent pool
  std::uint32_t parentCount;
  VV vv;  // version vector of the parents of `start` (valid when vvReady)
  bool vvReady = false;
  Seq seq;          // seq of `start`
  Lamport lamport;  // Lamport time of `start`
};
static_assert(sizeof(GraphRun) <= 48, "one per run: keep the 32-bit fields together");

struct GraphDiff {
  std::vector<LVRange> onlyA;  // in past(A) but not past(B), ascending
  std::vector<LVRange> onlyB;  // in past(B) but not past(A), ascending
};

class CausalGraph {
 public:
  LV size() const { return runs_.empty() ? 0 : runs_.back().end; }
  // Events without children, ascending.
  std::vector<LV> frontier() const;
  // Is `version` (sorted, unique) exactly the frontier: has its holder seen every event?
  bool isFrontier(std::span<const LV> version) const {
    if (version.size() != frontier_.size()) return false;
    for (LV v : version) {
      if (!frontier_.contains(v)) return false;
    }
    return true;
  }
  Lamport maxLamport() const { return maxLamport_; }
  const std::vector<GraphRun>& runs() const { return runs_; }
  std::span<const LV> parentsOfRun(const GraphRun& r) const {
    return {parents_.data() + r.parentsOff, r.parentCount};
  }

  // Appends `count` events by `peer` starting at `seq` (== nextSeq(peer)), whose first event
  // has `parents` (existing LVs, sorted, unique). Their Lamport times are max(parents) + 1, ...
  // Returns the LV of the first new event. Throws Error(Internal) on a broken precondition.
  LV append(PeerIdx peer, Seq seq, std::span<const LV> parents, LV count);

  Seq nextSeq(PeerIdx peer) const { return peer < nextSeq_.size() ? nextSeq_[peer] : 0; }
  std::size_t peerCount() const { return nextSeq_.size(); }
  std::optional<LV> lvOf(PeerIdx peer, Seq seq) const;
  // Ranges of LVs holding `peer`'s events with seq >= `from`, ascending.
  std::vector<LVRange> rangesFromSeq(PeerIdx peer, Seq from) const;

  const GraphRun& runAt(LV lv) const;
  std::size_t runIndexAt(LV lv) const;
  Stamp stampOf(LV lv) const;
  Lamport lamportOf(LV lv) const;
  std::vector<LV> parentsOf(LV lv) const;
  // Is the event before `lv` its only parent (one chain: it saw nothing else since)?
  bool followsPrevious(LV lv) const {
    const GraphRun& r = runAt(lv);
    const std::span<const LV> p = parentsOfRun(r);
    return lv > r.start || (p.size() == 1 && p[0] + 1 == lv);
  }
  Lamport maxLamport(std::span<const LV> version) const;

  // Version vector of the causal past of `parents` (inclusive), for a new run's checks.
  VV vvOfParents(std::span<const LV> parents);
  // Version vector of the parents of run `runIndex`'s first event (cached on the run).
  VV runVV(std::size_t runIndex);
  Seq vvGet(VV v, PeerIdx peer) const { return vvs_.get(v, peer); }
  // vvGet(vvOfParents(parents), peer) without making a vector: the one-off checks of a merge
  // would otherwise leave a path of nodes behind per call.
  Seq seenOf(std::span<const LV> parents, PeerIdx peer);
  const VVStore& vvStore() const { return vvs_; }

  // Is `target` in the causal past of `version` (inclusive)? A graph walk: for tests and
  // diagnostics; merges use version vectors.
  bool contains(std::span<const LV> version, LV target) const;
  GraphDiff diff(std::span<const LV> a, std::span<const LV> b) const;
  // Events in past(to) but not past(from), in causal (ascending LV) order.
  std::vector<LVRange> eventsBetween(std::span<const LV> from, std::span<const LV> to) const {
    return diff(to, from).onlyA;
  }

  struct Mark {
    std::size_t runs, parents, journal, peers;
    LV lastEnd;
    Lamport maxLamport;
  };
  Mark mark() const;
  void rollback(const Mark& m) noexcept;
  void clearJournal() noexcept { clearScratch(journal_); }

  // Deep invariant check; throws Error(Internal) on a violation. O(events).
  void checkInvariants() const;

 private:
  struct SeqRun {
    Seq seq;
    LV lv;
    LV len;
  };
  struct Undo {
    enum Kind : std::uint8_t { SeqRunPushed, SeqRunGrown, FrontierAdded, FrontierRemoved };
    Kind kind;
    PeerIdx peer;
    LV lv;  // FrontierAdded / FrontierRemoved: the entry; SeqRunGrown: the old length
    Seq oldNext;
  };
  void computeVV(std::size_t runIndex);

  std::vector<GraphRun> runs_;
  std::vector<LV> parents_;                 // parent pool
  std::vector<std::vector<SeqRun>> bySeq_;  // per peer, ascending seq
  std::vector<Seq> nextSeq_;
  LVSet frontier_;
  Lamport maxLamport_ = 0;
  VVStore vvs_;
  std::vector<Undo> journal_;
};

}  // namespace crdtdb
