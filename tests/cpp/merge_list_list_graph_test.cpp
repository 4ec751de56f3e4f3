// ListGraph against a naive oracle (explicit ancestor sets) on random graphs: diff,
// conflictRegion and latestSeen.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <vector>

#include "merge/list/list_graph.h"
#include "support/ancestors.h"

using namespace crdtdb;
using crdtdb::list::ListGraph;

namespace {

// Random runs appended like replicas that branch and merge: each run's parents are the
// frontier of a random subset of a few branches' tips.
struct RandomListGraph {
  ListGraph g;
  std::vector<std::set<LV>> past;  // inclusive ancestors of each event
  LV size = 0;

  std::vector<LV> frontierOf(std::set<LV> s) const {
    std::vector<LV> out;
    for (LV x : s) {
      bool dominated = false;
      for (LV y : s) dominated = dominated || (y != x && past[y].count(x) > 0);
      if (!dominated) out.push_back(x);
    }
    return out;
  }

  explicit RandomListGraph(std::uint64_t seed, int runs = 40, int branches = 3) {
    std::mt19937_64 rng(seed);
    std::vector<std::set<LV>> tips(branches);
    for (int r = 0; r < runs; ++r) {
      const auto b = static_cast<std::size_t>(rng() % branches);
      if (rng() % 3 == 0) {  // merge another branch in
        const auto o = static_cast<std::size_t>(rng() % branches);
        tips[b].insert(tips[o].begin(), tips[o].end());
      }
      const std::vector<LV> parents = frontierOf(tips[b]);
      const LV len = 1 + static_cast<LV>(rng() % 3);
      g.append(size, len, parents);
      for (LV i = 0; i < len; ++i) {
        std::set<LV> p{size + i};
        if (i > 0) {
          p.insert(past[size + i - 1].begin(), past[size + i - 1].end());
        } else {
          for (LV q : parents) p.insert(past[q].begin(), past[q].end());
        }
        past.push_back(std::move(p));
      }
      size += len;
      tips[b] = {size - 1};
    }
  }

  std::set<LV> pastOf(const std::vector<LV>& v) const { return testing::pastOfVersion(past, v); }
};

}  // namespace

TEST_CASE("list graph: diff, conflict regions and latest seen events match a naive oracle") {
  for (std::uint64_t seed = 1; seed <= 80; ++seed) {
    RandomListGraph rg(seed);
    std::mt19937_64 rng(seed * 31);
    INFO("seed " << seed);
    std::set<LV> all;
    for (LV x = 0; x < rg.size; ++x) all.insert(x);
    REQUIRE(rg.g.frontier() == rg.frontierOf(all));
    auto randomVersion = [&] {
      std::set<LV> s;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
        s.insert(static_cast<LV>(rng() % rg.size));
      }
      return rg.frontierOf(s);
    };
    for (int t = 0; t < 20; ++t) {
      const std::vector<LV> a = randomVersion(), b = randomVersion();
      list::GraphDiffRanges d;
      rg.g.diff(a, b, d);
      const std::set<LV> pa = rg.pastOf(a), pb = rg.pastOf(b);
      std::set<LV> onlyA, onlyB;
      std::set_difference(pa.begin(), pa.end(), pb.begin(), pb.end(),
                          std::inserter(onlyA, onlyA.end()));
      std::set_difference(pb.begin(), pb.end(), pa.begin(), pa.end(),
                          std::inserter(onlyB, onlyB.end()));
      REQUIRE(testing::expandRanges(d.onlyA) == onlyA);
      REQUIRE(testing::expandRanges(d.onlyB) == onlyB);

      // latestSeen: the frontier of what a version has seen.
      const std::vector<LV> seen = rg.g.latestSeen([&](LV x) { return pa.count(x) > 0; });
      REQUIRE(seen == a);

      // conflictRegion: everything from newFrom on, and exactly what is not in past(common).
      const LV newFrom = static_cast<LV>(rng() % rg.size);
      const list::ConflictRegion region = rg.g.conflictRegion(rg.g.frontier(), newFrom);
      const std::set<LV> in = testing::expandRanges(region.events);
      for (LV x = newFrom; x < rg.size; ++x) REQUIRE(in.count(x) == 1);
      const std::set<LV> shared =
          region.common == list::ConflictRegion::kNone ? std::set<LV>{} : rg.past[region.common];
      for (LV x = 0; x < rg.size; ++x) {
        REQUIRE((in.count(x) == 1) != (shared.count(x) == 1));
        if (in.count(x) == 1 && region.common != list::ConflictRegion::kNone) {
          REQUIRE(rg.past[x].count(region.common) == 1);
        }
      }
    }
  }
}
