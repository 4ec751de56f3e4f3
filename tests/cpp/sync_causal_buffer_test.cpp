// The causal buffer: runs that arrived before their predecessors, indexed by the event each
// waits for. Directly (hold / wait / release / drop, the bound, rollback) and through
// Database::applyChanges (held then released, duplicates, the bound as PendingOverflow).
#include <algorithm>
#include <catch2/catch.hpp>

#include "core/errors.h"
#include "db/database.h"
#include "support/history.h"
#include "support/values.h"
#include "sync/causal_buffer.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

// Distinct bytes per run, as real chunks are: identity is by content.
Bytes bytesOf(PeerIdx peer, Seq seq, std::size_t size = 10) {
  Bytes b(size, 0xab);
  if (size >= 2) {
    b[0] = static_cast<std::uint8_t>(peer);
    b[1] = static_cast<std::uint8_t>(seq);
  }
  return b;
}

HeldRun run(PeerIdx peer, Seq seq, Seq end, std::size_t bytes = 10) {
  return HeldRun{bytesOf(peer, seq, bytes), peer, seq, end};
}

Op write(const std::string& key, int v) { return setOp("t", key, {{"v", v}}); }

}  // namespace

TEST_CASE("held runs wait for one event and are released when it arrives", "[sync]") {
  CausalBuffer buf(100000);
  buf.hold(run(1, 0, 2), 0, 4);  // waits for peer 0's seq 4
  buf.hold(run(2, 3, 4), 2, 2);  // waits for its own peer's seq 2
  buf.hold(run(3, 0, 1), 0, 1);
  REQUIRE(buf.heldRuns() == 3);
  REQUIRE(buf.heldEvents() == 4);
  REQUIRE(buf.holds(bytesOf(1, 0)).has_value());
  REQUIRE(buf.holds(bytesOf(3, 0)).has_value());
  REQUIRE_FALSE(buf.holds(bytesOf(4, 0)));  // never held
  Bytes other = bytesOf(1, 0);
  other.back() ^= 1;
  REQUIRE_FALSE(buf.holds(other));  // another run of the same start is not this one
  REQUIRE(buf.heldBytes() == 3 * (10 + HeldRun::kOverhead));
  // Peer 0 reaches next seq 2: only the wait for seq 1 is over.
  const std::vector<CausalBuffer::Id> r1 = buf.release(0, 2);
  REQUIRE(r1.size() == 1);
  REQUIRE(buf.run(r1[0]).peer == 3);
  REQUIRE(buf.release(0, 2).empty());  // released once
  REQUIRE(buf.holds(bytesOf(3, 0)) == r1[0]);
  buf.drop(r1[0]);
  REQUIRE_FALSE(buf.holds(bytesOf(3, 0)));
  REQUIRE(buf.heldEvents() == 3);
  // Released but not ready: wait again for something else.
  const std::vector<CausalBuffer::Id> r2 = buf.release(0, 10);
  REQUIRE(r2.size() == 1);
  buf.wait(r2[0], 5, 0);
  REQUIRE(buf.release(0, 100).empty());
  REQUIRE(buf.release(5, 1) == r2);
  REQUIRE(buf.release(2, 2).empty());  // waits for seq 2: needs next > 2
  REQUIRE(buf.release(2, 3).size() == 1);
  buf.confirm();
  REQUIRE(buf.heldRuns() == 2);  // released runs stay held until dropped
}

