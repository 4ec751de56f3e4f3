// Eg-walker text columns: replicas of random inserts and deletes (surrogate pairs included)
// merged in random partial orders must equal a naive FugueMax replay of the same history
// (support/fugue_oracle.h) and each other.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/interner.h"
#include "graph/causal_graph.h"
#include "merge/list/text_column.h"
#include "support/alloc_hooks.h"
#include "support/error_of.h"
#include "support/fugue_oracle.h"
#include "support/text_world.h"

using namespace crdtdb;
using crdtdb::testing::FugueOracle;
using crdtdb::testing::TextEvent;
using namespace crdtdb::testing::text;

namespace {

void runSeed(std::uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  World w;
  const int n = 3 + static_cast<int>(seed % 3);
  std::vector<Replica> reps(n);
  for (int i = 0; i < n; ++i)
    reps[i].name =
        std::string("peer-") + static_cast<char>('a' + (i * 7 + static_cast<int>(seed)) % 26);
  for (int step = 0; step < steps; ++step) {
    Replica& r = reps[rng() % n];
    if (rng() % 4 == 0) {
      Replica& from = reps[rng() % n];
      if (&from == &r) continue;
      INFO("seed " << seed << " step " << step << " partial merge into " << r.name);
      merge(w, from, r, rng() % (from.order.size() + 1), rng);
      REQUIRE(show(r.col.text().str()) == show(oracleFor(w, r)));
      REQUIRE(r.mirror == r.col.text().str());
      r.col.checkInvariants();
    } else {
      localEdit(w, r, rng);
    }
  }
  // Full sync: everyone ends with every event.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (i != j) merge(w, reps[j], reps[i], reps[j].order.size(), rng);
      }
    }
  }
  const std::u16string expected = oracleFor(w, reps[0]);
  // A cold merge: a fresh replica takes the whole history in one flush (one region).
  Replica fresh;
  fresh.name = "fresh";
  merge(w, reps[static_cast<std::size_t>(rng() % n)], fresh, w.events.size(), rng, false);
  INFO("seed " << seed << " cold merge");
  REQUIRE(show(fresh.col.text().str()) == show(expected));
  for (Replica& r : reps) {
    INFO("seed " << seed << " replica " << r.name);
    REQUIRE(show(r.col.text().str()) == show(expected));
    REQUIRE(r.col.text().str() == expected);
    REQUIRE(r.mirror == expected);
    r.col.checkInvariants();
  }
}

}  // namespace

TEST_CASE("text column: sequential edits apply directly and run-length encode") {
  list::TextColumn col;
  std::vector<list::TextPatch> patches;
  LV lv = 0;
  for (char16_t c : std::u16string(u"hello world")) {
    col.localInsert(lv, lv, std::u16string(1, c), &patches);
    ++lv;
  }
  REQUIRE(col.text().str() == u"hello world");
  REQUIRE(col.ops().size() == 1);  // one run for eleven keystrokes
  // Backspace three times from the end: one backward delete run.
  for (std::uint32_t pos : {10u, 9u, 8u}) col.localDelete(lv++, pos, 1, &patches);
  REQUIRE(col.text().str() == u"hello wo");
  REQUIRE(col.ops().size() == 2);
  REQUIRE_FALSE(col.ops().back().forward);
  // Delete key twice at 0: a forward run.
  col.localDelete(lv++, 0, 1, &patches);
  col.localDelete(lv++, 0, 1, &patches);
  REQUIRE(col.text().str() == u"llo wo");
  REQUIRE(col.ops().size() == 3);
  REQUIRE(col.ops().back().forward);
  REQUIRE(patches.size() == 16);
}

TEST_CASE("text column: positions out of range or inside a surrogate pair are RangeErrors") {
  list::TextColumn col;
  col.localInsert(0, 0, u"a\U0001F600b", nullptr);  // a, high, low, b
  auto code = testing::errorOf;
  REQUIRE(code([&] { col.localInsert(4, 5, u"x", nullptr); }) == ErrorCode::Range);
  REQUIRE(code([&] { col.localInsert(4, 2, u"x", nullptr); }) == ErrorCode::Range);
  REQUIRE(code([&] { col.localDelete(4, 1, 1, nullptr); }) == ErrorCode::Range);
  REQUIRE(code([&] { col.localDelete(4, 3, 2, nullptr); }) == ErrorCode::Range);
  REQUIRE(code([&] { col.localDelete(4, 0, 5, nullptr); }) == ErrorCode::Range);
  REQUIRE(col.text().str() == u"a\U0001F600b");
  col.localDelete(4, 1, 2, nullptr);
  REQUIRE(col.text().str() == u"ab");
}

