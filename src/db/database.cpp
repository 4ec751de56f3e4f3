#include "db/database.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/errors.h"
#include "oplog/changes_codec.h"
#include "oplog/version_codec.h"

namespace crdtdb {

Database::Database(std::string peerId, DatabaseOptions options) : buffer_(options.maxPendingBytes) {
  validatePeerId(peerId);
  self_ = peers_.intern(peerId);
}

CommitResult Database::commit(const std::vector<Op>& input) {
  // Validate against the state as the transaction's own earlier ops leave it.
  std::map<std::pair<std::string, std::string>, bool> staged;  // visible after earlier ops?
  std::vector<const Op*> ops;
  for (const Op& op : input) {
    validateTableAndKey(op.table, op.key);
    auto k = std::make_pair(op.table, op.key);
    auto s = staged.find(k);
    bool touched = s != staged.end();
    bool visibleNow = touched ? s->second : store_.visible(op.table, op.key);
    switch (op.kind) {
      case OpKind::SetRow:
        staged[k] = true;
        break;
      case OpKind::UpdateRow:
        if (!visibleNow) {
          throw Error(ErrorCode::NotFound, "cannot update row \"" + op.key + "\" in table \"" +
                                               op.table + "\": it does not exist");
        }
        break;
      case OpKind::DeleteRow:
        staged[k] = false;
        // Deleting a row with no state at all would record an event that changes nothing.
        if (!touched && !store_.find(op.table, op.key)) continue;
        break;
    }
    ops.push_back(&op);
  }
  CommitResult result;
  if (ops.empty()) return result;

  const Seq seq = graph_.nextSeq(self_);
  const Lamport lamport = graph_.maxLamport(graph_.frontier()) + 1;
  if (lamport + ops.size() > kMaxClock || seq + ops.size() > kMaxClock) {
    // Only reachable when peers pushed the clock to the limit: refuse rather than wrap.
    throw Error(ErrorCode::Internal, "Lamport clock exhausted: this database cannot accept writes");
  }
  const std::vector<LV> parents = graph_.frontier();
  const LV start = graph_.append(self_, seq, lamport, parents, ops.size());
  txnStarts_.push_back(start);

  ChangeTracker tracker(store_);
  const ObservedFn all = [](LV) { return true; };  // a local event has seen everything here
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& op = *ops[i];
    ops_.push_back(op);
    tracker.touch(op.table, op.key);
    store_.getOrCreate(op.table, op.key)
        .apply(op, Stamp{start + i, lamport + i, self_, seq + i}, all, peers_);
    store_.eraseIfEmpty(op.table, op.key);
  }
  result.changes = finishChanges(tracker);
  result.encoded = encodeChanges({recordFor(start, start + ops.size())});
  return result;
}

ApplyResult Database::applyChanges(ByteSpan bytes) {
  std::vector<TxnRecord> txns = decodeChanges(bytes);
  KnownEvents known{[this](const std::string& peer) {
                      auto idx = peers_.find(peer);
                      return idx ? graph_.nextSeq(*idx) : Seq{0};
                    },
                    [this](const EventRef& e) {
                      return graph_.lamportOf(*graph_.lvOf(*peers_.find(e.peer), e.seq));
                    }};
  CausalBuffer::Plan plan = buffer_.plan(std::move(txns), known);

  // Validation is complete: from here on the replica changes.
  ApplyResult result;
  ChangeTracker tracker(store_);
  for (const ReadyTxn& r : plan.ready) {
    applyRemote(*r.txn, r.skip, tracker);
    result.applied += r.txn->ops.size() - r.skip;
  }
  buffer_.commit(std::move(plan));
  result.pending = buffer_.heldEvents();
  result.changes = finishChanges(tracker);
  return result;
}

