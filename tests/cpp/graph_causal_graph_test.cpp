#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "core/errors.h"
#include "graph/causal_graph.h"

using namespace crdtdb;

namespace {

std::vector<LV> v(std::initializer_list<LV> l) { return l; }

// Random graphs checked against transitive closure: each event picks parents among the
// frontiers of a few simulated branches, like replicas that sometimes merge.
struct RandomGraph {
  CausalGraph g;
  std::vector<std::set<LV>> past;  // inclusive ancestor sets, the naive oracle

  explicit RandomGraph(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const int peers = 3;
    std::vector<std::vector<LV>> branch(peers);
    std::vector<Lamport> clock(peers, 0);
    for (int step = 0; step < 60; ++step) {
      int p = static_cast<int>(rng() % peers);
      if (rng() % 3 == 0) {  // merge another branch's frontier in
        int o = static_cast<int>(rng() % peers);
        for (LV x : branch[o]) branch[p].push_back(x);
        std::sort(branch[p].begin(), branch[p].end());
        branch[p].erase(std::unique(branch[p].begin(), branch[p].end()), branch[p].end());
        // Keep only the frontier of the merged set.
        std::vector<LV> f;
        for (LV x : branch[p]) {
          bool dominated = false;
          for (LV y : branch[p]) dominated = dominated || (y != x && past[y].count(x));
          if (!dominated) f.push_back(x);
        }
        branch[p] = f;
      }
      LV count = 1 + rng() % 3;
      Lamport lamport = std::max(clock[p], g.maxLamport(branch[p])) + 1;
      LV start = g.append(static_cast<PeerIdx>(p), g.nextSeq(static_cast<PeerIdx>(p)), lamport,
                          branch[p], count);
      for (LV i = 0; i < count; ++i) {
        std::set<LV> s = {start + i};
        for (LV par : g.parentsOf(start + i)) s.insert(past[par].begin(), past[par].end());
        past.push_back(s);
      }
      clock[p] = lamport + count - 1;
      branch[p] = {start + count - 1};
      g.checkInvariants();
    }
  }

  std::set<LV> pastOf(const std::vector<LV>& version) const {
    std::set<LV> s;
    for (LV x : version) s.insert(past[x].begin(), past[x].end());
    return s;
  }
};

std::set<LV> expand(const std::vector<LVRange>& ranges) {
  std::set<LV> s;
  for (const auto& r : ranges) {
    for (LV x = r.start; x < r.end; ++x) s.insert(x);
  }
  return s;
}

std::vector<LV> randomVersion(std::mt19937_64& rng, const RandomGraph& rg) {
  std::vector<LV> candidates;
  for (int i = 0; i < 3; ++i) candidates.push_back(rng() % rg.g.size());
  std::vector<LV> f;
  for (LV x : candidates) {
    bool dominated = false;
    for (LV y : candidates) dominated = dominated || (y != x && rg.past[y].count(x));
    if (!dominated) f.push_back(x);
  }
  std::sort(f.begin(), f.end());
  f.erase(std::unique(f.begin(), f.end()), f.end());
  return f;
}

}  // namespace

TEST_CASE("a peer's consecutive linear events share one run", "[graph]") {
  CausalGraph g;
  g.append(0, 0, 1, {}, 3);
  g.append(0, 3, 4, v({2}), 2);
  REQUIRE(g.runs().size() == 1);
  REQUIRE(g.size() == 5);
  g.append(1, 0, 6, v({4}), 1);  // another peer: a new run
  g.append(0, 5, 7, v({5}), 1);  // parent is the other peer: not linear, a new run
  REQUIRE(g.runs().size() == 3);
  REQUIRE(g.frontier() == v({6}));
  REQUIRE(g.lvOf(0, 4) == 4u);
  REQUIRE(g.lvOf(0, 5) == 6u);
  REQUIRE_FALSE(g.lvOf(0, 6).has_value());
  REQUIRE_FALSE(g.lvOf(7, 0).has_value());
  REQUIRE(g.stampOf(6).seq == 5);
  REQUIRE(g.stampOf(6).lamport == 7);
  REQUIRE(g.parentsOf(3) == v({2}));
  REQUIRE(g.rangesFromSeq(0, 2) == std::vector<LVRange>{{2, 5}, {6, 7}});
  g.checkInvariants();
}

