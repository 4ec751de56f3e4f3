// Persistent version vectors: peer → number of that peer's events seen (its next seq), as a
// copy-on-write 16-way radix trie over PeerIdx. Setting one entry copies one path; joining
// (pointwise max) two vectors shares every subtree one side dominates, so vectors derived
// from one another cost a few nodes each.
//
// A vector is a handle (VV); the empty vector is {}. Nodes live in one arena and are never
// freed while the store lives (a graph keeps one vector per run, computed on demand), so a
// handle stays valid; a failed call may leave unreferenced nodes behind, never broken ones.
//
// Invariants: a node's count is the number of non-zero entries below it; a level-0 node holds
// seqs, a level-L node (L > 0) holds child node ids (0 = empty) covering 16^L peers each.
#pragma once

#include <cstdint>
#include <vector>

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
  // v with entry `peer` raised to at least `next`.
  VV raise(VV v, PeerIdx peer, Seq next);
  VV join(VV a, VV b);
  std::uint32_t size(VV v) const { return v.root ? nodes_[v.root].count : 0; }
  std::size_t nodeCount() const { return nodes_.size(); }

  template <typename F>  // f(PeerIdx, Seq next) for every non-zero entry, ascending peers
  void forEach(VV v, F&& f) const {
    if (v.root) forEachAt(v.root, v.level, 0, f);
  }

 private:
  struct Node {
    std::uint64_t slot[16];
    std::uint32_t count;
  };
  static unsigned digit(PeerIdx peer, unsigned level) { return (peer >> (4 * level)) & 15; }
  std::uint32_t make(const Node& n);
  VV lift(VV v, unsigned level);
  std::uint32_t joinAt(std::uint32_t a, std::uint32_t b, unsigned level);
  std::uint32_t raiseAt(std::uint32_t node, unsigned level, PeerIdx peer, Seq next);

  template <typename F>
  void forEachAt(std::uint32_t id, unsigned level, PeerIdx base, F& f) const {
    const Node& n = nodes_[id];
    for (unsigned d = 0; d < 16; ++d) {
      if (n.slot[d] == 0) continue;
      PeerIdx p = base | (static_cast<PeerIdx>(d) << (4 * level));
      if (level == 0) {
        f(p, n.slot[d]);
      } else {
        forEachAt(static_cast<std::uint32_t>(n.slot[d]), level - 1, p, f);
      }
    }
  }

  std::vector<Node> nodes_;  // nodes_[0] unused: id 0 means empty
};

}  // namespace crdtdb
