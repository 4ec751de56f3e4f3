#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "core/errors.h"
#include "graph/causal_graph.h"
#include "support/ancestors.h"

using namespace crdtdb;

namespace {

std::vector<LV> v(std::initializer_list<LV> l) { return l; }

// Random graphs checked against transitive closure: each event picks parents among the
// frontiers of a few simulated branches, like replicas that sometimes merge. Each peer's
// events form a chain (its branch always holds its own latest event or a descendant of it).
struct RandomGraph {
  CausalGraph g;
  std::vector<std::set<LV>> past;  // inclusive ancestor sets, the naive oracle
  std::vector<Lamport> lamport;    // max(parents) + 1, computed naively
  std::vector<std::pair<PeerIdx, Seq>> id;

  explicit RandomGraph(std::uint64_t seed, int steps = 60, int peers = 3) {
    std::mt19937_64 rng(seed);
    std::vector<std::vector<LV>> branch(peers);
    for (int step = 0; step < steps; ++step) {
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
      const auto peer = static_cast<PeerIdx>(p);
      const Seq seq = g.nextSeq(peer);
      LV start = g.append(peer, seq, branch[p], count);
      REQUIRE(start == past.size());
      for (LV i = 0; i < count; ++i) {
        std::set<LV> s = {start + i};
        Lamport l = 0;
        for (LV par : g.parentsOf(start + i)) {
          s.insert(past[par].begin(), past[par].end());
          l = std::max(l, lamport[par]);
        }
        past.push_back(s);
        lamport.push_back(l + 1);
        id.emplace_back(peer, seq + i);
      }
      branch[p] = {start + count - 1};
      g.checkInvariants();
    }
  }