TEST_CASE("the held set is bounded by the memory it takes", "[sync]") {
  const std::size_t perRun = 10 + HeldRun::kOverhead;
  CausalBuffer buf(3 * perRun);
  buf.hold(run(0, 1, 2), 0, 0);
  buf.hold(run(0, 2, 3), 0, 1);
  buf.hold(run(0, 3, 4), 0, 2);
  const auto m = buf.mark();
  try {
    buf.hold(run(0, 4, 5), 0, 3);
    FAIL("overflow accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::PendingOverflow);
  }
  REQUIRE(buf.heldRuns() == 3);
  REQUIRE(buf.heldBytes() == 3 * perRun);
  REQUIRE(buf.mark().journal == m.journal);
  REQUIRE_FALSE(buf.holds(bytesOf(0, 4)));
  REQUIRE(buf.holds(bytesOf(0, 3)).has_value());
  // A single run larger than the bound never fits.
  CausalBuffer tiny(100);
  REQUIRE_THROWS_AS(tiny.hold(run(0, 1, 2, 1), 0, 0), Error);
  REQUIRE(tiny.heldRuns() == 0);
}

TEST_CASE("rollback restores held runs, waits and releases exactly", "[sync]") {
  CausalBuffer buf(100000);
  buf.hold(run(1, 0, 1), 0, 0);
  buf.hold(run(2, 5, 7), 2, 4);
  buf.confirm();
  const auto m = buf.mark();
  const std::size_t bytes = buf.heldBytes(), events = buf.heldEvents();
  // A call: a new run held, one released and dropped, one released and re-waited.
  buf.hold(run(3, 1, 2), 3, 0);
  for (auto id : buf.release(0, 1)) buf.drop(id);
  for (auto id : buf.release(2, 5)) buf.wait(id, 9, 9);
  REQUIRE_FALSE(buf.holds(bytesOf(1, 0)));  // dropped
  REQUIRE(buf.holds(bytesOf(3, 1)).has_value());
  buf.rollback(m);
  REQUIRE(buf.heldBytes() == bytes);
  REQUIRE(buf.heldEvents() == events);
  REQUIRE(buf.heldRuns() == 2);
  REQUIRE(buf.holds(bytesOf(1, 0)).has_value());  // the drop undone
  REQUIRE(buf.holds(bytesOf(2, 5)).has_value());
  REQUIRE_FALSE(buf.holds(bytesOf(3, 1)));  // the hold undone
  // The original waits are back, the added ones gone.
  REQUIRE(buf.release(9, 10).empty());
  REQUIRE(buf.release(3, 1).empty());
  REQUIRE(buf.release(0, 1).size() == 1);
  REQUIRE(buf.release(2, 5).size() == 1);
  // Ids continue where the mark left them.
  buf.rollback(m);
  buf.hold(run(4, 1, 2), 4, 0);
  REQUIRE(buf.release(4, 1) == std::vector<CausalBuffer::Id>{m.next});
}

TEST_CASE("through applyChanges: held, released in causal order, duplicates dropped", "[sync]") {
  Database src("src");
  std::vector<Bytes> msgs;
  for (int i = 0; i < 6; ++i)
    msgs.push_back(commitOps(src, {write("k" + std::to_string(i % 2), i)}).update);
  Database db("db");
  // Deliver 5, 3, 4, 1, 2 (all early), duplicates of each, then 0 releases everything.
  for (int i : {5, 3, 4, 1, 2}) {
    ChangeSet r = db.applyChanges(msgs[i]);
    REQUIRE(r.applied == 0);
    REQUIRE(db.applyChanges(msgs[i]).applied == 0);
  }
  REQUIRE(db.heldEvents() == 5);
  REQUIRE(db.eventCount() == 0);
  db.checkInvariants();
  ChangeSet r = db.applyChanges(msgs[0], true);
  REQUIRE(r.applied == 6);
  REQUIRE(r.pending == 0);
  REQUIRE(db.heldBytes() == 0);
  REQUIRE(decodeMessage(r.update).size() == 6);
  REQUIRE(db.encodeState() == src.encodeState());
  REQUIRE(db.version() == src.version());
  // Everything again, in one message: nothing new.
  REQUIRE(db.applyChanges(allChanges(src)).applied == 0);
  db.checkInvariants();
}

TEST_CASE("a held run whose prefix arrives meanwhile applies only the rest", "[sync]") {
  const Op a = write("k", 1), b = write("k", 2), c = write("k", 3), d = write("k", 4);
  Database db("db");
  // x:1..3 (one transaction of three ops) waits for x:0.
  REQUIRE(db.applyChanges(encodeTxns({{"x", 1, {{"x", 0}}, {b, c, d}}})).pending == 3);
  // A message with x:0 and x:1..2 as separate transactions: x:3 then comes from the held run.
  ChangeSet r = db.applyChanges(encodeTxns({{"x", 0, {}, {a}}, {"x", 1, {{"x", 0}}, {b, c}}}));
  REQUIRE(r.applied == 4);
  REQUIRE(db.heldEvents() == 0);
  REQUIRE(rowJson(db, "t", "k") == Json({{"v", 4}}));
  REQUIRE(db.graph().nextSeq(0) + db.graph().nextSeq(1) == 4);
  db.checkInvariants();
}

TEST_CASE("a held run waits for other peers' parents, one at a time", "[sync]") {
  Database db("db");
  const Op op = write("k", 1);
  // z:0 needs x:1 and y:0.
  REQUIRE(db.applyChanges(encodeTxns({{"z", 0, {{"x", 1}, {"y", 0}}, {op}}})).pending == 1);
  REQUIRE(db.applyChanges(encodeTxns({{"y", 0, {}, {op}}})).pending == 1);
  REQUIRE(db.applyChanges(encodeTxns({{"x", 0, {}, {op}}})).pending == 1);
  ChangeSet r = db.applyChanges(encodeTxns({{"x", 1, {{"x", 0}}, {op}}}));
  REQUIRE(r.applied == 2);
  REQUIRE(r.pending == 0);
  REQUIRE(db.eventCount() == 4);
  db.checkInvariants();
}

TEST_CASE("through applyChanges: the bound is PendingOverflow and changes nothing", "[sync]") {
  Database src("src");
  std::vector<Bytes> msgs;
  for (int i = 0; i < 10; ++i) msgs.push_back(commitOps(src, {write("k", i)}).update);
  Database db("db", DatabaseOptions{3 * (HeldRun::kOverhead + 64)});
  std::size_t held = 0;
  std::size_t firstRefused = 0;
  for (std::size_t i = 1; i < msgs.size(); ++i) {
    const Bytes state = db.encodeState(), version = db.version();
    const std::size_t before = db.heldEvents(), bytes = db.heldBytes();
    try {
      db.applyChanges(msgs[i]);
      ++held;
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::PendingOverflow);
      REQUIRE(db.heldEvents() == before);
      REQUIRE(db.heldBytes() == bytes);
      REQUIRE(db.encodeState() == state);
      REQUIRE(db.version() == version);
      if (!firstRefused) firstRefused = i;
    }
  }
  REQUIRE(held >= 1);
  REQUIRE(firstRefused > 1);
  REQUIRE(db.heldEvents() == held);
  REQUIRE(db.heldBytes() <= 3 * (HeldRun::kOverhead + 64));
  // In causal order everything applies, however large.
  REQUIRE(db.applyChanges(allChanges(src)).applied == msgs.size());
  REQUIRE(db.heldEvents() == 0);
  REQUIRE(db.encodeState() == src.encodeState());
}

