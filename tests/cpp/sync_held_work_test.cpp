// The work of holding and releasing runs, counted (never timed): many different runs of one
// start (a message may repeat a start once per chunk), and runs that each release a held
// run (which switch chunks between every run of the message).
#include <catch2/catch.hpp>
#include <cstdio>

#include "db/database.h"
#include "support/craft.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

// n chunks, each holding one transaction x:5 (linear: waits for x:4) with its own value.
Bytes sameStartRuns(int n) {
  ByteWriter out;
  const std::size_t f = beginFrame(out, FrameKind::Changes);
  out.varint(static_cast<std::uint64_t>(n));
  for (int i = 0; i < n; ++i) {
    ChunkWriter w;
    w.beginTxn(w.peer("x"), 5, true, {}, 1);
    w.op(OpKind::SetRow, w.name("t"), "k");
    w.columnCount(1);
    char v[16];
    std::snprintf(v, sizeof v, "v%07d", i);  // same size: the held chunks differ at the end
    w.column(w.name("c"), stringValue(v));
    w.writeTo(out);
  }
  finishFrame(out, f);
  return out.take();
}

// Held runs compared byte for byte while holding `msg`.
std::uint64_t comparedToHold(const Bytes& msg, std::size_t expectHeld) {
  Database db("db", DatabaseOptions{64u << 20});
  const ChangeSet r = db.applyChanges(msg);
  REQUIRE(r.pending == expectHeld);
  REQUIRE(db.heldEvents() == expectHeld);
  // Each is held once: the same message again holds nothing new.
  REQUIRE(db.applyChanges(msg).pending == expectHeld);
  REQUIRE(db.heldEvents() == expectHeld);
  return db.work().heldCompared;
}

}  // namespace

TEST_CASE("holding n different runs of one start compares each with few", "[sync][work]") {
  for (const int n : {1000, 4000}) {
    // Found by content hash: the second delivery compares each run with its own copy only.
    const std::uint64_t compared = comparedToHold(sameStartRuns(n), static_cast<std::size_t>(n));
    INFO(n << " runs: " << compared << " compared");
    CHECK(compared <= static_cast<std::uint64_t>(n) + 8);
  }
}

namespace {

// Held first: p_i:1 for i < n (each waits for p_i:0). Then one chunk with p_i:0 for every i
// (one run each: the peers alternate), each writing its own row key, so the chunk's key
// table has n entries.
struct Interleaved {
  std::vector<Bytes> held;
  Bytes release;
};

Interleaved interleaved(int n) {
  Interleaved out;
  for (int i = 0; i < n; ++i) {
    Crafter c;
    c.write("p" + std::to_string(i), 1, {{"p" + std::to_string(i), 0}}, "t",
            "held" + std::to_string(i), "c", intValue(1), OpKind::SetRow);
    out.held.push_back(c.message());
  }
  Crafter all;
  for (int i = 0; i < n; ++i) {
    all.write("p" + std::to_string(i), 0, {}, "t", "k" + std::to_string(i), "c", intValue(1),
              OpKind::SetRow);
  }
  out.release = all.message();
  return out;
}

// Chunk name/key slots made ready while `m.release` releases every held run.
std::uint64_t slotsToRelease(const Interleaved& m, std::size_t n) {
  Database db("db", DatabaseOptions{64u << 20});
  for (const Bytes& h : m.held) db.applyChanges(h);
  REQUIRE(db.heldEvents() == n);
  const std::uint64_t before = db.work().tableSlotsReset;
  const ChangeSet r = db.applyChanges(m.release);
  REQUIRE(r.applied == 2 * n);
  REQUIRE(db.heldEvents() == 0);
  return db.work().tableSlotsReset - before;
}

}  // namespace

// A chunk's names and keys resolve once per chunk: releasing a held run between two runs of
// the message must not make the message chunk's k keys resolve again (r runs: r·k).
TEST_CASE("runs that each release a held run resolve the chunk's names once", "[sync][work]") {
  for (const int n : {500, 2000}) {
    const std::uint64_t slots = slotsToRelease(interleaved(n), static_cast<std::size_t>(n));
    INFO(n << " runs: " << slots << " slots");
    // The message chunk (n keys, 2 names) once, and each held chunk (1 key, 2 names) once.
    CHECK(slots <= static_cast<std::uint64_t>(5 * n));
  }
}
