// Row merge semantics (merge/row_state.h), through Database: replicas commit and exchange
// changes, so every case has real causal pasts and derived Lamport times. Plus the Cell and
// WriteOrder building blocks on their own.
#include <catch2/catch.hpp>
#include <memory>

#include "core/errors.h"
#include "db/database.h"
#include "merge/row_state.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op set(const Json& row) { return setOp("t", "k", row); }
Op update(const Json& cols) { return updateOp("t", "k", cols); }
Op del() { return deleteOp("t", "k"); }

std::optional<Json> rowOfK(const Database& db) { return rowJson(db, "t", "k"); }

// Two replicas and a third that receives everything in a chosen order.
struct Net {
  Database a{"alice"}, b{"bob"};
  void syncBoth() {
    syncFrom(a, b);
    syncFrom(b, a);
    REQUIRE(a.encodeState() == b.encodeState());
    REQUIRE(rowOfK(a) == rowOfK(b));
    REQUIRE(conflictsJson(a, "t", "k") == conflictsJson(b, "t", "k"));
    a.checkInvariants();
    b.checkInvariants();
  }
};

}  // namespace

TEST_CASE("set, update and delete in causal order", "[merge]") {
  Database db("alice");
  commitOps(db, {set({{"x", 1}, {"y", 2}})});
  REQUIRE(rowOfK(db) == Json({{"x", 1}, {"y", 2}}));
  commitOps(db, {update({{"x", 5}})});
  REQUIRE(rowOfK(db) == Json({{"x", 5}, {"y", 2}}));
  commitOps(db, {set({{"z", 0}})});  // set drops unnamed columns
  REQUIRE(rowOfK(db) == Json({{"z", 0}}));
  commitOps(db, {del()});
  REQUIRE_FALSE(rowOfK(db).has_value());
  // A deleted row's state is empty and freed at the next call.
  commitOps(db, {setOp("t", "other", {{"a", 1}})});
  REQUIRE_FALSE(db.findRow("t", "k").has_value());
  db.checkInvariants();
}

TEST_CASE("concurrent writes: greatest (Lamport, peer id) wins, losers are conflicts", "[merge]") {
  Net n;
  commitOps(n.a, {set({{"x", 0}})});
  n.syncBoth();
  commitOps(n.a, {update({{"x", "from-alice"}})});
  commitOps(n.b, {update({{"x", "from-bob"}})});
  n.syncBoth();
  REQUIRE(rowOfK(n.a) == Json({{"x", "from-bob"}}));  // same Lamport: "bob" > "alice"
  REQUIRE(conflictsJson(n.a, "t", "k") == Json({{"x", {"from-alice"}}}));
  // A write that saw both resolves the conflict.
  commitOps(n.a, {update({{"x", "merged"}})});
  n.syncBoth();
  REQUIRE(rowOfK(n.b) == Json({{"x", "merged"}}));
  REQUIRE(conflictsJson(n.b, "t", "k") == Json::object());
}

TEST_CASE("conflicts list every concurrent loser, best first", "[merge]") {
  std::vector<std::unique_ptr<Database>> reps;
  for (const char* id : {"p1", "p3", "p2", "p4"}) reps.push_back(std::make_unique<Database>(id));
  commitOps(*reps[0], {set({{"x", 0}, {"y", 0}})});
  for (auto& r : reps) syncFrom(*r, *reps[0]);
  // p4 writes twice (Lamport 3), the others once (Lamport 2): p4 wins, then by peer id.
  commitOps(*reps[1], {update({{"x", "p3"}})});
  commitOps(*reps[2], {update({{"x", "p2"}})});
  commitOps(*reps[3], {update({{"y", 1}})});
  commitOps(*reps[3], {update({{"x", "p4"}})});
  commitOps(*reps[0], {update({{"x", "p1"}, {"y", "p1"}})});
  for (auto& to : reps) {
    for (auto& from : reps) syncFrom(*to, *from);
  }
  for (auto& r : reps) {
    REQUIRE(rowOfK(*r) == Json({{"x", "p4"}, {"y", 1}}));
    REQUIRE(conflictsJson(*r, "t", "k") == Json({{"x", {"p3", "p2", "p1"}}, {"y", {"p1"}}}));
    REQUIRE(r->encodeState() == reps[0]->encodeState());
    r->checkInvariants();
  }
  // p2 resolves x having seen p1, p3 and p4: only y stays in conflict.
  commitOps(*reps[2], {update({{"x", "done"}})});
  syncFrom(*reps[0], *reps[2]);
  REQUIRE(conflictsJson(*reps[0], "t", "k") == Json({{"y", {"p1"}}}));
}

