#include "merge/row_state.h"

#include <algorithm>

#include "core/errors.h"

namespace crdtdb {

bool winsOver(const Stamp& a, const Stamp& b, const PeerTable& peers) {
  if (a.lamport != b.lamport) return a.lamport > b.lamport;
  if (a.peer != b.peer) return peers.name(a.peer) > peers.name(b.peer);
  return a.seq > b.seq;
}

void RowState::removeObserved(std::vector<ColumnWrite>& writes, const ObservedFn& observed) {
  std::erase_if(writes, [&](const ColumnWrite& w) { return observed(w.stamp.lv); });
}

void RowState::insertWrite(std::vector<ColumnWrite>& writes, ColumnWrite w,
                           const PeerTable& peers) {
  auto pos = std::find_if(writes.begin(), writes.end(),
                          [&](const ColumnWrite& e) { return winsOver(w.stamp, e.stamp, peers); });
  writes.insert(pos, std::move(w));
}

void RowState::apply(const Op& op, const Stamp& stamp, const ObservedFn& observed,
                     const PeerTable& peers) {
  if (op.kind == OpKind::SetRow || op.kind == OpKind::DeleteRow) {
    std::erase_if(tokens_, [&](const Stamp& t) { return observed(t.lv); });
    for (auto it = columns_.begin(); it != columns_.end();) {
      removeObserved(it->second, observed);
      it = it->second.empty() ? columns_.erase(it) : std::next(it);
    }
  }
  if (op.kind == OpKind::SetRow) tokens_.push_back(stamp);
  if (op.kind == OpKind::DeleteRow) return;
  for (const auto& [name, value] : op.columns) {
    auto& writes = columns_[name];
    if (op.kind == OpKind::UpdateRow) removeObserved(writes, observed);
    insertWrite(writes, ColumnWrite{stamp, value}, peers);
  }
}

std::optional<Value> RowState::materialize() const {
  if (!visible()) return std::nullopt;
  Value row = Value::object();
  for (const auto& [name, writes] : columns_) row[name] = writes.front().value;
  return row;
}

Value RowState::conflicts() const {
  Value out = Value::object();
  if (!visible()) return out;
  for (const auto& [name, writes] : columns_) {
    if (writes.size() < 2) continue;
    Value losers = Value::array();
    for (std::size_t i = 1; i < writes.size(); ++i) losers.push_back(writes[i].value);
    out[name] = std::move(losers);
  }
  return out;
}

namespace {

void encodeStamp(ByteWriter& w, const Stamp& s, const PeerTable& peers) {
  w.string(peers.name(s.peer));
  w.varint(s.seq);
  w.varint(s.lamport);
}

// Canonical order for encoding: by (peer id, seq), independent of local LVs.
bool canonicalLess(const Stamp& a, const Stamp& b, const PeerTable& peers) {
  if (a.peer != b.peer) return peers.name(a.peer) < peers.name(b.peer);
  return a.seq < b.seq;
}

}  // namespace

void RowState::encode(ByteWriter& w, const PeerTable& peers) const {
  std::vector<Stamp> tokens = tokens_;
  std::sort(tokens.begin(), tokens.end(),
            [&](const Stamp& a, const Stamp& b) { return canonicalLess(a, b, peers); });
  w.varint(tokens.size());
  for (const auto& t : tokens) encodeStamp(w, t, peers);
  w.varint(columns_.size());
  for (const auto& [name, writes] : columns_) {
    w.string(name);
    w.varint(writes.size());  // winner-first order is canonical: it depends only on stamps
    for (const auto& cw : writes) {
      encodeStamp(w, cw.stamp, peers);
      encodeValue(w, cw.value);
    }
  }
}

void RowState::checkInvariants(const PeerTable& peers) const {
  for (const auto& [name, writes] : columns_) {
    if (writes.empty()) throw Error(ErrorCode::Internal, "empty column list for " + name);
    for (std::size_t i = 1; i < writes.size(); ++i) {
      if (!winsOver(writes[i - 1].stamp, writes[i].stamp, peers)) {
        throw Error(ErrorCode::Internal, "column writes not in winner order for " + name);
      }
    }
  }
}

}  // namespace crdtdb
