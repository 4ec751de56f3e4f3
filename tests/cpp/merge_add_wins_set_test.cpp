// Add-wins set columns (merge/add_wins_set.h) through Database: local semantics, concurrent
// merges, type checks, atomicity, persistence, snapshots and multiEntry index entries.
#include <catch2/catch.hpp>

#include "core/errors.h"
#include "db/database.h"
#include "merge/add_wins_set.h"
#include "store/key_codec.h"
#include "support/error_of.h"
#include "support/store_sim.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op add(const std::string& col, const Json& e) {
  return Op{OpKind::AddToSet, "t", "k", {{col, enc(e)}}};
}
Op remove(const std::string& col, const Json& e) {
  return Op{OpKind::RemoveFromSet, "t", "k", {{col, enc(e)}}};
}
std::optional<Json> row(const Database& db) { return rowJson(db, "t", "k"); }
Json column(const Database& db, const std::string& col) { return (*row(db))[col]; }

}  // namespace

TEST_CASE("set order: keys in IndexedDB order, then the rest by JSON text", "[sets]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"n", 1}})});
  for (const Json& e : {Json("b"), Json(2), Json::object({{"x", 1}}), Json("a"), Json(true),
                        Json::array({1}), Json(nullptr), Json(-1.5), Json::array({1, true})}) {
    commitOps(db, {add("s", e)});
  }
  REQUIRE(column(db, "s") ==
          Json::parse(R"([-1.5, 2, "a", "b", [1], [1,true], null, true, {"x":1}])"));
  // Adding again shows nothing new (its dot replaces the older one); the value is a set.
  commitOps(db, {add("s", "a")});
  REQUIRE(column(db, "s") ==
          Json::parse(R"([-1.5, 2, "a", "b", [1], [1,true], null, true, {"x":1}])"));
  REQUIRE(isSetValue(rowOf(db, "t", "k")->at("s")));
  commitOps(db, {remove("s", "a"), remove("s", Json::object({{"x", 1}})), remove("s", "zzz")});
  REQUIRE(column(db, "s") == Json::parse(R"([-1.5, 2, "b", [1], [1,true], null, true])"));
  db.checkInvariants();
}

