// Convergence fuzzer: 5 replicas, random transactions, random delivery with duplicates and
// reordering, replicas going offline, periodic full sync; every replica must equal the
// others (rows, conflicts, version bytes, encoded state, index contents), a replica rebuilt
// from one history, and the naive oracle (every fourth step, and at the end). Every step ends
// with the touched replica's checkInvariants().
//   CRDTDB_FUZZ_SEEDS=N   number of seeds (default 60)
//   CRDTDB_FUZZ_FIRST=S   first seed (default 1)
//   CRDTDB_FUZZ_LONG=1    run seeds until stopped, printing progress
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>

#include "support/sim.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

std::uint64_t envOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

Sim::Stats total;

void runSeed(std::uint64_t seed, bool compacting = false, bool sets = false,
             bool counters = false) {
  INFO("seed " << seed << " (replay: CRDTDB_FUZZ_FIRST=" << seed << " CRDTDB_FUZZ_SEEDS=1)");
  Sim sim(seed, 5, compacting, sets, counters);
  for (int step = 1; step <= 240; ++step) {
    sim.step();
    if (step % 4 == 0) requireMatchesOracle(sim.db(sim.lastTouched()));
    if (step % 60 == 0) sim.fullSync();
  }
  sim.fullSync();
  requireMatchesOracle(sim.db(0));
  const auto& s = sim.stats();
  total.commits += s.commits;
  total.heldDeliveries += s.heldDeliveries;
  total.duplicateDeliveries += s.duplicateDeliveries;
  total.visibleRows += s.visibleRows;
  total.conflictedRows += s.conflictedRows;
  total.compactions += s.compactions;
  total.snapshots += s.snapshots;
  total.setElements += s.setElements;
  total.counterCells += s.counterCells;
}

}  // namespace

TEST_CASE("replicas converge under random delivery", "[convergence]") {
  std::uint64_t first = envOr("CRDTDB_FUZZ_FIRST", 1);
  if (std::getenv("CRDTDB_FUZZ_LONG")) {
    for (std::uint64_t seed = first;; ++seed) {
      runSeed(seed);
      if (seed % 1000 == 0) std::cerr << "convergence: seeds up to " << seed << " passed\n";
    }
  }
  std::uint64_t n = envOr("CRDTDB_FUZZ_SEEDS", 60);
  for (std::uint64_t seed = first; seed < first + n; ++seed) runSeed(seed);
  // The schedule must reach the cases that matter, or passing proves little.
  REQUIRE(total.commits > static_cast<int>(n) * 40);
  REQUIRE(total.heldDeliveries > 0);
  REQUIRE(total.duplicateDeliveries > 0);
  REQUIRE(total.visibleRows > 0);
  REQUIRE(total.conflictedRows > 0);
}

TEST_CASE("replicas converge while compacting and catching up from snapshots",
          "[convergence][compact]") {
  std::uint64_t first = envOr("CRDTDB_FUZZ_FIRST", 1);
  if (std::getenv("CRDTDB_FUZZ_LONG")) {
    for (std::uint64_t seed = first;; ++seed) {
      runSeed(seed, true);
      if (seed % 1000 == 0) std::cerr << "compacting convergence: seeds up to " << seed << "\n";
    }
  }
  total = {};
  std::uint64_t n = envOr("CRDTDB_FUZZ_SEEDS", 60);
  for (std::uint64_t seed = first; seed < first + n; ++seed) runSeed(seed, true);
  REQUIRE(total.compactions > static_cast<int>(n) * 5);
  REQUIRE(total.snapshots > static_cast<int>(n));
  REQUIRE(total.heldDeliveries > 0);
  REQUIRE(total.conflictedRows > 0);
}

TEST_CASE("replicas converge with add-wins set columns", "[convergence][sets]") {
  // Set ops join the mix (sets in an indexed column, an index entry per element), with and
  // without compaction; the oracle evaluates add-wins literally.
  std::uint64_t first = envOr("CRDTDB_FUZZ_FIRST", 1);
  if (std::getenv("CRDTDB_FUZZ_LONG")) {
    for (std::uint64_t seed = first;; ++seed) {
      runSeed(seed, seed % 2 == 0, true);
      if (seed % 1000 == 0) std::cerr << "set convergence: seeds up to " << seed << "\n";
    }
  }
  total = {};
  std::uint64_t n = envOr("CRDTDB_FUZZ_SEEDS", 60);
  for (std::uint64_t seed = first; seed < first + n; ++seed) runSeed(seed, seed % 2 == 0, true);
  REQUIRE(total.setElements > n);
  REQUIRE(total.conflictedRows > 0);
  REQUIRE(total.snapshots > 0);
}

TEST_CASE("replicas converge with counter columns", "[convergence][counters]") {
  // Increments join the mix (with sets too: a counter column can meet every other type), with
  // and without compaction; the oracle sums the increments no plain write has seen.
  std::uint64_t first = envOr("CRDTDB_FUZZ_FIRST", 1);
  if (std::getenv("CRDTDB_FUZZ_LONG")) {
    for (std::uint64_t seed = first;; ++seed) {
      runSeed(seed, seed % 2 == 0, seed % 3 == 0, true);
      if (seed % 1000 == 0) std::cerr << "counter convergence: seeds up to " << seed << "\n";
    }
  }
  total = {};
  std::uint64_t n = envOr("CRDTDB_FUZZ_SEEDS", 60);
  for (std::uint64_t seed = first; seed < first + n; ++seed) {
    runSeed(seed, seed % 2 == 0, seed % 3 == 0, true);
  }
  REQUIRE(total.counterCells > n);
  REQUIRE(total.conflictedRows > 0);
  REQUIRE(total.snapshots > 0);
}
