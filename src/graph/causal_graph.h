// The causal event graph: every event this replica has applied, in local (LV) order.
//
// Storage is run-length encoded: one GraphRun covers events [start, end) made by one peer with
// consecutive seqs and Lamport times, where each event after the first has exactly the previous
// one as its parent. A peer typing or writing many transactions in a row costs one run.
//
// Invariants (checked by checkInvariants(), called after every fuzz step in debug builds):
//  - runs_ tile [0, size()) in order with no gaps; no two adjacent runs could be merged.
//  - every parent LV is < its child's LV (LV order is a topological order), parent lists are
//    sorted ascending and duplicate-free.
//  - Lamport times grow strictly along every parent edge.
//  - bySeq_[peer] maps seqs 0..nextSeq(peer)-1 contiguously onto LVs, consistent with runs_.
//  - frontier_ is the set of events without children, sorted ascending.
//
// The queries (contains, diff, commonAncestor, eventsBetween) are the retreat/advance
// primitives an Eg-walker list merge needs; row merge uses contains().
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "core/ids.h"

namespace crdtdb {

struct GraphRun {
  LV start;
  LV end;                   // exclusive
  std::vector<LV> parents;  // parents of `start`; event start+i (i > 0) has parent start+i-1
  PeerIdx peer;
  Seq seq;          // seq of `start`
  Lamport lamport;  // Lamport time of `start`
};

struct GraphDiff {
  std::vector<LVRange> onlyA;  // in past(A) but not past(B), ascending
  std::vector<LVRange> onlyB;  // in past(B) but not past(A), ascending
};

class CausalGraph {
 public:
  LV size() const { return runs_.empty() ? 0 : runs_.back().end; }
  const std::vector<LV>& frontier() const { return frontier_; }
  const std::vector<GraphRun>& runs() const { return runs_; }

  // Appends `count` events by `peer` starting at `seq` (which must be nextSeq(peer)) with
  // Lamport times lamport, lamport+1, ...; `parents` are existing LVs whose Lamport times
  // are all below `lamport`. Returns the LV of the first new event.
  LV append(PeerIdx peer, Seq seq, Lamport lamport, std::span<const LV> parents, LV count);

  Seq nextSeq(PeerIdx peer) const { return peer < nextSeq_.size() ? nextSeq_[peer] : 0; }
  std::size_t peerCount() const { return nextSeq_.size(); }
  std::optional<LV> lvOf(PeerIdx peer, Seq seq) const;
  // Ranges of LVs holding `peer`'s events with seq >= `from`, ascending.
  std::vector<LVRange> rangesFromSeq(PeerIdx peer, Seq from) const;

  const GraphRun& runAt(LV lv) const;
  Stamp stampOf(LV lv) const;
  Lamport lamportOf(LV lv) const;
  // Parents of one event (sorted ascending).
  std::vector<LV> parentsOf(LV lv) const;
  // Highest Lamport time among `version`'s events (0 for the empty version).
  Lamport maxLamport(std::span<const LV> version) const;

  // Is `target` in the causal past of `version` (inclusive)?
  bool contains(std::span<const LV> version, LV target) const;
  GraphDiff diff(std::span<const LV> a, std::span<const LV> b) const;
  // The greatest common version: the frontier of past(a) ∩ past(b).
  std::vector<LV> commonAncestor(std::span<const LV> a, std::span<const LV> b) const;
  // Events in past(to) but not past(from), in causal (ascending LV) order.
  std::vector<LVRange> eventsBetween(std::span<const LV> from, std::span<const LV> to) const {
    return diff(to, from).onlyA;
  }

  // Deep invariant check; throws Error(Internal) on a violation. O(events).
  void checkInvariants() const;

 private:
  struct SeqRun {
    Seq seq;
    LV lv;
    LV len;
  };
  // Walks down from a ∪ b; when `meets` is non-null it also collects shared events reached
  // directly from both sides (candidates for the common ancestor).
  GraphDiff walk(std::span<const LV> a, std::span<const LV> b, std::vector<LV>* meets) const;

  std::vector<GraphRun> runs_;
  std::vector<std::vector<SeqRun>> bySeq_;  // per peer, ascending seq
  std::vector<Seq> nextSeq_;
  std::vector<LV> frontier_;
};

}  // namespace crdtdb
