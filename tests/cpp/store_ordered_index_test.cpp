#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "store/ordered_index.h"

using namespace crdtdb;

namespace {

using Model = std::map<std::string, std::uint32_t>;  // entry -> row

std::vector<std::pair<std::string, std::uint32_t>> contents(const OrderedIndex& ix) {
  std::vector<std::pair<std::string, std::uint32_t>> all;
  ix.forEachInRanks(0, ix.size(),
                    [&](OrderedIndex::Entry e) { all.emplace_back(std::string(e.bytes), e.row); });
  return all;
}

void requireMatches(const OrderedIndex& ix, const Model& model) {
  ix.checkInvariants();
  REQUIRE(ix.size() == model.size());
  const auto all = contents(ix);
  REQUIRE(all == std::vector<std::pair<std::string, std::uint32_t>>(model.begin(), model.end()));
  std::vector<std::pair<std::string, std::uint32_t>> rev;
  ix.forEachInRanksReverse(
      0, ix.size(), [&](OrderedIndex::Entry e) { rev.emplace_back(std::string(e.bytes), e.row); });
  std::reverse(rev.begin(), rev.end());
  REQUIRE(rev == all);
}

}  // namespace

TEST_CASE("ordered index matches std::map under random inserts and erases", "[store]") {
  std::mt19937_64 rng(3);
  OrderedIndex ix;
  Model model;
  for (int step = 0; step < 20000; ++step) {
    std::string k = std::to_string(rng() % 3000);
    if (rng() % 3) {
      const auto row = static_cast<std::uint32_t>(rng() % 100);
      const bool fresh = model.emplace(k, row).second;
      REQUIRE(ix.insert(k, row) == fresh);
    } else {
      REQUIRE(ix.erase(k) == (model.erase(k) == 1));
    }
    if (step % 500 == 0) {
      requireMatches(ix, model);
      std::string probe = std::to_string(rng() % 3000);
      auto lb = static_cast<std::size_t>(std::distance(model.begin(), model.lower_bound(probe)));
      REQUIRE(ix.lowerBound(probe) == lb);
      REQUIRE(ix.contains(probe) == (model.count(probe) == 1));
      if (lb < model.size()) {
        REQUIRE(ix.at(lb).bytes == model.lower_bound(probe)->first);
        REQUIRE(ix.at(lb).row == model.lower_bound(probe)->second);
      }
      // Partial rank walks agree with the full one.
      const auto all = contents(ix);
      const std::size_t from = rng() % (ix.size() + 1), to = from + rng() % (ix.size() - from + 1);
      std::vector<std::string> part;
      ix.forEachInRanks(from, to, [&](OrderedIndex::Entry e) { part.emplace_back(e.bytes); });
      REQUIRE(part.size() == to - from);
      for (std::size_t i = 0; i < part.size(); ++i) REQUIRE(part[i] == all[from + i].first);
    }
  }
  ix.clearJournal();
  ix.compact();
  requireMatches(ix, model);
}

TEST_CASE("upperBoundPrefix skips every entry with the prefix", "[store]") {
  OrderedIndex ix;
  std::uint32_t row = 0;
  for (const char* e : {"a", "ab", "ab\xff", "abc", "ac", "b"}) ix.insert(e, row++);
  REQUIRE(ix.lowerBound("ab") == 1);
  REQUIRE(ix.upperBoundPrefix("ab") == 4);
  REQUIRE(ix.upperBoundPrefix("") == 6);
  REQUIRE(ix.upperBoundPrefix("zz") == 6);
  REQUIRE(ix.upperBoundPrefix("0") == 0);
  std::vector<std::string> part;
  ix.forEachInRanksReverse(1, 4, [&](OrderedIndex::Entry e) { part.emplace_back(e.bytes); });
  // Bytes compare unsigned: "abc" < "ab\xff".
  REQUIRE(part == std::vector<std::string>{"ab\xff", "abc", "ab"});
  REQUIRE(ix.at(3).row == 2);          // "ab\xff", inserted third
  REQUIRE_FALSE(ix.insert("ab", 99));  // present: the row is not replaced
  REQUIRE(ix.at(1).row == 1);
}