TEST_CASE("set ops: missing columns, type clashes and missing rows", "[sets]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"name", "x"}})});
  commitOps(db, {remove("fresh", 1)});
  REQUIRE(!row(db)->contains("fresh"));  // a remove is not a write: nothing to remove from
  commitOps(db, {add("fresh", 1), remove("fresh", 1)});
  REQUIRE(column(db, "fresh") == Json::array());  // an emptied set stays a set
  const Bytes state = db.encodeState(), version = db.version();
  REQUIRE(errorOf([&] { commitOps(db, {add("name", 1)}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {add("s", 1), add("name", 1)}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] {
            commitOps(db, {Op{OpKind::AddToSet, "t", "nope", {{"s", enc(1)}}}});
          }) == ErrorCode::NotFound);
  REQUIRE(errorOf([&] { commitOps(db, {Op{OpKind::AddToSet, "t", "k", {}}}); }) == ErrorCode::Type);
  REQUIRE(db.encodeState() == state);  // nothing of a rejected transaction stays
  REQUIRE(db.version() == version);
  // The type is checked on the row as the transaction's earlier ops leave it.
  REQUIRE(errorOf([&] {
            commitOps(db, {updateOp("t", "k", {{"s", "text"}}), add("s", 1)});
          }) == ErrorCode::Type);
  commitOps(db, {add("s", 1), updateOp("t", "k", {{"s", Json::array({1, 1})}})});
  REQUIRE(column(db, "s") == Json::array({1, 1}));  // a plain array replaces the set
  REQUIRE(errorOf([&] { commitOps(db, {add("s", 2)}); }) == ErrorCode::Type);
  db.checkInvariants();
}

TEST_CASE("a concurrent add wins over a remove, which takes only what it has seen", "[sets]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {}), add("s", "x")});
  syncFrom(b, a);
  commitOps(a, {remove("s", "x")});
  commitOps(b, {add("s", "x"), add("s", "y")});
  syncFrom(a, b);
  syncFrom(b, a);
  REQUIRE(column(a, "s") == Json::array({"x", "y"}));
  REQUIRE(a.encodeState() == b.encodeState());
  // Concurrent set ops are not conflicts.
  REQUIRE(conflictsJson(a, "t", "k").empty());
  commitOps(b, {remove("s", "x")});  // has seen both adds
  syncFrom(a, b);
  REQUIRE(column(a, "s") == Json::array({"y"}));
  a.checkInvariants();
}

TEST_CASE("plain writes remove the elements they have seen, not concurrent adds", "[sets]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {}), add("s", "old")});
  syncFrom(b, a);
  commitOps(b, {add("s", "new")});  // concurrent with a's update
  commitOps(a, {updateOp("t", "k", {{"s", "plain"}})});
  syncFrom(a, b);
  syncFrom(b, a);
  REQUIRE(a.encodeState() == b.encodeState());
  // Both are the third event (same Lamport time): the greater peer id, "bob", wins; the
  // update stays a conflict, and the element it had seen is gone.
  REQUIRE(column(a, "s") == Json::array({"new"}));
  REQUIRE(conflictsJson(a, "t", "k") == Json::parse(R"({"s":["plain"]})"));
  // A delete concurrent with an add keeps the add's element (the row stays deleted).
  commitOps(a, {deleteOp("t", "k")});
  commitOps(b, {add("s", "late")});
  syncFrom(a, b);
  syncFrom(b, a);
  REQUIRE(!row(a));
  REQUIRE(a.encodeState() == b.encodeState());
  commitOps(a, {setOp("t", "k", {})});  // has seen the late add: removes it
  REQUIRE(row(a) == Json::object());
}

TEST_CASE("set state survives storage and snapshots", "[sets]") {
  Database a("alice"), b("bob");
  a.declareIndexes({{"bySet", "t", {"s"}}});
  a.trackStorage(true);
  StoreSim store;
  commitOps(a, {setOp("t", "k", {}), add("s", 1), add("s", "two")});
  store.take(a);
  syncFrom(b, a);
  commitOps(b, {add("s", 3)});
  commitOps(a, {remove("s", 1)});
  syncFrom(a, b);
  store.take(a);
  // Reopened from storage: the same state, indexes and stored entries (one per element).
  auto reopened = store.open("alice", {{"bySet", "t", {"s"}}});
  REQUIRE(reopened->encodeState() == a.encodeState());
  REQUIRE(column(*reopened, "s") == Json::array({3, "two"}));
  REQUIRE(store.indexes == expectedIndexEntries(a));
  REQUIRE(store.indexes.size() == 2);
  reopened->checkInvariants();
  // ...and it goes on merging: b's concurrent add of 1 (it has not seen a's remove) returns it.
  commitOps(b, {add("s", 1)});
  syncFrom(*reopened, b);
  REQUIRE(column(*reopened, "s") == Json::array({1, 3, "two"}));
  // A snapshot carries the dots: a peer that lacks folded history joins it.
  a.compact();
  Database c("carol");
  c.applyChanges(a.changesSince(nullptr));
  REQUIRE(column(c, "s") == Json::array({3, "two"}));
  REQUIRE(c.encodeState() == a.encodeState());
  commitOps(c, {remove("s", 3)});  // c has seen 3 through the snapshot: it removes it
  syncFrom(a, c);
  REQUIRE(column(a, "s") == Json::array({"two"}));
  // b's concurrent add of 1 reaches c through a snapshot of a that has it.
  syncFrom(a, b);
  a.compact();
  syncFrom(c, a);
  REQUIRE(column(c, "s") == Json::array({1, "two"}));
  REQUIRE(c.encodeState() == a.encodeState());
  c.checkInvariants();
  a.checkInvariants();
}

TEST_CASE("an index over a set column has an entry per element that is a key", "[sets]") {
  Database db("a");
  db.declareIndexes({{"bySet", "t", {"s"}}, {"byPair", "t", {"n", "s"}}});
  commitOps(db, {setOp("t", "k", {{"n", 1}}), add("s", "b"), add("s", 2), add("s", true)});
  commitOps(db, {Op{OpKind::SetRow, "t", "k2", {{"s", enc(Json::array({"b", 2}))}}}});
  KeyRange all;
  REQUIRE(db.query("t", "bySet", all, {}).size() == 3);  // k: 2 and "b"; k2: one array key
  KeyRange eq;
  eq.kind = KeyRange::Kind::Bounds;
  std::string b;
  appendKey(b, enc("b"));
  eq.lower = eq.upper = b;
  REQUIRE(keysOf(db, db.query("t", "bySet", eq, {})) == std::vector<std::string>{"k"});
  // In a compound index a set is one array key: none while it holds `true`, not a key.
  REQUIRE(db.query("t", "byPair", all, {}).empty());
  commitOps(db, {remove("s", true)});
  REQUIRE(db.query("t", "byPair", all, {}).size() == 1);  // [1, [2, "b"]]
  commitOps(db, {remove("s", "b")});
  REQUIRE(db.query("t", "bySet", eq, {}).empty());
  db.checkInvariants();
}

TEST_CASE("a call's many ops on one set rebuild its value once", "[sets][work]") {
  // 2000 adds in one transaction, and the same as one message elsewhere: the set's read
  // value is built once per call (it would be 2000 times, O(n^2) bytes, per op).
  constexpr int n = 2000;
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"n", 1}})});
  syncFrom(b, a);
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) ops.push_back(add("s", i));
  const std::uint64_t before = a.rows().setCellsRefreshed();
  const Bytes msg = commitOps(a, ops).update;
  REQUIRE(a.rows().setCellsRefreshed() - before <= 2);
  const std::uint64_t remoteBefore = b.rows().setCellsRefreshed();
  b.applyChanges(msg);
  REQUIRE(b.rows().setCellsRefreshed() - remoteBefore <= 2);
  REQUIRE(column(b, "s").size() == n);
  REQUIRE(b.encodeState() == a.encodeState());
  b.checkInvariants();
}

