// Live-query registrations: which subscribed ranges hold a changed index entry.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "core/errors.h"
#include "db/database.h"
#include "store/subscriptions.h"
#include "support/ranges.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

std::vector<std::uint32_t> stab(const Subscriptions& s, const std::string& table,
                                const std::string& index, const std::string& keyPart) {
  std::vector<std::uint32_t> out;
  s.stab(table, index, keyPart, out);
  // An id comes once per interval of its range holding the key (anyOf with a repeated value
  // has two equal intervals); callers dedupe, as Database does.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Does a range hold the key part `k`? Straight from the half-open intervals.
bool holds(const KeyRange& r, const std::string& k) {
  for (const auto& [lo, hi] : r.intervals()) {
    if (lo <= k && (!hi || k < *hi)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("stab finds exactly the ranges holding a key", "[store]") {
  Subscriptions s;
  REQUIRE(s.empty());
  REQUIRE_FALSE(s.watches("t"));
  const std::uint32_t all = s.add("t", "", KeyRange{});
  const std::uint32_t below = s.add("t", "byA", rangeOf({{"type", "below"}, {"value", 5}}));
  const std::uint32_t eq = s.add("t", "byA", rangeOf({{"type", "equals"}, {"value", 5}}));
  const std::uint32_t other = s.add("u", "byA", rangeOf({{"type", "all"}}));
  REQUIRE(s.watches("t"));
  REQUIRE(s.watches("u"));
  REQUIRE_FALSE(s.watches("v"));
  REQUIRE(stab(s, "t", "", *keyOf("row")) == std::vector<std::uint32_t>{all});
  REQUIRE(stab(s, "t", "byA", *keyOf(4)) == std::vector<std::uint32_t>{below});
  REQUIRE(stab(s, "t", "byA", *keyOf(5)) == std::vector<std::uint32_t>{eq});
  REQUIRE(stab(s, "t", "byA", *keyOf(6)).empty());
  REQUIRE(stab(s, "t", "byB", *keyOf(4)).empty());
  REQUIRE(stab(s, "u", "byA", *keyOf("x")) == std::vector<std::uint32_t>{other});
  REQUIRE(s.spec(eq)->table == "t");
  REQUIRE(s.spec(eq)->index == "byA");
  s.remove(below);
  REQUIRE(s.spec(below) == nullptr);
  REQUIRE(stab(s, "t", "byA", *keyOf(4)).empty());
  s.remove(below);  // removing twice is harmless
  s.remove(other);
  REQUIRE_FALSE(s.watches("u"));
  REQUIRE(stab(s, "u", "byA", *keyOf("x")).empty());
  s.remove(all);
  s.remove(eq);
  REQUIRE(s.empty());
  REQUIRE_FALSE(s.watches("t"));
}

TEST_CASE("random ranges: stab agrees with the intervals", "[store]") {
  std::mt19937_64 rng(21);
  auto key = [&]() -> Json {
    switch (rng() % 3) {
      case 0:
        return static_cast<int>(rng() % 20);
      case 1:
        return std::string(1 + rng() % 2, static_cast<char>('a' + rng() % 4));
      default:
        return Json::array(
            {static_cast<int>(rng() % 3), std::string(1, static_cast<char>('a' + rng() % 2))});
    }
  };
  auto range = [&]() -> Json {
    switch (rng() % 7) {
      case 0:
        return {{"type", "all"}};
      case 1:
        return {{"type", "equals"}, {"value", key()}};
      case 2:
        return {{"type", rng() % 2 ? "above" : "aboveOrEqual"}, {"value", key()}};
      case 3:
        return {{"type", rng() % 2 ? "below" : "belowOrEqual"}, {"value", key()}};
      case 4:
        return {{"type", "between"},
                {"lower", key()},
                {"upper", key()},
                {"includeUpper", rng() % 2 == 0}};
      case 5:
        return {{"type", "startsWith"}, {"prefix", std::string(rng() % 2, 'a')}};
      default:
        return {{"type", "anyOf"}, {"values", Json::array({key(), key()})}};
    }
  };
  Subscriptions s;
  std::map<std::uint32_t, KeyRange> live;
  for (int step = 0; step < 600; ++step) {
    if (rng() % 4 == 0 && !live.empty()) {
      auto it = std::next(live.begin(), static_cast<std::ptrdiff_t>(rng() % live.size()));
      s.remove(it->first);
      live.erase(it);
    } else {
      KeyRange r = rangeOf(range());
      live.emplace(s.add("t", "ix", r), r);
    }
    if (step % 20 == 0) {
      for (int q = 0; q < 20; ++q) {
        const std::string k = *keyOf(key());
        std::vector<std::uint32_t> want;
        for (const auto& [id, r] : live) {
          if (holds(r, k)) want.push_back(id);
        }
        REQUIRE(stab(s, "t", "ix", k) == want);
      }
    }
  }
}

TEST_CASE("a call reports the subscriptions whose ranges its changes touched", "[store]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  const std::uint32_t young =
      db.subscribe("users", "byAge", rangeOf({{"type", "below"}, {"value", 18}}));
  const std::uint32_t old =
      db.subscribe("users", "byAge", rangeOf({{"type", "aboveOrEqual"}, {"value", 65}}));
  const std::uint32_t keysAtoM =
      db.subscribe("users", "", rangeOf({{"type", "below"}, {"value", "n"}}));
  REQUIRE_THROWS_AS(db.subscribe("users", "nope", KeyRange{}), Error);
  using S = std::vector<std::uint32_t>;
  REQUIRE(commitOps(db, {setOp("users", "bob", {{"age", 10}})}).subscriptions ==
          S{young, keysAtoM});
  REQUIRE(commitOps(db, {setOp("users", "zed", {{"age", 40}})}).subscriptions.empty());
  // Moving out of one range into another touches both.
  REQUIRE(commitOps(db, {updateOp("users", "bob", {{"age", 70}})}).subscriptions ==
          S{young, old, keysAtoM});
  // A change of a non-indexed column still touches the ranges holding the row's entry.
  REQUIRE(commitOps(db, {updateOp("users", "zed", {{"name", "Z"}})}).subscriptions.empty());
  REQUIRE(commitOps(db, {updateOp("users", "bob", {{"name", "B"}})}).subscriptions ==
          S{old, keysAtoM});
  REQUIRE(commitOps(db, {deleteOp("users", "bob")}).subscriptions == S{old, keysAtoM});
  // Remote changes report the same way.
  Database other("q");
  syncFrom(other, db);
  commitOps(other, {setOp("users", "amy", {{"age", 5}})});
  REQUIRE(syncFrom(db, other).subscriptions == S{young, keysAtoM});
  db.unsubscribe(young);
  REQUIRE(commitOps(db, {updateOp("users", "amy", {{"age", 6}})}).subscriptions == S{keysAtoM});
  // Another table is not watched.
  REQUIRE(commitOps(db, {setOp("other", "a", {{"age", 1}})}).subscriptions.empty());
}
