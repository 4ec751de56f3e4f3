// Database: one replica. Composes history (OpLog + causal graph), current state (RowStore +
// IndexSet), the causal buffer for early arrivals, staging for db.transaction, and live-query
// subscriptions; it is the only entry point the bindings use.
//
// Every mutating call (commit, applyChanges, commitStaged, declareIndexes) is atomic: it
// marks every component, works, and on any error (DecodeError, NotFound, allocation failure…)
// rolls every component back to the marks without allocating, then rethrows. The undo
// information of a successful call is kept until the next call begins, so undoLast() can
// still revert it (the JS side calls it when it cannot take in the call's record).
//
// Thread safety: none; one Database per JS instance, used from one thread.
// Invariants (checkInvariants): each component's; the op log covers exactly the graph's
// events; every visible row is in its table's primary order and in each index it belongs to.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/interner.h"
#include "core/splice.h"
#include "db/staging.h"
#include "graph/causal_graph.h"
#include "oplog/op.h"
#include "oplog/op_log.h"
#include "store/index_set.h"
#include "store/row_store.h"
#include "store/subscriptions.h"
#include "sync/causal_buffer.h"

namespace crdtdb {

struct RunSource;
inline constexpr Seq kNoSeqLimit = ~Seq{0};

struct DatabaseOptions {
  std::size_t maxPendingBytes = 16u << 20;
  std::uint64_t hashSeed = 0x5eed;
  // History budget: a call that leaves more than this (OpLog::approxBytes) folds the oldest
  // history down to half of it (0: no budget).
  std::size_t historyMaxBytes = 0;
};

// How a row's visible state changed in one call.
struct RowDelta {
  enum Kind : std::uint8_t { New = 1, Full = 2, Patch = 3, Gone = 4 };
  // A long string column (a text, typically) that changed by a short edit: the splice of its
  // previous string, in place of the whole new one.
  struct StringSplice {
    NameId column;
    Splice splice;  // `from`/`to`: bytes of the new string (not of its value encoding)
  };
  RowId row;
  Kind kind;
  std::vector<NameId> columns;        // Patch: the columns whose value changed
  std::vector<StringSplice> splices;  // Patch: some of them, in column order
};

// A row of a staged query: a committed row (row, not staged) or one the staged transaction
// wrote (staged; row is kNoRow when it exists only there).
struct StagedHit {
  std::uint32_t row;
  std::string key;
  bool staged;
};

// What one mutating call did.
struct ChangeSet {
  std::vector<RowDelta> rows;
  std::vector<std::uint32_t> subscriptions;  // live queries whose result may have changed
  Bytes update;                              // the new events as a Changes message (if asked)
  std::size_t applied = 0;                   // events applied by this call
  std::size_t pending = 0;                   // events held after this call
};

// Work done by merges, for tests that pin the cost of hostile histories.
struct WorkCounters {
  std::uint64_t observedChecks = 0;    // "has this event seen that write?" answered
  std::uint64_t runsChecked = 0;       // transaction runs examined for readiness
  std::uint64_t heldCompared = 0;      // held runs compared with an arriving one
  std::uint64_t tableSlotsReset = 0;   // chunk name/key slots made ready for resolving
  std::uint64_t loadDecodedBytes = 0;  // bytes load() decoded (row states, graph, open chunk)
};

class Database {
 public:
  explicit Database(std::string peerId, DatabaseOptions options = {});
  // Components hold references to each other: a Database never moves.
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& peerId() const { return peerId_; }

  // Commits `ops` as one transaction (a contiguous run of events, one per op), validating all
  // of them first: Error(Type) for bad ops, Error(NotFound) for an update of a row that is
  // absent (after the transaction's earlier ops). `wantUpdate`: encode the new events.
  ChangeSet commit(std::span<const OpRef> ops, bool wantUpdate = false);

  // Decodes, validates and merges a Changes message. DecodeError or Error(PendingOverflow)
  // leave the replica untouched. Idempotent, any delivery order.
  ChangeSet applyChanges(ByteSpan bytes, bool wantUpdate = false);