void Database::applyRemote(const TxnRecord& txn, Seq skip, ChangeTracker& tracker) {
  const PeerIdx peer = peers_.intern(txn.peer);
  const Seq seq = txn.seq + skip;
  const Lamport lamport = txn.lamport + skip;
  std::vector<LV> parents;
  if (skip > 0) {
    parents.push_back(*graph_.lvOf(peer, seq - 1));
  } else {
    for (const auto& p : txn.parents) parents.push_back(*graph_.lvOf(*peers_.find(p.peer), p.seq));
  }
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  const LV count = txn.ops.size() - skip;
  const LV start = graph_.append(peer, seq, lamport, parents, count);
  txnStarts_.push_back(start);

  // The transaction's own earlier events are observed; older state is observed iff it is in
  // the past of the transaction's parents. Answers are cached: rows are small, but one
  // transaction may touch many rows whose writes share a few LVs.
  std::unordered_map<LV, bool> memo;
  const ObservedFn observed = [&](LV x) {
    if (x >= start) return true;
    auto it = memo.find(x);
    if (it != memo.end()) return it->second;
    bool seen = graph_.contains(parents, x);
    memo.emplace(x, seen);
    return seen;
  };
  for (LV i = 0; i < count; ++i) {
    const Op& op = txn.ops[skip + i];
    ops_.push_back(op);
    tracker.touch(op.table, op.key);
    store_.getOrCreate(op.table, op.key)
        .apply(op, Stamp{start + i, lamport + i, peer, seq + i}, observed, peers_);
    store_.eraseIfEmpty(op.table, op.key);
  }
}

Bytes Database::version() const {
  VersionVector vv;
  for (PeerIdx p = 0; p < graph_.peerCount(); ++p) {
    if (graph_.nextSeq(p) > 0) vv.emplace_back(peers_.name(p), graph_.nextSeq(p));
  }
  std::sort(vv.begin(), vv.end());
  return encodeVersion(vv);
}

Bytes Database::changesSince(ByteSpan versionBytes) const {
  std::unordered_map<std::string, Seq> theirs;
  if (!versionBytes.empty()) {
    for (auto& [peer, next] : decodeVersion(versionBytes)) theirs.emplace(peer, next);
  }
  std::vector<LVRange> ranges;
  for (PeerIdx p = 0; p < graph_.peerCount(); ++p) {
    auto it = theirs.find(peers_.name(p));
    auto rs = graph_.rangesFromSeq(p, it == theirs.end() ? 0 : it->second);
    ranges.insert(ranges.end(), rs.begin(), rs.end());
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const LVRange& a, const LVRange& b) { return a.start < b.start; });

  std::vector<TxnRecord> records;
  for (const LVRange& r : ranges) {
    LV pos = r.start;
    while (pos < r.end) {
      const GraphRun& run = graph_.runAt(pos);
      LV end = std::min(r.end, run.end);
      auto nextTxn = std::upper_bound(txnStarts_.begin(), txnStarts_.end(), pos);
      if (nextTxn != txnStarts_.end()) end = std::min(end, *nextTxn);
      records.push_back(recordFor(pos, end));
      pos = end;
    }
  }
  return encodeChanges(records);
}

TxnRecord Database::recordFor(LV start, LV end) const {
  Stamp s = graph_.stampOf(start);
  TxnRecord t;
  t.peer = peers_.name(s.peer);
  t.seq = s.seq;
  t.lamport = s.lamport;
  for (LV p : graph_.parentsOf(start)) {
    Stamp ps = graph_.stampOf(p);
    t.parents.push_back({peers_.name(ps.peer), ps.seq});
  }
  std::sort(t.parents.begin(), t.parents.end());
  t.ops.assign(ops_.begin() + static_cast<std::ptrdiff_t>(start),
               ops_.begin() + static_cast<std::ptrdiff_t>(end));
  return t;
}

std::optional<Value> Database::row(const std::string& table, const std::string& key) const {
  const RowState* r = store_.find(table, key);
  return r ? r->materialize() : std::nullopt;
}

Value Database::conflicts(const std::string& table, const std::string& key) const {
  const RowState* r = store_.find(table, key);
  return r ? r->conflicts() : Value::object();
}

std::vector<RowChange> Database::finishChanges(const ChangeTracker& tracker) {
  std::vector<RowChange> changes = tracker.finish();
  for (const RowChange& ch : changes) indexes_.onRowChange(ch.table, ch.key, ch.before, ch.row);
  return changes;
}

void Database::declareIndexes(const std::vector<IndexDef>& defs) {
  std::map<std::string, bool> names;
  for (const IndexDef& d : defs) {
    IndexSet::validate(d);
    if (!names.emplace(d.name, true).second) {
      throw Error(ErrorCode::Type, "index \"" + d.name + "\" is declared twice");
    }
  }
  indexes_.declare(defs,
                   [this](const std::string& table, auto&& f) { store_.forEachRow(table, f); });
}

