// Holds transactions that arrived before their causal predecessors and decides, for each
// incoming message, which transactions can be applied now and in what order.
//
// plan() is pure: it validates the whole message against the replica's known events and the
// held set and returns the apply order, so the caller can reject a message (DecodeError, or
// PendingOverflow when the held set would exceed its byte bound) before changing anything.
// A transaction is ready when its peer's earlier events are known (a known prefix of it is
// skipped: delivery is idempotent) and every parent is known; its Lamport time must be
// exactly one above its parents' highest (what every commit stamps), so no peer can jump
// the clock toward its limit. Held transactions that turn out invalid when they become ready are
// dropped.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oplog/txn.h"

namespace crdtdb {

// What the replica knows: next seq per peer, Lamport time of a known event.
struct KnownEvents {
  std::function<Seq(const std::string& peer)> nextSeq;
  std::function<Lamport(const EventRef& e)> lamport;  // only called for known events
};

struct ReadyTxn {
  const TxnRecord* txn;
  Seq skip;  // leading events already known
};

class CausalBuffer {
 public:
  explicit CausalBuffer(std::size_t maxBytes) : maxBytes_(maxBytes) {}

  struct Plan {
    std::vector<ReadyTxn> ready;            // apply in this order
    std::vector<TxnRecord> incoming;        // owns the message's transactions
    std::vector<std::size_t> keepHeld;      // indexes into held_ still waiting
    std::vector<std::size_t> holdIncoming;  // indexes into incoming now waiting
    std::size_t heldBytes = 0;
    std::size_t heldEvents = 0;
  };

  // Throws DecodeError (invalid transaction in the message) or Error(PendingOverflow).
  Plan plan(std::vector<TxnRecord> incoming, const KnownEvents& known) const;
  // Replaces the held set by the plan's; call after applying plan.ready.
  void commit(Plan&& plan);

  std::size_t heldBytes() const { return heldBytes_; }
  std::size_t heldEvents() const { return heldEvents_; }
  std::size_t heldTxns() const { return held_.size(); }
  std::size_t maxBytes() const { return maxBytes_; }

 private:
  std::size_t maxBytes_;
  std::vector<TxnRecord> held_;
  std::size_t heldBytes_ = 0;
  std::size_t heldEvents_ = 0;
};

}  // namespace crdtdb