// Regression (found while porting): the held set kept one run per first event, so an invalid
// held copy (x:1 naming only y:0, whose past lacks x:0: the per-peer chain rule) turned away a
// valid copy, then was dropped once its parents arrived, losing both. Commit f3ab999 fixed the
// same problem in the v1 engine.
TEST_CASE("a held invalid run does not hide a valid copy of the same events", "[sync]") {
  const Op op = write("k", 1);
  const TxnRecord invalid{"x", 1, {{"y", 0}}, {op}};
  const TxnRecord valid{"x", 1, {{"x", 0}}, {write("k", 2)}};
  const TxnRecord x0{"x", 0, {}, {op}}, y0{"y", 0, {}, {op}};
  SECTION("across messages") {
    Database db("db");
    db.applyChanges(encodeTxns({invalid}));
    db.applyChanges(encodeTxns({valid}));
    db.applyChanges(encodeTxns({x0}));
    db.applyChanges(encodeTxns({y0}));
    CHECK(db.heldEvents() == 0);
    // The valid x:1 must be applied: its message was accepted, and it is not a duplicate.
    Database reference("ref");
    reference.applyChanges(encodeTxns({x0, y0, valid}));
    CHECK(db.version() == reference.version());
    CHECK(db.encodeState() == reference.encodeState());
  }
  SECTION("within one message: accepted once, then refused") {
    Database db("db");
    const Bytes msg = encodeMessage({{invalid}, {valid}, {x0}, {y0}});
    // Either the message is refused (it holds an invalid transaction) ...
    bool accepted = true;
    try {
      db.applyChanges(msg);
    } catch (const DecodeError&) {
      accepted = false;
    }
    // ... or accepting it is final: re-applying the same bytes is a no-op, not an error.
    if (accepted) {
      const Bytes state = db.encodeState();
      ChangeSet again;
      CHECK_NOTHROW(again = db.applyChanges(msg));
      CHECK(again.applied == 0);
      CHECK(db.encodeState() == state);
    }
  }
}