TEST_CASE("text column: two concurrent inserts at one position order by peer id") {
  // a and b both type into an empty text; every replica shows a's text first (peer ids
  // ascending), whichever arrives first.
  World w;
  std::mt19937_64 rng(1);
  Replica a, b;
  a.name = "a";
  b.name = "b";
  localEdit(w, a, rng);
  localEdit(w, b, rng);
  merge(w, a, b, a.order.size(), rng);
  merge(w, b, a, b.order.size(), rng);
  REQUIRE(a.col.text().str() == b.col.text().str());
  REQUIRE(a.col.text().str() == oracleFor(w, a));
}

TEST_CASE("text column: random concurrent histories equal the FugueMax oracle") {
  const char* env = std::getenv("CRDTDB_TEXT_SEEDS");
  const int seeds = env != nullptr ? std::atoi(env) : 60;
  for (int s = 0; s < seeds; ++s) runSeed(static_cast<std::uint64_t>(s) * 7919 + 3, 120);
}

void requireSameColumn(const list::TextColumn& a, const list::TextColumn& b) {
  REQUIRE(a.text().str() == b.text().str());
  REQUIRE(a.ops().size() == b.ops().size());
  for (std::size_t i = 0; i < a.ops().size(); ++i) {
    const list::ListOp &x = a.ops()[i], &y = b.ops()[i];
    REQUIRE((x.start == y.start && x.len == y.len && x.kind == y.kind && x.pos == y.pos &&
             x.contentAt == y.contentAt && (x.forward == y.forward || x.len == 1)));
    if (x.kind == list::ListOp::Insert) REQUIRE(a.content(x) == b.content(y));
  }
  REQUIRE(a.graph().frontier() == b.graph().frontier());
  REQUIRE(a.graph().lastEnd() == b.graph().lastEnd());
  REQUIRE(a.pending() == b.pending());
  for (LV u = 0; u < a.graph().lastEnd(); ++u) REQUIRE(a.eventOf(u) == b.eventOf(u));
}

TEST_CASE("text column: a rollback undoes local edits and merges and flushes exactly") {
  // A call's text changes must be revertible until the next call (Database::undoLast): at
  // random points a replica marks, edits and merges, then rolls back; its column must equal a
  // copy taken at the mark, and go on converging with the others.
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    World w;
    const int n = 3;
    std::vector<Replica> reps(n);
    for (int i = 0; i < n; ++i) reps[i].name = std::string("peer-") + static_cast<char>('a' + i);
    for (int step = 0; step < 150; ++step) {
      const int ri = static_cast<int>(rng() % n);
      const bool undo = rng() % 4 == 0;
      std::optional<Replica> saved;
      std::optional<list::TextColumn::Mark> m;
      if (undo) {
        saved = reps[ri];
        m = reps[ri].col.mark();
      }
      for (int k = 0, actions = 1 + static_cast<int>(rng() % 4); k < actions; ++k) {
        Replica& r = reps[ri];
        Replica& from = reps[(ri + 1 + rng() % (n - 1)) % n];
        if (rng() % 3 == 0) {
          merge(w, from, r, rng() % (from.order.size() + 1), rng);
        } else {
          localEdit(w, r, rng);
        }
      }
      if (!undo) continue;
      INFO("seed " << seed << " step " << step);
      reps[ri].col.rollback(*m);
      reps[ri].col.forget();
      requireSameColumn(reps[ri].col, saved->col);
      reps[ri].col.checkInvariants();
      list::TextColumn rolled = std::move(reps[ri].col);
      reps[ri] = std::move(*saved);
      reps[ri].col = std::move(rolled);
    }
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          if (i != j) merge(w, reps[j], reps[i], reps[j].order.size(), rng);
        }
      }
    }
    const std::u16string expected = oracleFor(w, reps[0]);
    for (Replica& r : reps) {
      INFO("seed " << seed << " replica " << r.name);
      REQUIRE(show(r.col.text().str()) == show(expected));
      REQUIRE(r.mirror == expected);
    }
  }
}