TEST_CASE("the frontier tracks concurrent branches and merges", "[graph]") {
  CausalGraph g;
  g.append(0, 0, 1, {}, 1);      // 0
  g.append(1, 0, 2, v({0}), 2);  // 1,2
  g.append(2, 0, 2, v({0}), 1);  // 3, concurrent with 1,2
  REQUIRE(g.frontier() == v({2, 3}));
  g.append(0, 1, 4, v({2, 3}), 1);  // 4 merges both
  REQUIRE(g.frontier() == v({4}));
  REQUIRE(g.contains(v({4}), 1));
  REQUIRE(g.contains(v({3}), 0));
  REQUIRE_FALSE(g.contains(v({3}), 1));
  REQUIRE_FALSE(g.contains(v({2}), 3));
  REQUIRE(g.commonAncestor(v({2}), v({3})) == v({0}));
  GraphDiff d = g.diff(v({2}), v({3}));
  REQUIRE(d.onlyA == std::vector<LVRange>{{1, 3}});
  REQUIRE(d.onlyB == std::vector<LVRange>{{3, 4}});
  REQUIRE(g.eventsBetween(v({0}), v({4})) == std::vector<LVRange>{{1, 5}});
}

TEST_CASE("append rejects broken preconditions", "[graph]") {
  CausalGraph g;
  g.append(0, 0, 5, {}, 1);
  REQUIRE_THROWS_AS(g.append(0, 2, 6, v({0}), 1), Error);  // seq gap
  REQUIRE_THROWS_AS(g.append(1, 0, 5, v({0}), 1), Error);  // Lamport not above parent
  REQUIRE_THROWS_AS(g.append(1, 0, 9, v({3}), 1), Error);  // unknown parent
  REQUIRE(g.size() == 1);
}

TEST_CASE("graph queries match transitive closure on random graphs", "[graph]") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    RandomGraph rg(seed);
    std::mt19937_64 rng(seed * 7919);
    for (int q = 0; q < 40; ++q) {
      std::vector<LV> a = randomVersion(rng, rg), b = randomVersion(rng, rg);
      std::set<LV> pa = rg.pastOf(a), pb = rg.pastOf(b);
      LV target = rng() % rg.g.size();
      REQUIRE(rg.g.contains(a, target) == (pa.count(target) == 1));

      GraphDiff d = rg.g.diff(a, b);
      std::set<LV> onlyA, onlyB, common;
      std::set_difference(pa.begin(), pa.end(), pb.begin(), pb.end(),
                          std::inserter(onlyA, onlyA.end()));
      std::set_difference(pb.begin(), pb.end(), pa.begin(), pa.end(),
                          std::inserter(onlyB, onlyB.end()));
      REQUIRE(expand(d.onlyA) == onlyA);
      REQUIRE(expand(d.onlyB) == onlyB);
      for (std::size_t i = 1; i < d.onlyA.size(); ++i) {
        REQUIRE(d.onlyA[i - 1].end < d.onlyA[i].start);  // ascending, merged
      }

      std::set_intersection(pa.begin(), pa.end(), pb.begin(), pb.end(),
                            std::inserter(common, common.end()));
      std::vector<LV> expected;  // frontier of the common past
      for (LV x : common) {
        bool hasChildInCommon = false;
        for (LV y : common) hasChildInCommon = hasChildInCommon || (y != x && rg.past[y].count(x));
        if (!hasChildInCommon) expected.push_back(x);
      }
      REQUIRE(rg.g.commonAncestor(a, b) == expected);
    }
  }
}
