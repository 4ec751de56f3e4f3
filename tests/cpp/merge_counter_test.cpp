// Counter columns (merge/counter.h) through Database: local semantics, concurrent merges,
// claims, type checks, atomicity, persistence, snapshots, indexes and work counters.
#include <catch2/catch.hpp>

#include "core/errors.h"
#include "db/database.h"
#include "merge/counter.h"
#include "store/key_codec.h"
#include "support/craft.h"
#include "support/error_of.h"
#include "support/history.h"
#include "support/store_sim.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op inc(const std::string& col, const Json& delta, const std::string& key = "k") {
  return Op{OpKind::Increment, "t", key, {{col, enc(delta)}}};
}
std::optional<Json> row(const Database& db, const std::string& key = "k") {
  return rowJson(db, "t", key);
}
Json column(const Database& db, const std::string& col) { return (*row(db))[col]; }
void syncBoth(Database& a, Database& b) {
  syncFrom(a, b);
  syncFrom(b, a);
}

}  // namespace

TEST_CASE("increments add to a number, and a missing column starts from 0", "[counters]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"n", 5}, {"f", 1.5}, {"s", "x"}})});
  commitOps(db, {inc("n", 2), inc("n", -10), inc("fresh", 3), inc("f", 1)});
  REQUIRE(column(db, "n") == -3);
  REQUIRE(column(db, "fresh") == 3);
  REQUIRE(column(db, "f") == 2.5);
  commitOps(db, {inc("zero", 0)});
  REQUIRE(column(db, "zero") == 0);  // an increment by 0 still makes the column
  // Past 2^53 the sum reads as the nearest double; integers below stay exact.
  commitOps(db, {inc("big", (std::int64_t{1} << 53) - 1), inc("big", 1)});
  REQUIRE(column(db, "big") == 9007199254740992.0);
  REQUIRE(conflictsJson(db, "t", "k") == Json::object());  // increments are not writes
  db.checkInvariants();
}

TEST_CASE("increment type checks, missing rows and atomicity", "[counters]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"s", "x"}, {"arr", Json::array({1})}, {"nil", nullptr}})});
  commitOps(db, {Op{OpKind::AddToSet, "t", "k", {{"set", enc(1)}}}});
  const Bytes state = db.encodeState(), version = db.version();
  for (const char* col : {"s", "arr", "nil", "set"}) {
    INFO(col);
    REQUIRE(errorOf([&] { commitOps(db, {inc(col, 1)}); }) == ErrorCode::Type);
  }
  REQUIRE(errorOf([&] { commitOps(db, {inc("n", 1.5)}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {inc("n", "1")}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {inc("n", 1, "nope")}); }) == ErrorCode::NotFound);
  REQUIRE(errorOf([&] {
            commitOps(db, {Op{OpKind::Increment, "t", "k", {}}});
          }) == ErrorCode::Type);
  // The engine makes counter resets; callers cannot.
  REQUIRE(errorOf([&] {
            commitOps(db, {Op{OpKind::CounterReset, "t", "k", {}}});
          }) == ErrorCode::Type);
  // Checked on the row as the transaction's earlier ops leave it; nothing of it stays.
  REQUIRE(errorOf([&] {
            commitOps(db, {inc("n", 1), updateOp("t", "k", {{"n", "text"}}), inc("n", 1)});
          }) == ErrorCode::Type);
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  commitOps(db, {updateOp("t", "k", {{"s", 1}}), inc("s", 1)});  // a number now
  REQUIRE(column(db, "s") == 2);
  db.checkInvariants();
}

