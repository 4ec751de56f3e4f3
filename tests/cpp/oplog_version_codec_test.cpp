#include <catch2/catch.hpp>

#include "core/errors.h"
#include "oplog/frame.h"
#include "oplog/op.h"
#include "oplog/version_codec.h"

using namespace crdtdb;

TEST_CASE("versions are canonical and validated", "[oplog]") {
  const VersionVector vv = {{"a", 3}, {"b", 1}};
  const Bytes bytes = encodeVersion(vv);
  REQUIRE(decodeVersion(bytes) == vv);
  REQUIRE(encodeVersion({{"a", 3}, {"b", 1}, {"c", 0}}) == bytes);  // zero entries omitted
  REQUIRE(decodeVersion(encodeVersion({})).empty());
  const VersionVector big = {{std::string(kMaxPeerIdBytes, 'p'), kMaxClock}};
  REQUIRE(decodeVersion(encodeVersion(big)) == big);
  ByteWriter unsorted;
  unsorted.varint(2);
  unsorted.string("b");
  unsorted.varint(1);
  unsorted.string("a");
  unsorted.varint(3);
  REQUIRE_THROWS_AS(decodeVersion(encodeFrame(FrameKind::Version, unsorted.bytes())), DecodeError);
  REQUIRE_THROWS_AS(decodeVersion(encodeVersion({{"a", 1}, {"a", 2}})), DecodeError);  // duplicate
  REQUIRE_THROWS_AS(decodeVersion(encodeVersion({{"", 1}})), DecodeError);  // empty peer id
  REQUIRE_THROWS_AS(decodeVersion(encodeVersion({{"a", kMaxClock + 1}})), DecodeError);
  REQUIRE_THROWS_AS(decodeVersion(encodeVersion({{std::string(kMaxPeerIdBytes + 1, 'p'), 1}})),
                    DecodeError);
  ByteWriter zero;
  zero.varint(1);
  zero.string("a");
  zero.varint(0);
  REQUIRE_THROWS_AS(decodeVersion(encodeFrame(FrameKind::Version, zero.bytes())), DecodeError);
  ByteWriter trailing;
  trailing.varint(0);
  trailing.u8(0);
  REQUIRE_THROWS_AS(decodeVersion(encodeFrame(FrameKind::Version, trailing.bytes())), DecodeError);
  REQUIRE_THROWS_AS(decodeVersion(encodeFrame(FrameKind::Changes, Bytes{0})), DecodeError);  // kind
  Bytes truncated = bytes;
  truncated.resize(truncated.size() - 1);
  REQUIRE_THROWS_AS(decodeVersion(truncated), DecodeError);
}
