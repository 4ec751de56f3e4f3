#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "store/key_codec.h"
#include "support/idb_order.h"

using namespace crdtdb;
using crdtdb::testing::idbCompare;

namespace {

Value randomKey(std::mt19937_64& rng, int depth = 0) {
  static const std::vector<std::string> pieces = {
      "", "a", "b", "ab", "é", "\xef\xbf\xbd", "😀", "\xee\x80\x80", "~", "A", "\x01"};
  switch (rng() % (depth < 2 ? 3 : 2)) {
    case 0: {
      static const std::vector<double> nums = {
          0, -0.0, 1, -1, 0.5, -2.5, 1e300, -1e300, 9007199254740993.0, 5e-324, 42};
      return Value(nums[rng() % nums.size()]);
    }
    case 1: {
      std::string s;
      for (int i = static_cast<int>(rng() % 3); i > 0; --i) s += pieces[rng() % pieces.size()];
      return Value(s);
    }
    default: {
      Value a = Value::array();
      for (int i = static_cast<int>(rng() % 3); i > 0; --i) a.push_back(randomKey(rng, depth + 1));
      return a;
    }
  }
}

}  // namespace

TEST_CASE("key encoding orders exactly like IndexedDB", "[store]") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 4000; ++i) {
    Value a = randomKey(rng), b = randomKey(rng);
    std::string ea = *encodeKey(a), eb = *encodeKey(b);
    int want = idbCompare(a, b);
    int got = ea < eb ? -1 : ea > eb ? 1 : 0;
    INFO(a.dump() << " vs " << b.dump());
    REQUIRE(got == want);
    std::size_t pos = 0;
    Value back = decodeKey(ea, pos);
    REQUIRE(pos == ea.size());
    REQUIRE(idbCompare(back, a) == 0);
  }
}

TEST_CASE("specific orderings: numbers < strings < arrays, UTF-16 order, -0 == 0", "[store]") {
  auto k = [](const Value& v) { return *encodeKey(v); };
  REQUIRE(k(1e300) < k(""));
  REQUIRE(k("zzz") < k(Value::array()));
  REQUIRE(k(-1) < k(-0.5));
  REQUIRE(k(-0.0) == k(0));
  // U+E000 is above the surrogates in code points but below them in UTF-16 units.
  REQUIRE(k("😀") < k("\xee\x80\x80"));
  REQUIRE(k(Value::array({1})) < k(Value::array({1, 0})));
  REQUIRE(k(Value::array({1, "a"})) < k(Value::array({"a"})));
}

TEST_CASE("non-keys have no encoding", "[store]") {
  REQUIRE_FALSE(encodeKey(Value(true)));
  REQUIRE_FALSE(encodeKey(Value(nullptr)));
  REQUIRE_FALSE(encodeKey(Value::object()));
  REQUIRE_FALSE(encodeKey(Value::array({1, nullptr})));
}

TEST_CASE("prefix encodings cover exactly the keys that start with the prefix", "[store]") {
  std::string p = stringPrefixKey("ab");
  REQUIRE(encodeKey("abc")->rfind(p, 0) == 0);
  REQUIRE(encodeKey("ab")->rfind(p, 0) == 0);
  REQUIRE(encodeKey("a")->rfind(p, 0) != 0);
  REQUIRE(encodeKey("b")->rfind(p, 0) != 0);
  std::string ap = *arrayPrefixKey(Value::array({"kalle"}));
  REQUIRE(encodeKey(Value::array({"kalle", "kula"}))->rfind(ap, 0) == 0);
  REQUIRE(encodeKey(Value::array({"kallex"}))->rfind(ap, 0) != 0);
}
