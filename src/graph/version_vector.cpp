#include "graph/version_vector.h"

#include <algorithm>
#include <limits>

#include "core/errors.h"

namespace crdtdb {

namespace {
constexpr unsigned kMaxLevel = 15;  // 4^16 = 2^32 peers
}

VVStore::VVStore() { nodes_.push_back(Node{}); }

std::uint32_t VVStore::make(const Node& n) {
  nodes_.push_back(n);
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

Seq VVStore::get(VV v, PeerIdx peer) const {
  if (v.root == 0) return 0;
  if (v.level < kMaxLevel && (peer >> (kBits * (v.level + 1))) != 0) return 0;
  std::uint32_t id = v.root;
  for (unsigned level = v.level;; --level) {
    const std::uint32_t s = nodes_[id].slot[digit(peer, level)];
    if (level == 0) return s;
    if (s == 0) return 0;
    id = s;
  }
}

VV VVStore::lift(VV v, unsigned level) {
  while (v.level < level) {
    if (v.root != 0) {
      Node n{};
      n.slot[0] = v.root;
      n.count = nodes_[v.root].count;
      v.root = make(n);
    }
    ++v.level;
  }
  return v;
}

std::uint32_t VVStore::raiseAt(std::uint32_t node, unsigned level, PeerIdx peer,
                               std::uint32_t next) {
  Node n = node ? nodes_[node] : Node{};
  const unsigned d = digit(peer, level);
  if (level == 0) {
    if (n.slot[d] >= next) return node;
    if (n.slot[d] == 0) ++n.count;
    n.slot[d] = next;
    return make(n);
  }
  const std::uint32_t child = n.slot[d];
  std::uint32_t before = child ? nodes_[child].count : 0;
  std::uint32_t updated = raiseAt(child, level - 1, peer, next);
  if (updated == child) return node;
  n = node ? nodes_[node] : Node{};
  n.slot[d] = updated;
  n.count += nodes_[updated].count - before;
  return make(n);
}

VV VVStore::raise(VV v, PeerIdx peer, Seq next) {
  if (next == 0) return v;
  if (next > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorCode::Internal, "version vector entry beyond 2^32 events");
  }
  unsigned need = 0;
  while (need < kMaxLevel && (peer >> (kBits * (need + 1))) != 0) ++need;
  v = lift(v, std::max<unsigned>(need, v.level));
  v.root = raiseAt(v.root, v.level, peer, static_cast<std::uint32_t>(next));
  return v;
}

std::uint32_t VVStore::joinAt(std::uint32_t a, std::uint32_t b, unsigned level) {
  if (a == b || b == 0) return a;
  if (a == 0) return b;
  Node n{};
  bool sameA = true, sameB = true;
  if (level == 0) {
    const Node& na = nodes_[a];
    const Node& nb = nodes_[b];
    for (unsigned d = 0; d < kFan; ++d) {
      n.slot[d] = std::max(na.slot[d], nb.slot[d]);
      sameA = sameA && n.slot[d] == na.slot[d];
      sameB = sameB && n.slot[d] == nb.slot[d];
      n.count += n.slot[d] != 0;
    }
  } else {
    for (unsigned d = 0; d < kFan; ++d) {
      const std::uint32_t ca = nodes_[a].slot[d];
      const std::uint32_t cb = nodes_[b].slot[d];
      std::uint32_t c = joinAt(ca, cb, level - 1);
      n.slot[d] = c;
      sameA = sameA && c == ca;
      sameB = sameB && c == cb;
      n.count += c ? nodes_[c].count : 0;
    }
  }
  if (sameA) return a;
  if (sameB) return b;
  return make(n);
}

VV VVStore::join(VV a, VV b) {
  if (b.root == 0 || a == b) return a;
  if (a.root == 0) return b;
  unsigned level = std::max(a.level, b.level);
  a = lift(a, level);
  b = lift(b, level);
  return VV{joinAt(a.root, b.root, level), static_cast<std::uint8_t>(level)};
}

}  // namespace crdtdb