  std::set<LV> pastOf(const std::vector<LV>& version) const {
    return testing::pastOfVersion(past, version);
  }
};

std::set<LV> expand(const std::vector<LVRange>& ranges) { return testing::expandRanges(ranges); }

std::vector<LV> randomVersion(std::mt19937_64& rng, const RandomGraph& rg) {
  std::vector<LV> candidates;
  for (int i = 0; i < 3; ++i) candidates.push_back(static_cast<LV>(rng() % rg.g.size()));
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
  REQUIRE(g.append(0, 0, {}, 3) == 0);
  REQUIRE(g.append(0, 3, v({2}), 2) == 3);
  REQUIRE(g.runs().size() == 1);
  REQUIRE(g.size() == 5);
  g.append(1, 0, v({4}), 1);  // another peer: a new run
  g.append(0, 5, v({5}), 1);  // parent is the other peer: not linear, a new run
  REQUIRE(g.runs().size() == 3);
  REQUIRE(g.frontier() == v({6}));
  REQUIRE(g.isFrontier(v({6})));
  REQUIRE_FALSE(g.isFrontier(v({5})));
  REQUIRE(g.lvOf(0, 4) == 4u);
  REQUIRE(g.lvOf(0, 5) == 6u);
  REQUIRE_FALSE(g.lvOf(0, 6).has_value());
  REQUIRE_FALSE(g.lvOf(7, 0).has_value());
  REQUIRE(g.stampOf(6).seq == 5);
  REQUIRE(g.stampOf(6).peer == 0);
  // Lamport times are derived: the root run 1..5, then 6 and 7.
  REQUIRE(g.lamportOf(0) == 1);
  REQUIRE(g.lamportOf(4) == 5);
  REQUIRE(g.stampOf(5).lamport == 6);
  REQUIRE(g.stampOf(6).lamport == 7);
  REQUIRE(g.maxLamport() == 7);
  REQUIRE(g.maxLamport(v({1, 5})) == 6);
  REQUIRE(g.parentsOf(3) == v({2}));
  REQUIRE(g.parentsOf(0).empty());
  REQUIRE(g.parentsOf(6) == v({5}));
  REQUIRE(g.nextSeq(0) == 6);
  REQUIRE(g.nextSeq(1) == 1);
  REQUIRE(g.nextSeq(9) == 0);
  REQUIRE(g.peerCount() == 2);
  REQUIRE(g.rangesFromSeq(0, 2) == std::vector<LVRange>{{2, 5}, {6, 7}});
  REQUIRE(g.rangesFromSeq(0, 6).empty());
  REQUIRE(g.rangesFromSeq(1, 0) == std::vector<LVRange>{{5, 6}});
  REQUIRE(g.runIndexAt(4) == 0);
  REQUIRE(g.runIndexAt(6) == 2);
  g.checkInvariants();
}

TEST_CASE("the frontier tracks concurrent branches and merges", "[graph]") {
  CausalGraph g;
  g.append(0, 0, {}, 1);      // 0
  g.append(1, 0, v({0}), 2);  // 1,2
  g.append(2, 0, v({0}), 1);  // 3, concurrent with 1,2
  REQUIRE(g.frontier() == v({2, 3}));
  g.append(0, 1, v({2, 3}), 1);  // 4 merges both
  REQUIRE(g.frontier() == v({4}));
  REQUIRE(g.lamportOf(4) == 4);  // max(3, 2) + 1
  REQUIRE(g.contains(v({4}), 1));
  REQUIRE(g.contains(v({3}), 0));
  REQUIRE(g.contains(v({3}), 3));
  REQUIRE_FALSE(g.contains(v({3}), 1));
  REQUIRE_FALSE(g.contains(v({2}), 3));
  GraphDiff d = g.diff(v({2}), v({3}));
  REQUIRE(d.onlyA == std::vector<LVRange>{{1, 3}});
  REQUIRE(d.onlyB == std::vector<LVRange>{{3, 4}});
  REQUIRE(g.eventsBetween(v({0}), v({4})) == std::vector<LVRange>{{1, 5}});
  REQUIRE(g.eventsBetween({}, v({3})) == std::vector<LVRange>{{0, 1}, {3, 4}});
  REQUIRE(g.eventsBetween(v({4}), v({4})).empty());
}

TEST_CASE("append rejects broken preconditions", "[graph]") {
  CausalGraph g;
  g.append(0, 0, {}, 1);
  REQUIRE_THROWS_AS(g.append(0, 2, v({0}), 1), Error);  // seq gap
  REQUIRE_THROWS_AS(g.append(0, 0, v({0}), 1), Error);  // seq already used
  REQUIRE_THROWS_AS(g.append(1, 0, v({3}), 1), Error);  // unknown parent
  REQUIRE_THROWS_AS(g.append(1, 0, v({0}), 0), Error);  // no events
  g.append(1, 0, v({0}), 1);
  REQUIRE_THROWS_AS(g.append(2, 0, v({1, 0}), 1), Error);  // parents unsorted
  REQUIRE_THROWS_AS(g.append(2, 0, v({0, 0}), 1), Error);  // parents duplicated
  REQUIRE(g.size() == 2);
  g.checkInvariants();
}

TEST_CASE("rollback undoes appends exactly", "[graph]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    INFO("seed " << seed);
    RandomGraph rg(seed, 30);
    CausalGraph& g = rg.g;
    const CausalGraph::Mark m = g.mark();
    const LV size = g.size();
    const std::vector<LV> frontier = g.frontier();
    const std::size_t runs = g.runs().size();
    const Lamport maxL = g.maxLamport();
    const std::size_t peers = g.peerCount();
    std::vector<Seq> next;
    for (PeerIdx p = 0; p < 4; ++p) next.push_back(g.nextSeq(p));
    // Appends by known peers, a new peer, and one that extends the last run.
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 8; ++i) {
      const auto p = static_cast<PeerIdx>(rng() % 4);
      std::vector<LV> parents = g.frontier();
      if (i % 3 == 0) parents = {g.size() - 1};
      g.append(p, g.nextSeq(p), parents, 1 + static_cast<LV>(rng() % 3));
    }
    g.rollback(m);
    g.checkInvariants();
    REQUIRE(g.size() == size);
    REQUIRE(g.frontier() == frontier);
    REQUIRE(g.runs().size() == runs);
    REQUIRE(g.maxLamport() == maxL);
    for (PeerIdx p = 0; p < 4; ++p) REQUIRE(g.nextSeq(p) == next[p]);
    REQUIRE(g.peerCount() == peers);
    // The graph goes on as if nothing happened.
    g.append(0, g.nextSeq(0), g.frontier(), 2);
    g.clearJournal();
    g.checkInvariants();
  }
}