  // A staged transaction (db.transaction): ops accumulate, validated as they arrive against
  // the committed state plus the transaction's own earlier ops, visible only to staged reads,
  // and committed as one causal batch (with `extra` ops appended) or dropped.
  void stage(std::span<const OpRef> ops);
  ChangeSet commitStaged(std::span<const OpRef> extra, bool wantUpdate = false);
  void rollbackStaged() {
    staging_.clear();
    committedStaging_.clear();
  }
  std::size_t stagedCount() const { return staging_.size(); }
  const Staging& staging() const { return staging_; }
  // The row as the staged transaction sees it (then `extra`, ops not yet staged).
  std::optional<StagedRow> stagedRow(std::string_view table, std::string_view key,
                                     std::span<const Op> extra = {}) const;

  // Reverts the last successful mutating call (before any other call; a commitStaged() is
  // reverted with its staged transaction restored). Never fails; false if nothing to undo.
  bool undoLast() noexcept;

  // Compaction (db/database_snapshot.cpp): folds the oldest history so that at most
  // `keepBytes` stay (0: all of it). Rows, indexes and the version do not change; a peer that
  // lacks a folded event then catches up from a snapshot. Returns the events folded.
  std::size_t compact(std::size_t keepBytes = 0);
  // The same, folding only events every one of `acked` (peers' acknowledged versions, encoded
  // as version() does) includes: the first event one of them lacks, and every later one,
  // stay. DecodeError on bad version bytes (nothing folded). Returns the events folded.
  std::size_t compactAcked(std::span<const ByteSpan> acked);

  Bytes version() const;
  // Every event the holder of `version` lacks (null: everything), as a Changes message
  // appended to `out`, or, when it lacks a folded event, a Snapshot message: every row's
  // state and the causal graph (applyChanges joins it state-based). DecodeError on bad
  // version bytes. While storage is tracked, this
  // replica's own events past what storage acknowledged (storageDurable) are left out: after
  // a crash the peer id is reused from storage, so a seq that left must never be reissued.
  void changesSince(const ByteSpan* version, ByteWriter& out) const;
  Bytes changesSince(const ByteSpan* version) const {
    ByteWriter w;
    changesSince(version, w);
    return w.take();
  }

  // Reads of the committed state.
  const RowStore& rows() const { return rows_; }
  std::optional<RowId> findRow(std::string_view table, std::string_view key) const;
  std::string_view name(NameId id) const { return names_.name(id); }
  std::optional<NameId> nameIdOf(std::string_view name) const { return names_.find(name); }
  std::uint32_t nameCount() const { return names_.size(); }
  template <typename F>  // f(NameId column, ValueRef value) for each visible column, name order
  void forEachColumn(RowId id, F&& f) const {
    for (const Cell& c : rows_.row(id).cells) {
      if (c.column() != kTokenColumn) f(c.column(), c.value());
    }
  }
  template <typename F>  // f(NameId column, ValueRef loser) for columns with concurrent losers
  void forEachLoser(RowId id, F&& f) const {
    // Concurrent existence tokens (concurrent sets of the row) are not a column's conflict,
    // nor are concurrent set operations (their elements merge).
    rows_.forEachLoser(id, [&](NameId col, ValueRef v) {
      if (col != kTokenColumn && !isSetValue(v)) f(col, v);
    });
  }

  // Secondary indexes: replaces the declared set, building new or changed ones from the rows
  // and dropping the others. Throws Error(Type) for a malformed or duplicate definition.
  void declareIndexes(const std::vector<IndexDef>& defs);
  const IndexSet& indexes() const { return indexes_; }
  // Rows of `table` (index empty) or of index `index`, in range order (entries point into
  // the index: valid until the next mutation). Throws Error(UnknownIndex).
  std::vector<QueryHit> query(const std::string& table, const std::string& index,
                              const KeyRange& range, const QueryOptions& opts) const;
  // The same as the open staged transaction sees it.
  std::vector<StagedHit> queryStaged(const std::string& table, const std::string& index,
                                     const KeyRange& range, const QueryOptions& opts) const;
  std::size_t count(const std::string& table, const std::string& index, const KeyRange& range,
                    bool staged = false) const;

