// Holds transaction runs that arrived before their causal predecessors, indexed by the one
// event each is waiting for, so a message costs O(its size + what it releases) however many
// runs are held.
//
// A held run is kept as a standalone chunk (oplog/chunk_codec.h) of just its transactions, so
// it costs about its encoded size; the bound counts the memory it takes (bytes plus a fixed
// per-run overhead), not the size it had in its message. An exact copy of a held run is not
// held twice; a different run starting at the same event is (one of them may prove invalid
// when it becomes ready, and must not hide the other).
//
// Mutation is journaled (mark / rollback / confirm): a failed call restores the held set
// exactly without allocating.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"

namespace crdtdb {

struct HeldRun {
  Bytes chunk;
  PeerIdx peer;
  Seq seq, end;
  std::size_t memory() const { return chunk.capacity() + kOverhead; }
  static constexpr std::size_t kOverhead = 192;  // run, map and index nodes
};

class CausalBuffer {
 public:
  using Id = std::uint32_t;
  explicit CausalBuffer(std::size_t maxBytes, std::uint64_t seed = 0x452821e638d01377ull)
      : maxBytes_(maxBytes), seed_(seed) {}

  // The held run with exactly these encoded bytes, if any (O(its size): found by hash).
  // `compared`, if given, counts the held runs compared byte for byte.
  std::optional<Id> holds(ByteSpan chunk, std::uint64_t* compared = nullptr) const;
  // Stores `run`, waiting until (waitPeer's next seq) > waitSeq. Throws
  // Error(PendingOverflow) when the bound would be exceeded (nothing changes then).
  void hold(HeldRun run, PeerIdx waitPeer, Seq waitSeq);
  // Re-registers held run `id` as waiting for another event.
  void wait(Id id, PeerIdx waitPeer, Seq waitSeq);
  // Ids of held runs waiting on `peer` whose wait is over now that its next seq is `next`
  // (they stop waiting; take or re-wait each).
  std::vector<Id> release(PeerIdx peer, Seq next);
  const HeldRun& run(Id id) const { return held_.at(id); }
  // Removes a held run (applied, or dropped as invalid).
  void drop(Id id);

  std::size_t heldBytes() const { return bytes_; }
  std::size_t heldEvents() const { return events_; }
  std::size_t heldRuns() const { return held_.size(); }
  std::size_t maxBytes() const { return maxBytes_; }

  struct Mark {
    std::size_t journal, bytes, events;
    Id next;
  };
  Mark mark() const { return {journal_.size(), bytes_, events_, next_}; }
  // Did held run `id` arrive since `m` (in the current call)?
  static bool heldSince(const Mark& m, Id id) { return id >= m.next; }
  void rollback(const Mark& m) noexcept;
  void confirm() noexcept { journal_.clear(); }

 private:
  using Waiters = std::multimap<Seq, Id>;
  struct Undo {
    enum Kind : std::uint8_t { Held, Dropped, WaitAdded, WaitReleased };
    Kind kind;
    Id id;
    PeerIdx peer;
    Waiters::iterator added;                                          // WaitAdded
    Waiters::node_type waitNode;                                      // WaitReleased
    std::unordered_map<Id, HeldRun>::node_type runNode;               // Dropped
    std::unordered_multimap<std::uint64_t, Id>::node_type startNode;  // Dropped
  };
  std::size_t maxBytes_;
  std::uint64_t seed_;
  std::unordered_map<Id, HeldRun> held_;
  // Held runs by a hash of their bytes (seeded: the bytes come from peers), to find an exact
  // copy; runs that only share a first event are different entries.
  std::unordered_multimap<std::uint64_t, Id> byContent_;
  using ContentIt = std::unordered_multimap<std::uint64_t, Id>::const_iterator;
  // The byContent_ entry of held run `id` (whose bytes are `chunk`), or end().
  ContentIt contentEntry(Id id, const Bytes& chunk) const;
  std::unordered_map<PeerIdx, Waiters> waiting_;
  std::size_t bytes_ = 0, events_ = 0;
  Id next_ = 1;
  std::vector<Undo> journal_;
};

}  // namespace crdtdb