TEST_CASE("staged set ops: reads fold them, a type clash stages nothing", "[sets][staging]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"name", "x"}}), add("s", "committed")});
  stageOps(a, {add("s", "one")});
  stageOps(a, {remove("s", "committed"), add("s", 0)});
  REQUIRE(stagedJson(a.stagedRow("t", "k")) == Json::parse(R"({"name":"x","s":[0,"one"]})"));
  REQUIRE(errorOf([&] { stageOps(a, {add("name", 1)}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] {
            stageOps(a, {updateOp("t", "k", {{"s", "plain"}}), add("s", 1)});
          }) == ErrorCode::Type);
  REQUIRE(a.stagedCount() == 3);  // the refused batches staged nothing
  // A change committed while the transaction is open shows through its reads.
  commitOps(b, {setOp("t", "k", {}), add("s", "b")});
  syncFrom(a, b);
  const Json seen = stagedJson(a.stagedRow("t", "k"));
  REQUIRE(seen["s"] == Json::parse(R"([0, "b", "one"])"));  // the merged row, then the stage
  commitStagedOps(a);
  REQUIRE(column(a, "s") == Json::parse(R"([0, "b", "one"])"));
  a.checkInvariants();
}

TEST_CASE("ops staged one by one fold once each", "[sets][staging][work]") {
  // A transaction staging m set ops one at a time (as db.transaction does), reading the row
  // and querying its table after each: every op is folded into the row once (it was m² before).
  constexpr int m = 1000;
  Database db("a");
  commitOps(db, {setOp("t", "k", {})});
  const std::uint64_t before = db.staging().foldedOps();
  for (int i = 0; i < m; ++i) {
    stageOps(db, {add("s", i)});
    REQUIRE(db.stagedRow("t", "k").has_value());
    REQUIRE(db.queryStaged("t", "", KeyRange{}, {}).size() == 1);  // staged queries fold too
  }
  REQUIRE(db.staging().foldedOps() - before <= 2 * m);
  REQUIRE(stagedJson(db.stagedRow("t", "k"))["s"].size() == m);
  commitStagedOps(db);
  REQUIRE(column(db, "s").size() == m);
}

TEST_CASE("a staged read after undoLast sees the committed row as it is again", "[sets][staging]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {}), add("s", 1)});
  stageOps(db, {add("s", 2)});
  commitOps(db, {add("s", 3)});
  REQUIRE(stagedJson(db.stagedRow("t", "k"))["s"] == Json::array({1, 2, 3}));
  REQUIRE(db.undoLast());  // the commit of 3 is undone (the row is not touched again)
  REQUIRE(stagedJson(db.stagedRow("t", "k"))["s"] == Json::array({1, 2}));
}

TEST_CASE("a set element may nest one level less than a column value", "[sets][decoder]") {
  // The set's read value holds it one level down, and must still be a valid column value.
  auto nested = [](int levels) {
    Json j = Json::array();
    for (int i = 1; i < levels; ++i) j = Json::array({j});
    return j;
  };
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {}), add("s", nested(kMaxValueDepth))});  // 64 levels: fits
  const Bytes plain = enc(column(a, "s"));  // the read value, as a plain array
  ByteReader r(plain);
  REQUIRE(scanValue(r).depth == kMaxValueDepth);  // a valid column value, at the limit
  // One level more, sent by a peer that did not check it: a DecodeError, nothing applied.
  Database c("carol");
  const Bytes ok = commitOps(c, {setOp("t", "k", {}), add("s", 1)}).update;
  Bytes deep = commitOps(c, {add("s", nested(kMaxValueDepth + 1))}).update;
  b.applyChanges(ok);
  const Bytes state = b.encodeState();
  REQUIRE_THROWS_AS(b.applyChanges(deep), DecodeError);
  REQUIRE(b.encodeState() == state);
}
