#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/interner.h"

using namespace crdtdb;

namespace {

// name(i) unique, find(name(i)) == i, ids dense in order of first use.
void requireMatches(const Interner& in, const std::vector<std::string>& model) {
  REQUIRE(in.size() == model.size());
  for (std::uint32_t i = 0; i < model.size(); ++i) {
    REQUIRE(in.name(i) == model[i]);
    REQUIRE(in.find(model[i]) == i);
  }
}

}  // namespace

TEST_CASE("interning gives dense ids in order of first use", "[core]") {
  Interner in;
  REQUIRE(in.size() == 0);
  REQUIRE_FALSE(in.find("a").has_value());
  REQUIRE(in.intern("a") == 0);
  REQUIRE(in.intern("b") == 1);
  REQUIRE(in.intern("a") == 0);
  REQUIRE(in.intern("") == 2);  // the empty string is a name like any other
  REQUIRE(in.intern(std::string("x\0y", 3)) == 3);
  REQUIRE(in.find(std::string("x\0y", 3)) == 3u);
  REQUIRE_FALSE(in.find("x").has_value());
  REQUIRE(in.size() == 4);
  REQUIRE(in.name(1) == "b");
}

TEST_CASE("views of names stay valid while the interner grows", "[core]") {
  Interner in;
  in.intern("first");
  std::string_view first = in.name(0);
  for (int i = 0; i < 5000; ++i) in.intern("name-" + std::to_string(i));
  REQUIRE(first == "first");
  REQUIRE(first.data() == in.name(0).data());
}

TEST_CASE("truncate forgets the newest names and keeps probe chains intact", "[core]") {
  for (std::uint64_t seed : {0ull, 1ull, 0x5eedull}) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed + 17);
    Interner in(seed);
    std::vector<std::string> model;
    for (int step = 0; step < 3000; ++step) {
      if (rng() % 5 == 0 && !model.empty()) {
        const auto keep = static_cast<std::uint32_t>(rng() % (model.size() + 1));
        in.truncate(keep);
        for (std::size_t i = keep; i < model.size(); ++i) REQUIRE_FALSE(in.find(model[i]));
        model.resize(keep);
      } else {
        // Few distinct names: many re-interns, many collisions in a small table.
        std::string s = "n" + std::to_string(rng() % 700);
        auto it = std::find(model.begin(), model.end(), s);
        const std::uint32_t want = it == model.end()
                                       ? static_cast<std::uint32_t>(model.size())
                                       : static_cast<std::uint32_t>(it - model.begin());
        if (it == model.end()) model.push_back(s);
        REQUIRE(in.intern(s) == want);
      }
      if (step % 100 == 0) requireMatches(in, model);
    }
    requireMatches(in, model);
    // Re-interning truncated names gives them the next ids again.
    in.truncate(0);
    REQUIRE(in.size() == 0);
    REQUIRE(in.intern("n1") == 0);
    REQUIRE(in.intern("n2") == 1);
  }
}

TEST_CASE("hash seeds change the layout, not the ids", "[core]") {
  Interner a(1), b(99);
  for (int i = 0; i < 500; ++i) {
    std::string s = "k" + std::to_string(i * 7919 % 1000);
    REQUIRE(a.intern(s) == b.intern(s));
  }
  REQUIRE(a.size() == b.size());
}
