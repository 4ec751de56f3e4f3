// Compaction and snapshots: compact() folds history without changing what a replica shows;
// a peer that lacks folded events catches up from a snapshot (joined state-based); the
// folded history persists and reopens; a broken snapshot changes nothing; a failed
// allocation anywhere in a snapshot join or a fold leaves the replica as it was; the join
// costs what the rows hold, not what the history held.
#include <catch2/catch.hpp>
#include <random>

#include "core/errors.h"
#include "db/database.h"
#include "oplog/frame.h"
#include "support/alloc_hooks.h"
#include "support/store_sim.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

const std::vector<IndexDef> kDefs = {{"byX", "users", {"x"}}};

// Two peers with history, deletes and a conflict; `a` then compacts all of it.
struct Pair {
  Database a{"a"}, b{"b"};
  Pair() {
    a.declareIndexes(kDefs);
    for (int i = 0; i < 30; ++i) {
      commitOps(a, {setOp("users", "u" + std::to_string(i % 7), {{"x", i}, {"y", "v"}})});
    }
    syncFrom(b, a);
    commitOps(a, {updateOp("users", "u1", {{"x", 100}})});
    commitOps(b, {updateOp("users", "u1", {{"x", 200}}), deleteOp("users", "u2")});
    syncFrom(a, b);
    commitOps(a, {setOp("users", "u9", {{"x", 9}})});
  }
};

std::string state(const Database& db) {
  const Bytes s = db.encodeState(), v = db.version();
  return std::string(s.begin(), s.end()) + std::string(v.begin(), v.end());
}

}  // namespace

TEST_CASE("compact folds history, and a peer from before it catches up from a snapshot",
          "[compact]") {
  Pair p;
  Database late("late");
  late.declareIndexes(kDefs);
  commitOps(late, {setOp("users", "u1", {{"x", -1}}), setOp("posts", "p", {{"t", 1}})});
  const Bytes shown = p.a.encodeState(), version = p.a.version();
  const std::size_t before = p.a.opLog().encodedBytes();
  REQUIRE(p.a.compact() == p.a.eventCount());
  REQUIRE(p.a.encodeState() == shown);
  REQUIRE(p.a.version() == version);
  REQUIRE(p.a.opLog().encodedBytes() < before);
  REQUIRE(p.a.compact() == 0);  // nothing left to fold
  // A peer that has everything gets nothing; one that lacks folded events gets a snapshot.
  REQUIRE(frameKind(changesSinceVersion(p.a, p.a.version())) == FrameKind::Changes);
  const Bytes snap = changesSinceVersion(p.a, late.version());
  REQUIRE(frameKind(snap) == FrameKind::Snapshot);
  const ChangeSet cs = late.applyChanges(snap, true);
  REQUIRE(cs.applied == p.a.eventCount());
  REQUIRE(frameKind(cs.update) == FrameKind::Snapshot);
  REQUIRE(late.applyChanges(snap).applied == 0);  // idempotent
  // The late peer's own concurrent write joins as it would have through events.
  syncFrom(p.a, late);
  REQUIRE(p.a.encodeState() == late.encodeState());
  REQUIRE(p.a.version() == late.version());
  Database witness("w");  // the same through full histories, no compaction anywhere
  witness.declareIndexes(kDefs);
  Pair q;
  Database late2("late");
  commitOps(late2, {setOp("users", "u1", {{"x", -1}}), setOp("posts", "p", {{"t", 1}})});
  syncFrom(witness, q.a);
  syncFrom(witness, late2);
  REQUIRE(witness.encodeState() == late.encodeState());
  REQUIRE(keysOf(witness, witness.query("users", "byX", KeyRange{}, QueryOptions{})) ==
          keysOf(late, late.query("users", "byX", KeyRange{}, QueryOptions{})));
  p.a.checkInvariants();
  late.checkInvariants();
  // After compaction, new events travel as events again to a peer that has the folded ones.
  commitOps(p.a, {updateOp("users", "u3", {{"x", 33}})});
  REQUIRE(frameKind(changesSinceVersion(p.a, late.version())) == FrameKind::Changes);
  syncFrom(late, p.a);
  REQUIRE(rowJson(late, "users", "u3") == Json({{"x", 33}, {"y", "v"}}));
}