TEST_CASE("text column: the worked example of src/merge/README.md") {
  list::TextColumn a;
  // Units as in the README: 0, 1 = "hi", 2 = "!", 3 = b's delete, 4 = "H"; each edit is
  // one event here (events 0..3).
  a.localInsert(0, 0, u"hi", nullptr);
  a.localInsert(1, 2, u"!", nullptr);
  const std::vector<LV> p1{1}, p3{3};
  a.addRemote(2, {false, 0, 1, {}}, p1);   // b0: delete the h
  a.addRemote(3, {true, 0, 0, u"H"}, p3);  // b1: type H
  std::vector<list::TextPatch> patches;
  a.flush([](LV x, LV y) { return x < y; }, &patches);
  REQUIRE(a.text().str() == u"Hi!");
  REQUIRE(patches.size() == 2);
  CHECK(patches[0].pos == 0);
  CHECK(patches[0].removed == 1);
  CHECK(patches[1].pos == 0);
  CHECK(patches[1].inserted == u"H");
  REQUIRE(a.graph().frontier() == std::vector<LV>{2, 4});
}

TEST_CASE("text column: a branch from inside a run keeps the state it forked from") {
  // Regression: a cold merge cleared its tracker inside a run although another branch had
  // forked from earlier in that run (a wrong critical version: "unknown item" on retreat).
  list::TextColumn col;
  const std::vector<LV> none, p01{0, 1}, p3{3}, p4{4};
  col.addRemote(0, {true, 0, 0, u"z"}, none);  // unit 0
  col.addRemote(1, {true, 0, 0, u"y"}, none);  // unit 1, concurrent: no fast path from here
  col.addRemote(2, {true, 2, 0, u"ab"}, p01);  // a merges both: units 2, 3
  col.addRemote(3, {true, 0, 0, u"c"}, p3);    // unit 4
  col.addRemote(4, {true, 0, 0, u"d"}, p4);    // unit 5 (one graph run 2..5)
  col.addRemote(5, {true, 3, 0, u"X"}, p3);    // b, forked after "ab": unit 6
  col.flush([](LV x, LV y) { return x < y; }, nullptr);
  REQUIRE(col.text().str() == u"dczyaXb");
}