  // Live queries: which subscriptions a call touched is reported in its ChangeSet.
  std::uint32_t subscribe(const std::string& table, const std::string& index,
                          const KeyRange& range);
  void unsubscribe(std::uint32_t id) { subs_.remove(id); }
  const Subscriptions& subscriptions() const { return subs_; }

  // Canonical bytes of the full row CRDT state: equal on replicas that saw the same events.
  Bytes encodeState() const { return rows_.encodeState(); }
  std::size_t heldEvents() const { return buffer_.heldEvents(); }
  std::size_t heldBytes() const { return buffer_.heldBytes(); }
  LV eventCount() const { return graph_.size(); }
  const CausalGraph& graph() const { return graph_; }
  const OpLog& opLog() const { return oplog_; }
  const WorkCounters& work() const { return work_; }

  // ---- persistence (db/database_store.cpp) ----
  // Storage records what changed since its last take: from trackStorage(true) on, every call
  // notes the rows it touched (with their index entries as storage holds them).
  void trackStorage(bool on);
  // Writes the storage record of everything changed since the last take and forgets it (no
  // undoLast() past it). Format:
  //   varint nRows, nRows × (string table, string key, u8 kind: 0 gone · 1 state · 2 visible,
  //     [1, 2] varint n, n bytes row state (RowStore::encodeRowState),
  //     [2] varint n, n bytes the row as an object value)
  //   varint nDel, nDel × (varint n, n bytes)   index entries to delete, then
  //   varint nPut, nPut × (varint n, n bytes)   index entries to put: each an array value
  //                                             [table, index, ...values, row key]
  //   varint nDel, nDel × (varint chunk, varint from, varint to)   events records to delete
  //                                             (keys [chunk, from] … [chunk, to]), then
  //   varint nPut, nPut × (varint chunk, varint start, varint n, n bytes)   to put
  // On an error the replica no longer knows what storage holds: reload it.
  void takeStorage(ByteWriter& out);
  // Storage made the last take durable: own events up to it may leave through changesSince.
  void storageDurable() noexcept { durableSelf_ = takenSelf_; }
  // Loads a fresh replica from storage: the events store's values in key order, then the
  // crdt_rows values (any order). O(rows + graph runs): no operation is replayed. DecodeError
  // names what is malformed; after any error the Database must be discarded.
  void load(std::span<const ByteSpan> events, std::span<const ByteSpan> rows);
  // The same in steps, so rows can be taken in while storage still reads the next ones:
  // loadHistory, then loadRows for each batch (`loaded`, if given, gets each row's id;
  // each row enters the tables' order and the indexes declared by then), then finishLoad.
  // In between, nothing else is called but declareIndexes (before the rows, so that each
  // batch builds its share of the indexes).
  void loadHistory(std::span<const ByteSpan> events);
  void loadRows(std::span<const ByteSpan> rows, std::vector<RowId>* loaded);
  void finishLoad();
  // Appends index `name`'s storage entries (as takeStorage's) to `out`: varint n, n entries.
  void writeIndexEntries(const std::string& name, ByteWriter& out) const;

  void checkInvariants() const;

 private:
  // Whether op's column of its row holds a committed text no staged op (then `pending`) has
  // rewritten since.
  bool committedText(const OpRef& op, const std::vector<Op>& pending) const;
  struct Dirty {
    std::string id;  // table NameId (4 bytes) ‖ row key: the dirtyAt_ key
    NameId table;
    std::vector<Bytes> stored;  // the row's index entries as storage holds them
  };
  void noteDirty(RowId id, const ColumnLookup* before);
  void indexEntries(NameId table, std::string_view key, const ColumnLookup& col,
                    std::vector<Bytes>& out) const;
  RowId loadRowState(ByteSpan bytes);
  // The parents an event's edit has in text `t` (its latest column events in its past).
  std::vector<LV> textParents(const list::TextColumn& t, LV event);

