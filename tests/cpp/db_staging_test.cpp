// Staged transactions (db.transaction): ops accumulate, visible only to staged reads, then
// commit as one transaction or roll back.
#include <catch2/catch.hpp>

#include "core/errors.h"
#include "db/database.h"
#include "db/staging.h"
#include "support/history.h"
#include "support/ranges.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op set(std::string key, const Json& row) { return setOp("users", std::move(key), row); }
Op update(std::string key, const Json& cols) { return updateOp("users", std::move(key), cols); }
Op del(std::string key) { return deleteOp("users", std::move(key)); }

std::vector<std::string> committedKeys(const Database& db, const std::string& index) {
  return keysOf(db, db.query("users", index, KeyRange{}, {}));
}

std::vector<std::string> stagedKeys(const Database& db, const std::string& index,
                                    const KeyRange& range = {}, const QueryOptions& o = {}) {
  std::vector<std::string> out;
  for (const StagedHit& h : db.queryStaged("users", index, range, o)) out.push_back(h.key);
  return out;
}

}  // namespace

TEST_CASE("staged transactions are visible only to staged reads", "[db][staging]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  commitOps(db, {set("a", {{"age", 30}}), set("b", {{"age", 40}})});
  const Bytes state = db.encodeState(), version = db.version();
  stageOps(db, {set("c", {{"age", 35}}), del("a"), update("b", {{"age", 20}})});
  REQUIRE(db.stagedCount() == 3);
  REQUIRE(committedKeys(db, "byAge") == std::vector<std::string>{"a", "b"});
  REQUIRE(stagedKeys(db, "byAge") == std::vector<std::string>{"b", "c"});
  REQUIRE(stagedKeys(db, "") == std::vector<std::string>{"b", "c"});
  REQUIRE(db.count("users", "", KeyRange{}, true) == 2);
  REQUIRE(db.count("users", "", KeyRange{}, false) == 2);
  REQUIRE(db.count("users", "byAge", rangeOf({{"type", "above"}, {"value", 30}}), true) == 1);
  REQUIRE(db.count("users", "byAge", rangeOf({{"type", "above"}, {"value", 30}}), false) == 1);
  // Which hits are staged: c exists only in the transaction (no RowId yet), b was changed.
  for (const StagedHit& h : db.queryStaged("users", "byAge", KeyRange{}, {})) {
    INFO(h.key);
    REQUIRE(h.staged);
    if (h.key == "c") REQUIRE(h.row == kNoRow);
    if (h.key == "b") REQUIRE(h.row == *db.findRow("users", "b"));
  }
  REQUIRE(stagedJson(db.stagedRow("users", "b")) == Json({{"age", 20}}));
  REQUIRE(stagedJson(db.stagedRow("users", "c")) == Json({{"age", 35}}));
  REQUIRE(stagedJson(db.stagedRow("users", "a")) == nullptr);
  REQUIRE(rowJson(db, "users", "b") == Json({{"age", 40}}));
  REQUIRE(rowJson(db, "users", "a") == Json({{"age", 30}}));
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  // An update of a row the transaction deleted is refused and stages nothing.
  try {
    stageOps(db, {update("c", {{"age", 36}}), update("a", {{"age", 1}})});
    FAIL("update of a staged-deleted row accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::NotFound);
  }
  REQUIRE_THROWS_AS(stageOps(db, {set("", {{"age", 1}})}), Error);
  REQUIRE(db.stagedCount() == 3);  // the failed stage calls added nothing
  REQUIRE(stagedJson(db.stagedRow("users", "c")) == Json({{"age", 35}}));

  ChangeSet r = commitStagedOps(db, {update("c", {{"name", "Cy"}})});
  REQUIRE(db.stagedCount() == 0);
  REQUIRE(r.applied == 4);
  REQUIRE(r.rows.size() == 3);
  std::vector<TxnRecord> txns = decodeMessage(r.update);
  REQUIRE(txns.size() == 1);  // one transaction
  REQUIRE(txns[0].ops.size() == 4);
  REQUIRE(committedKeys(db, "byAge") == std::vector<std::string>{"b", "c"});
  REQUIRE(rowJson(db, "users", "c") == Json({{"age", 35}, {"name", "Cy"}}));
  REQUIRE_FALSE(rowJson(db, "users", "a").has_value());
  db.checkInvariants();
}

TEST_CASE("after rollbackStaged nothing is staged", "[db][staging]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  commitOps(db, {set("a", {{"age", 30}})});
  stageOps(db, {set("c", {{"age", 35}}), del("a")});
  stageOps(db, {update("c", {{"age", 36}})});
  REQUIRE(db.stagedCount() == 3);
  db.rollbackStaged();
  REQUIRE(db.stagedCount() == 0);
  REQUIRE(stagedKeys(db, "byAge") == std::vector<std::string>{"a"});
  REQUIRE(db.count("users", "", KeyRange{}, true) == 1);
  REQUIRE(stagedJson(db.stagedRow("users", "c")) == nullptr);
  REQUIRE(stagedJson(db.stagedRow("users", "a")) == Json({{"age", 30}}));
  // The next staged commit holds only its own ops.
  ChangeSet r = commitStagedOps(db, {set("d", {{"age", 1}})});
  REQUIRE(r.applied == 1);
  std::vector<TxnRecord> txns = decodeMessage(r.update);
  REQUIRE(txns.size() == 1);
  REQUIRE(txns[0].ops == std::vector<Op>{set("d", {{"age", 1}})});
  REQUIRE_FALSE(db.findRow("users", "c").has_value());
  REQUIRE(rowJson(db, "users", "a") == Json({{"age", 30}}));
  // And so does a plain commit after another rollback.
  stageOps(db, {del("a"), del("d")});
  db.rollbackStaged();
  ChangeSet plain = commitOps(db, {update("a", {{"age", 31}})});
  REQUIRE(decodeMessage(plain.update)[0].ops == std::vector<Op>{update("a", {{"age", 31}})});
  REQUIRE(db.stagedCount() == 0);
  REQUIRE(rowJson(db, "users", "d") == Json({{"age", 1}}));
  db.checkInvariants();
}

TEST_CASE("an empty staged commit records nothing", "[db][staging]") {
  Database db("p");
  const Bytes version = db.version();
  ChangeSet r = commitStagedOps(db, {});
  REQUIRE(r.applied == 0);
  REQUIRE(r.update.empty());
  REQUIRE(db.version() == version);
}

TEST_CASE("a staged commit that fails keeps the transaction and changes nothing", "[db][staging]") {
  Database db("p");
  commitOps(db, {set("a", {{"age", 30}})});
  stageOps(db, {update("a", {{"age", 31}}), set("b", {{"age", 1}})});
  const Bytes state = db.encodeState(), version = db.version();
  try {
    commitStagedOps(db, {update("missing", {{"age", 1}})});
    FAIL("update of a missing row accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::NotFound);
  }
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  REQUIRE(db.stagedCount() == 2);
  // A remote delete between staging and commit makes the staged update fail at commit.
  Database other("q");
  syncFrom(other, db);
  commitOps(other, {del("a")});
  syncFrom(db, other);
  REQUIRE_THROWS_AS(commitStagedOps(db, {}), Error);
  REQUIRE(db.stagedCount() == 2);
  db.rollbackStaged();
  REQUIRE(commitStagedOps(db, {set("a", {{"age", 5}})}).applied == 1);
  db.checkInvariants();
}

TEST_CASE("staged reads fold sets, updates and deletes over the committed row", "[db][staging]") {
  Database db("p");
  commitOps(db, {set("a", {{"x", 1}, {"y", 2}})});
  stageOps(db, {update("a", {{"y", 3}, {"z", 4}})});
  REQUIRE(stagedJson(db.stagedRow("users", "a")) == Json({{"x", 1}, {"y", 3}, {"z", 4}}));
  stageOps(db, {set("a", {{"w", 0}})});
  REQUIRE(stagedJson(db.stagedRow("users", "a")) == Json({{"w", 0}}));
  stageOps(db, {del("a"), set("a", {{"v", "again"}}), update("a", {{"u", true}})});
  REQUIRE(stagedJson(db.stagedRow("users", "a")) == Json({{"u", true}, {"v", "again"}}));
  REQUIRE(stagedJson(db.stagedRow("other", "a")) == nullptr);
  REQUIRE(rowJson(db, "users", "a") == Json({{"x", 1}, {"y", 2}}));
  commitStagedOps(db);
  REQUIRE(rowJson(db, "users", "a") == Json({{"u", true}, {"v", "again"}}));

  // The Staging fold on its own.
  Staging s;
  s.add({set("k", {{"a", 1}}), update("k", {{"b", 2}}), setOp("t2", "k", {{"c", 3}})});
  REQUIRE(s.size() == 3);
  REQUIRE(s.touches("users", "k"));
  REQUIRE_FALSE(s.touches("users", "j"));
  REQUIRE(s.keysOf("users") == std::vector<std::string>{"k"});
  REQUIRE(stagedJson(s.fold("users", "k", std::nullopt)) == Json({{"a", 1}, {"b", 2}}));
  const std::vector<Op> extra = {del("k")};
  REQUIRE(stagedJson(s.fold("users", "k", std::nullopt, extra)) == nullptr);
  s.clear();
  REQUIRE(s.empty());
}

TEST_CASE("staged queries page, reverse and range like committed ones", "[db][staging]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  for (int i = 0; i < 6; ++i) commitOps(db, {set("u" + std::to_string(i), {{"age", i * 10}})});
  stageOps(db, {set("s1", {{"age", 15}}), update("u2", {{"age", 55}}), del("u4")});
  // ages: u0 0, u1 10, s1 15, u3 30, u5 50, u2 55
  REQUIRE(stagedKeys(db, "byAge") == std::vector<std::string>{"u0", "u1", "s1", "u3", "u5", "u2"});
  QueryOptions o;
  o.reverse = true;
  o.offset = 1;
  o.limit = 3;
  REQUIRE(stagedKeys(db, "byAge", KeyRange{}, o) == std::vector<std::string>{"u5", "u3", "s1"});
  REQUIRE(stagedKeys(db, "byAge", rangeOf({{"type", "between"}, {"lower", 10}, {"upper", 50}})) ==
          std::vector<std::string>{"u1", "s1", "u3"});
  REQUIRE(db.count("users", "byAge", rangeOf({{"type", "belowOrEqual"}, {"value", 15}}), true) ==
          3);
  // Keyset paging over the staged view: after the entry of s1.
  std::vector<StagedHit> firstPage = db.queryStaged("users", "byAge", KeyRange{}, [] {
    QueryOptions q;
    q.limit = 3;
    return q;
  }());
  REQUIRE(firstPage.back().key == "s1");
  std::string afterEntry = *keyOf(15);
  appendStringKey(afterEntry, "s1");
  QueryOptions next;
  next.after = afterEntry;
  REQUIRE(stagedKeys(db, "byAge", KeyRange{}, next) == std::vector<std::string>{"u3", "u5", "u2"});
}
