// Persistent version vectors: peer → number of that peer's events seen (its next seq), as a
// copy-on-write 4-way radix trie over PeerIdx. Setting one entry copies one path; joining
// (pointwise max) two vectors shares every subtree one side dominates, so vectors derived
// from one another cost a few nodes each. A graph keeps one vector per run, so the node size
// is the memory per run: 20 bytes (4-way, 32-bit slots) where a 16-way trie of 64-bit slots
// took 136 for the few peers a document typically has. Seqs fit 32 bits: a peer's events are
// one chain from 0 and a replica holds fewer than 2^32 events (kMaxEvents).
//
// A vector is a handle (VV); the empty vector is {}. Nodes live in one arena and are never
// freed while the store lives (a graph keeps one vector per run, computed on demand), so a
// handle stays valid; a failed call may leave unreferenced nodes behind, never broken ones.
//
// Invariants: a node's count is the number of non-zero entries below it; a level-0 node holds
// seqs, a level-L node (L > 0) holds child node ids (0 = empty) covering 4^L peers each.
#pragma once

#include <cstdint>
#include <deque>

#include "core/ids.h"

namespace crdtdb {

struct VV {
  std::uint32_t root = 0;  // node id, 0 = empty
  std::uint8_t level = 0;  // level of the root node
  bool operator==(const VV&) const = default;
};

class VVStore {
 public:
  VVStore();

  Seq get(VV v, PeerIdx peer) const;
  // v with entry `peer` raised to at least `next` (< 2^32, or Error(Internal)).
  VV raise(VV v, PeerIdx peer, Seq next);
  VV join(VV a, VV b);
  std::uint32_t size(VV v) const { return v.root ? nodes_[v.root].count : 0; }
  std::size_t nodeCount() const { return nodes_.size(); }

  template <typename F>  // f(PeerIdx, Seq next) for every non-zero entry, ascending peers
  void forEach(VV v, F&& f) const {
    if (v.root) forEachAt(v.root, v.level, 0, f);
  }

 private:
  static constexpr unsigned kBits = 2, kFan = 1u << kBits;
  struct Node {
    std::uint32_t slot[kFan];
    std::uint32_t count;
  };
  static unsigned digit(PeerIdx peer, unsigned level) {
    return (peer >> (kBits * level)) & (kFan - 1);
  }
  std::uint32_t make(const Node& n);
  VV lift(VV v, unsigned level);
  std::uint32_t joinAt(std::uint32_t a, std::uint32_t b, unsigned level);
  std::uint32_t raiseAt(std::uint32_t node, unsigned level, PeerIdx peer, std::uint32_t next);

  template <typename F>
  void forEachAt(std::uint32_t id, unsigned level, PeerIdx base, F& f) const {
    const Node& n = nodes_[id];
    for (unsigned d = 0; d < kFan; ++d) {
      if (n.slot[d] == 0) continue;
      PeerIdx p = base | (static_cast<PeerIdx>(d) << (kBits * level));
      if (level == 0) {
        f(p, Seq{n.slot[d]});
      } else {
        forEachAt(n.slot[d], level - 1, p, f);
      }
    }
  }

  // nodes_[0] unused: id 0 means empty. A deque grows by blocks: no doubling slack (up to
  // half the arena) and no copy of every node when it grows.
  std::deque<Node> nodes_;
};

}  // namespace crdtdb
