// Per-row CRDT state, updated in O(columns touched) per operation (never a history replay).
//
// A row is an observed-remove set of existence tokens plus one multi-value register per
// column:
//  - tokens: the SetRow events not yet removed; the row is visible iff there is one.
//  - columns[name]: the writes to that column that no later-seen write, set or delete removed,
//    i.e. mutually concurrent writes. The visible value is the greatest by (Lamport, peer id,
//    seq); the others are what conflicts() reports.
// Applying an event removes exactly the tokens and writes it has observed (its causal past):
//  SetRow removes every observed token and column write, then adds its token and columns;
//  UpdateRow removes observed writes of the columns it names, then adds its writes;
//  DeleteRow removes every observed token and column write.
// Invariant: entries in each column, and tokens, are mutually concurrent; column lists are
// ordered winner first; no column list is empty.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/peer_table.h"
#include "core/value.h"
#include "oplog/op.h"

namespace crdtdb {

struct ColumnWrite {
  Stamp stamp;
  Value value;
};

// Answers "has the event being applied observed the event at this LV?".
using ObservedFn = std::function<bool(LV)>;

class RowState {
 public:
  void apply(const Op& op, const Stamp& stamp, const ObservedFn& observed, const PeerTable& peers);

  bool visible() const { return !tokens_.empty(); }
  bool empty() const { return tokens_.empty() && columns_.empty(); }
  // The plain conflict-resolved row, or nullopt when not visible.
  std::optional<Value> materialize() const;
  // {column: [losing values...]} for columns with concurrent losers; {} when none.
  Value conflicts() const;
  // Canonical bytes of the full CRDT state (peers by id), identical across replicas that
  // applied the same events.
  void encode(ByteWriter& w, const PeerTable& peers) const;

  const std::vector<Stamp>& tokens() const { return tokens_; }
  const std::map<std::string, std::vector<ColumnWrite>>& columns() const { return columns_; }
  // Throws Error(Internal) when ordering or shape invariants do not hold.
  void checkInvariants(const PeerTable& peers) const;

 private:
  void removeObserved(std::vector<ColumnWrite>& writes, const ObservedFn& observed);
  void insertWrite(std::vector<ColumnWrite>& writes, ColumnWrite w, const PeerTable& peers);

  std::vector<Stamp> tokens_;
  std::map<std::string, std::vector<ColumnWrite>> columns_;
};

// LWW order: true when a wins over b.
bool winsOver(const Stamp& a, const Stamp& b, const PeerTable& peers);

}  // namespace crdtdb
