#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "store/ordered_index.h"

using namespace crdtdb;

TEST_CASE("ordered index matches std::set under random inserts and erases", "[store]") {
  std::mt19937_64 rng(3);
  OrderedIndex ix;
  std::set<std::string> model;
  for (int step = 0; step < 20000; ++step) {
    std::string k = std::to_string(rng() % 3000);
    if (rng() % 3) {
      REQUIRE(ix.insert(k) == model.insert(k).second);
    } else {
      REQUIRE(ix.erase(k) == (model.erase(k) == 1));
    }
    if (step % 500 == 0) {
      ix.checkInvariants();
      REQUIRE(ix.size() == model.size());
      std::vector<std::string> all;
      ix.forEachInRanks(0, ix.size(), [&](const std::string& e) { all.push_back(e); });
      REQUIRE(all == std::vector<std::string>(model.begin(), model.end()));
      std::vector<std::string> rev;
      ix.forEachInRanksReverse(0, ix.size(), [&](const std::string& e) { rev.push_back(e); });
      std::reverse(rev.begin(), rev.end());
      REQUIRE(rev == all);
      std::string probe = std::to_string(rng() % 3000);
      auto lb = static_cast<std::size_t>(std::distance(model.begin(), model.lower_bound(probe)));
      REQUIRE(ix.lowerBound(probe) == lb);
      REQUIRE(ix.contains(probe) == (model.count(probe) == 1));
      if (lb < model.size()) REQUIRE(ix.at(lb) == *model.lower_bound(probe));
    }
  }
}

TEST_CASE("upperBoundPrefix skips every entry with the prefix", "[store]") {
  OrderedIndex ix;
  for (const char* e : {"a", "ab", "ab\xff", "abc", "ac", "b"}) ix.insert(e);
  REQUIRE(ix.lowerBound("ab") == 1);
  REQUIRE(ix.upperBoundPrefix("ab") == 4);
  REQUIRE(ix.upperBoundPrefix("") == 6);
  REQUIRE(ix.upperBoundPrefix("zz") == 6);
  REQUIRE(ix.upperBoundPrefix("0") == 0);
  std::vector<std::string> part;
  ix.forEachInRanksReverse(1, 4, [&](const std::string& e) { part.push_back(e); });
  REQUIRE(part == std::vector<std::string>{"ab\xff", "abc", "ab"});  // bytes compare unsigned
}
