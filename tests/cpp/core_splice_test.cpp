// core/splice.h: the splice between two UTF-8 strings, in UTF-16 units, checked against
// random edits of mixed-width text.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "core/splice.h"
#include "support/trace_replay.h"

using namespace crdtdb;

namespace {

// Code points of 1 to 4 bytes (4: two UTF-16 units).
const char* const kPieces[] = {
    "a", "b", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x81"};

std::u16string utf16Of(std::string_view s) { return testing::utf16(std::string(s)); }

std::vector<std::string> randomText(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::string> cps;
  for (std::size_t i = 0; i < n; ++i) cps.emplace_back(kPieces[rng() % std::size(kPieces)]);
  return cps;
}

std::string join(const std::vector<std::string>& cps) {
  std::string s;
  for (const auto& c : cps) s += c;
  return s;
}

void check(std::string_view before, std::string_view after) {
  const Splice sp = spliceBetween(before, after);
  std::u16string b = utf16Of(before);
  REQUIRE(sp.pos + sp.removed <= b.size());
  REQUIRE(sp.from <= sp.to);
  REQUIRE(sp.to <= after.size());
  b.replace(sp.pos, sp.removed, utf16Of(after.substr(sp.from, sp.to - sp.from)));
  REQUIRE(b == utf16Of(after));
  REQUIRE(utf16Length(after) == utf16Of(after).size());
}

}  // namespace

TEST_CASE("a splice keeps whole code points around one edit", "[core][splice]") {
  check("", "");
  check("", "abc");
  check("abc", "");
  check("hello world", "hello, world");
  check("aaaa", "aaa");  // a run: any one of the a's
  // Edits that share the leading bytes of a code point: é (C3 A9) to ã (C3 A3).
  check("x\xC3\xA9y", "x\xC3\xA3y");
  // An emoji to its neighbour (same first three bytes), and one added in a run of them.
  check("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x81");
  check("\xF0\x9F\x98\x80\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80\xF0\x9F\x98\x81\xF0\x9F\x98\x80");
  const Splice sp = spliceBetween("ab\xF0\x9F\x98\x80", "ab\xF0\x9F\x98\x80!");
  REQUIRE(sp.pos == 4);  // 2 + the emoji's 2 units
  REQUIRE(sp.removed == 0);
}

TEST_CASE("random edits of mixed-width text splice exactly", "[core][splice]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3, 4));
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string> cps = randomText(rng, rng() % 40);
    const std::string before = join(cps);
    const std::size_t at = cps.empty() ? 0 : rng() % (cps.size() + 1);
    const std::size_t del = std::min<std::size_t>(cps.size() - at, rng() % 4);
    cps.erase(cps.begin() + static_cast<std::ptrdiff_t>(at),
              cps.begin() + static_cast<std::ptrdiff_t>(at + del));
    const auto ins = randomText(rng, rng() % 4);
    cps.insert(cps.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
    check(before, join(cps));
  }
}

TEST_CASE("seekUtf16 walks to any UTF-16 offset from any boundary, refusing pair middles",
          "[core][splice]") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 50; ++round) {
    // Long ASCII stretches (the eight-byte steps) between mixed-width code points.
    std::vector<std::string> cps = randomText(rng, 40);
    for (int k = 0; k < 5; ++k) {
      cps.insert(cps.begin() + static_cast<std::ptrdiff_t>(rng() % cps.size()),
                 std::string(rng() % 30, 'x'));
    }
    const std::string s = join(cps);
    // Every boundary as (units, bytes), and the offsets inside a pair.
    std::vector<std::pair<std::uint64_t, std::size_t>> cuts{{0, 0}};
    std::vector<std::uint64_t> inside;
    // (An element is one of kPieces, a whole code point, or a run of one-byte 'x'.)
    auto cut = [&](std::size_t n) {
      if (n == 4) inside.push_back(cuts.back().first + 1);
      cuts.emplace_back(cuts.back().first + (n == 4 ? 2 : 1), cuts.back().second + n);
    };
    for (const auto& cp : cps) {
      if (!cp.empty() && cp[0] == 'x') {
        for (std::size_t i = 0; i < cp.size(); ++i) cut(1);
      } else if (!cp.empty()) {
        cut(cp.size());
      }
    }
    for (int t = 0; t < 100; ++t) {
      const auto [fromUnits, fromBytes] = cuts[rng() % cuts.size()];
      const auto target = cuts[rng() % cuts.size()];
      std::uint64_t units = fromUnits;
      std::size_t bytes = fromBytes;
      REQUIRE(seekUtf16(s, target.first, units, bytes));
      REQUIRE(units == target.first);
      REQUIRE(bytes == target.second);
      if (!inside.empty()) {
        units = fromUnits, bytes = fromBytes;
        REQUIRE_FALSE(seekUtf16(s, inside[rng() % inside.size()], units, bytes));
      }
      units = fromUnits, bytes = fromBytes;
      REQUIRE_FALSE(seekUtf16(s, cuts.back().first + 1, units, bytes));
    }
  }
}