  // Snapshots (db/database_snapshot.cpp).
  void writeSnapshot(ByteWriter& out) const;
  // The snapshot in a fresh scratch replica; DecodeError names what is wrong.
  std::unique_ptr<Database> decodeSnapshot(ByteSpan payload) const;
  ChangeSet applySnapshot(ByteSpan payload, bool wantUpdate);
  // Joins snapshot replica `s` (its graph, then its rows) and folds the history it brought;
  // returns the events it added. `progress`: peers whose next seq advanced.
  LV joinSnapshot(const Database& s, std::vector<PeerIdx>& progress);
  void keepHistoryBudget();

  struct CallMark {
    CausalGraph::Mark graph;
    OpLog::Mark oplog;
    RowStore::Mark rows;
    IndexSet::Mark indexes;
    CausalBuffer::Mark buffer;
    std::uint32_t names, peers;
    std::size_t dirty;
  };
  class Call;
  struct ApplyState;

  // Out of line (noinline): every call has one, and inlining them everywhere costs size.
  [[gnu::noinline]] CallMark beginCall();
  [[gnu::noinline]] void rollbackTo(const CallMark& m) noexcept;
  [[gnu::noinline]] void confirm() noexcept;

  ChangeSet commitOps(std::span<const OpRef> ops, bool wantUpdate);
  RowId applyLocalOp(const OpRef& op, std::optional<RowId> known, LV lv,
                     std::vector<ColumnWrite>& scratch, const TextEditValue* edit = nullptr);
  // The value a local text op writes to the log (merge/text_op.h), in `buf`: a create's
  // content, an edit's named form (also parsed, in `edit`: its views are into `buf`, the
  // op's value and the peer table). Error(Type) unless the column of row `id` allows it.
  ValueRef namedTextOp(const OpRef& op, RowId id, Bytes& buf, TextEditValue& edit) const;
  ChangeSet finish(const CallMark& m);
  NameId internName(std::string_view name);
  NameId nameId(std::string_view name, NameId hint);

  void processRun(ApplyState& st, const RunSource& src);
  void cascade(ApplyState& st);
  // The writer of a call's update message, empty: reused while small (a keystroke's update
  // then allocates nothing), made again after a large one.
  ChunkWriter& updateWriter();

  std::string peerId_;
  std::uint64_t hashSeed_;
  std::size_t historyMaxBytes_;
  Interner names_;
  Interner peers_;
  PeerIdx self_;
  CausalGraph graph_;
  OpLog oplog_;
  RowStore rows_;
  IndexSet indexes_;
  CausalBuffer buffer_;
  Subscriptions subs_;
  Staging staging_;
  Staging committedStaging_;  // what commitStaged() committed, until the next call
  WorkCounters work_;
  std::optional<CallMark> last_;  // marks of the last successful call (for undoLast)
  ChunkWriter update_;
  bool tracking_ = false;
  bool loading_ = false;  // between loadHistory and finishLoad
  struct LoadScratch {    // loadRowState's memory of names it resolved, by place in a row
    std::vector<std::pair<std::string, PeerIdx>> peers;
    std::vector<std::pair<std::string, NameId>> columns;
    std::pair<std::string, NameId> table;
    std::vector<PeerIdx> peerIdx;
  } loadScratch_;
  // Own events from seq durableSelf_ on are not durable yet (no limit while not tracking);
  // takenSelf_: own seq end covered by the last take.
  Seq durableSelf_ = kNoSeqLimit, takenSelf_ = 0;
  std::vector<Dirty> dirty_;  // rows changed since storage's last take, in order
  std::unordered_map<std::string, std::size_t> dirtyAt_;
};

}  // namespace crdtdb