TEST_CASE("a write replaces exactly the increments it has seen", "[counters]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"n", 0}})});
  commitOps(a, {inc("n", 1)});
  syncFrom(b, a);
  // b has seen a's +1 and sets 10; a concurrently adds 1 more, which b has not seen.
  commitOps(b, {updateOp("t", "k", {{"n", 10}})});
  commitOps(a, {inc("n", 1)});
  syncBoth(a, b);
  REQUIRE(column(a, "n") == 11);
  REQUIRE(column(b, "n") == 11);
  REQUIRE(a.encodeState() == b.encodeState());
  // Concurrent increments of both add up.
  commitOps(a, {inc("n", 5)});
  commitOps(b, {inc("n", 7)});
  syncBoth(a, b);
  REQUIRE(column(a, "n") == 23);
  REQUIRE(a.encodeState() == b.encodeState());
  // A row set that omits the column removes what it saw; an unseen increment shows alone.
  commitOps(a, {setOp("t", "k", {{"other", 1}})});
  commitOps(b, {inc("n", 2)});
  syncBoth(a, b);
  REQUIRE(*row(a) == Json::parse(R"({"other":1,"n":2})"));
  REQUIRE(a.encodeState() == b.encodeState());
  // A delete concurrent with an increment: the row stays deleted, the increment is kept.
  commitOps(a, {deleteOp("t", "k")});
  commitOps(b, {inc("n", 4)});
  syncBoth(a, b);
  REQUIRE(!row(a));
  REQUIRE(!row(b));
  REQUIRE(a.encodeState() == b.encodeState());
  a.checkInvariants();
  // A set that has seen it removes it.
  commitOps(a, {setOp("t", "k", {})});
  syncBoth(a, b);
  REQUIRE(*row(b) == Json::object());
  // ...and later increments start again from what is left.
  commitOps(b, {inc("n", 3)});
  syncBoth(a, b);
  REQUIRE(column(a, "n") == 3);
  REQUIRE(a.encodeState() == b.encodeState());
  a.checkInvariants();
  b.checkInvariants();
}

TEST_CASE("a winning non-number hides increments, and a later number write drops them",
          "[counters]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"n", 1}})});
  syncFrom(b, a);
  commitOps(a, {updateOp("t", "k", {{"n", "text"}})});
  commitOps(b, {inc("n", 2)});
  syncBoth(a, b);
  REQUIRE(column(a, "n") == "text");  // a's write wins nothing over b's increment: it hides it
  REQUIRE(a.encodeState() == b.encodeState());
  REQUIRE(errorOf([&] { commitOps(a, {inc("n", 1)}); }) == ErrorCode::Type);
  // A number write that has seen the hidden increment removes it.
  commitOps(b, {updateOp("t", "k", {{"n", 100}})});
  syncBoth(a, b);
  REQUIRE(column(a, "n") == 100);
  REQUIRE(a.encodeState() == b.encodeState());
  a.checkInvariants();
}

TEST_CASE("a write that sees no live increments records no claims", "[counters][work]") {
  // Claims cost one event, once: the next write of the row names nothing to remove.
  Database a("alice");
  commitOps(a, {setOp("t", "k", {{"n", 0}})});
  commitOps(a, {inc("n", 1)});
  REQUIRE(commitOps(a, {updateOp("t", "k", {{"n", 5}})}).applied == 2);  // the write + claims
  REQUIRE(commitOps(a, {updateOp("t", "k", {{"n", 6}})}).applied == 1);
  REQUIRE(commitOps(a, {updateOp("t", "k", {{"other", 1}})}).applied == 1);
  // One transaction that creates a row, increments and overwrites it claims within itself.
  const ChangeSet cs =
      commitOps(a, {setOp("t", "k2", {}), inc("n", 4, "k2"), updateOp("t", "k2", {{"n", 1}})});
  REQUIRE(cs.applied == 4);
  REQUIRE((*row(a, "k2"))["n"] == 1);
  Database b("bob");
  b.applyChanges(allChanges(a));
  REQUIRE((*row(b, "k2"))["n"] == 1);
  REQUIRE(b.encodeState() == a.encodeState());
}

