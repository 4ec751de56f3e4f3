#include <catch2/catch.hpp>
#include <limits>
#include <vector>

#include "core/bytes.h"
#include "core/errors.h"

using namespace crdtdb;

TEST_CASE("varints round-trip at every width", "[core]") {
  for (std::uint64_t v :
       std::vector<std::uint64_t>{0, 1, 127, 128, 300, 16383, 16384, (1ull << 35) + 7,
                                  std::numeric_limits<std::uint64_t>::max()}) {
    ByteWriter w;
    w.varint(v);
    ByteReader r(w.bytes());
    REQUIRE(r.varint() == v);
    REQUIRE(r.atEnd());
  }
  for (std::int64_t v :
       std::vector<std::int64_t>{0, -1, 1, -64, 64, std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()}) {
    ByteWriter w;
    w.zigzag(v);
    ByteReader r(w.bytes());
    REQUIRE(r.zigzag() == v);
  }
}

TEST_CASE("varint decoding rejects truncated, overlong and overflowing input", "[core]") {
  Bytes truncated = {0x80, 0x80};
  REQUIRE_THROWS_AS(ByteReader(truncated).varint(), DecodeError);
  Bytes overlong = {0x81, 0x00};  // 1 with a redundant zero byte
  REQUIRE_THROWS_AS(ByteReader(overlong).varint(), DecodeError);
  Bytes overflow = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  REQUIRE_THROWS_AS(ByteReader(overflow).varint(), DecodeError);
  Bytes eleven(11, 0x80);
  REQUIRE_THROWS_AS(ByteReader(eleven).varint(), DecodeError);
  Bytes big = {0x05};
  REQUIRE_THROWS_AS(ByteReader(big).varintBelow(5, "index"), DecodeError);
  REQUIRE(ByteReader(big).varintBelow(6, "index") == 5);
}

TEST_CASE("strings are length-prefixed, bounded and valid UTF-8", "[core]") {
  ByteWriter w;
  w.string("héllo ✓ 😀");
  ByteReader r(w.bytes());
  REQUIRE(r.string(100, "s") == "héllo ✓ 😀");
  ByteReader tooLong(w.bytes());
  REQUIRE_THROWS_AS(tooLong.string(3, "s"), DecodeError);

  REQUIRE(isValidUtf8("plain"));
  REQUIRE_FALSE(isValidUtf8("\xc3"));              // truncated sequence
  REQUIRE_FALSE(isValidUtf8("\xc0\xaf"));          // overlong '/'
  REQUIRE_FALSE(isValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate
  REQUIRE_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  REQUIRE_FALSE(isValidUtf8("\xff"));
}

TEST_CASE("fixed-width integers and CRC-32", "[core]") {
  ByteWriter w;
  w.fixed32(0xdeadbeef);
  w.fixed64(0x0123456789abcdefull);
  ByteReader r(w.bytes());
  REQUIRE(r.fixed32() == 0xdeadbeef);
  REQUIRE(r.fixed64() == 0x0123456789abcdefull);
  REQUIRE_THROWS_AS(r.u8(), DecodeError);
  const std::string check = "123456789";  // the standard CRC-32 check value
  REQUIRE(crc32(ByteSpan(reinterpret_cast<const std::uint8_t*>(check.data()), check.size())) ==
          0xcbf43926u);
}

TEST_CASE("readers track their position and never read past the end", "[core]") {
  ByteWriter w;
  w.string("abc");
  w.u8(7);
  ByteReader r(w.bytes());
  REQUIRE(r.remaining() == 5);
  REQUIRE(r.stringView(3, "s") == "abc");
  REQUIRE(r.position() == 4);
  REQUIRE(r.rest().size() == 1);
  REQUIRE(r.raw(1)[0] == 7);
  REQUIRE(r.atEnd());
  REQUIRE_THROWS_AS(r.raw(1), DecodeError);
  ByteReader again(w.bytes());
  REQUIRE_THROWS_AS(again.stringView(2, "s"), DecodeError);  // longer than allowed
  const Bytes invalid = {2, 0xc3, 0x28};
  REQUIRE_THROWS_AS(ByteReader(invalid).stringView(10, "s"), DecodeError);
  const Bytes past = {9, 'a'};
  REQUIRE_THROWS_AS(ByteReader(past).string(100, "s"), DecodeError);
  REQUIRE(w.take().size() == 5);
  REQUIRE(w.size() == 0);
}