TEST_CASE("a higher Lamport time wins over peer order", "[merge]") {
  Net n;
  commitOps(n.b, {set({{"x", 0}})});
  n.syncBoth();
  commitOps(n.b, {update({{"x", "bob"}})});    // Lamport 2
  commitOps(n.a, {update({{"y", 1}})});        // Lamport 2
  commitOps(n.a, {update({{"y", 2}})});        // Lamport 3
  commitOps(n.a, {update({{"x", "alice"}})});  // Lamport 4
  n.syncBoth();
  REQUIRE(rowOfK(n.a) == Json({{"x", "alice"}, {"y", 2}}));
  REQUIRE(conflictsJson(n.a, "t", "k") == Json({{"x", {"bob"}}}));
}

TEST_CASE("set concurrent with delete resurrects the row", "[merge]") {
  Net n;
  commitOps(n.a, {set({{"x", 1}, {"y", 1}})});
  n.syncBoth();
  commitOps(n.a, {del()});
  commitOps(n.b, {set({{"x", 2}})});
  n.syncBoth();
  REQUIRE(rowOfK(n.a) == Json({{"x", 2}}));
}

TEST_CASE("update concurrent with delete is lost with the row", "[merge]") {
  Net n;
  commitOps(n.a, {set({{"x", 1}})});
  n.syncBoth();
  commitOps(n.b, {update({{"x", 9}})});
  commitOps(n.a, {del()});
  n.syncBoth();
  REQUIRE_FALSE(rowOfK(n.a).has_value());
  REQUIRE(conflictsJson(n.a, "t", "k") == Json::object());
  // A later set that has seen everything makes the row visible again with its columns only.
  commitOps(n.a, {set({{"y", 1}})});
  n.syncBoth();
  REQUIRE(rowOfK(n.b) == Json({{"y", 1}}));
}

TEST_CASE("an update concurrent with a delete survives a concurrent resurrecting set", "[merge]") {
  // The update's write was observed by neither the delete nor the set: it stays.
  Database a("alice"), b("bob"), c("carol");
  commitOps(a, {set({{"x", 1}})});
  syncFrom(b, a);
  syncFrom(c, a);
  commitOps(a, {del()});
  commitOps(b, {update({{"u", "b"}})});
  commitOps(c, {set({{"s", "c"}})});
  for (Database* to : {&a, &b, &c}) {
    for (Database* from : {&a, &b, &c}) syncFrom(*to, *from);
  }
  for (Database* db : {&a, &b, &c}) {
    REQUIRE(rowOfK(*db) == Json({{"s", "c"}, {"u", "b"}}));
    REQUIRE(db->encodeState() == a.encodeState());
  }
}

TEST_CASE("delete removes only what it observed", "[merge]") {
  Net n;
  commitOps(n.a, {set({{"x", 1}})});
  // bob sets concurrently; alice's delete has only seen her own set.
  commitOps(n.b, {set({{"y", 2}})});
  commitOps(n.a, {del()});
  n.syncBoth();
  REQUIRE(rowOfK(n.a) == Json({{"y", 2}}));
}

TEST_CASE("an update does not resurrect a deleted row", "[merge]") {
  Net n;
  commitOps(n.a, {set({{"x", 1}})});
  n.syncBoth();
  commitOps(n.a, {del()});
  n.syncBoth();
  REQUIRE_THROWS_AS(commitOps(n.b, {update({{"x", 2}})}), Error);
  REQUIRE_FALSE(rowOfK(n.b).has_value());
}

TEST_CASE("row state encoding is canonical across application orders", "[merge]") {
  // Three concurrent writers; replicas receive their transactions in different orders.
  Database p("p"), q("q"), r("r");
  const Bytes base = commitOps(p, {set({{"x", 0}, {"y", 0}})}).update;
  syncFrom(q, p);
  syncFrom(r, p);
  std::vector<Bytes> msgs = {
      commitOps(p, {update({{"x", 1}})}).update, commitOps(q, {set({{"x", 2}, {"z", 2}})}).update,
      commitOps(r, {del()}).update, commitOps(r, {setOp("t", "k2", {{"v", 1}})}).update};
  std::vector<std::size_t> order = {0, 1, 2, 3};
  std::optional<Bytes> state;
  do {
    Database x("observer");
    x.applyChanges(base);
    for (std::size_t i : order) x.applyChanges(msgs[i]);
    x.checkInvariants();
    if (!state) state = x.encodeState();
    REQUIRE(x.encodeState() == *state);
  } while (std::next_permutation(order.begin(), order.end()));
  // And the same in reverse delivery with the base last (everything held first).
  Database y("observer2");
  for (auto it = msgs.rbegin(); it != msgs.rend(); ++it) y.applyChanges(*it);
  REQUIRE(y.heldEvents() == 4);
  y.applyChanges(base);
  REQUIRE(y.encodeState() == *state);
}

