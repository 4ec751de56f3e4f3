#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "db/database.h"
#include "store/key_codec.h"
#include "support/idb_order.h"
#include "support/ranges.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Json randomKey(std::mt19937_64& rng, int depth = 0) {
  static const std::vector<std::string> pieces = {
      "",  "a", "b",    "ab",   "\xc3\xa9", "\xef\xbf\xbd", "\xf0\x9f\x98\x80", "\xee\x80\x80",
      "~", "A", "\x01", "\x7f", "\xc2\x80", "\xe0\xa0\x80"};
  switch (rng() % (depth < 2 ? 3 : 2)) {
    case 0: {
      static const std::vector<double> nums = {
          0, -0.0, 1, -1, 0.5, -2.5, 1e300, -1e300, 9007199254740993.0, 5e-324, 42, -5e-324};
      return nums[rng() % nums.size()];
    }
    case 1: {
      std::string s;
      for (int i = static_cast<int>(rng() % 3); i > 0; --i) s += pieces[rng() % pieces.size()];
      return s;
    }
    default: {
      Json a = Json::array();
      for (int i = static_cast<int>(rng() % 3); i > 0; --i) a.push_back(randomKey(rng, depth + 1));
      return a;
    }
  }
}

std::string k(const Json& v) { return *keyOf(v); }

}  // namespace

TEST_CASE("key encoding orders exactly like IndexedDB", "[store]") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 4000; ++i) {
    const Json a = randomKey(rng), b = randomKey(rng);
    INFO(a.dump() << " vs " << b.dump());
    const std::string ea = k(a), eb = k(b);
    const int want = idbCompare(a, b);
    const int got = ea < eb ? -1 : ea > eb ? 1 : 0;
    REQUIRE(got == want);
    // Keys are self-delimiting: keyLength finds the end whatever follows.
    REQUIRE(keyLength(ea) == ea.size());
    REQUIRE(keyLength(ea + eb) == ea.size());
    REQUIRE(keyLength(ea + std::string(1, '\0')) == ea.size());
  }
}

TEST_CASE("specific orderings: numbers < strings < arrays, UTF-16 order, -0 == 0", "[store]") {
  REQUIRE(k(1e300) < k(""));
  REQUIRE(k("zzz") < k(Json::array()));
  REQUIRE(k(-1) < k(-0.5));
  REQUIRE(k(-1e300) < k(-1));
  REQUIRE(k(-0.0) == k(0));
  REQUIRE(k(0.5) < k(1));
  // U+E000 is above the surrogates in code points but below them in UTF-16 units.
  REQUIRE(k("\xf0\x9f\x98\x80") < k("\xee\x80\x80"));
  REQUIRE(k("a") < k("ab"));
  REQUIRE(k("a\x01") < k("ab"));
  REQUIRE(k(Json::array({1})) < k(Json::array({1, 0})));
  REQUIRE(k(Json::array({1, "a"})) < k(Json::array({"a"})));
  REQUIRE(k(Json::array({Json::array()})) > k(Json::array({"zzz"})));
}

TEST_CASE("U+007F and the characters after it keep distinct, ordered encodings", "[store]") {
  // U+007F is one UTF-8 byte but, as a key unit, takes the two-byte form whose lead byte 0x80
  // it shares with U+0080..: encoded as one byte 0x80 it collided ("\x7fa" == "\u00e1").
  REQUIRE(k("\x7f"
            "a") != k("\xc3\xa1"));
  REQUIRE(k("\x7f"
            "a") < k("\xc2\x80"));
  REQUIRE(k("~") < k("\x7f"));
  REQUIRE(k("\x7f") < k("\x7f"
                        "a"));
  REQUIRE(k("\x7f") < k("\xc2\x80"));
  for (const char* s : {"\x7f", "a\x7f", "\x7f\x7f\xc3\xa9", "x\x7fy"}) {
    const std::string e = k(s);
    REQUIRE(keyLength(e) == e.size());
  }
  // Through a table: both rows are in its primary order.
  Database db("p");
  commitOps(db, {setOp("t", "\xc3\xa1", {{"v", 1}}), setOp("t",
                                                           "\x7f"
                                                           "a",
                                                           {{"v", 2}})});
  REQUIRE(keysOf(db, db.query("t", "", KeyRange{}, {})) == std::vector<std::string>{"\x7f"
                                                                                    "a",
                                                                                    "\xc3\xa1"});
}

TEST_CASE("non-keys have no encoding", "[store]") {
  std::string out;
  REQUIRE_FALSE(appendKey(out, enc(true)));
  REQUIRE_FALSE(appendKey(out, enc(false)));
  REQUIRE_FALSE(appendKey(out, enc(nullptr)));
  REQUIRE_FALSE(appendKey(out, enc(Json::object())));
  REQUIRE_FALSE(appendKey(out, enc(Json::array({1, nullptr}))));
  REQUIRE_FALSE(appendKey(out, enc(Json::array({1, Json::array({Json::object()})}))));
  REQUIRE_FALSE(arrayPrefixKey(enc("not an array")).has_value());
  REQUIRE_FALSE(arrayPrefixKey(enc(Json::array({true}))).has_value());
}

TEST_CASE("appendStringKey is the string case of appendKey", "[store]") {
  for (const char* s : {"", "a", "\xc3\xa9t\xc3\xa9", "\xf0\x9f\x98\x80"}) {
    std::string direct;
    appendStringKey(direct, s);
    REQUIRE(direct == k(s));
  }
}

TEST_CASE("prefix encodings cover exactly the keys that start with the prefix", "[store]") {
  const std::string p = stringPrefixKey("ab");
  REQUIRE(k("abc").rfind(p, 0) == 0);
  REQUIRE(k("ab").rfind(p, 0) == 0);
  REQUIRE(k("a").rfind(p, 0) != 0);
  REQUIRE(k("b").rfind(p, 0) != 0);
  REQUIRE(k(Json::array({"ab"})).rfind(p, 0) != 0);
  REQUIRE(k("abc").rfind(stringPrefixKey(""), 0) == 0);
  const std::string ap = *arrayPrefixKey(enc(Json::array({"kalle"})));
  REQUIRE(k(Json::array({"kalle", "kula"})).rfind(ap, 0) == 0);
  REQUIRE(k(Json::array({"kalle"})).rfind(ap, 0) == 0);
  REQUIRE(k(Json::array({"kallex"})).rfind(ap, 0) != 0);
  REQUIRE(k("kalle").rfind(ap, 0) != 0);
  // Random strings: the prefix relation of the strings is that of the encodings.
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    const Json a = randomKey(rng), b = randomKey(rng);
    if (!a.is_string() || !b.is_string()) continue;
    const std::string sa = a.get<std::string>(), sb = b.get<std::string>();
    INFO(a.dump() << " prefix of " << b.dump());
    REQUIRE((sb.rfind(sa, 0) == 0) == (k(b).rfind(stringPrefixKey(sa), 0) == 0));
  }
}
