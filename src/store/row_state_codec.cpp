// RowStore persistence: one row's CRDT state with global event ids (format in row_store.h).
#include <algorithm>
#include <map>

#include "core/errors.h"
#include "merge/list/text_codec.h"
#include "store/row_store.h"

namespace crdtdb {

void RowStore::encodeRowState(RowId id, ByteWriter& out) const {
  const Row& r = rows_[id];
  // Peer table: the row's writers in order of first appearance.
  std::vector<PeerIdx> order;
  auto localOf = [&](PeerIdx p) {
    auto it = std::find(order.begin(), order.end(), p);
    if (it != order.end()) return static_cast<std::size_t>(it - order.begin());
    order.push_back(p);
    return order.size() - 1;
  };
  // Two passes over the same cells: the first fixes the table, the second writes.
  std::size_t stored = 0;
  for (const Cell& c : r.cells) {
    if (c.derived()) continue;  // a counter's sum: rebuilt from its entries
    ++stored;
    localOf(graph_.stampOf(c.lv()).peer);
    if (c.hasLosers()) {
      for (const auto& [peer, l] : losers_.at(loserKey(id, c.column())).byPeer) localOf(peer);
    }
  }
  forEachDot(id, [&](NameId, ValueRef, LV lv) { localOf(graph_.stampOf(lv).peer); });
  forEachCounter(id, [&](NameId, PeerIdx p, const CounterEntry&) { localOf(p); });
  std::size_t nTexts = 0;
  forEachText(id, [&](NameId, LV created, const list::TextColumn& t) {
    ++nTexts;
    localOf(graph_.stampOf(created).peer);
    t.forEachEventRun([&](const list::TextColumn::EventRun& run) {
      for (LV i = 0; i < (run.perUnit ? run.len : 1); ++i)
        localOf(graph_.stampOf(run.event + i).peer);
    });
  });
  out.string(names_.name(r.table));
  out.string(r.key);
  out.varint(order.size());
  for (PeerIdx p : order) out.string(peers_.name(p));
  out.varint(stored);
  auto event = [&](LV lv) {
    const Stamp s = graph_.stampOf(lv);
    out.varint(localOf(s.peer));
    out.varint(s.seq);
  };
  auto stamp = [&](const Cell& c) {
    event(c.lv());
    out.raw(storedValue(id, c));  // sets and counters: the read value is rebuilt
  };
  for (const Cell& c : r.cells) {
    if (c.derived()) continue;
    const bool token = c.column() == kTokenColumn;
    auto set = sets_.find(loserKey(id, c.column()));
    const bool dots = set != sets_.end() && !set->second.elements.empty();
    out.u8((token ? 1 : 0) | (c.hasLosers() ? 2 : 0) | (dots ? 4 : 0));
    if (!token) out.string(names_.name(c.column()));
    stamp(c);
    if (c.hasLosers()) {
      const ConflictSet& cs = losers_.at(loserKey(id, c.column()));
      out.varint(cs.order.size());
      for (auto it = cs.order.rbegin(); it != cs.order.rend(); ++it) stamp(cs.byPeer.at(it->peer));
    }
    if (!dots) continue;
    out.varint(set->second.elements.size());
    for (const auto& entry : set->second.elements) {
      out.raw(entry.second.value);
      out.varint(entry.second.dots.size());
      for (const auto& dot : entry.second.dots) event(dot.second);
    }
  }
  const CounterRange counters = countersOf(id);
  const auto nCounters = static_cast<std::size_t>(std::distance(counters.begin(), counters.end()));
  if (nCounters == 0 && nTexts == 0) return;
  out.varint(nCounters);
  for (const auto& [key, st] : counters) {
    out.string(names_.name(columnOf(key)));
    out.varint(st.peers.size());
    for (const auto& [peer, e] : st.peers) {
      out.varint(localOf(peer));
      for (const CounterClock& c : {e.latest, e.base}) {
        out.varint(c.next);
        out.zigzag(c.total);
      }
    }
  }
  if (nTexts == 0) return;
  out.varint(nTexts);
  forEachText(id, [&](NameId col, LV created, const list::TextColumn& t) {
    out.string(names_.name(col));
    event(created);
    list::encodeText(
        t,
        [&](LV lv) {
          const Stamp s = graph_.stampOf(lv);
          return list::EventName{static_cast<std::uint32_t>(localOf(s.peer)), s.seq};
        },
        out);
  });
}

RowId RowStore::loadRow(NameId table, std::string_view key, std::vector<Cell>&& cells,
                        std::vector<std::pair<NameId, std::vector<Cell>>>&& losers,
                        std::vector<std::pair<NameId, SetState>>&& dots,
                        std::vector<std::pair<NameId, CounterState>>&& counters) {
  if (cells.empty() && counters.empty()) {
    throw DecodeError("stored row \"" + std::string(key) + "\" has no state");
  }
  std::vector<NameId> counterColumns;
  for (const auto& entry : counters) counterColumns.push_back(entry.first);
  std::sort(counterColumns.begin(), counterColumns.end());
  if (std::adjacent_find(counterColumns.begin(), counterColumns.end()) != counterColumns.end()) {
    throw DecodeError("stored row lists one counter twice");
  }
  for (const auto& entry : dots) {
    // Every dot is an add, whose set write (or a later one that saw it) is still there.
    const NameId col = entry.first;
    bool marker = false;
    for (const Cell& c : cells) marker = marker || (c.column() == col && isSetValue(c.value()));
    for (const auto& l : losers) {
      if (l.first != col) continue;
      for (const Cell& c : l.second) marker = marker || isSetValue(c.value());
    }
    if (!marker) throw DecodeError("stored row has set dots of a column without a set write");
  }
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const NameId col = cells[i].column();
    if (col == kTokenColumn && i != 0) throw DecodeError("stored row has a misplaced token");
    if (i > 0 && cells[i - 1].column() != kTokenColumn &&
        names_.name(cells[i - 1].column()) >= names_.name(col)) {
      throw DecodeError("stored row's columns are not in ascending order");
    }
  }
  std::vector<ConflictSet> sets;
  sets.reserve(losers.size());
  for (auto& entry : losers) {
    const NameId col = entry.first;  // (clang 14 cannot capture a structured binding)
    std::vector<Cell>& list = entry.second;
    auto w =
        std::find_if(cells.begin(), cells.end(), [&](const Cell& c) { return c.column() == col; });
    if (w == cells.end() || list.empty()) throw DecodeError("stored row has stray losers");
    const WriteOrder winner = orderOf(w->lv());
    ConflictSet cs;
    for (Cell& l : list) {
      const WriteOrder o = orderOf(l.lv());
      if (!(o < winner) || o.peer == winner.peer) {
        throw DecodeError("stored row has a loser that does not lose to its column's winner");
      }
      if (!cs.byPeer.emplace(o.peer, std::move(l)).second) {
        throw DecodeError("stored row has two losers of one peer");
      }
      cs.order.insert(o);
    }
    w->setHasLosers(true);
    sets.push_back(std::move(cs));
  }

  bool created = false;
  const RowId id = findOrCreate(table, key, &created);
  if (!created) throw DecodeError("stored row \"" + std::string(key) + "\" appears twice");
  rows_[id].cells = std::move(cells);
  for (std::size_t i = 0; i < losers.size(); ++i) {
    if (!losers_.emplace(loserKey(id, losers[i].first), std::move(sets[i])).second) {
      throw DecodeError("stored row lists one column's losers twice");
    }
  }
  for (auto& entry : dots) {
    if (!sets_.emplace(loserKey(id, entry.first), std::move(entry.second)).second) {
      throw DecodeError("stored row lists one column's set dots twice");
    }
  }
  for (auto& entry : counters) {
    entry.second.savedEpoch = epoch_;  // the row is new: nothing to save for undo
    counters_.emplace(loserKey(id, entry.first), std::move(entry.second));
  }
  // The read values of sets and counters, rebuilt (the row is new: nothing is journaled).
  for (std::size_t i = 0; i < rows_[id].cells.size(); ++i) refreshSetCellAt(id, i);
  for (const auto& [counterKey, st] : countersOf(id)) refreshCounter(id, columnOf(counterKey), st);
  return id;
}

}  // namespace crdtdb
