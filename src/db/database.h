// Database: one replica. Ties the event graph, the op log, the row store and the causal
// buffer together, and is the only entry point the bindings use.
//
// Thread safety: none; one Database per JS instance, used from one thread.
// Invariants (checkInvariants): the graph's invariants; ops_.size() == graph size;
// txnStarts_ ascending, starting at 0 when non-empty; the row store's invariants.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/peer_table.h"
#include "graph/causal_graph.h"
#include "oplog/op.h"
#include "oplog/txn.h"
#include "store/index_set.h"
#include "store/row_store.h"
#include "sync/causal_buffer.h"

namespace crdtdb {

struct DatabaseOptions {
  std::size_t maxPendingBytes = 16u << 20;
};

struct CommitResult {
  std::vector<RowChange> changes;
  Bytes encoded;  // the new events as a Changes message; empty when nothing was written
};

struct ApplyResult {
  std::size_t applied = 0;  // events applied by this call
  std::size_t pending = 0;  // events held waiting for predecessors after this call
  std::vector<RowChange> changes;
};

class Database {
 public:
  explicit Database(std::string peerId, DatabaseOptions options = {});

  const std::string& peerId() const { return peers_.name(self_); }

  // Commits `ops` as one transaction (a contiguous run of events, one per op). Validates all
  // of them first: Error(Type) for bad ops, Error(NotFound) for an update of an absent row;
  // on error nothing changes.
  CommitResult commit(const std::vector<Op>& ops);

  // Decodes, validates and merges a Changes message; all or nothing (DecodeError or
  // Error(PendingOverflow) leave the replica untouched). Idempotent, any delivery order.
  ApplyResult applyChanges(ByteSpan bytes);

  Bytes version() const;
  // Every event the holder of `version` lacks (empty span: everything). DecodeError on bad
  // version bytes.
  Bytes changesSince(ByteSpan version) const;

  std::optional<Value> row(const std::string& table, const std::string& key) const;
  template <typename F>
  void forEachRow(const std::string& table, F&& f) const {
    store_.forEachRow(table, std::forward<F>(f));
  }
  Value conflicts(const std::string& table, const std::string& key) const;

  // Secondary indexes: replaces the declared set, building new or changed ones from the rows
  // and dropping the others. Throws Error(Type) for a malformed or duplicate definition.
  void declareIndexes(const std::vector<IndexDef>& defs);
  const IndexSet& indexes() const { return indexes_; }
  // Row keys of `table` (index empty) or of index `index`, in range order; with
  // `staged`, as the open staged transaction sees them. Throws Error(UnknownIndex).
  std::vector<std::string> query(const std::string& table, const std::string& index,
                                 const KeyRange& range, const QueryOptions& opts,
                                 bool staged = false, std::string* lastEntry = nullptr) const;
  std::size_t count(const std::string& table, const std::string& index, const KeyRange& range,
                    bool staged = false) const;

  // A staged transaction (db.transaction): ops accumulate, validated as they arrive against
  // the committed state plus the transaction's own earlier ops, visible only to reads that
  // ask for the staged view, and committed as one causal batch or dropped.
  void stage(const std::vector<Op>& ops);  // all or nothing; throws Type / NotFound
  std::optional<Value> stagedRow(const std::string& table, const std::string& key) const;
  CommitResult commitStaged();  // re-validated against the state at commit time
  void rollbackStaged() {
    staged_.clear();
    stagedByRow_.clear();
  }
  std::size_t stagedCount() const { return staged_.size(); }

  // Canonical bytes of the full row CRDT state: equal on replicas that saw the same events.
  Bytes encodeState() const { return store_.encodeState(peers_); }
  std::size_t heldEvents() const { return buffer_.heldEvents(); }
  LV eventCount() const { return graph_.size(); }
  const CausalGraph& graph() const { return graph_; }

  void checkInvariants() const;

 private:
  void applyRemote(const TxnRecord& txn, Seq skip, ChangeTracker& tracker);
  std::vector<RowChange> finishChanges(const ChangeTracker& tracker);
  RowState stagedState(const std::string& table, const std::string& key,
                       const std::vector<Op>& extra = {}) const;
  IndexSet::Overlay overlayFor(const std::string& table) const;
  TxnRecord recordFor(LV start, LV end) const;

  PeerTable peers_;
  PeerIdx self_;
  CausalGraph graph_;
  std::vector<Op> ops_;        // ops_[lv]: the operation of event lv
  std::vector<LV> txnStarts_;  // first LV of every transaction, ascending
  RowStore store_;
  IndexSet indexes_;
  CausalBuffer buffer_;
  std::vector<Op> staged_;
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> stagedByRow_;
};

}  // namespace crdtdb