TEST_CASE("compactAcked folds only what every acknowledged version holds", "[compact]") {
  Database a("a");
  const std::string big(4000, 'x');  // 300 events span several sealed chunks (512 KiB each)
  auto write = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      commitOps(a, {setOp("t", "k" + std::to_string(i % 40), {{"v", i}, {"pad", big}})});
    }
  };
  write(0, 300);
  Database mid("mid");
  syncFrom(mid, a);
  const Bytes midVersion = mid.version();
  write(300, 600);
  const Bytes endVersion = a.version();
  const Bytes shown = a.encodeState();
  // A bad version folds nothing.
  const Bytes junk = {1, 2, 3};
  std::vector<ByteSpan> bad = {endVersion, junk};
  REQUIRE_THROWS_AS(a.compactAcked(bad), DecodeError);
  REQUIRE(a.opLog().folded() == 0);
  // Every peer has the first 300 events: at most those fold, and `mid` still catches up
  // with events, not a snapshot.
  std::vector<ByteSpan> both = {midVersion, endVersion};
  const std::size_t first = a.compactAcked(both);
  REQUIRE(first > 0);
  REQUIRE(a.opLog().folded() <= 300);
  REQUIRE(a.encodeState() == shown);
  REQUIRE(frameKind(changesSinceVersion(a, midVersion)) == FrameKind::Changes);
  syncFrom(mid, a);
  REQUIRE(mid.encodeState() == a.encodeState());
  // Every peer has everything now: the rest folds (to a chunk boundary).
  const Bytes midNow = mid.version();
  std::vector<ByteSpan> all = {midNow};
  REQUIRE(a.compactAcked(all) > 0);
  REQUIRE(a.opLog().folded() > 300);
  // No acknowledged version to respect: all of it, like compact().
  a.compactAcked({});
  REQUIRE(a.opLog().folded() == a.eventCount());
  REQUIRE(a.encodeState() == shown);
  a.checkInvariants();
}

TEST_CASE("a history budget folds the oldest history as calls go", "[compact]") {
  DatabaseOptions o;
  o.historyMaxBytes = 64 * 1024;
  Database db("a", o);
  const std::string big(400, 'x');
  for (int i = 0; i < 2000; ++i) {
    commitOps(db, {setOp("t", "k" + std::to_string(i % 50), {{"v", i}, {"pad", big}})});
    REQUIRE(db.opLog().approxBytes() <= o.historyMaxBytes + 600);
  }
  REQUIRE(db.opLog().folded() > 0);
  Database peer("b");
  syncFrom(peer, db);
  REQUIRE(peer.encodeState() == db.encodeState());
}

TEST_CASE("folded history persists and reopens equal", "[compact][store]") {
  StoreSim s;
  Database db("a");
  db.declareIndexes(kDefs);
  db.trackStorage(true);
  Database other("b");
  std::mt19937_64 rng(3);
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 40; ++i) {
      commitOps(db, {setOp("users", "u" + std::to_string(rng() % 9), {{"x", int(rng() % 5)}})});
      if (i % 7 == 0) s.take(db);
    }
    commitOps(other, {setOp("users", "u" + std::to_string(rng() % 9), {{"x", 7}})});
    syncFrom(db, other);
    db.compact(round % 2 ? 0 : 200);
    commitOps(db, {updateOp("users", "u0", {{"y", round}})});
    s.take(db);
    auto re = s.open("a", kDefs);
    REQUIRE(state(*re) == state(db));
    REQUIRE(re->opLog().folded() == db.opLog().folded());
    REQUIRE(allChanges(*re) == allChanges(db));
    REQUIRE(changesSinceVersion(*re, other.version()) == changesSinceVersion(db, other.version()));
    re->checkInvariants();
    db.checkInvariants();
  }
  REQUIRE(s.events.begin()->first == std::make_pair(LV{0}, LV{0}));  // the folded record
}

