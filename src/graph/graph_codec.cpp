#include "graph/graph_codec.h"

#include <algorithm>
#include <map>

#include "core/errors.h"

namespace crdtdb {

namespace {

constexpr std::size_t kMaxPeerBytes = 256;

}  // namespace

void encodeGraphRange(const CausalGraph& graph, const Interner& peers, LV start, LV end,
                      ByteWriter& out) {
  if (start >= end) {
    out.varint(0);
    out.varint(0);
    return;
  }
  const auto& runs = graph.runs();
  const std::size_t first = graph.runIndexAt(start);
  std::size_t last = first;
  while (last < runs.size() && runs[last].start < end) ++last;
  // Peer table: run peers and their parents' peers, in order of first use.
  std::map<PeerIdx, std::uint32_t> local;
  std::vector<PeerIdx> order;
  auto use = [&](PeerIdx p) {
    auto [it, added] = local.emplace(p, static_cast<std::uint32_t>(order.size()));
    if (added) order.push_back(p);
    return it->second;
  };
  for (std::size_t i = first; i < last; ++i) {
    use(runs[i].peer);
    if (runs[i].start >= start) {
      for (LV p : graph.parentsOfRun(runs[i])) use(graph.stampOf(p).peer);
    }
  }
  out.varint(order.size());
  for (PeerIdx p : order) out.string(peers.name(p));
  out.varint(last - first);
  for (std::size_t i = first; i < last; ++i) {
    const GraphRun& r = runs[i];
    const LV lo = std::max(r.start, start), hi = std::min(r.end, end);
    out.varint(local.at(r.peer));
    out.varint(r.seq + (lo - r.start));
    out.varint(hi - lo);
    if (lo != r.start) {
      out.varint(0);  // cut: its parent is the peer's previous event
      continue;
    }
    const auto parents = graph.parentsOfRun(r);
    out.varint(parents.size() + 1);
    for (LV p : parents) {
      const Stamp s = graph.stampOf(p);
      out.varint(local.at(s.peer));
      out.varint(s.seq);
    }
  }
}

void decodeGraphRange(ByteSpan bytes, LV start, CausalGraph& graph, Interner& peers) {
  if (graph.size() != start) {
    throw DecodeError("stored history is out of order: a graph slice starts at event " +
                      std::to_string(start) + " but " + std::to_string(graph.size()) +
                      " events are loaded");
  }
  ByteReader r(bytes);
  const std::uint64_t nPeers = r.varintBelow(r.remaining() + 1, "graph peer count");
  std::vector<PeerIdx> local;
  local.reserve(static_cast<std::size_t>(nPeers));
  for (std::uint64_t i = 0; i < nPeers; ++i) {
    std::string_view id = r.stringView(kMaxPeerBytes, "graph peer id");
    if (id.empty()) throw DecodeError("graph summary names an empty peer id");
    local.push_back(peers.intern(id));
  }
  auto peerAt = [&](std::uint64_t i) {
    if (i >= local.size()) throw DecodeError("graph summary names an unknown peer index");
    return local[static_cast<std::size_t>(i)];
  };
  const std::uint64_t nRuns = r.varintBelow(r.remaining() + 1, "graph run count");
  std::vector<LV> parents;
  for (std::uint64_t i = 0; i < nRuns; ++i) {
    const PeerIdx peer = peerAt(r.varint());
    const Seq seq = r.varint();
    const std::uint64_t count = r.varint();
    if (count == 0 || count > kMaxEvents - graph.size()) {
      throw DecodeError("graph summary holds a run of " + std::to_string(count) + " events");
    }
    if (seq != graph.nextSeq(peer)) {
      throw DecodeError("graph summary is not contiguous: a run starts at seq " +
                        std::to_string(seq) + " where " + std::to_string(graph.nextSeq(peer)) +
                        " was expected");
    }
    if (seq + count >= kMaxClock) throw DecodeError("graph summary exceeds the clock limit");
    const std::uint64_t np = r.varintBelow(r.remaining() + 2, "graph parent count");
    parents.clear();
    if (np == 0) {
      if (seq == 0) throw DecodeError("graph summary continues a run that has no start");
      parents.push_back(*graph.lvOf(peer, seq - 1));
    } else {
      for (std::uint64_t k = 0; k + 1 < np; ++k) {
        const PeerIdx pp = peerAt(r.varint());
        const Seq ps = r.varint();
        auto lv = graph.lvOf(pp, ps);
        if (!lv) throw DecodeError("graph summary names a parent that is not loaded");
        parents.push_back(*lv);
      }
      std::sort(parents.begin(), parents.end());
      if (std::adjacent_find(parents.begin(), parents.end()) != parents.end()) {
        throw DecodeError("graph summary names a parent twice");
      }
      if (seq > 0) {
        // Every peer's events form one chain (see CausalGraph): check it as a merge would.
        if (graph.seenOf(parents, peer) != seq) {
          throw DecodeError("graph summary breaks a peer's chain of events");
        }
      }
    }
    if (graph.maxLamport(parents) + count >= kMaxClock) {
      throw DecodeError("graph summary exceeds the clock limit");
    }
    graph.append(peer, seq, parents, static_cast<LV>(count));
  }
  if (!r.atEnd()) throw DecodeError("graph summary has trailing bytes");
}

}  // namespace crdtdb
