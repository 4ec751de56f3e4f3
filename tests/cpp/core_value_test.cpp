#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "core/bit_cast.h"
#include "core/errors.h"
#include "core/value.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

// Scans `b` as one canonical value that fills it; returns its JSON.
Json roundTrip(const Bytes& b) {
  ByteReader r(b);
  ValueScan s = scanValue(r);
  REQUIRE(r.atEnd());
  REQUIRE(s.size == b.size());
  return dec(b);
}

void rejects(const Bytes& b, const char* what) {
  INFO(what << ": " << hexOf(b));
  ByteReader r(b);
  REQUIRE_THROWS_AS(scanValue(r), DecodeError);
}

Bytes number(double d) {
  ByteWriter w;
  writeNumber(w, d);
  return w.take();
}

Bytes integer(std::int64_t i) {
  ByteWriter w;
  writeInt(w, i);
  return w.take();
}

Bytes doubleBits(double d) {
  ByteWriter w;
  w.u8(tag::kDouble);
  w.fixed64(bitCast<std::uint64_t>(d));
  return w.take();
}

}  // namespace

TEST_CASE("values round-trip through the binary encoding", "[core]") {
  const Json v = Json::parse(R"({"a":[1,-2,3.5,"x",null,true,false],"b":{"c":{"d":[]}},"e":""})");
  REQUIRE(roundTrip(enc(v)) == v);
  REQUIRE(roundTrip(number(9007199254740992.0)) == Json(9007199254740992LL));
  REQUIRE(roundTrip(number(1e300)) == Json(1e300));
  REQUIRE(roundTrip(number(-0.25)) == Json(-0.25));
  REQUIRE(roundTrip(number(5e-324)) == Json(5e-324));
  const std::string longString(300, 'q');
  REQUIRE(roundTrip(enc(longString)) == Json(longString));
  REQUIRE(roundTrip(enc("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80")) ==
          Json("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"));
  REQUIRE(roundTrip(enc("quote\" backslash\\ newline\n tab\t ctl\x01")) ==
          Json("quote\" backslash\\ newline\n tab\t ctl\x01"));
}

TEST_CASE("random JSON values round-trip and re-encode to the same bytes", "[core]") {
  std::mt19937_64 rng(5);
  std::function<Json(int)> random = [&](int depth) -> Json {
    switch (rng() % (depth < 4 ? 9 : 6)) {
      case 0:
        return nullptr;
      case 1:
        return rng() % 2 == 0;
      case 2:
        return static_cast<std::int64_t>(rng() % 200) - 100;
      case 3:
        return static_cast<std::int64_t>(rng() >> 11) * (rng() % 2 ? 1 : -1);  // up to 2^53
      case 4:
        return static_cast<double>(rng() % 100000) / 64.0 - 700.0;
      case 5:
        return std::string(rng() % 80, static_cast<char>('a' + rng() % 26));
      case 6: {
        Json a = Json::array();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random(depth + 1));
        return a;
      }
      default: {
        Json o = Json::object();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
          o[std::string(1 + rng() % 3, static_cast<char>('a' + rng() % 5))] = random(depth + 1);
        }
        return o;
      }
    }
  };
  for (int i = 0; i < 2000; ++i) {
    const Json v = random(0);
    INFO(v.dump());
    const Bytes b = enc(v);
    REQUIRE(roundTrip(b) == v);
    REQUIRE(enc(dec(b)) == b);
  }
}

TEST_CASE("numbers are canonical: integral doubles become integers", "[core]") {
  REQUIRE(number(3.0) == integer(3));
  REQUIRE(number(-0.0) == integer(0));
  REQUIRE(number(9007199254740992.0) == integer(9007199254740992LL));
  REQUIRE(number(-9007199254740992.0) == integer(-9007199254740992LL));
  // Beyond 2^53 a number stays a double, as in JavaScript.
  REQUIRE(typeOf(number(18446744073709551615.0)) == ValueType::Double);
  REQUIRE(typeOf(number(9007199254740994.0)) == ValueType::Double);
  REQUIRE(typeOf(number(2.5)) == ValueType::Double);
  REQUIRE(typeOf(integer(63)) == ValueType::Int);
  // Integers -64..63 are one byte; others a tag and a zigzag varint.
  REQUIRE(integer(0).size() == 1);
  REQUIRE(integer(63).size() == 1);
  REQUIRE(integer(-64).size() == 1);
  REQUIRE(integer(64).size() == 3);  // zigzag 128: two varint bytes
  REQUIRE(integer(-65).size() == 3);
  REQUIRE(integer(8191).size() == 3);
  REQUIRE(integer(8192).size() == 4);
  REQUIRE(number(0.5).size() == 9);
  for (double d : {0.0, 1.0, -1.0, 63.0, -64.0, 64.0, 1e15, -1e15, 0.5, -2.75, 1e300, 5e-324}) {
    INFO(d);
    REQUIRE(numberOf(number(d)) == d);
  }
  // Strings up to 63 bytes carry their length in the tag.
  REQUIRE(enc(std::string(63, 'x')).size() == 64);
  REQUIRE(enc(std::string(64, 'x')).size() == 66);
  REQUIRE(stringOf(enc(std::string(64, 'x'))) == std::string(64, 'x'));
  REQUIRE(stringOf(enc("abc")) == "abc");
}

