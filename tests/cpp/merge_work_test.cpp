// Hostile but valid histories cost what their size says: the work of merging them, counted
// (never timed), grows near-linearly. Each shape is merged at n and 4n transactions; the
// work ratio must stay <= 5 (linear is 4, quadratic 16, cubic 64).
//  1. n concurrent writes to one column (n peers, none saw another);
//  2. those n roots, then an n-long chain of two alternating peers that saw none of them,
//     then n new peers that saw only the chain (Lamport pruning fails here: the late writers'
//     Lamport times are above every root's; one ancestry walk per write is O(n^2));
//  3. n transactions of one peer delivered newest first, one message each (every arrival is
//     held until the last releases them all).
#include <catch2/catch.hpp>
#include <string>

#include "db/database.h"
#include "support/craft.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

std::string peer(const char* prefix, int i) {
  return std::string(prefix) + std::to_string(100000 + i);
}

// Work a fresh replica does to merge `message`, after the row r of table t exists.
std::uint64_t mergeWork(const Bytes& message, int expectConflicts) {
  Database db("target");
  const Bytes v = intValue(0);
  Crafter base;
  base.write("base", 0, {}, "t", "r", "c", v, OpKind::SetRow);
  db.applyChanges(base.message());
  const WorkCounters w0 = db.work();
  const std::size_t nodes0 = db.graph().vvStore().nodeCount();
  ChangeSet cs = db.applyChanges(message);
  REQUIRE(cs.pending == 0);
  db.checkInvariants();
  // The survivors are exactly the concurrent writes nobody saw.
  std::size_t losers = 0;
  db.forEachLoser(*db.findRow("t", "r"), [&](NameId, ValueRef) { ++losers; });
  REQUIRE(losers + 1 == static_cast<std::size_t>(expectConflicts));
  return (db.work().observedChecks - w0.observedChecks) + (db.work().runsChecked - w0.runsChecked) +
         (db.graph().vvStore().nodeCount() - nodes0);
}

Bytes concurrentRoots(int n) {
  Crafter c;
  for (int i = 0; i < n; ++i) c.write(peer("w", i), 0, {{"base", 0}}, "t", "r", "c", intValue(i));
  return c.message();
}

Bytes rootsChainWriters(int n) {
  Crafter c;
  for (int i = 0; i < n; ++i) c.write(peer("w", i), 0, {{"base", 0}}, "t", "r", "c", intValue(i));
  // The chain: a and b alternate, each seeing the other's previous write (and the base).
  std::pair<std::string, Seq> prev{"base", 0};
  Seq seqA = 0, seqB = 0;
  for (int i = 0; i < n; ++i) {
    const bool a = i % 2 == 0;
    const std::string who = a ? "chain-a" : "chain-b";
    Seq& seq = a ? seqA : seqB;
    // Its own previous event is in the past of the other's (the chain rule holds).
    c.write(who, seq, {prev}, "t", "r", "c", intValue(-i));
    prev = {who, seq};
    ++seq;
  }
  for (int i = 0; i < n; ++i)
    c.write(peer("x", i), 0, {prev}, "t", "r", "c", intValue(1000000 + i));
  return c.message();
}

}  // namespace

TEST_CASE("n concurrent writes to one column merge in near-linear work", "[merge][work]") {
  const int n = 1000;
  const std::uint64_t small = mergeWork(concurrentRoots(n), n);
  const std::uint64_t large = mergeWork(concurrentRoots(4 * n), 4 * n);
  INFO("work at n: " << small << ", at 4n: " << large);
  REQUIRE(static_cast<double>(large) / static_cast<double>(small) <= 5.0);
}

TEST_CASE("roots, a chain that saw none of them, then writers after the chain: near-linear",
          "[merge][work]") {
  const int n = 500;
  // Survivors: the n roots and the n late writers (the chain's writes were all seen).
  const std::uint64_t small = mergeWork(rootsChainWriters(n), 2 * n);
  const std::uint64_t large = mergeWork(rootsChainWriters(4 * n), 8 * n);
  INFO("work at n: " << small << ", at 4n: " << large);
  REQUIRE(static_cast<double>(large) / static_cast<double>(small) <= 5.0);
}

TEST_CASE("a merge keeps one version vector path per graph run and no more", "[merge][work]") {
  // Two writers alternate, each seeing the other's last write: every event is a run whose
  // chain check looks at its parent's version vector. The check makes no vector of its own.
  Crafter c;
  const int n = 2000;
  std::pair<std::string, Seq> prev{"a", 0};
  c.write("a", 0, {}, "t", "r", "c", intValue(0));
  for (int i = 1; i < n; ++i) {
    const std::string who = i % 2 ? "b" : "a";
    const Seq seq = static_cast<Seq>(i / 2);
    c.write(who, seq, {prev}, "t", "r", "c", intValue(i));
    prev = {who, seq};
  }
  Database db("target");
  const std::size_t nodes0 = db.graph().vvStore().nodeCount();
  const std::size_t runs0 = db.graph().runs().size();
  REQUIRE(db.applyChanges(c.message()).applied == static_cast<std::size_t>(n));
  db.checkInvariants();
  const std::size_t runs = db.graph().runs().size() - runs0;
  const std::size_t nodes = db.graph().vvStore().nodeCount() - nodes0;
  INFO(runs << " runs, " << nodes << " version vector nodes");
  REQUIRE(runs == static_cast<std::size_t>(n));
  REQUIRE(nodes <= runs + 4);  // three peers: each run's vector is one leaf
}

namespace {

// Work to apply n single-txn messages of one peer, newest first.
std::uint64_t heldWork(int n, std::uint64_t* maxPerCall) {
  std::vector<Bytes> messages;
  for (int k = 0; k < n; ++k) {
    Crafter c;
    std::vector<std::pair<std::string, Seq>> parents;
    if (k > 0) parents.push_back({"p", static_cast<Seq>(k - 1)});
    c.write("p", static_cast<Seq>(k), parents, "t", "r" + std::to_string(k), "c", intValue(k),
            OpKind::SetRow);
    messages.push_back(c.message());
  }
  Database db("target", DatabaseOptions{std::size_t{1} << 30, 7});
  std::uint64_t total = 0;
  *maxPerCall = 0;
  for (int k = n - 1; k >= 0; --k) {
    const WorkCounters w0 = db.work();
    ChangeSet cs = db.applyChanges(messages[static_cast<std::size_t>(k)]);
    const std::uint64_t w = db.work().runsChecked - w0.runsChecked;
    total += w;
    if (k > 0) {
      REQUIRE(cs.applied == 0);
      REQUIRE(cs.pending == static_cast<std::size_t>(n - k));
      *maxPerCall = std::max(*maxPerCall, w);
    } else {
      REQUIRE(cs.applied == static_cast<std::size_t>(n));
      REQUIRE(cs.pending == 0);
    }
  }
  REQUIRE(db.heldEvents() == 0);
  db.checkInvariants();
  return total;
}

}  // namespace

TEST_CASE("held events are indexed by what they wait for: each arrival costs O(1)",
          "[merge][work][causal-buffer]") {
  const int n = 500;
  std::uint64_t maxSmall = 0, maxLarge = 0;
  const std::uint64_t small = heldWork(n, &maxSmall);
  const std::uint64_t large = heldWork(4 * n, &maxLarge);
  INFO("work at n: " << small << ", at 4n: " << large);
  REQUIRE(static_cast<double>(large) / static_cast<double>(small) <= 5.0);
  // An arrival that releases nothing examines only itself, however many are held.
  REQUIRE(maxSmall == 1);
  REQUIRE(maxLarge == 1);
}