TEST_CASE("graph queries match transitive closure on random graphs", "[graph]") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    RandomGraph rg(seed);
    for (LV x = 0; x < rg.g.size(); ++x) {
      const Stamp s = rg.g.stampOf(x);
      REQUIRE(s.lamport == rg.lamport[x]);
      REQUIRE(std::make_pair(s.peer, s.seq) == rg.id[x]);
      REQUIRE(rg.g.lvOf(s.peer, s.seq) == x);
    }
    std::mt19937_64 rng(seed * 7919);
    for (int q = 0; q < 40; ++q) {
      std::vector<LV> a = randomVersion(rng, rg), b = randomVersion(rng, rg);
      std::set<LV> pa = rg.pastOf(a), pb = rg.pastOf(b);
      LV target = static_cast<LV>(rng() % rg.g.size());
      REQUIRE(rg.g.contains(a, target) == (pa.count(target) == 1));

      GraphDiff d = rg.g.diff(a, b);
      std::set<LV> onlyA, onlyB;
      std::set_difference(pa.begin(), pa.end(), pb.begin(), pb.end(),
                          std::inserter(onlyA, onlyA.end()));
      std::set_difference(pb.begin(), pb.end(), pa.begin(), pa.end(),
                          std::inserter(onlyB, onlyB.end()));
      REQUIRE(expand(d.onlyA) == onlyA);
      REQUIRE(expand(d.onlyB) == onlyB);
      for (std::size_t i = 1; i < d.onlyA.size(); ++i) {
        REQUIRE(d.onlyA[i - 1].end < d.onlyA[i].start);  // ascending, merged
      }
      for (std::size_t i = 1; i < d.onlyB.size(); ++i) {
        REQUIRE(d.onlyB[i - 1].end < d.onlyB[i].start);
      }
      REQUIRE(expand(rg.g.eventsBetween(b, a)) == onlyA);
    }
  }
}

TEST_CASE("version vectors of parents match the causal past", "[graph]") {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    INFO("seed " << seed);
    RandomGraph rg(seed, 80, 5);
    std::mt19937_64 rng(seed * 31);
    auto naive = [&](const std::set<LV>& past) {
      std::map<PeerIdx, Seq> out;
      for (LV x : past) {
        auto [p, s] = rg.id[x];
        out[p] = std::max(out[p], s + 1);
      }
      return out;
    };
    auto entries = [&](VV vv) {
      std::map<PeerIdx, Seq> out;
      rg.g.vvStore().forEach(vv, [&](PeerIdx p, Seq next) { out[p] = next; });
      return out;
    };
    for (int q = 0; q < 30; ++q) {
      std::vector<LV> version = randomVersion(rng, rg);
      VV vv = rg.g.vvOfParents(version);
      const auto want = naive(rg.pastOf(version));
      REQUIRE(entries(vv) == want);
      for (PeerIdx p = 0; p < 6; ++p) {
        REQUIRE(rg.g.vvGet(vv, p) == (want.count(p) ? want.at(p) : 0));
      }
    }
    // Each run's cached vector is that of its first event's parents.
    for (std::size_t i = 0; i < rg.g.runs().size(); ++i) {
      const GraphRun& run = rg.g.runs()[i];
      std::set<LV> past;
      for (LV p : rg.g.parentsOfRun(run)) past.insert(rg.past[p].begin(), rg.past[p].end());
      REQUIRE(entries(rg.g.runVV(i)) == naive(past));
    }
    rg.g.checkInvariants();
  }
}