TEST_CASE("typeOf names every kind of value", "[core]") {
  REQUIRE(typeOf(enc(nullptr)) == ValueType::Null);
  REQUIRE(typeOf(enc(false)) == ValueType::False);
  REQUIRE(typeOf(enc(true)) == ValueType::True);
  REQUIRE(typeOf(enc(7)) == ValueType::Int);
  REQUIRE(typeOf(enc(700)) == ValueType::Int);
  REQUIRE(typeOf(enc(0.5)) == ValueType::Double);
  REQUIRE(typeOf(enc("s")) == ValueType::String);
  REQUIRE(typeOf(enc(std::string(100, 's'))) == ValueType::String);
  REQUIRE(typeOf(enc(Json::array())) == ValueType::Array);
  REQUIRE(typeOf(enc(Json::object())) == ValueType::Object);
}

TEST_CASE("toJson writes object keys in byte order and escapes strings", "[core]") {
  REQUIRE(toJson(enc(Json::parse(R"({"b":1,"a":[true,null],"B":"x"})"))) ==
          R"({"B":"x","a":[true,null],"b":1})");
  REQUIRE(toJson(enc("a\"b\\c\nd\x01")) == R"("a\"b\\c\nd\u0001")");
  REQUIRE(toJson(number(0.1)) == "0.1");
  REQUIRE(toJson(number(-1e300)) == "-1e+300");
  REQUIRE(toJson(integer(-9007199254740992LL)) == "-9007199254740992");
}

TEST_CASE("value decoding rejects non-canonical and hostile encodings", "[core]") {
  rejects({9}, "unknown tag");
  rejects({0x3f}, "unknown tag below the short strings");
  rejects(doubleBits(1.0), "1.0 as a double");
  rejects(doubleBits(-0.0), "-0 as a double");
  rejects(doubleBits(std::numeric_limits<double>::infinity()), "+Infinity");
  rejects(doubleBits(std::nan("")), "NaN");
  rejects({tag::kInt, 10}, "small integer (5) with the long tag");
  rejects({tag::kInt, 0x81, 0x00}, "non-minimal varint");
  for (std::int64_t i :
       {(std::int64_t{1} << 53) + 1, -(std::int64_t{1} << 53) - 1, std::int64_t{1} << 62}) {
    ByteWriter w;  // beyond 2^53 as an integer (2^53 + 1 rounds to 2^53 as a double)
    w.u8(tag::kInt);
    w.zigzag(i);
    rejects(w.take(), "integer beyond 2^53");
  }
  for (std::int64_t i : {std::int64_t{1} << 53, -(std::int64_t{1} << 53)}) {
    ByteWriter w;
    w.u8(tag::kInt);
    w.zigzag(i);
    Bytes ok = w.take();
    ByteReader r(ok);
    REQUIRE(scanValue(r).size == ok.size());
  }
  rejects({tag::kString, 3, 'a', 'b', 'c'}, "short string with the long tag");
  rejects({0x42, 0xc3, 0x28}, "invalid UTF-8");
  rejects({0x43, 0xed, 0xa0, 0x80}, "a UTF-16 surrogate in UTF-8");
  rejects({0x45, 'a', 'b'}, "string past the end");
  rejects({tag::kArray, 0x80, 0x80, 0x80, 0x80, 0x01}, "huge array count");
  rejects({tag::kArray, 2, 0}, "truncated array");
  rejects({tag::kObject, 2, 1, 'b', 0, 1, 'a', 0}, "keys out of order");
  rejects({tag::kObject, 2, 1, 'a', 0, 1, 'a', 0}, "duplicate key");
  rejects({tag::kObject, 1, 1, 0xff, 0}, "key not UTF-8");
  rejects({}, "empty input");
  Bytes deep;
  for (int i = 0; i < kMaxValueDepth + 1; ++i) {
    deep.push_back(tag::kArray);
    deep.push_back(1);
  }
  deep.push_back(0);
  rejects(deep, "nested deeper than the limit");
  Bytes ok(deep.begin() + 2, deep.end());  // exactly at the limit
  ByteReader r(ok);
  REQUIRE(scanValue(r).size == ok.size());
  Bytes bomb(200000, tag::kArray);
  for (std::size_t i = 1; i < bomb.size(); i += 2) bomb[i] = 1;
  rejects(bomb, "nesting bomb");
}

TEST_CASE("loose values may have unsorted keys, which canonicalizeValue sorts", "[core]") {
  const Bytes loose = {tag::kObject, 2, 1, 'b', 0xc1, 1, 'a', tag::kObject, 2, 1,
                       'z',          0, 1, 'y', 1};
  {
    ByteReader r(loose);
    REQUIRE_THROWS_AS(scanValue(r), DecodeError);
  }
  ByteReader r(loose);
  ValueScan s = scanValueLoose(r);
  REQUIRE(s.size == loose.size());
  REQUIRE(s.hasObject);
  ByteWriter out;
  canonicalizeValue(loose, out);
  REQUIRE(out.bytes() == enc(Json::parse(R"({"a":{"y":false,"z":null},"b":1})")));
  ByteWriter dup;
  REQUIRE_THROWS_AS(canonicalizeValue(Bytes{tag::kObject, 2, 1, 'a', 0, 1, 'a', 1}, dup),
                    DecodeError);
  ByteWriter trailing;
  REQUIRE_THROWS_AS(canonicalizeValue(Bytes{0, 0}, trailing), DecodeError);
  const Bytes array = enc(Json::array({1, 2}));
  ByteReader plain(array);
  REQUIRE_FALSE(scanValueLoose(plain).hasObject);
}