TEST_CASE("rollback keeps the release order of runs waiting for one event", "[sync]") {
  CausalBuffer buf(100000);
  // Three runs all waiting for peer 0's seq 4; ids 1, 2, 3 in the order held.
  buf.hold(run(1, 0, 1), 0, 4);
  buf.hold(run(2, 0, 1), 0, 4);
  buf.hold(run(3, 0, 1), 0, 4);
  buf.confirm();
  const auto m = buf.mark();
  const std::vector<CausalBuffer::Id> order{1, 2, 3};
  REQUIRE(buf.release(0, 5) == order);
  buf.rollback(m);
  REQUIRE(buf.release(0, 5) == order);
}

TEST_CASE("undoLast then the same message: held runs apply in the original order", "[sync]") {
  const Bytes c0 = encodeTxns({{"c", 0, {{"b", 0}}, {setOp("t", "c", {{"v", 1}})}}});
  const Bytes d0 = encodeTxns({{"d", 0, {{"b", 0}}, {setOp("t", "d", {{"v", 2}})}}});
  const Bytes b0 = encodeTxns({{"b", 0, {}, {setOp("t", "k", {{"v", 1}})}}});
  auto setup = [&](Database& db) {
    REQUIRE(db.applyChanges(c0).pending == 1);
    REQUIRE(db.applyChanges(d0).pending == 2);
  };
  Database ref("r");
  setup(ref);
  REQUIRE(ref.applyChanges(b0).applied == 3);
  Database db("r");
  setup(db);
  REQUIRE(db.applyChanges(b0).applied == 3);
  db.undoLast();
  REQUIRE(db.heldEvents() == 2);
  REQUIRE(db.applyChanges(b0).applied == 3);
  REQUIRE(db.encodeState() == ref.encodeState());
  REQUIRE(allChanges(db) == allChanges(ref));  // the same history bytes: same order
  db.checkInvariants();
}

// A message with a run that breaks the per-peer chain rule is refused, whether or not an
// identical copy of that run is already held from an earlier message.
TEST_CASE("whether a message is refused does not depend on what is held", "[sync]") {
  const TxnRecord invalid{"x", 1, {{"y", 0}}, {setOp("t", "k", {{"v", 1}})}};  // lacks x:0
  const TxnRecord x0{"x", 0, {}, {setOp("t", "x", {{"v", 2}})}};
  const TxnRecord y0{"y", 0, {}, {setOp("t", "y", {{"v", 3}})}};
  const Bytes m1 = encodeTxns({invalid});
  const Bytes m2 = encodeMessage({{invalid}, {x0}, {y0}});

  Database a("a");  // m1, then m2
  REQUIRE(a.applyChanges(m1).pending == 1);
  const Bytes aBefore = a.encodeState(), aVersion = a.version();
  REQUIRE_THROWS_AS(a.applyChanges(m2), DecodeError);
  REQUIRE(a.encodeState() == aBefore);
  REQUIRE(a.version() == aVersion);
  REQUIRE(a.heldEvents() == 1);
  Database b("b");  // m2, then m1
  REQUIRE_THROWS_AS(b.applyChanges(m2), DecodeError);
  REQUIRE(b.applyChanges(m1).pending == 1);
  REQUIRE(a.version() == b.version());
  REQUIRE(a.encodeState() == b.encodeState());
}

TEST_CASE("a run whose start a fork made known still waits for its parents", "[sync]") {
  // c:2 (waiting for y:5) and c:3 form one run; a forked c:2 later in the message is applied.
  const TxnRecord c0{"c", 0, {}, {setOp("t", "a", {{"v", 0}})}};
  const TxnRecord c1{"c", 1, {{"c", 0}}, {setOp("t", "b", {{"v", 1}})}};
  const TxnRecord early{"c", 2, {{"c", 1}, {"y", 5}}, {setOp("t", "c", {{"v", 2}})}};
  const TxnRecord tail{"c", 3, {{"c", 2}}, {setOp("t", "d", {{"v", 3}})}};
  const TxnRecord fork{"c", 2, {{"c", 1}}, {setOp("t", "e", {{"v", 4}})}};
  const Bytes m = encodeMessage({{c0, c1, early, tail}, {fork}});

  Database db("db");
  const ChangeSet first = db.applyChanges(m);
  REQUIRE(first.applied == 3);  // c:0, c:1 and the fork's c:2
  REQUIRE(first.pending == 2);  // c:2-3 still wait for y:5
  const Bytes state = db.encodeState(), version = db.version();
  // Delivering the same message again applies nothing (before: c:3 on top of the fork).
  const ChangeSet again = db.applyChanges(m);
  REQUIRE(again.applied == 0);
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  REQUIRE(db.heldEvents() == 2);
  db.checkInvariants();
}