TEST_CASE("a broken snapshot is refused and changes nothing", "[compact][decoder]") {
  Pair p;
  p.a.compact();
  Database empty("e");
  const Bytes snap = changesSinceVersion(p.a, empty.version());
  const ByteSpan payload = decodeFrame(snap, FrameKind::Snapshot);
  Database target("t");
  target.declareIndexes(kDefs);
  commitOps(target, {setOp("users", "u1", {{"x", 1}})});
  const std::string before = state(target);
  int refused = 0, joined = 0;
  auto attempt = [&](const Bytes& pl) {
    const Bytes m = encodeFrame(FrameKind::Snapshot, pl);
    Database t("t");
    t.declareIndexes(kDefs);
    commitOps(t, {setOp("users", "u1", {{"x", 1}})});
    try {
      t.applyChanges(m);
      t.checkInvariants();
      ++joined;
    } catch (const DecodeError&) {
      REQUIRE(state(t) == before);
      ++refused;
    }
  };
  for (std::size_t len = 0; len < payload.size(); ++len) {
    attempt(Bytes(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(len)));
  }
  for (std::size_t bit = 0; bit < payload.size() * 8; bit += 3) {
    Bytes pl(payload.begin(), payload.end());
    pl[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    attempt(pl);
  }
  REQUIRE(refused > static_cast<int>(payload.size()));
  INFO(joined << " flipped snapshots were valid (a value byte can flip to another value)");
}

TEST_CASE("a failed allocation in a snapshot join or a fold leaves the replica as it was",
          "[compact][atomicity]") {
  for (int call = 0; call < 3; ++call) {
    bool done = false;
    for (std::int64_t k = 0; !done; ++k) {
      Pair p;
      Database t("t");
      t.declareIndexes(kDefs);
      commitOps(t, {setOp("users", "u1", {{"x", 1}}), setOp("users", "u2", {{"x", 2}})});
      Database empty("e");
      if (call == 0) p.a.compact();
      const Bytes snap = changesSinceVersion(p.a, empty.version());
      Database& target = call == 0 ? t : p.a;
      const std::string before = state(target);
      const Bytes history = allChanges(target);
      failAllocation(k);
      try {
        if (call == 0) {
          target.applyChanges(snap);
        } else {
          target.compact(call == 1 ? 0 : 100);
        }
        done = true;
      } catch (const std::bad_alloc&) {
      }
      failNone();
      if (done) break;
      INFO("call " << call << " failed at allocation " << k);
      REQUIRE(state(target) == before);
      REQUIRE(allChanges(target) == history);
      target.checkInvariants();
    }
  }
}

TEST_CASE("a snapshot join costs what the rows hold, not what the history held",
          "[compact][work]") {
  auto checksFor = [](int rows, int updates) {
    Database src("s");
    for (int i = 0; i < rows; ++i)
      commitOps(src, {setOp("t", "k" + std::to_string(i), {{"v", i}})});
    for (int i = 0; i < updates; ++i) {
      commitOps(src, {updateOp("t", "k" + std::to_string(i % rows), {{"v", i}, {"w", 1}})});
    }
    src.compact();
    Database dst("d");
    for (int i = 0; i < rows; ++i)
      commitOps(dst, {setOp("t", "k" + std::to_string(i), {{"v", -i}})});
    Database empty("e");
    const Bytes snap = changesSinceVersion(src, empty.version());
    const std::uint64_t before = dst.work().observedChecks;
    dst.applyChanges(snap);
    return dst.work().observedChecks - before;
  };
  const std::uint64_t base = checksFor(200, 400);
  REQUIRE(base > 0);
  REQUIRE(checksFor(200, 4000) <= base + base / 10);     // 10× the history: the same work
  REQUIRE(checksFor(400, 800) <= 2 * base + base / 10);  // 2× the rows: twice the work
}
