#include <catch2/catch.hpp>
#include <cmath>

#include "core/errors.h"
#include "core/value.h"

using namespace crdtdb;

namespace {
Value roundTrip(const Value& v) {
  ByteWriter w;
  encodeValue(w, v);
  ByteReader r(w.bytes());
  Value out = decodeValue(r);
  REQUIRE(r.atEnd());
  return out;
}
Bytes encoded(const Value& v) {
  ByteWriter w;
  encodeValue(w, v);
  return w.take();
}
}  // namespace

TEST_CASE("values round-trip through the binary encoding", "[core]") {
  Value v = Value::parse(R"({"a":[1,-2,3.5,"x",null,true,false],"b":{"c":{"d":[]}},"e":""})");
  canonicalizeValue(v, "v");
  REQUIRE(roundTrip(v) == v);
  REQUIRE(roundTrip(Value(9007199254740992.0)) == Value(9007199254740992LL));
  REQUIRE(roundTrip(Value(1e300)) == Value(1e300));
  REQUIRE(roundTrip(Value(-0.25)) == Value(-0.25));
}

TEST_CASE("numbers are canonical: integral doubles become integers", "[core]") {
  Value v = Value::parse(R"({"x":1.0,"y":[2.0,2.5],"z":18446744073709551615})");
  canonicalizeValue(v, "row");
  REQUIRE(v["x"].is_number_integer());
  REQUIRE(v["y"][0].is_number_integer());
  REQUIRE(v["y"][1].is_number_float());
  REQUIRE(v["z"].is_number_float());  // beyond 2^53: a double, as in JavaScript
  REQUIRE(encoded(Value(3)) == encoded(Value(3.0)));
  REQUIRE(encoded(Value(1)).size() == 2);  // small integers cost a tag and one byte
}

TEST_CASE("invalid values are rejected with the offending path", "[core]") {
  Value nan = Value::object({{"a", Value::array({1, std::nan("")})}});
  try {
    canonicalizeValue(nan, "\"col\"");
    FAIL("NaN accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::Type);
    REQUIRE(std::string(e.what()).find("\"col\".a[1]") != std::string::npos);
  }
  Value deep = 1;
  for (int i = 0; i < kMaxValueDepth + 2; ++i) deep = Value::array({deep});
  REQUIRE_THROWS_AS(canonicalizeValue(deep, "d"), Error);
}

TEST_CASE("value decoding rejects non-canonical and hostile encodings", "[core]") {
  auto rejects = [](Bytes b) {
    ByteReader r(b);
    REQUIRE_THROWS_AS(decodeValue(r), DecodeError);
  };
  rejects({9});                                // unknown tag
  rejects({4, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f});  // 1.0 as a double
  rejects({4, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f});  // +Infinity
  rejects({6, 0x80, 0x80, 0x80, 0x80, 0x01});  // huge array count
  rejects({7, 2, 1, 'b', 0, 1, 'a', 0});       // keys out of order
  rejects({7, 2, 1, 'a', 0, 1, 'a', 0});       // duplicate key
  rejects({5, 2, 0xc3, 0x28});                 // invalid UTF-8
  Bytes deep(200, 6);
  for (std::size_t i = 1; i < deep.size(); i += 2) deep[i] = 1;
  rejects(deep);  // nesting bomb
}