std::vector<std::string> Database::query(const std::string& table, const std::string& index,
                                         const KeyRange& range, const QueryOptions& opts,
                                         bool staged, std::string* lastEntry) const {
  if (!staged || staged_.empty()) {
    return indexes_.query(table, index, range, opts, nullptr, lastEntry);
  }
  IndexSet::Overlay overlay = overlayFor(indexes_.tableOf(table, index));
  return indexes_.query(table, index, range, opts, &overlay, lastEntry);
}

std::size_t Database::count(const std::string& table, const std::string& index,
                            const KeyRange& range, bool staged) const {
  if (!staged || staged_.empty()) return indexes_.count(table, index, range);
  IndexSet::Overlay overlay = overlayFor(indexes_.tableOf(table, index));
  return indexes_.count(table, index, range, &overlay);
}

RowState Database::stagedState(const std::string& table, const std::string& key,
                               const std::vector<Op>& extra) const {
  const RowState* committed = store_.find(table, key);
  RowState s = committed ? *committed : RowState();
  const ObservedFn all = [](LV) { return true; };
  // Staged writes have seen everything committed; their stamps only need to be distinct.
  LV lv = graph_.size();
  auto applyOne = [&](const Op& op) {
    s.apply(op,
            Stamp{lv, graph_.maxLamport(graph_.frontier()) + 1 + (lv - graph_.size()), self_,
                  graph_.nextSeq(self_) + (lv - graph_.size())},
            all, peers_);
    ++lv;
  };
  auto it = stagedByRow_.find({table, key});
  if (it != stagedByRow_.end()) {
    for (std::size_t i : it->second) applyOne(staged_[i]);
  }
  for (const Op& op : extra) {
    if (op.table == table && op.key == key) applyOne(op);
  }
  return s;
}

IndexSet::Overlay Database::overlayFor(const std::string& table) const {
  IndexSet::Overlay overlay;
  for (const auto& [rk, idx] : stagedByRow_) {
    if (rk.first != table) continue;
    const RowState* committed = store_.find(rk.first, rk.second);
    overlay.rows[rk.second] = {committed ? committed->materialize() : std::nullopt,
                               stagedState(rk.first, rk.second).materialize()};
  }
  return overlay;
}

void Database::stage(const std::vector<Op>& ops) {
  // Validate the batch as it would apply after the already staged ops.
  std::vector<Op> pending;
  for (const Op& op : ops) {
    validateTableAndKey(op.table, op.key);
    if (op.kind == OpKind::UpdateRow && !stagedState(op.table, op.key, pending).visible()) {
      throw Error(ErrorCode::NotFound, "cannot update row \"" + op.key + "\" in table \"" +
                                           op.table + "\": it does not exist");
    }
    pending.push_back(op);
  }
  for (Op& op : pending) {
    stagedByRow_[{op.table, op.key}].push_back(staged_.size());
    staged_.push_back(std::move(op));
  }
}

std::optional<Value> Database::stagedRow(const std::string& table, const std::string& key) const {
  if (!stagedByRow_.count({table, key})) return row(table, key);
  return stagedState(table, key).materialize();
}

CommitResult Database::commitStaged() {
  std::vector<Op> ops = std::move(staged_);
  rollbackStaged();
  return commit(ops);
}

void Database::checkInvariants() const {
  graph_.checkInvariants();
  if (ops_.size() != graph_.size()) throw Error(ErrorCode::Internal, "op log size mismatch");
  if (!txnStarts_.empty() && txnStarts_.front() != 0) {
    throw Error(ErrorCode::Internal, "first transaction does not start at LV 0");
  }
  if (!std::is_sorted(txnStarts_.begin(), txnStarts_.end()) ||
      std::adjacent_find(txnStarts_.begin(), txnStarts_.end()) != txnStarts_.end()) {
    throw Error(ErrorCode::Internal, "transaction starts not strictly ascending");
  }
  for (const GraphRun& run : graph_.runs()) {
    // A run boundary is always a transaction boundary.
    if (!std::binary_search(txnStarts_.begin(), txnStarts_.end(), run.start)) {
      throw Error(ErrorCode::Internal, "graph run starts inside a transaction");
    }
  }
  store_.checkInvariants(peers_);
  indexes_.checkInvariants();
}

}  // namespace crdtdb
