// History as encoded chunks (oplog/op_log.h): sealing, and changesSince, which copies the
// chunks a version lacks entirely and slices those it lacks in part.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "db/database.h"
#include "oplog/frame.h"
#include "oplog/op_log.h"
#include "oplog/version_codec.h"
#include "support/history.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

// Two replicas writing in turns until alice's log has sealed `chunks` chunks; every version
// alice had along the way, with the history she held then.
struct Histories {
  std::unique_ptr<Database> alice = std::make_unique<Database>("alice");
  std::unique_ptr<Database> bob = std::make_unique<Database>("bob");
  std::vector<Bytes> versions;         // alice's, at every sync
  std::map<std::size_t, Bytes> pasts;  // alice's full history then, for every kPastEvery-th
  static constexpr std::size_t kPastEvery = 5;

  explicit Histories(std::size_t chunks) {
    const std::string filler(400, 'f');
    int i = 0;
    while (alice->opLog().sealed().size() < chunks) {
      for (int k = 0; k < 40; ++k, ++i) {
        const std::string key = "k" + std::to_string(i % 97);
        commitOps(*alice, {setOp("t", key, {{"v", i}, {"pad", filler}})}, false);
        if (k % 10 == 0) {
          commitOps(*bob, {setOp("t", "b" + std::to_string(i % 13), {{"v", i}, {"pad", filler}})},
                    false);
        }
      }
      syncFrom(*alice, *bob);
      syncFrom(*bob, *alice);
      if (versions.size() % kPastEvery == 0) pasts[versions.size()] = allChanges(*alice);
      versions.push_back(alice->version());
    }
  }
};

Histories& histories() {
  static Histories h(3);
  return h;
}

// The records of `all` whose last event the holder of `theirs` lacks, in order.
std::vector<TxnRecord> lacking(const std::vector<TxnRecord>& all, const VersionVector& theirs) {
  std::map<std::string, Seq> have(theirs.begin(), theirs.end());
  std::vector<TxnRecord> out;
  for (const TxnRecord& t : all) {
    if (t.seq + t.ops.size() > have[t.peer]) out.push_back(t);
  }
  return out;
}

bool containsBytes(ByteSpan hay, ByteSpan needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

}  // namespace

TEST_CASE("sealed chunks tile the history in LV order", "[oplog]") {
  const Database& a = *histories().alice;
  const auto& sealed = a.opLog().sealed();
  REQUIRE(sealed.size() >= 3);
  LV expect = 0;
  for (const OpLog::Chunk& c : sealed) {
    REQUIRE(c.start == expect);
    REQUIRE(c.end > c.start);
    REQUIRE(c.bytes.size() >= OpLog::kSealBytes);
    // Each sealed chunk is a valid chunk on its own.
    ByteWriter w;
    w.varint(1);
    w.raw(c.bytes);
    const Bytes msg = encodeFrame(FrameKind::Changes, w.bytes());
    REQUIRE(eventCountOf(decodeMessage(msg)) == c.end - c.start);
    expect = c.end;
  }
  REQUIRE(a.opLog().size() == a.eventCount());
  REQUIRE(expect <= a.eventCount());
  REQUIRE(a.opLog().encodedBytes() >= sealed.size() * OpLog::kSealBytes);
  a.checkInvariants();
}

TEST_CASE("changesSince(everything) is the sealed chunks verbatim, then the open one", "[oplog]") {
  const Database& a = *histories().alice;
  const Bytes all = allChanges(a);
  const ByteSpan payload = decodeFrame(all, FrameKind::Changes);
  const auto& sealed = a.opLog().sealed();
  ByteWriter expected;
  const bool open = a.opLog().size() > sealed.back().end;
  expected.varint(sealed.size() + (open ? 1 : 0));
  for (const OpLog::Chunk& c : sealed) expected.raw(c.bytes);
  REQUIRE(payload.size() >= expected.size());
  REQUIRE(std::equal(expected.bytes().begin(), expected.bytes().end(), payload.begin()));
  REQUIRE(decodeChunks(all).size() == sealed.size() + (open ? 1 : 0));
  // The whole history rebuilds an identical replica.
  Database copy("copy");
  copy.applyChanges(all);
  REQUIRE(copy.encodeState() == a.encodeState());
  REQUIRE(copy.version() == a.version());
}