TEST_CASE("cells hold values inline up to 8 bytes, else on the heap", "[merge]") {
  const Bytes small = enc("1234567");  // tag + 7 bytes
  const Bytes large = enc("12345678");
  REQUIRE(small.size() == 8);
  REQUIRE(large.size() == 9);
  Cell a(7, 42, small);
  REQUIRE(a.column() == 7);
  REQUIRE(a.lv() == 42);
  REQUIRE(Bytes(a.value().begin(), a.value().end()) == small);
  REQUIRE(a.heapBytes() == 0);
  Cell b(kMaxColumnId, 3, large);
  REQUIRE(b.column() == kMaxColumnId);
  REQUIRE(Bytes(b.value().begin(), b.value().end()) == large);
  REQUIRE(b.heapBytes() >= large.size());
  REQUIRE_FALSE(b.hasLosers());
  b.setHasLosers(true);
  REQUIRE(b.hasLosers());
  REQUIRE(b.column() == kMaxColumnId);
  Cell c = b.clone();
  REQUIRE(Bytes(c.value().begin(), c.value().end()) == large);
  REQUIRE(c.value().data() != b.value().data());
  Cell moved(std::move(b));
  REQUIRE(Bytes(moved.value().begin(), moved.value().end()) == large);
  REQUIRE(moved.hasLosers());
  a = std::move(moved);
  REQUIRE(Bytes(a.value().begin(), a.value().end()) == large);
  REQUIRE(a.lv() == 3);
  Cell empty(1, 0, enc(nullptr));
  REQUIRE(Bytes(empty.value().begin(), empty.value().end()) == Bytes{0});
}

TEST_CASE("a growable cell is edited in place within its capacity", "[merge]") {
  const Bytes head = {1, 2, 3};
  const Bytes tail = {4, 5};
  const ValueRef parts[] = {head, tail};
  Cell g = Cell::growable(9, 5, parts, 12);
  REQUIRE(g.column() == 9);
  REQUIRE(g.lv() == 5);
  REQUIRE(g.capacity() == 12);
  REQUIRE(g.heapBytes() == 8 + 12);
  REQUIRE(Bytes(g.value().begin(), g.value().end()) == Bytes{1, 2, 3, 4, 5});
  const std::uint8_t* block = g.value().data();
  const Bytes ins = {7, 8, 9, 10};
  g.replaceBytes(1, 1, ins);  // insert and remove at once
  REQUIRE(Bytes(g.value().begin(), g.value().end()) == Bytes{1, 7, 8, 9, 10, 3, 4, 5});
  g.replaceBytes(0, 3, ValueRef());  // remove a prefix
  REQUIRE(Bytes(g.value().begin(), g.value().end()) == Bytes{9, 10, 3, 4, 5});
  const Bytes same = {6, 6};
  g.replaceBytes(3, 2, same);  // overwrite, no move
  REQUIRE(Bytes(g.value().begin(), g.value().end()) == Bytes{9, 10, 3, 6, 6});
  REQUIRE(g.value().data() == block);
  REQUIRE(g.capacity() == 12);
  // A move keeps the block; a clone is a plain copy; a plain heap cell has no capacity.
  Cell m(std::move(g));
  REQUIRE(m.value().data() == block);
  REQUIRE(m.capacity() == 12);
  Cell c = m.clone();
  REQUIRE(c.capacity() == 0);
  REQUIRE(Bytes(c.value().begin(), c.value().end()) == Bytes{9, 10, 3, 6, 6});
  REQUIRE(Cell(1, 0, enc("a long enough string")).capacity() == 0);
  // The capacity is at least the value's size.
  REQUIRE(Cell::growable(1, 0, parts, 2).capacity() == 5);
}

TEST_CASE("write order: Lamport, then peer id bytes, then seq", "[merge]") {
  WriteOrder a{2, "alice", 5, 0}, b{2, "bob", 1, 1}, c{3, "alice", 0, 0}, d{2, "bob", 2, 1};
  REQUIRE(a < b);
  REQUIRE(b < c);
  REQUIRE(b < d);
  REQUIRE_FALSE(c < a);
  REQUIRE_FALSE(a < a);
  WriteOrder high{2, "\xc3\xa9", 0, 3}, low{2, "z", 0, 4};  // bytes compare unsigned
  REQUIRE(low < high);
}