TEST_CASE("claims naming events their op has not seen are refused", "[counters][decoder]") {
  Database a("alice");
  commitOps(a, {setOp("t", "k", {{"n", 0}})});
  // A forged reset by "mallory" claiming an increment of alice's that it has not seen.
  Crafter c;
  ByteWriter claims;
  writeClaims({{"alice", 0, 0}}, claims);
  c.write("mallory", 0, {}, "t", "k", "n", claims.bytes(), OpKind::CounterReset);
  const Bytes state = a.encodeState(), version = a.version();
  REQUIRE(errorOf([&] { a.applyChanges(c.message()); }) == ErrorCode::Decode);
  REQUIRE(a.encodeState() == state);
  REQUIRE(a.version() == version);
  // Malformed claims, and an increment by a non-integer, fail to decode.
  for (const Json& bad : {Json(1), Json::array({Json::array({"alice", 0, 0})}),
                          Json::array({Json::array({"alice", -1, 0, 0})}),
                          Json::array({Json::array({"alice", 0, 0, 4294967296.0})}),
                          Json::array({Json::array({"", 0, 0, 0})})}) {
    INFO(bad.dump());
    Crafter m;
    m.write("mallory", 0, {}, "t", "k", "n", enc(bad), OpKind::CounterReset);
    REQUIRE(errorOf([&] { a.applyChanges(m.message()); }) == ErrorCode::Decode);
  }
  Crafter d;
  d.write("mallory", 0, {}, "t", "k", "n", enc(1.5), OpKind::Increment);
  REQUIRE(errorOf([&] { a.applyChanges(d.message()); }) == ErrorCode::Decode);
  REQUIRE(a.encodeState() == state);
  // Claims round-trip totals across the whole int64 range.
  for (std::int64_t total : {std::int64_t{0}, std::int64_t{-1}, INT64_MIN, INT64_MAX}) {
    ByteWriter w;
    writeClaims({{"p", 7, total}}, w);
    const auto back = readClaims(w.bytes());
    REQUIRE(back.size() == 1);
    REQUIRE(back[0].total == total);
    REQUIRE(back[0].seq == 7);
  }
}

TEST_CASE("counter state survives storage and snapshots", "[counters]") {
  Database a("alice"), b("bob");
  a.declareIndexes({{"byN", "t", {"n"}}});
  a.trackStorage(true);
  StoreSim store;
  commitOps(a, {setOp("t", "k", {{"n", 10}}), inc("n", 5), inc("m", 1)});
  commitOps(a, {setOp("t", "gone", {}), inc("n", 1, "gone")});
  store.take(a);
  syncFrom(b, a);
  commitOps(b, {inc("n", 3)});
  commitOps(b, {inc("n", 2, "gone")});
  commitOps(a, {updateOp("t", "k", {{"n", 0}}), deleteOp("t", "gone")});  // not b's +3, +2
  syncBoth(a, b);
  store.take(a);
  REQUIRE(column(a, "n") == 3);
  REQUIRE(!row(a, "gone"));
  // Reopened: the same state (the deleted row keeps its counter), indexes and entries.
  auto reopened = store.open("alice", {{"byN", "t", {"n"}}});
  REQUIRE(reopened->encodeState() == a.encodeState());
  REQUIRE(column(*reopened, "n") == 3);
  REQUIRE(store.indexes == expectedIndexEntries(a));
  reopened->checkInvariants();
  // ...and goes on merging with the right running totals.
  commitOps(b, {inc("n", 1)});
  syncFrom(*reopened, b);
  REQUIRE(column(*reopened, "n") == 4);
  commitOps(*reopened, {updateOp("t", "k", {{"n", 1}})});
  store.take(*reopened);
  syncFrom(b, *reopened);
  REQUIRE(column(b, "n") == 1);
  REQUIRE(b.encodeState() == reopened->encodeState());
}

TEST_CASE("snapshots carry counter entries", "[counters]") {
  Database x("xavier"), y("yolanda");
  commitOps(x, {setOp("t", "k", {{"n", 0}}), inc("n", 1)});
  syncFrom(y, x);
  commitOps(y, {inc("n", 6)});                     // not in x's snapshot
  commitOps(x, {updateOp("t", "k", {{"n", 1}})});  // has seen x's +1 only
  x.compact();
  Database c("carol");
  c.applyChanges(x.changesSince(nullptr));
  REQUIRE(c.encodeState() == x.encodeState());
  REQUIRE(column(c, "n") == 1);
  commitOps(c, {inc("n", 2)});
  syncFrom(c, y);
  syncFrom(x, c);
  syncFrom(y, x);
  REQUIRE(column(c, "n") == 9);
  REQUIRE(column(x, "n") == 9);
  REQUIRE(column(y, "n") == 9);
  // y's later increments reach c through a snapshot of x that has them.
  commitOps(y, {inc("n", 100)});
  syncFrom(x, y);
  x.compact();
  syncFrom(c, x);
  REQUIRE(column(c, "n") == 109);
  REQUIRE(c.encodeState() == x.encodeState());
  c.checkInvariants();
  x.checkInvariants();
}

