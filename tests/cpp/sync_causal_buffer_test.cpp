#include <catch2/catch.hpp>
#include <map>

#include "core/errors.h"
#include "sync/causal_buffer.h"

using namespace crdtdb;

namespace {

TxnRecord txn(std::string peer, Seq seq, Lamport lamport, std::vector<EventRef> parents,
              std::size_t ops = 1) {
  TxnRecord t;
  t.peer = std::move(peer);
  t.seq = seq;
  t.lamport = lamport;
  t.parents = std::move(parents);
  for (std::size_t i = 0; i < ops; ++i) t.ops.push_back(Op{OpKind::DeleteRow, "t", "k", {}});
  t.encodedSize = 10 * ops;
  return t;
}

// A replica that knows nothing but what tests mark as applied.
struct Known {
  std::map<std::string, Seq> next;
  std::map<EventRef, Lamport> lamports;
  KnownEvents view() {
    return {[this](const std::string& p) { return next.count(p) ? next[p] : Seq{0}; },
            [this](const EventRef& e) { return lamports.at(e); }};
  }
  void apply(const CausalBuffer::Plan& plan) {
    for (const auto& r : plan.ready) {
      for (Seq s = r.skip; s < r.txn->ops.size(); ++s) {
        lamports[{r.txn->peer, r.txn->seq + s}] = r.txn->lamport + s;
      }
      next[r.txn->peer] = r.txn->endSeq();
    }
  }
};

}  // namespace

TEST_CASE("causally early transactions wait for their predecessors", "[sync]") {
  CausalBuffer buf(1000);
  Known k;
  auto plan = buf.plan({txn("b", 0, 2, {{"a", 0}})}, k.view());
  REQUIRE(plan.ready.empty());
  k.apply(plan);
  buf.commit(std::move(plan));
  REQUIRE(buf.heldTxns() == 1);
  REQUIRE(buf.heldEvents() == 1);

  plan = buf.plan({txn("a", 0, 1, {})}, k.view());
  REQUIRE(plan.ready.size() == 2);
  REQUIRE(plan.ready[0].txn->peer == "a");
  REQUIRE(plan.ready[1].txn->peer == "b");
  k.apply(plan);
  buf.commit(std::move(plan));
  REQUIRE(buf.heldTxns() == 0);
  REQUIRE(buf.heldBytes() == 0);
}

TEST_CASE("known prefixes are skipped and duplicates dropped", "[sync]") {
  CausalBuffer buf(1000);
  Known k;
  auto plan = buf.plan({txn("a", 0, 1, {}, 3)}, k.view());
  k.apply(plan);
  buf.commit(std::move(plan));
  plan = buf.plan({txn("a", 0, 1, {}, 3), txn("a", 1, 2, {{"a", 0}}, 4)}, k.view());
  REQUIRE(plan.ready.size() == 1);
  REQUIRE(plan.ready[0].skip == 2);
  REQUIRE(plan.holdIncoming.empty());
}

TEST_CASE("a Lamport time other than one above the parents' is a decode error", "[sync]") {
  CausalBuffer buf(1000);
  Known k;
  REQUIRE_THROWS_AS(buf.plan({txn("a", 0, 5, {})}, k.view()), DecodeError);  // root must be 1
  auto plan = buf.plan({txn("a", 0, 1, {})}, k.view());
  k.apply(plan);
  buf.commit(std::move(plan));
  REQUIRE_THROWS_AS(buf.plan({txn("b", 0, 1, {{"a", 0}})}, k.view()), DecodeError);  // not above
  REQUIRE_THROWS_AS(buf.plan({txn("b", 0, 7, {{"a", 0}})}, k.view()), DecodeError);  // a jump
  REQUIRE(buf.plan({txn("b", 0, 2, {{"a", 0}})}, k.view()).ready.size() == 1);
  REQUIRE(buf.heldTxns() == 0);
}

TEST_CASE("the held set is bounded", "[sync]") {
  CausalBuffer buf(35);
  Known k;
  std::vector<TxnRecord> early;
  for (Seq s = 1; s <= 3; ++s) early.push_back(txn("a", s, s + 1, {{"a", s - 1}}));
  auto plan = buf.plan(early, k.view());  // 30 bytes held: fits
  buf.commit(std::move(plan));
  try {
    buf.plan({txn("a", 4, 5, {{"a", 3}})}, k.view());
    FAIL("overflow accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::PendingOverflow);
  }
  REQUIRE(buf.heldTxns() == 3);
  plan = buf.plan({txn("a", 0, 1, {})}, k.view());
  REQUIRE(plan.ready.size() == 4);
  buf.commit(std::move(plan));
  REQUIRE(buf.heldTxns() == 0);
}
