#include <catch2/catch.hpp>

#include "core/errors.h"
#include "oplog/frame.h"

using namespace crdtdb;

namespace {

std::string decodeError(const Bytes& b, FrameKind kind) {
  try {
    decodeFrame(b, kind);
  } catch (const DecodeError& e) {
    return e.what();
  }
  FAIL("accepted");
  return "";
}

}  // namespace

TEST_CASE("frames carry magic, version, kind, a fixed-width length and a CRC", "[oplog]") {
  const Bytes payload = {1, 2, 3, 4, 5};
  const Bytes f = encodeFrame(FrameKind::Changes, payload);
  REQUIRE(f.size() == kFrameHeaderBytes + payload.size() + 4);
  REQUIRE(Bytes(f.begin(), f.begin() + 4) == Bytes{'C', 'R', 'D', 'B'});
  REQUIRE(f[4] == kFormatVersion);
  REQUIRE(f[4] == 2);
  REQUIRE(f[5] == static_cast<std::uint8_t>(FrameKind::Changes));
  REQUIRE(Bytes(f.begin() + 6, f.begin() + 10) == Bytes{5, 0, 0, 0});
  const ByteSpan back = decodeFrame(f, FrameKind::Changes);
  REQUIRE(Bytes(back.begin(), back.end()) == payload);
  REQUIRE(decodeFrame(encodeFrame(FrameKind::Version, {}), FrameKind::Version).empty());
  // beginFrame/finishFrame write the same bytes in place.
  ByteWriter w;
  w.u8(0xaa);  // frames can start anywhere in a buffer
  const std::size_t begin = beginFrame(w, FrameKind::Changes);
  w.raw(payload);
  finishFrame(w, begin);
  REQUIRE(Bytes(w.bytes().begin() + 1, w.bytes().end()) == f);
}

TEST_CASE("frame decoding checks everything before the payload is parsed", "[oplog]") {
  const Bytes ok = encodeFrame(FrameKind::Changes, Bytes{7, 7, 7});
  Bytes wrongKind = ok;
  wrongKind[5] = static_cast<std::uint8_t>(FrameKind::Version);
  REQUIRE(decodeError(wrongKind, FrameKind::Changes).find("kind") != std::string::npos);
  REQUIRE_THROWS_AS(decodeFrame(ok, FrameKind::RowState), DecodeError);
  Bytes badCrc = ok;
  badCrc.back() ^= 1;
  REQUIRE(decodeError(badCrc, FrameKind::Changes).find("checksum") != std::string::npos);
  Bytes badPayload = ok;
  badPayload[kFrameHeaderBytes] ^= 0x10;
  REQUIRE_THROWS_AS(decodeFrame(badPayload, FrameKind::Changes), DecodeError);
  Bytes badMagic = ok;
  badMagic[0] = 'X';
  REQUIRE(decodeError(badMagic, FrameKind::Changes).find("magic") != std::string::npos);
  for (std::uint8_t version :
       {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{3}, std::uint8_t{255}}) {
    Bytes other = ok;
    other[4] = version;
    REQUIRE(decodeError(other, FrameKind::Changes).find("unsupported format version") !=
            std::string::npos);
  }
  Bytes longer = ok;
  longer[6] = 4;  // claims one payload byte more than there is
  REQUIRE(decodeError(longer, FrameKind::Changes).find("length") != std::string::npos);
  Bytes shorter = ok;
  shorter[6] = 2;
  REQUIRE_THROWS_AS(decodeFrame(shorter, FrameKind::Changes), DecodeError);
  Bytes trailing = ok;
  trailing.push_back(0);
  REQUIRE_THROWS_AS(decodeFrame(trailing, FrameKind::Changes), DecodeError);
  for (std::size_t len = 0; len < ok.size(); ++len) {
    REQUIRE_THROWS_AS(decodeFrame(Bytes(ok.begin(), ok.begin() + static_cast<std::ptrdiff_t>(len)),
                                  FrameKind::Changes),
                      DecodeError);
  }
}
