// Failure atomicity: an allocation failure at any point of a call (the k-th allocation, for
// every k the call makes) leaves the replica exactly as before — rows, conflicts, indexes,
// version, history, held and staged state — and the replica keeps working: retrying the
// call gives what an undisturbed run gives. The same holds for undoLast() after a success.
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <new>

#include "db/database.h"
#include "support/alloc_hooks.h"
#include "support/craft.h"
#include "support/every_allocation.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

const std::vector<IndexDef> kIndexes = {{"byA", "t", {"a"}}, {"byAB", "t", {"a", "b"}}};

struct Snapshot {
  Bytes state, version, history;
  std::vector<std::vector<std::uint32_t>> indexes;
  std::size_t held, staged, events;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshotOf(const Database& db) {
  Snapshot s{db.encodeState(), db.version(),     db.changesSince(nullptr), {},
             db.heldEvents(),  db.stagedCount(), db.eventCount()};
  KeyRange all;
  for (const auto& [table, index] : std::vector<std::pair<std::string, std::string>>{
           {"t", ""}, {"t", "byA"}, {"t", "byAB"}, {"u", ""}}) {
    std::vector<std::uint32_t> rows;
    for (const QueryHit& h : db.query(table, index, all, {})) rows.push_back(h.row);
    s.indexes.push_back(std::move(rows));
  }
  return s;
}

struct Ops {
  std::vector<Op> owned;
  std::vector<std::vector<ColumnRef>> cols;
  std::vector<OpRef> refs;
  std::span<const OpRef> span() {
    cols.resize(owned.size());
    refs.clear();
    for (std::size_t i = 0; i < owned.size(); ++i) refs.push_back(refOf(owned[i], cols[i]));
    return refs;
  }
};

Op rowOp(OpKind kind, const std::string& table, const std::string& key,
         std::vector<std::pair<std::string, Bytes>> cols = {}) {
  return Op{kind, table, key, std::move(cols)};
}

void commit(Database& db, std::vector<Op> ops) {
  Ops o{std::move(ops), {}, {}};
  db.commit(o.span(), true);
}

std::unique_ptr<Database> seeded(const std::string& peerId) {
  auto db = std::make_unique<Database>(peerId);
  db->declareIndexes(kIndexes);
  for (int i = 0; i < 6; ++i) {
    commit(*db, {rowOp(OpKind::SetRow, "t", "k" + std::to_string(i),
                       {{"a", intValue(i % 3)},
                        {"b", stringValue("long value number " + std::to_string(i))}})});
  }
  commit(*db, {rowOp(OpKind::SetRow, "u", "x", {{"z", stringValue("z")}})});
  return db;
}

// Runs `act` on fresh replicas, failing each allocation it makes in turn.
void atEveryAllocation(const std::function<std::unique_ptr<Database>()>& setup,
                       const std::function<void(Database&)>& act) {
  crdtdb::testing::atEveryAllocation(setup, act, snapshotOf);
}

}  // namespace

TEST_CASE("a local commit fails atomically at every allocation", "[db][atomicity]") {
  SECTION("insert a new row") {
    atEveryAllocation([] { return seeded("a"); },
                      [](Database& db) {
                        commit(db, {rowOp(OpKind::SetRow, "t", "new",
                                          {{"a", intValue(1)}, {"b", stringValue("b")}})});
                      });
  }
  SECTION("update an indexed column and delete a row in one transaction") {
    atEveryAllocation(
        [] { return seeded("a"); },
        [](Database& db) {
          commit(db, {rowOp(OpKind::UpdateRow, "t", "k1", {{"a", intValue(9)}}),
                      rowOp(OpKind::DeleteRow, "t", "k2"),
                      rowOp(OpKind::SetRow, "t", "k3", {{"c", stringValue("a new column name")}})});
        });
  }
}

TEST_CASE("applying a message fails atomically at every allocation", "[db][atomicity]") {
  // b starts from a's state, then both write concurrently; a merges b's changes (new rows,
  // conflicting writes that leave losers, a delete) plus a causally early message.
  auto a0 = seeded("a");
  Database b("b");
  b.declareIndexes(kIndexes);
  b.applyChanges(a0->changesSince(nullptr));
  const Bytes bVersionBytes = b.version();
  const ByteSpan bVersion(bVersionBytes);
  commit(b, {rowOp(OpKind::UpdateRow, "t", "k0", {{"a", intValue(7)}})});
  commit(b, {rowOp(OpKind::DeleteRow, "t", "k4"),
             rowOp(OpKind::SetRow, "t", "fromB", {{"a", intValue(2)}, {"b", stringValue("bb")}})});
  const Bytes delta = b.changesSince(&bVersion);
  const Bytes bHistory = b.changesSince(nullptr);
  auto setup = [] {
    auto db = seeded("a");
    commit(*db, {rowOp(OpKind::UpdateRow, "t", "k0", {{"a", intValue(5)}})});
    return db;
  };
  SECTION("a delta with concurrent writes") {
    atEveryAllocation(setup, [&](Database& db) { db.applyChanges(delta, true); });
  }
  SECTION("a held run released by a later message") {
    Crafter early;
    early.write("c", 1, {{"c", 0}}, "t", "fromC", "a", intValue(1), OpKind::SetRow);
    Crafter first;
    first.write("c", 0, {}, "u", "y", "z", stringValue("first"), OpKind::SetRow);
    const Bytes earlyMsg = early.message(), firstMsg = first.message();
    atEveryAllocation(
        [&] {
          auto db = setup();
          REQUIRE(db->applyChanges(earlyMsg).pending == 1);
          return db;
        },
        [&](Database& db) { db.applyChanges(firstMsg, true); });
  }
  SECTION("a whole history, partly known") {
    atEveryAllocation(setup, [&](Database& db) { db.applyChanges(bHistory); });
  }
}

TEST_CASE("a staged transaction's commit fails atomically at every allocation", "[db][atomicity]") {
  Ops staged{{rowOp(OpKind::SetRow, "t", "s1", {{"a", intValue(1)}}),
              rowOp(OpKind::UpdateRow, "t", "k1", {{"b", stringValue("staged")}})},
             {},
             {}};
  Ops extra{{rowOp(OpKind::DeleteRow, "t", "k5")}, {}, {}};
  atEveryAllocation(
      [&] {
        auto db = seeded("a");
        db->stage(staged.span());
        return db;
      },
      [&](Database& db) {
        if (db.stagedCount() == 0) db.stage(staged.span());  // a retry after a failed commit
        db.commitStaged(extra.span());
      });
}

TEST_CASE("undoLast reverts the last successful call exactly", "[db][atomicity]") {
  auto db = seeded("a");
  const Snapshot before = snapshotOf(*db);
  commit(*db, {rowOp(OpKind::UpdateRow, "t", "k1", {{"a", intValue(2)}}),
               rowOp(OpKind::DeleteRow, "t", "k2"),
               rowOp(OpKind::SetRow, "t", "n", {{"a", intValue(0)}})});
  REQUIRE_FALSE(snapshotOf(*db) == before);
  REQUIRE(db->undoLast());
  REQUIRE(snapshotOf(*db) == before);
  db->checkInvariants();
  REQUIRE_FALSE(db->undoLast());  // nothing left to undo
  REQUIRE(snapshotOf(*db) == before);
  commit(*db, {rowOp(OpKind::SetRow, "t", "after", {{"a", intValue(1)}})});
  db->checkInvariants();
}