TEST_CASE("an index over a counter column holds its sum", "[counters]") {
  Database db("a");
  db.declareIndexes({{"byN", "t", {"n"}}});
  commitOps(db, {setOp("t", "k", {{"n", 1}}), inc("n", 41)});
  commitOps(db, {setOp("t", "k2", {}), inc("n", 7, "k2")});
  KeyRange eq;
  eq.kind = KeyRange::Kind::Bounds;
  std::string key;
  appendKey(key, enc(42));
  eq.lower = eq.upper = key;
  REQUIRE(keysOf(db, db.query("t", "byN", eq, {})) == std::vector<std::string>{"k"});
  REQUIRE(db.query("t", "byN", KeyRange{}, {}).size() == 2);
  commitOps(db, {inc("n", -41)});
  REQUIRE(db.query("t", "byN", eq, {}).empty());
  db.checkInvariants();
}

TEST_CASE("a call's many increments compute a counter once", "[counters][work]") {
  // 2000 increments in one transaction, and the same as one message elsewhere.
  constexpr int n = 2000;
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"n", 0}})});
  syncFrom(b, a);
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) ops.push_back(inc("n", 1));
  const std::uint64_t before = a.rows().counterCellsRefreshed();
  const Bytes msg = commitOps(a, ops).update;
  REQUIRE(a.rows().counterCellsRefreshed() - before <= 2);
  const std::uint64_t remoteBefore = b.rows().counterCellsRefreshed();
  b.applyChanges(msg);
  REQUIRE(b.rows().counterCellsRefreshed() - remoteBefore <= 2);
  REQUIRE(column(b, "n") == n);
  // Increments are runs of one peer's events: the message costs about a byte or two each
  // beyond its first.
  REQUIRE(msg.size() < 8 * static_cast<std::size_t>(n));
}

TEST_CASE("claims stay one per peer however many increments they cover", "[counters][work]") {
  // 300 peers increment one counter 5 times each; one write then claims 300 entries, and a
  // replica applying it does O(peers) work, not O(increments).
  constexpr int peers = 300;
  Database hub("hub");
  commitOps(hub, {setOp("t", "k", {{"n", 0}})});
  const Bytes base = allChanges(hub);
  for (int p = 0; p < peers; ++p) {
    Database d("p" + std::to_string(p));
    d.applyChanges(base);
    for (int i = 0; i < 5; ++i) commitOps(d, {inc("n", 1)});
    hub.applyChanges(changesSinceVersion(d, hub.version()));
  }
  REQUIRE(column(hub, "n") == 5 * peers);
  const ChangeSet cs = commitOps(hub, {updateOp("t", "k", {{"n", 0}})});
  REQUIRE(cs.applied == 2);
  const auto txns = decodeMessage(cs.update);
  REQUIRE(txns.size() == 1);
  const auto claims = readClaims(txns[0].ops[1].columns[0].second);
  REQUIRE(claims.size() == peers);
  Database late("late");
  late.applyChanges(allChanges(hub));
  REQUIRE(column(late, "n") == 0);
  REQUIRE(late.encodeState() == hub.encodeState());
}

TEST_CASE("staged increments: reads fold them, a type clash stages nothing",
          "[counters][staging]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"n", 1}, {"s", "x"}})});
  stageOps(db, {inc("n", 2)});
  stageOps(db, {inc("fresh", 3)});
  REQUIRE(stagedJson(db.stagedRow("t", "k")) == Json::parse(R"({"fresh":3,"n":3,"s":"x"})"));
  REQUIRE(errorOf([&] { stageOps(db, {inc("s", 1)}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { stageOps(db, {inc("n", 0.5)}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { stageOps(db, {inc("n", 1, "nope")}); }) == ErrorCode::NotFound);
  REQUIRE(db.stagedCount() == 2);
  commitStagedOps(db);
  REQUIRE(column(db, "n") == 3);
  REQUIRE(column(db, "fresh") == 3);
  // undoLast brings the committed row back, counters included.
  REQUIRE(db.undoLast());
  REQUIRE(column(db, "n") == 1);
  REQUIRE(!row(db)->contains("fresh"));
  db.checkInvariants();
}
