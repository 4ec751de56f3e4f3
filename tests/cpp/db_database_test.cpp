#include <catch2/catch.hpp>

#include "core/errors.h"
#include "db/database.h"
#include "support/history.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op set(std::string key, const Json& row) { return setOp("users", std::move(key), row); }
Op update(std::string key, std::string col, const Json& v) {
  return updateOp("users", std::move(key), Json{{std::move(col), v}});
}
Op del(std::string key) { return deleteOp("users", std::move(key)); }

std::optional<Json> row(const Database& db, const std::string& key) {
  return rowJson(db, "users", key);
}

const RowDelta* deltaOf(const Database& db, const ChangeSet& cs, const std::string& key) {
  for (const RowDelta& d : cs.rows) {
    if (db.rows().row(d.row).key == key) return &d;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("local commits apply at once and report changed rows", "[db]") {
  Database db("a");
  ChangeSet r = commitOps(db, {set("u1", {{"name", "Ann"}, {"age", 30}}), update("u1", "age", 31)});
  REQUIRE(r.rows.size() == 1);
  REQUIRE(r.rows[0].kind == RowDelta::New);
  REQUIRE(db.rows().row(r.rows[0].row).key == "u1");
  REQUIRE(db.findRow("users", "u1") == r.rows[0].row);
  REQUIRE(row(db, "u1") == Json({{"name", "Ann"}, {"age", 31}}));
  REQUIRE(r.applied == 2);
  REQUIRE(r.pending == 0);
  REQUIRE(db.eventCount() == 2);
  std::vector<TxnRecord> txns = decodeMessage(r.update);
  REQUIRE(txns.size() == 1);  // one transaction, two events
  REQUIRE(txns[0].peer == "a");
  REQUIRE(txns[0].seq == 0);
  REQUIRE(txns[0].parents.empty());
  REQUIRE(txns[0].ops.size() == 2);
  REQUIRE(txns[0].ops[1] == update("u1", "age", 31));
  ChangeSet d = commitOps(db, {del("u1")});
  REQUIRE(d.rows.size() == 1);
  REQUIRE(d.rows[0].kind == RowDelta::Gone);
  REQUIRE_FALSE(row(db, "u1").has_value());
  // Without wantUpdate the call does not encode the events.
  ChangeSet quiet = commitOps(db, {set("u2", {{"x", 1}})}, false);
  REQUIRE(quiet.update.empty());
  REQUIRE(quiet.applied == 1);
  db.checkInvariants();
}

TEST_CASE("row deltas say what changed: new, full, patch, gone", "[db]") {
  Database db("a");
  commitOps(db, {set("u", {{"a", 1}, {"b", 2}})});
  ChangeSet patch = commitOps(db, {update("u", "b", 3)});
  REQUIRE(patch.rows.size() == 1);
  REQUIRE(patch.rows[0].kind == RowDelta::Patch);
  REQUIRE(patch.rows[0].columns.size() == 1);
  REQUIRE(db.name(patch.rows[0].columns[0]) == "b");
  // Same value again: nothing visible changed.
  REQUIRE(commitOps(db, {update("u", "b", 3)}).rows.empty());
  // A column added or removed: the whole row.
  ChangeSet full = commitOps(db, {update("u", "c", 4)});
  REQUIRE(full.rows.size() == 1);
  REQUIRE(full.rows[0].kind == RowDelta::Full);
  REQUIRE(commitOps(db, {set("u", {{"a", 1}})}).rows[0].kind == RowDelta::Full);
  // Gone and new again within one call is a full change of a row that stays visible.
  ChangeSet again = commitOps(db, {del("u"), set("u", {{"z", true}})});
  REQUIRE(again.rows.size() == 1);
  REQUIRE(again.rows[0].kind == RowDelta::Full);
  REQUIRE(row(db, "u") == Json({{"z", true}}));
  // Created and deleted within one call: never visible, no delta.
  ChangeSet blip = commitOps(db, {set("v", {{"a", 1}}), del("v")});
  REQUIRE(blip.rows.empty());
  REQUIRE(blip.applied == 2);
  db.checkInvariants();
}

TEST_CASE("a failing transaction changes nothing", "[db]") {
  Database db("a");
  commitOps(db, {set("u1", {{"x", 1}})});
  const Bytes state = db.encodeState(), version = db.version(), history = allChanges(db);
  try {
    commitOps(db, {update("u1", "x", 2), update("nope", "x", 1)});
    FAIL("update of a missing row accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::NotFound);
    REQUIRE(std::string(e.what()).find("nope") != std::string::npos);
  }
  try {
    commitOps(db, {set("", {{"x", 1}})});
    FAIL("empty key accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::Type);
  }
  REQUIRE_THROWS_AS(commitOps(db, {setOp("", "k", {{"x", 1}})}), Error);
  REQUIRE_THROWS_AS(commitOps(db, {set("k\xff", {{"x", 1}})}), Error);
  REQUIRE_THROWS_AS(commitOps(db, {set(std::string(kMaxKeyBytes + 1, 'k'), {{"x", 1}})}), Error);
  REQUIRE_THROWS_AS(commitOps(db, {set("k", {{std::string(kMaxNameBytes + 1, 'c'), 1}})}), Error);
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  REQUIRE(allChanges(db) == history);
  // An update after a delete in the same transaction sees the delete.
  REQUIRE_THROWS_AS(commitOps(db, {del("u1"), update("u1", "x", 3)}), Error);
  REQUIRE(row(db, "u1") == Json({{"x", 1}}));
  // Deleting a row that never existed records nothing.
  ChangeSet ghost = commitOps(db, {del("ghost")});
  REQUIRE(ghost.update.empty());
  REQUIRE(ghost.applied == 0);
  REQUIRE(db.version() == version);
  REQUIRE(db.encodeState() == state);
  db.checkInvariants();
}

TEST_CASE("two replicas converge on concurrent writes", "[db]") {
  Database a("alice"), b("bob");
  commitOps(a, {set("u1", {{"x", 0}, {"y", 0}})});
  syncFrom(b, a);
  commitOps(a, {update("u1", "x", "a")});
  commitOps(b, {update("u1", "x", "b")});
  commitOps(b, {update("u1", "y", "b")});
  syncFrom(a, b);
  syncFrom(b, a);
  REQUIRE(row(a, "u1") == row(b, "u1"));
  REQUIRE(a.encodeState() == b.encodeState());
  REQUIRE(a.version() == b.version());
  // Both x writes have Lamport 2; "bob" > "alice" decides.
  REQUIRE(row(a, "u1") == Json({{"x", "b"}, {"y", "b"}}));
  REQUIRE(conflictsJson(a, "users", "u1") == Json({{"x", {"a"}}}));
  REQUIRE(conflictsJson(b, "users", "u1") == conflictsJson(a, "users", "u1"));
  // A later local write has seen both and wins everywhere.
  commitOps(a, {update("u1", "x", "final")});
  syncFrom(b, a);
  REQUIRE(row(b, "u1") == Json({{"x", "final"}, {"y", "b"}}));
  REQUIRE(conflictsJson(b, "users", "u1") == Json::object());
  a.checkInvariants();
  b.checkInvariants();
}

// Regression: Database::forEachLoser reported the existence token's losers as column 0, and
// boundary::writeConflicts sent them to JS as a column named "\xff".
TEST_CASE("conflicts name columns only, never the row's existence", "[db]") {
  // Two concurrent sets of one row both leave an existence token; the row is visible once,
  // and the conflicts are those of its columns. forEachLoser (what conflicts() sends to JS)
  // must not report the token, whose NameId 0 has no name ("\xff" reserves it).
  Database a("alice"), b("bob");
  commitOps(a, {set("k", {{"x", 1}})});
  commitOps(b, {set("k", {{"x", 2}})});
  syncFrom(a, b);
  syncFrom(b, a);
  REQUIRE(row(a, "k") == Json({{"x", 2}}));
  REQUIRE(conflictsJson(a, "users", "k") == Json({{"x", {1}}}));
  for (const auto& [col, v] : losersOf(a, "users", "k")) {
    INFO("loser of column " << col << " ("
                            << hexOf(ByteSpan(
                                   reinterpret_cast<const std::uint8_t*>(a.name(col).data()),
                                   a.name(col).size()))
                            << "): " << toJson(v));
    CHECK(col != kTokenColumn);
  }
}

TEST_CASE("set concurrent with delete wins, update concurrent with delete is lost", "[db]") {
  Database a("alice"), b("bob");
  commitOps(a, {set("s", {{"v", 1}}), set("u", {{"v", 1}})});
  syncFrom(b, a);
  commitOps(a, {del("s"), del("u")});
  commitOps(b, {set("s", {{"v", 2}}), update("u", "v", 2)});
  syncFrom(a, b);
  syncFrom(b, a);
  for (Database* db : {&a, &b}) {
    REQUIRE(row(*db, "s") == Json({{"v", 2}}));
    REQUIRE_FALSE(row(*db, "u").has_value());
  }
  REQUIRE(a.encodeState() == b.encodeState());
}

TEST_CASE("delivery is idempotent and order-independent, and gaps are held", "[db]") {
  Database a("alice"), b("bob");
  std::vector<Bytes> msgs;
  msgs.push_back(commitOps(a, {set("u1", {{"n", 1}})}).update);
  msgs.push_back(commitOps(a, {update("u1", "n", 2)}).update);
  msgs.push_back(commitOps(a, {update("u1", "n", 3)}).update);

  ChangeSet r = b.applyChanges(msgs[2]);
  REQUIRE(r.applied == 0);
  REQUIRE(r.pending == 1);
  REQUIRE_FALSE(row(b, "u1").has_value());
  r = b.applyChanges(msgs[1]);
  REQUIRE(r.applied == 0);
  REQUIRE(r.pending == 2);
  r = b.applyChanges(msgs[0], true);
  REQUIRE(r.applied == 3);
  REQUIRE(r.pending == 0);
  REQUIRE(r.rows.size() == 1);
  REQUIRE(r.rows[0].kind == RowDelta::New);
  // The update carries the released events too.
  REQUIRE(eventCountOf(decodeMessage(r.update)) == 3);
  REQUIRE(row(b, "u1") == Json({{"n", 3}}));
  const Bytes state = b.encodeState();
  for (const auto& m : msgs) {
    ChangeSet again = b.applyChanges(m, true);
    REQUIRE(again.applied == 0);
    REQUIRE(again.rows.empty());
    REQUIRE(again.update.empty());
  }
  REQUIRE(b.applyChanges(allChanges(a)).applied == 0);
  REQUIRE(b.encodeState() == state);
  REQUIRE(b.version() == a.version());
  b.checkInvariants();
}

TEST_CASE("a causally early event is held, not applied, until its predecessor arrives", "[db]") {
  Database a("alice"), b("bob"), c("carol");
  const Bytes first = commitOps(a, {set("k", {{"v", 1}})}).update;
  syncFrom(c, a);
  // carol's write depends on alice's; bob has seen neither.
  const Bytes early = commitOps(c, {update("k", "v", 2), set("c-only", {{"w", 1}})}).update;
  const Bytes beforeVersion = b.version(), beforeState = b.encodeState();
  ChangeSet held = b.applyChanges(early, true);
  REQUIRE(held.applied == 0);
  REQUIRE(held.pending == 2);
  REQUIRE(held.rows.empty());
  REQUIRE(held.update.empty());
  REQUIRE(b.heldEvents() == 2);
  REQUIRE(b.heldBytes() > 0);
  REQUIRE(b.eventCount() == 0);
  REQUIRE_FALSE(b.findRow("users", "k").has_value());
  REQUIRE_FALSE(b.findRow("users", "c-only").has_value());
  // Held events are not part of what the replica has: not in its version or history.
  REQUIRE(b.version() == beforeVersion);
  REQUIRE(b.encodeState() == beforeState);
  REQUIRE(decodeMessage(allChanges(b)).empty());
  // A second copy changes nothing.
  REQUIRE(b.applyChanges(early).pending == 2);
  REQUIRE(b.heldEvents() == 2);
  b.checkInvariants();

  ChangeSet released = b.applyChanges(first);
  REQUIRE(released.applied == 3);
  REQUIRE(released.pending == 0);
  REQUIRE(b.heldEvents() == 0);
  REQUIRE(b.heldBytes() == 0);
  REQUIRE(row(b, "k") == Json({{"v", 2}}));
  REQUIRE(row(b, "c-only") == Json({{"w", 1}}));
  REQUIRE(released.rows.size() == 2);
  REQUIRE(deltaOf(b, released, "k") != nullptr);
  REQUIRE(deltaOf(b, released, "k")->kind == RowDelta::New);
  REQUIRE(deltaOf(b, released, "c-only")->kind == RowDelta::New);
  syncFrom(c, b);
  REQUIRE(b.version() == c.version());
  REQUIRE(b.encodeState() == c.encodeState());
  b.checkInvariants();
}

TEST_CASE("changesSince sends exactly what the other side lacks", "[db]") {
  Database a("alice"), b("bob");
  commitOps(a, {set("u1", {{"n", 1}})});
  syncFrom(b, a);
  const Bytes v = b.version();
  commitOps(a, {update("u1", "n", 2)});
  commitOps(a, {update("u1", "n", 3)});
  std::vector<TxnRecord> txns = decodeMessage(changesSinceVersion(a, v));
  REQUIRE(txns.size() == 2);
  REQUIRE(txns[0].seq == 1);
  REQUIRE(txns[0].parents == std::vector<std::pair<std::string, Seq>>{{"alice", 0}});
  REQUIRE(txns[1].seq == 2);
  REQUIRE(decodeMessage(changesSinceVersion(a, a.version())).empty());
  REQUIRE_THROWS_AS(changesSinceVersion(a, Bytes{1, 2, 3}), DecodeError);
  REQUIRE_THROWS_AS(changesSinceVersion(a, allChanges(a)), DecodeError);  // not a version
  // Peers the version names but this replica never heard of are ignored.
  Database other("zed");
  commitOps(other, {set("z", {{"n", 1}})});
  REQUIRE(decodeMessage(changesSinceVersion(a, other.version())).size() == 3);
  // Lamport times follow what a replica has seen: bob's next write comes after alice's.
  commitOps(b, {update("u1", "n", 10)});
  syncFrom(a, b);
  syncFrom(b, a);
  REQUIRE(row(a, "u1") == row(b, "u1"));
  REQUIRE(row(a, "u1") == Json({{"n", 3}}));  // bob's write: Lamport 2; alice's n=3: Lamport 3
  commitOps(b, {update("u1", "n", 11)});      // has seen everything: Lamport 4
  syncFrom(a, b);
  REQUIRE(row(a, "u1") == Json({{"n", 11}}));
}

TEST_CASE("a transaction that skips its peer's previous event is a DecodeError", "[db]") {
  Database db("d");
  const Op op = setOp("t", "k", {{"c", 1}});
  // x:0 and y:0 are roots; x:1 names only y:0, whose past lacks x:0.
  db.applyChanges(encodeTxns({{"x", 0, {}, {op}}, {"y", 0, {}, {op}}}));
  const Bytes state = db.encodeState(), version = db.version();
  REQUIRE_THROWS_AS(db.applyChanges(encodeTxns({{"x", 1, {{"y", 0}}, {op}}})), DecodeError);
  // A transaction at seq > 0 without parents cannot even be decoded.
  REQUIRE_THROWS_AS(db.applyChanges(encodeTxns({{"x", 1, {}, {op}}})), DecodeError);
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  // Naming both is fine.
  REQUIRE(db.applyChanges(encodeTxns({{"x", 1, {{"x", 0}, {"y", 0}}, {op}}})).applied == 1);
  db.checkInvariants();
}

TEST_CASE("malformed input leaves the replica untouched", "[db]") {
  Database a("alice"), b("bob");
  commitOps(b, {set("mine", {{"x", 1}})});
  const Bytes msg = commitOps(a, {set("u1", {{"n", 1}})}).update;
  const Bytes state = b.encodeState(), version = b.version();
  for (std::size_t len = 0; len < msg.size(); ++len) {
    Bytes cut(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(len));
    REQUIRE_THROWS_AS(b.applyChanges(cut), DecodeError);
  }
  REQUIRE(b.encodeState() == state);
  REQUIRE(b.version() == version);
  REQUIRE(b.applyChanges(msg).applied == 1);
}

TEST_CASE("encodeState does not depend on when emptied rows are freed", "[db]") {
  // A deleted row's state is freed at the start of the next call (it stays until then so the
  // call can be undone). encodeState must not show the difference.
  Database a("a");
  commitOps(a, {set("gone", {{"x", 1}}), set("kept", {{"x", 1}})});
  commitOps(a, {del("gone")});
  const Bytes afterDelete = a.encodeState();
  REQUIRE_THROWS(commitOps(a, {update("missing", "x", 1)}));  // a call that changes nothing
  REQUIRE(a.encodeState() == afterDelete);
  Database b("b");
  b.applyChanges(allChanges(a));  // set and delete in one call
  REQUIRE(b.encodeState() == afterDelete);
}

TEST_CASE("peer ids are validated", "[db]") {
  REQUIRE_THROWS_AS(Database(""), Error);
  REQUIRE_THROWS_AS(Database("\xff"), Error);
  REQUIRE_THROWS_AS(Database(std::string(kMaxPeerIdBytes + 1, 'p')), Error);
  Database ok(std::string(kMaxPeerIdBytes, 'p'));
  REQUIRE(ok.peerId().size() == kMaxPeerIdBytes);
}
