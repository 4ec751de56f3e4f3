#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <vector>

#include "graph/version_vector.h"
#include "support/error_of.h"

using namespace crdtdb;

namespace {

using Model = std::map<PeerIdx, Seq>;  // non-zero entries only

Model entries(const VVStore& s, VV v) {
  Model out;
  PeerIdx last = 0;
  bool first = true;
  s.forEach(v, [&](PeerIdx p, Seq next) {
    REQUIRE(next > 0);
    if (!first) REQUIRE(p > last);  // ascending peers
    first = false;
    last = p;
    out[p] = next;
  });
  return out;
}

void requireEquals(const VVStore& s, VV v, const Model& m, const std::vector<PeerIdx>& probes) {
  REQUIRE(entries(s, v) == m);
  REQUIRE(s.size(v) == m.size());
  for (PeerIdx p : probes) REQUIRE(s.get(v, p) == (m.count(p) ? m.at(p) : 0));
}

Model joined(const Model& a, const Model& b) {
  Model out = a;
  for (const auto& [p, s] : b) out[p] = std::max(out[p], s);
  return out;
}

}  // namespace

TEST_CASE("an empty vector has no entries", "[graph]") {
  VVStore s;
  VV empty;
  REQUIRE(s.size(empty) == 0);
  REQUIRE(s.get(empty, 0) == 0);
  REQUIRE(s.get(empty, 0xffffffffu) == 0);
  REQUIRE(entries(s, empty).empty());
  REQUIRE(s.raise(empty, 3, 0) == empty);  // raising to 0 changes nothing
  REQUIRE(s.join(empty, empty) == empty);
}

TEST_CASE("raise and get across trie levels, up to the largest peer index", "[graph]") {
  VVStore s;
  VV v;
  Model m;
  const std::vector<PeerIdx> peers = {
      0,           1,          15, 16, 17, 255, 256, 4095, 4096, 65535, 1u << 20, (1u << 28) + 5,
      0xfffffffeu, 0xffffffffu};
  for (std::size_t i = 0; i < peers.size(); ++i) {
    v = s.raise(v, peers[i], 10 + i);
    m[peers[i]] = 10 + i;
    requireEquals(s, v, m, peers);
  }
  // Raising never lowers.
  VV same = s.raise(v, 16, 3);
  REQUIRE(same == v);
  v = s.raise(v, 16, 1000);
  m[16] = 1000;
  requireEquals(s, v, m, peers);
  REQUIRE(s.get(v, 2) == 0);
  REQUIRE(s.get(v, 0x7fffffffu) == 0);
}

TEST_CASE("vectors are persistent: deriving one leaves the other unchanged", "[graph]") {
  VVStore s;
  VV a = s.raise(s.raise(VV{}, 1, 5), 300, 2);
  const Model ma = {{1, 5}, {300, 2}};
  VV b = s.raise(a, 1, 9);
  VV c = s.raise(a, 70000, 1);
  VV d = s.join(b, c);
  requireEquals(s, a, ma, {1, 300, 70000});
  requireEquals(s, b, {{1, 9}, {300, 2}}, {1, 300, 70000});
  requireEquals(s, c, {{1, 5}, {300, 2}, {70000, 1}}, {1, 300, 70000});
  requireEquals(s, d, {{1, 9}, {300, 2}, {70000, 1}}, {1, 300, 70000});
  // A join one side dominates is that side; at the same height, without new nodes.
  REQUIRE(s.join(d, a) == d);
  REQUIRE(s.join(a, d) == d);
  const std::size_t nodes = s.nodeCount();
  REQUIRE(s.join(b, a) == b);
  REQUIRE(s.join(a, b) == b);
  REQUIRE(s.join(b, b) == b);
  REQUIRE(s.join(b, VV{}) == b);
  REQUIRE(s.join(VV{}, b) == b);
  REQUIRE(s.nodeCount() == nodes);
}

TEST_CASE("random raises and joins match a map model", "[graph]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    VVStore s;
    std::vector<VV> vvs = {VV{}};
    std::vector<Model> models = {Model{}};
    std::vector<PeerIdx> probes;
    auto randomPeer = [&]() -> PeerIdx {
      switch (rng() % 4) {
        case 0:
          return static_cast<PeerIdx>(rng() % 8);
        case 1:
          return static_cast<PeerIdx>(rng() % 300);
        case 2:
          return static_cast<PeerIdx>(rng() % 100000);
        default:
          return static_cast<PeerIdx>(rng());
      }
    };
    for (int step = 0; step < 400; ++step) {
      const std::size_t i = rng() % vvs.size();
      if (rng() % 3 == 0) {
        const std::size_t j = rng() % vvs.size();
        vvs.push_back(s.join(vvs[i], vvs[j]));
        models.push_back(joined(models[i], models[j]));
      } else {
        PeerIdx p = randomPeer();
        Seq next = 1 + rng() % 50;
        probes.push_back(p);
        vvs.push_back(s.raise(vvs[i], p, next));
        Model m = models[i];
        m[p] = std::max(m[p], next);
        models.push_back(m);
      }
    }
    // Every vector ever made still holds exactly its own entries.
    for (std::size_t k = 0; k < vvs.size(); ++k) requireEquals(s, vvs[k], models[k], probes);
  }
}

TEST_CASE("a raise copies one node per trie level and refuses entries past 32 bits", "[graph]") {
  VVStore s;
  VV v = s.raise(VV{}, 2, 1);  // peers 0-3 share one leaf
  std::size_t nodes = s.nodeCount();
  v = s.raise(v, 3, 7);
  REQUIRE(s.nodeCount() == nodes + 1);
  nodes = s.nodeCount();
  VV w = s.raise(v, 300, 1);  // lifts to the level that covers peer 300, then one new path
  REQUIRE(s.get(w, 3) == 7);
  REQUIRE(s.get(w, 300) == 1);
  REQUIRE(s.nodeCount() - nodes <= 2 * 5);
  REQUIRE(s.get(s.raise(w, 5, 0xffffffffu), 5) == 0xffffffffu);
  REQUIRE(testing::errorOf([&] { s.raise(w, 5, Seq{1} << 32); }) == ErrorCode::Internal);
  REQUIRE(s.get(w, 5) == 0);
}