TEST_CASE("text column: merge work follows the concurrent region, not the history") {
  auto less = [](LV x, LV y) { return x < y; };
  const std::uint32_t n = 2000;
  SECTION("one edit concurrent with a long run replays that run as one piece") {
    // a types n keystrokes; b's edit was made on a's first keystroke only.
    list::TextColumn col;
    std::vector<LV> parents;
    for (std::uint32_t i = 0; i < n; ++i) {
      col.addRemote(i, {true, i, 0, u"x"}, parents);
      parents.assign(1, i);
    }
    col.flush(less, nullptr);
    REQUIRE(col.work().slowMerges == 0);  // sequential: applied directly
    const std::vector<LV> first{0};
    col.addRemote(n, {true, 1, 0, u"b"}, first);  // after a's first x
    col.flush(less, nullptr);
    const auto& w = col.work();
    CHECK(w.slowMerges == 1);
    CHECK(w.regionEvents == n);  // units 1 .. n-1 of a, and b's
    CHECK(w.inserted <= 3);      // a's run (one op) and b's insert
    CHECK(w.toggled <= 4);
    // b's x and a's later ones share their origins; b's author (event n) sorts after a's.
    REQUIRE(col.text().str() == std::u16string(n, u'x') + u"b");
  }
  SECTION("branches forking from all over a long run replay in an order that stays linear") {
    // A run of n single-keystroke ops, then n one-edit branches, each forked from a
    // different point of the run, in an order alternating between its two ends (a sender
    // chooses it). Replaying each branch in arrival order would retreat most of the run for
    // every branch (n^2 toggles).
    list::TextColumn col;
    std::vector<LV> parents;
    for (std::uint32_t i = 0; i < n; ++i) {
      col.addRemote(i, {true, 0, 0, u"m"}, parents);
      parents.assign(1, i);
    }
    col.flush(less, nullptr);
    for (std::uint32_t j = 0; j < n - 2; ++j) {
      const LV fork = j % 2 == 0 ? 1 + j / 2 : n - 1 - j / 2;
      const std::vector<LV> p{fork};
      col.addRemote(n + j, {true, 1, 0, u"s"}, p);
    }
    col.flush(less, nullptr);
    const auto& w = col.work();
    CHECK(w.regionEvents <= 2 * n);
    CHECK(w.toggled <= 4 * n);
    REQUIRE(col.text().size() == 2 * n - 2);
    col.checkInvariants();
  }
  SECTION("merges into a long branch do not undo and redo it once each") {
    // A base, a long branch T of n keystrokes, n one-edit branches S_i from the base, then n
    // merges M_i of T with S_i. Replaying S_i, M_i pairs in turn retreats T for every S_i.
    list::TextColumn col;
    LV event = 0;
    const std::vector<LV> none;
    col.addRemote(event++, {true, 0, 0, std::u16string(n, u'b')}, none);  // units [0, n)
    col.flush(less, nullptr);
    std::vector<LV> p{n - 1};
    for (std::uint32_t i = 0; i < n; ++i) {
      col.addRemote(event++, {true, 0, 0, u"t"}, p);
      p.assign(1, col.graph().lastEnd() - 1);
    }
    const LV tEnd = col.graph().lastEnd() - 1;
    std::vector<LV> s(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::vector<LV> q{n - 1};
      s[i] = col.graph().lastEnd();
      col.addRemote(event++, {true, i, 0, u"s"}, q);
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::vector<LV> q{tEnd, s[i]};
      col.addRemote(event++, {true, n + i + 1, 0, u"m"}, q);
    }
    col.flush(less, nullptr);
    const auto& w = col.work();
    CHECK(w.toggled <= 8 * n);
    REQUIRE(col.text().size() == 4 * n);
    col.checkInvariants();
  }
  SECTION("two long concurrent branches merged cold toggle each branch about once") {
    // a and b each type n keystrokes (one op each, interleaved in arrival order) from empty.
    list::TextColumn col;
    std::vector<LV> pa, pb;
    for (std::uint32_t i = 0; i < n; ++i) {
      const LV ua = 2 * i, ub = 2 * i + 1;
      col.addRemote(ua, {true, i, 0, u"a"}, pa);
      col.addRemote(ub, {true, i, 0, u"b"}, pb);
      pa.assign(1, ua);
      pb.assign(1, ub);
    }
    col.flush(less, nullptr);
    const auto& w = col.work();
    CHECK(w.regionEvents == 2 * n);
    CHECK(w.inserted <= 2 * n);
    CHECK(w.toggled <= 4 * n);  // linear in the region, whatever the interleaving
    // b's first keystroke is ordered against a's n concurrent ones at position 0, once.
    CHECK(w.scanned <= n + 2);
    std::u16string expected(n, u'a');
    expected.append(n, u'b');
    REQUIRE(col.text().str() == expected);
  }
}

TEST_CASE("text column: hostile remote edits are DecodeErrors and a failed message rolls back") {
  auto less = [](LV x, LV y) { return x < y; };
  auto code = testing::errorOf;
  list::TextColumn col;
  col.localInsert(0, 0, u"abc", nullptr);
  const std::vector<LV> p2{2};
  // Rejected before anything changes: empty, longer than the unit space, past every unit.
  CHECK(code([&] { col.addRemote(1, {false, 0, 0, {}}, p2); }) == ErrorCode::Decode);
  CHECK(code([&] { col.addRemote(1, {false, 0, 0xffffffffu, {}}, p2); }) == ErrorCode::Decode);
  CHECK(code([&] { col.addRemote(1, {false, 2, 2, {}}, p2); }) == ErrorCode::Decode);
  CHECK(code([&] { col.addRemote(1, {true, 4, 0, u"x"}, p2); }) == ErrorCode::Decode);
  REQUIRE_FALSE(col.pending());
  col.checkInvariants();

  // Past the end of the author's text but not of every unit: found by flush; the message is
  // rolled back and the column takes honest edits again.
  col.localDelete(1, 0, 3, nullptr);  // units 3..5; text "", 3 units ever inserted
  auto m = col.mark();
  const std::vector<LV> p5{5};
  col.addRemote(2, {true, 2, 0, u"x"}, p5);  // the author's text was empty
  CHECK(code([&] { col.flush(less, nullptr); }) == ErrorCode::Decode);
  REQUIRE(col.text().str().empty());
  col.rollback(m);
  REQUIRE_FALSE(col.pending());
  col.checkInvariants();
  col.addRemote(2, {true, 0, 0, u"y"}, p5);
  col.flush(less, nullptr);
  REQUIRE(col.text().str() == u"y");
  col.localInsert(3, 1, u"z", nullptr);
  REQUIRE(col.text().str() == u"yz");
  col.checkInvariants();
}