TEST_CASE("a version cutting through chunks gets exactly what it lacks", "[oplog]") {
  Histories& h = histories();
  const Database& a = *h.alice;
  const std::vector<TxnRecord> all = decodeMessage(allChanges(a));
  const auto& sealed = a.opLog().sealed();
  std::size_t sliced = 0, copied = 0, skipped = 0;
  for (std::size_t i = 0; i < h.versions.size(); i += Histories::kPastEvery) {
    INFO("version " << i);
    const Bytes answer = changesSinceVersion(a, h.versions[i]);
    const std::vector<TxnRecord> got = decodeMessage(answer);
    REQUIRE(got == lacking(all, decodeVersion(h.versions[i])));
    // Chunks entirely lacked are copied byte for byte; chunks entirely held are left out.
    const VersionVector vv = decodeVersion(h.versions[i]);
    std::map<std::string, Seq> have(vv.begin(), vv.end());
    const ByteSpan payload = decodeFrame(answer, FrameKind::Changes);
    for (const OpLog::Chunk& c : sealed) {
      bool any = false, every = true;
      for (LV lv = c.start; lv < c.end; ++lv) {
        const Stamp s = a.graph().stampOf(lv);
        const bool lacks = s.seq >= have[std::string(s.peer == 0 ? "alice" : "bob")];
        any = any || lacks;
        every = every && lacks;
      }
      if (every) {
        REQUIRE(containsBytes(payload, c.bytes));
        ++copied;
      } else if (any) {
        REQUIRE_FALSE(containsBytes(payload, c.bytes));
        ++sliced;
      } else {
        ++skipped;
      }
    }
    // The holder of that version, given the answer, has everything.
    Database then("then");
    then.applyChanges(h.pasts.at(i));
    REQUIRE(then.version() == h.versions[i]);
    then.applyChanges(answer);
    REQUIRE(then.version() == a.version());
    REQUIRE(then.encodeState() == a.encodeState());
  }
  REQUIRE(copied > 0);
  REQUIRE(sliced > 0);
  REQUIRE(skipped > 0);
  REQUIRE(decodeMessage(changesSinceVersion(a, a.version())).empty());
}

TEST_CASE("arbitrary per-peer cuts slice chunks at transaction boundaries", "[oplog]") {
  const Database& a = *histories().alice;
  const std::vector<TxnRecord> all = decodeMessage(allChanges(a));
  const Seq aliceNext = a.graph().nextSeq(0);
  const Seq bobNext = a.graph().nextSeq(a.graph().peerCount() - 1);
  std::mt19937_64 rng(99);
  for (int q = 0; q < 12; ++q) {
    VersionVector vv;
    const Seq ha = rng() % (aliceNext + 1), hb = rng() % (bobNext + 1);
    if (ha > 0) vv.emplace_back("alice", ha);
    if (hb > 0) vv.emplace_back("bob", hb);
    INFO("alice " << ha << " bob " << hb);
    const Bytes answer = changesSinceVersion(a, encodeVersion(vv));
    REQUIRE(decodeMessage(answer) == lacking(all, vv));
  }
}

TEST_CASE("the open chunk rolls back with a failed call and seals at commit points", "[oplog]") {
  Database db("p");
  commitOps(db, {setOp("t", "k", {{"v", 1}})});
  const std::size_t bytes = db.opLog().encodedBytes();
  const Bytes history = allChanges(db);
  REQUIRE_THROWS(
      commitOps(db, {setOp("t", "k2", {{"v", 1}}), updateOp("t", "missing", {{"v", 2}})}));
  REQUIRE(db.opLog().encodedBytes() == bytes);
  REQUIRE(allChanges(db) == history);
  REQUIRE(db.opLog().sealed().empty());
  REQUIRE(db.opLog().size() == 1);
  // undoLast rolls the open chunk back too.
  commitOps(db, {setOp("t", "k3", {{"v", 3}})});
  db.undoLast();
  REQUIRE(allChanges(db) == history);
  REQUIRE(db.opLog().size() == 1);
  db.checkInvariants();
}
