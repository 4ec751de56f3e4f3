#include <catch2/catch.hpp>

#include "core/errors.h"
#include "oplog/changes_codec.h"
#include "oplog/frame.h"
#include "oplog/version_codec.h"

using namespace crdtdb;

namespace {

TxnRecord txn(std::string peer, Seq seq, Lamport lamport, std::vector<EventRef> parents,
              std::vector<Op> ops) {
  TxnRecord t;
  t.peer = std::move(peer);
  t.seq = seq;
  t.lamport = lamport;
  t.parents = std::move(parents);
  t.ops = std::move(ops);
  return t;
}

Op update(std::string key, std::string col, Value v) {
  return Op{OpKind::UpdateRow, "users", std::move(key), {{std::move(col), std::move(v)}}};
}

bool sameTxns(const std::vector<TxnRecord>& a, const std::vector<TxnRecord>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].peer != b[i].peer || a[i].seq != b[i].seq || a[i].lamport != b[i].lamport ||
        a[i].parents != b[i].parents || !(a[i].ops == b[i].ops)) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("changes round-trip, including linear runs and multi-parent merges", "[oplog]") {
  std::vector<TxnRecord> txns = {
      txn("p1", 0, 1, {}, {Op{OpKind::SetRow, "users", "u1", {{"age", 30}, {"name", "Ann"}}}}),
      txn("p1", 1, 2, {{"p1", 0}},
          {update("u1", "age", 31), Op{OpKind::DeleteRow, "users", "u2", {}}}),
      txn("p2", 0, 2, {{"p1", 0}}, {update("u1", "name", "Bo")}),
      txn("p2", 1, 4, {{"p1", 2}, {"p2", 0}}, {update("u1", "age", 1.5)}),
  };
  Bytes bytes = encodeChanges(txns);
  REQUIRE(sameTxns(decodeChanges(bytes), txns));
  REQUIRE(decodeChanges(bytes)[1].encodedSize > 0);
}

TEST_CASE("a single-column update is small", "[oplog]") {
  std::vector<TxnRecord> one = {
      txn("0123456789abcdef", 41, 97, {{"0123456789abcdef", 40}}, {update("user_1", "age", 31)})};
  Bytes bytes = encodeChanges(one);
  // frame 11 + peer 17 + names 10 + header 5 + op 12: about 55 bytes, most of it the ids.
  REQUIRE(bytes.size() < 64);
  // Each further transaction of the same peer in the batch adds a few header bytes only.
  std::vector<TxnRecord> many;
  for (Seq s = 0; s < 100; ++s) {
    std::vector<EventRef> parents;
    if (s > 0) parents.push_back({"0123456789abcdef", s - 1});
    many.push_back(txn("0123456789abcdef", s, s + 1, parents, {update("user_1", "age", 31)}));
  }
  Bytes batch = encodeChanges(many);
  REQUIRE(batch.size() < 100 * 20);
}

TEST_CASE("changes decoding rejects structural violations", "[oplog]") {
  auto framed = [](const ByteWriter& payload) {
    return encodeFrame(FrameKind::Changes, payload.bytes());
  };
  {
    ByteWriter w;  // one peer, no names, one txn with zero ops
    w.varint(1);
    w.string("p");
    w.varint(0);
    w.varint(1);
    w.varint(0);  // peer index
    w.varint(0);  // flags
    w.varint(0);  // seq
    w.zigzag(1);  // lamport
    w.varint(0);  // parents
    w.varint(0);  // ops
    REQUIRE_THROWS_AS(decodeChanges(framed(w)), DecodeError);
  }
  {
    ByteWriter w;  // peer index out of range
    w.varint(1);
    w.string("p");
    w.varint(0);
    w.varint(1);
    w.varint(3);
    REQUIRE_THROWS_AS(decodeChanges(framed(w)), DecodeError);
  }
  {
    ByteWriter w;  // duplicate peer ids
    w.varint(2);
    w.string("p");
    w.string("p");
    w.varint(0);
    w.varint(0);
    REQUIRE_THROWS_AS(decodeChanges(framed(w)), DecodeError);
  }
  {
    ByteWriter w;  // linear flag at seq 0
    w.varint(1);
    w.string("p");
    w.varint(1);
    w.string("t");
    w.varint(1);
    w.varint(0);
    w.varint(1);
    w.varint(0);
    w.zigzag(1);
    w.varint(1);
    w.u8(3);
    w.varint(0);
    w.string("k");
    REQUIRE_THROWS_AS(decodeChanges(framed(w)), DecodeError);
  }
  Bytes ok = encodeChanges({txn("p", 0, 1, {}, {update("k", "c", 1)})});
  Bytes wrongKind = ok;
  wrongKind[5] = static_cast<std::uint8_t>(FrameKind::Version);
  REQUIRE_THROWS_AS(decodeChanges(wrongKind), DecodeError);
  Bytes badCrc = ok;
  badCrc.back() ^= 1;
  REQUIRE_THROWS_AS(decodeChanges(badCrc), DecodeError);
  Bytes badMagic = ok;
  badMagic[0] = 'X';
  REQUIRE_THROWS_AS(decodeChanges(badMagic), DecodeError);
  Bytes futureVersion = ok;
  futureVersion[4] = kFormatVersion + 1;
  REQUIRE_THROWS_AS(decodeChanges(futureVersion), DecodeError);
  REQUIRE_THROWS_AS(decodeChanges(Bytes{}), DecodeError);
}

TEST_CASE("versions are canonical and validated", "[oplog]") {
  VersionVector vv = {{"a", 3}, {"b", 1}};
  Bytes bytes = encodeVersion(vv);
  REQUIRE(decodeVersion(bytes) == vv);
  REQUIRE(encodeVersion({{"a", 3}, {"b", 1}, {"c", 0}}) == bytes);  // zero entries omitted
  ByteWriter unsorted;
  unsorted.varint(2);
  unsorted.string("b");
  unsorted.varint(1);
  unsorted.string("a");
  unsorted.varint(3);
  REQUIRE_THROWS_AS(decodeVersion(encodeFrame(FrameKind::Version, unsorted.bytes())), DecodeError);
  ByteWriter zero;
  zero.varint(1);
  zero.string("a");
  zero.varint(0);
  REQUIRE_THROWS_AS(decodeVersion(encodeFrame(FrameKind::Version, zero.bytes())), DecodeError);
  REQUIRE_THROWS_AS(decodeVersion(encodeChanges({})), DecodeError);  // wrong kind
}