TEST_CASE("text column: a rollback restores runs that the rolled-back edits extended") {
  auto less = [](LV x, LV y) { return x < y; };
  list::TextColumn col;
  const std::vector<LV> none, p3{3}, p5{5}, p6{6}, p7{7};
  col.addRemote(0, {true, 0, 0, u"abcd"}, none);  // units 0..3
  col.addRemote(1, {false, 0, 2, {}}, p3);        // units 4, 5
  col.addRemote(2, {true, 2, 0, u"e"}, p5);       // unit 6: "cde"
  col.flush(less, nullptr);
  REQUIRE(col.text().str() == u"cde");
  auto m = col.mark();
  col.addRemote(3, {true, 3, 0, u"f"}, p6);  // unit 7 extends the last op run in place
  col.addRemote(4, {true, 5, 0, u"g"}, p7);  // its author's text "cdef" is 4 long: fails
  REQUIRE(col.ops().size() == 4);
  REQUIRE(col.ops()[2].len == 2);
  CHECK_THROWS_AS(col.flush(less, nullptr), DecodeError);
  REQUIRE(col.text().str() == u"cde");
  col.rollback(m);
  REQUIRE(col.ops().size() == 3);
  REQUIRE(col.ops()[2].len == 1);
  REQUIRE_FALSE(col.pending());
  col.checkInvariants();
  col.addRemote(3, {true, 3, 0, u"f"}, p6);
  col.flush(less, nullptr);
  REQUIRE(col.text().str() == u"cdef");
  REQUIRE(col.eventOf(7) == 3);
}

TEST_CASE("text column: an allocation failure in any edit changes nothing") {
  // Each allocation of a local edit and of a remote addition fails in turn; the column must
  // be exactly as before (invariants, text, ops) and take the edit afterwards.
  auto less = [](LV x, LV y) { return x < y; };
  auto build = [&] {
    list::TextColumn col;
    const std::vector<LV> none;
    col.addRemote(0, {true, 0, 0, u"x"}, none);
    col.addRemote(1, {true, 0, 0, u"y"}, none);  // concurrent: a wide frontier
    col.flush(less, nullptr);
    return col;
  };
  // Local edits run without and with a patch list (whose growth may fail too).
  for (int which = 0; which < 5; ++which) {
    for (std::int64_t k = 0;; ++k) {
      list::TextColumn col = build();
      const std::u16string before = col.text().str();
      const std::size_t ops = col.ops().size();
      std::vector<list::TextPatch> patches;
      crdtdb::testing::failAllocation(k);
      bool failed = false;
      try {
        if (which == 0) {
          col.localInsert(2, 1, u"z", nullptr);
        } else if (which == 1) {
          col.localInsert(2, 1, u"z", &patches);
        } else if (which == 2) {
          col.localDelete(2, 0, 1, nullptr);
        } else if (which == 3) {
          col.localDelete(2, 0, 1, &patches);
        } else {
          const std::vector<LV> p{0};
          col.addRemote(2, {true, 1, 0, u"z"}, p);
        }
      } catch (const std::bad_alloc&) {
        failed = true;
      }
      crdtdb::testing::failNone();
      INFO("edit " << which << ", allocation " << k);
      if (!failed) break;
      col.checkInvariants();
      REQUIRE(col.text().str() == before);
      REQUIRE(col.ops().size() == ops);
      REQUIRE_FALSE(col.pending());
      REQUIRE(patches.empty());
    }
  }
}