TEST_CASE("rollback restores the index exactly, splits and emptied chunks included", "[store]") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    OrderedIndex ix;
    Model model;
    // A committed base large enough for several chunks.
    for (int i = 0; i < 1000; ++i) {
      std::string k = "k" + std::to_string(rng() % 5000);
      const auto row = static_cast<std::uint32_t>(i);
      if (model.emplace(k, row).second) ix.insert(k, row);
    }
    ix.clearJournal();
    ix.compact();
    for (int round = 0; round < 5; ++round) {
      const OrderedIndex::Mark m = ix.mark();
      const Model before = model;
      Model scratch = model;
      // A call: inserts (splitting chunks), erases (emptying some), reinserts.
      const int ops = static_cast<int>(rng() % 600);
      for (int i = 0; i < ops; ++i) {
        std::string k = "k" + std::to_string(rng() % 5000);
        if (rng() % 2) {
          const auto row = static_cast<std::uint32_t>(100000 + i);
          REQUIRE(ix.insert(k, row) == scratch.emplace(k, row).second);
        } else {
          REQUIRE(ix.erase(k) == (scratch.erase(k) == 1));
        }
      }
      requireMatches(ix, scratch);
      if (rng() % 3 == 0) {
        ix.clearJournal();  // the call succeeded
        ix.compact();
        model = scratch;
      } else {
        ix.rollback(m);
        REQUIRE(ix.journalSize() == m.journal);
        REQUIRE(model == before);
      }
      requireMatches(ix, model);
    }
    // Erase everything, then roll back to the full index.
    const OrderedIndex::Mark m = ix.mark();
    for (const auto& [k, row] : model) REQUIRE(ix.erase(k));
    REQUIRE(ix.size() == 0);
    ix.rollback(m);
    requireMatches(ix, model);
    ix.clear();
    REQUIRE(ix.size() == 0);
    ix.checkInvariants();
  }
}

TEST_CASE("entries may be empty or long and hold any bytes", "[store]") {
  OrderedIndex ix;
  const std::string big(100000, '\x7f');
  REQUIRE(ix.insert("", 1));
  REQUIRE(ix.insert(big, 2));
  REQUIRE(ix.insert(std::string("\0\0", 2), 3));
  REQUIRE(ix.at(0).bytes.empty());
  REQUIRE(ix.at(1).bytes == std::string("\0\0", 2));
  REQUIRE(ix.at(2).bytes == big);
  REQUIRE(ix.erase(""));
  REQUIRE_FALSE(ix.erase(""));
  ix.checkInvariants();
  REQUIRE(ix.memoryBytes() >= big.size());
}

TEST_CASE("seeks agree with a model for keys around the 8-byte head", "[store]") {
  // Keys share long prefixes, hold 0x00 and 0xff bytes and are 0-12 bytes long, so chunk
  // heads tie, differ only in padding, or decide alone.
  const char alphabet[] = {'\x00', '\x01', 'a', '\xff'};
  std::mt19937_64 rng(11);
  auto randomKey = [&] {
    std::string k(rng() % 13, 'a');
    for (char& c : k) c = alphabet[rng() % 4];
    return k;
  };
  OrderedIndex ix;
  Model model;
  for (int step = 0; step < 6000; ++step) {
    const std::string k = randomKey();
    if (rng() % 4) {
      const auto row = static_cast<std::uint32_t>(step);
      REQUIRE(ix.insert(k, row) == model.emplace(k, row).second);
    } else {
      REQUIRE(ix.erase(k) == (model.erase(k) == 1));
    }
    if (step % 50 == 0) {
      ix.checkInvariants();
      for (int q = 0; q < 20; ++q) {
        const std::string probe = randomKey();
        const auto lb =
            static_cast<std::size_t>(std::distance(model.begin(), model.lower_bound(probe)));
        REQUIRE(ix.lowerBound(probe) == lb);
        REQUIRE(ix.contains(probe) == (model.count(probe) == 1));
        std::size_t upto = 0;  // entries that are < probe or start with it
        for (const auto& [e, r] : model) {
          if (e.compare(0, probe.size(), probe) <= 0) ++upto;
        }
        REQUIRE(ix.upperBoundPrefix(probe) == upto);
      }
    }
  }
  requireMatches(ix, model);
}
