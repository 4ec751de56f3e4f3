#include "store/row_store.h"

#include <algorithm>

#include "core/errors.h"
#include "core/hash.h"
#include "core/reserve.h"
#include "core/sort.h"
#include "merge/text_op.h"

namespace crdtdb {

namespace {

constexpr std::uint8_t kNullByte = 0x00;
const ValueRef kNull(&kNullByte, 1);

void internal(bool ok, const char* what) {
  if (!ok) throw Error(ErrorCode::Internal, std::string("row store invariant violated: ") + what);
}

}  // namespace

RowStore::RowStore(const Interner& names, const Interner& peers, const CausalGraph& graph,
                   std::uint64_t seed)
    : names_(names), peers_(peers), graph_(graph), seed_(seed) {}

std::uint64_t RowStore::hashOf(NameId table, std::string_view key) const {
  return hashBytes(key, seed_ ^ (std::uint64_t{table} * 0x9e3779b97f4a7c15ull));
}

std::size_t RowStore::slotOf(NameId table, std::string_view key) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hashOf(table, key) & mask;
  while (slots_[i] != 0) {
    const Row& r = rows_[slots_[i] - 1];
    if (r.table == table && r.key == key) break;
    i = (i + 1) & mask;
  }
  return i;
}

void RowStore::growSlots() {
  std::vector<std::uint32_t> next(slots_.empty() ? 64 : slots_.size() * 2, 0);
  slots_.swap(next);
  const std::size_t mask = slots_.size() - 1;
  for (RowId id = 0; id < rows_.size(); ++id) {
    const Row& r = rows_[id];
    if (r.key.empty()) continue;
    std::size_t i = hashOf(r.table, r.key) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = id + 1;
  }
}

std::optional<RowId> RowStore::find(NameId table, std::string_view key) const {
  if (slots_.empty()) return std::nullopt;
  std::size_t i = slotOf(table, key);
  if (slots_[i] == 0) return std::nullopt;
  return slots_[i] - 1;
}

RowId RowStore::findOrCreate(NameId table, std::string_view key, bool* created) {
  // Grown first (layout only) so that one probe finds the row or the slot for it.
  if ((live_ + 1) * 4 > slots_.size() * 3) growSlots();  // load <= 3/4
  const std::size_t slot = slotOf(table, key);
  if (created) *created = slots_[slot] == 0;
  if (slots_[slot] != 0) return slots_[slot] - 1;
  reserveMore(created_, 1);
  Row r;
  r.key.assign(key.data(), key.size());
  r.table = table;
  r.created = epoch_;
  RowId id;
  if (!free_.empty()) {
    id = free_.back();
    rows_[id] = std::move(r);
    free_.pop_back();
  } else {
    internal(rows_.size() < 0xffffffffu, "row id space exhausted");
    rows_.push_back(std::move(r));
    id = static_cast<RowId>(rows_.size() - 1);
  }
  slots_[slot] = id + 1;
  ++live_;
  created_.push_back(id);
  return id;
}

void RowStore::destroy(RowId id) noexcept {
  Row& r = rows_[id];
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = slotOf(r.table, r.key);
  slots_[i] = 0;
  for (std::size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const Row& o = rows_[slots_[j] - 1];
    std::size_t home = hashOf(o.table, o.key) & mask;
    bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!between) {
      slots_[i] = slots_[j];
      slots_[j] = 0;
      i = j;
    }
  }
  --live_;
  std::string().swap(r.key);
  std::vector<Cell>().swap(r.cells);
  if (id + 1 == rows_.size()) {
    rows_.pop_back();
  } else {
    free_.push_back(id);  // capacity is there: see callers
  }
}

WriteOrder RowStore::orderOf(LV lv) const {
  Stamp s = graph_.stampOf(lv);
  return WriteOrder{s.lamport, peers_.name(s.peer), s.seq, s.peer};
}

std::size_t RowStore::findCell(const Row& r, NameId column, std::string_view name,
                               bool& found) const {
  const bool token = !r.cells.empty() && r.cells[0].column() == kTokenColumn;
  if (column == kTokenColumn) {
    found = token;
    return 0;
  }
  std::size_t lo = token ? 1 : 0, hi = r.cells.size();
  if (hi - lo <= 16) {
    // Small rows: match ids first (no string compares); names only place a new column.
    for (std::size_t i = lo; i < hi; ++i) {
      if (r.cells[i].column() == column) {
        found = true;
        return i;
      }
    }
  }
  // Columns usually arrive in name order (a row's ops are encoded sorted): place a new last
  // column with one compare instead of a binary search.
  if (lo == hi || names_.name(r.cells[hi - 1].column()) < name) {
    found = false;
    return hi;
  }
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    NameId c = r.cells[mid].column();
    if (c == column) {
      found = true;
      return mid;
    }
    if (names_.name(c) < name) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  found = false;
  return lo;
}

const Cell* RowStore::cell(const Row& r, std::string_view columnName) const {
  auto id = names_.find(columnName);
  if (!id) return nullptr;
  bool found;
  std::size_t idx = findCell(r, *id, columnName, found);
  return found ? &r.cells[idx] : nullptr;
}

namespace {

// Lists row `id` in `list` once per call: `mark` holds the epoch of the call that last did.
void listOnce(std::vector<RowId>& list, RowId id, std::uint32_t& mark, std::uint32_t epoch) {
  if (mark == epoch) return;
  reserveMore(list, 1);
  list.push_back(id);
  mark = epoch;
}

}  // namespace

void RowStore::touch(RowId id) { listOnce(touched_, id, rows_[id].touched, epoch_); }

void RowStore::insertCell(RowId id, std::size_t idx, Cell c) {
  touch(id);
  Row& r = rows_[id];
  const bool j = r.created != epoch_;
  if (j) reserveMore(journal_, 1);
  const NameId col = c.column();
  if (r.cells.size() == r.cells.capacity()) {
    r.cells.reserve(r.cells.size() + r.cells.size() / 4 + 1);  // slow growth: rows stay tight
  }
  r.cells.insert(r.cells.begin() + static_cast<std::ptrdiff_t>(idx), std::move(c));
  if (j) journal_.push_back(Undo{Undo::CellInserted, id, static_cast<std::uint32_t>(idx), col, {}});
}

void RowStore::eraseCell(RowId id, std::size_t idx) {
  touch(id);
  Row& r = rows_[id];
  const bool j = r.created != epoch_;
  if (j) reserveMore(journal_, 1);
  Cell old = std::move(r.cells[idx]);
  r.cells.erase(r.cells.begin() + static_cast<std::ptrdiff_t>(idx));
  if (j) {
    const NameId col = old.column();
    journal_.push_back(
        Undo{Undo::CellErased, id, static_cast<std::uint32_t>(idx), col, std::move(old)});
  }
}

void RowStore::replaceCell(RowId id, std::size_t idx, Cell c) {
  touch(id);
  Row& r = rows_[id];
  const bool j = r.created != epoch_;
  if (j) reserveMore(journal_, 1);
  Cell old = std::move(r.cells[idx]);
  r.cells[idx] = std::move(c);
  if (j) {
    const NameId col = old.column();
    journal_.push_back(
        Undo{Undo::CellReplaced, id, static_cast<std::uint32_t>(idx), col, std::move(old)});
  }
}

void RowStore::setLosersFlag(RowId id, std::size_t idx, bool on) {
  touch(id);
  Row& r = rows_[id];
  const bool j = r.created != epoch_;
  if (j) reserveMore(journal_, 1);
  Cell& c = r.cells[idx];
  if (j) {
    journal_.push_back(
        Undo{Undo::LosersFlag, id, static_cast<std::uint32_t>(idx), c.hasLosers() ? 1u : 0u, {}});
  }
  c.setHasLosers(on);
}

void RowStore::addLoser(RowId id, NameId col, Cell c) {
  touch(id);
  reserveMore(journal_, 2);
  const std::uint64_t key = loserKey(id, col);
  auto [it, inserted] = losers_.try_emplace(key);
  if (inserted) journal_.push_back(Undo{Undo::SetCreated, id, 0, col, {}});
  ConflictSet& cs = it->second;
  const WriteOrder o = orderOf(c.lv());
  auto [pos, added] = cs.byPeer.emplace(o.peer, std::move(c));
  internal(added, "two concurrent writes by one peer");
  try {
    cs.order.insert(o);
  } catch (...) {
    cs.byPeer.erase(pos);
    throw;
  }
  journal_.push_back(Undo{Undo::LoserAdded, id, o.peer, col, {}});
}

Cell RowStore::takeLoser(RowId id, NameId col, PeerIdx peer) {
  touch(id);
  reserveMore(journal_, 1);
  reserveMore(loserNodes_, 1);
  ConflictSet& cs = losers_.at(loserKey(id, col));
  Cell copy = cs.byPeer.at(peer).clone();
  auto cellNode = cs.byPeer.extract(peer);
  auto orderNode = cs.order.extract(orderOf(cellNode.mapped().lv()));
  loserNodes_.push_back(LoserNodes{std::move(cellNode), std::move(orderNode)});
  journal_.push_back(
      Undo{Undo::LoserRemoved, id, static_cast<std::uint32_t>(loserNodes_.size() - 1), col, {}});
  return copy;
}

void RowStore::removeObservedAt(RowId id, std::size_t idx, const Observer& obs) {
  if (rows_[id].cells[idx].derived()) return;  // not a write: refreshCounter decides
  const NameId col = rows_[id].cells[idx].column();
  const bool winnerSeen = obs.observed(rows_[id].cells[idx].lv());
  if (!rows_[id].cells[idx].hasLosers()) {
    if (winnerSeen) eraseCell(id, idx);
    return;
  }
  const std::uint64_t key = loserKey(id, col);
  ConflictSet& cs = losers_.at(key);
  // Which losers has the event seen? Walk the smaller side: the losers, or the peers its
  // version vector names (then look each up by peer).
  std::vector<PeerIdx> gone;
  const std::uint32_t named = obs.all ? 0 : graph_.vvStore().size(obs.vv);
  if (obs.all || obs.seen || cs.byPeer.size() <= std::size_t{named} + 1) {
    for (const auto& [peer, c] : cs.byPeer) {
      if (obs.observed(c.lv())) gone.push_back(peer);
    }
  } else {
    graph_.vvStore().forEach(obs.vv, [&](PeerIdx p, Seq next) {
      auto it = cs.byPeer.find(p);
      if (it != cs.byPeer.end() && graph_.stampOf(it->second.lv()).seq < next) gone.push_back(p);
    });
    const PeerIdx own = graph_.runAt(obs.self).peer;
    auto it = cs.byPeer.find(own);
    if (it != cs.byPeer.end() && obs.observed(it->second.lv()) &&
        std::find(gone.begin(), gone.end(), own) == gone.end()) {
      gone.push_back(own);
    }
  }
  for (PeerIdx p : gone) takeLoser(id, col, p);
  const bool anyLeft = !cs.byPeer.empty();
  auto eraseSet = [&] {
    reserveMore(journal_, 1);
    reserveMore(setNodes_, 1);
    setNodes_.push_back(losers_.extract(key));
    journal_.push_back(
        Undo{Undo::SetErased, id, static_cast<std::uint32_t>(setNodes_.size() - 1), col, {}});
  };
  if (winnerSeen) {
    if (anyLeft) {
      Cell promoted = takeLoser(id, col, cs.order.rbegin()->peer);
      const bool still = !cs.byPeer.empty();
      promoted.setHasLosers(still);
      replaceCell(id, idx, std::move(promoted));
      if (!still) eraseSet();
    } else {
      eraseSet();
      eraseCell(id, idx);
    }
  } else if (!anyLeft) {
    eraseSet();
    setLosersFlag(id, idx, false);
  }
}

void RowStore::write(RowId id, const ColumnWrite& w, LV lv, const Observer& obs, bool removeFirst) {
  bool found;
  std::size_t idx = findCell(rows_[id], w.column, w.name, found);
  if (found && rows_[id].cells[idx].derived()) {
    // A counter's sum where no write was: the column's first live write replaces it.
    replaceCell(id, idx, Cell(w.column, lv, w.value));
    return;
  }
  if (found && removeFirst) {
    const Cell& cur = rows_[id].cells[idx];
    if (!cur.hasLosers() && obs.observed(cur.lv())) {
      replaceCell(id, idx, Cell(w.column, lv, w.value));
      return;
    }
    removeObservedAt(id, idx, obs);
    idx = findCell(rows_[id], w.column, w.name, found);
  }
  Cell c(w.column, lv, w.value);
  if (!found) {
    insertCell(id, idx, std::move(c));
    return;
  }
  // A concurrent write to this column survives: the greater one is the winner.
  const Cell& cur = rows_[id].cells[idx];
  if (orderOf(cur.lv()) < orderOf(lv)) {
    // A set's or counter's read value lives in its winning cell only: a loser holds what its
    // write wrote.
    Cell old(w.column, cur.lv(), storedValue(id, cur));
    addLoser(id, w.column, std::move(old));
    c.setHasLosers(true);
    replaceCell(id, idx, std::move(c));
  } else {
    addLoser(id, w.column, std::move(c));
    if (!rows_[id].cells[idx].hasLosers()) setLosersFlag(id, idx, true);
  }
}

bool RowStore::clearIfSimple(RowId id) {
  Row& r = rows_[id];
  for (const Cell& c : r.cells) {
    if (c.hasLosers()) return false;
  }
  touch(id);
  if (r.created != epoch_) {
    reserveMore(journal_, 1);
    reserveMore(cleared_, 1);
    cleared_.emplace_back(std::move(r.cells));
    journal_.push_back(
        Undo{Undo::CellsCleared, id, static_cast<std::uint32_t>(cleared_.size() - 1), 0, {}});
  }
  r.cells.clear();
  return true;
}

namespace {

// The element of a set (added, with no dots yet, when absent).
SetElement& elementOf(SetState& st, ValueRef element) {
  auto [e, added] = st.elements.try_emplace(setOrderKey(element));
  if (added) e->second.value.assign(element.begin(), element.end());
  return e->second;
}

void eraseObserved(std::map<PeerIdx, LV>& dots, const Observer& obs) {
  for (auto d = dots.begin(); d != dots.end();)
    d = obs.observed(d->second) ? dots.erase(d) : std::next(d);
}

// The state under `key` (created if absent), saved to `saved` for undo at its first change in
// the call (`epoch`). Undo by copy: an op on a set or counter costs its size anyway.
template <typename Map, typename State = typename Map::mapped_type>
State& changeState(Map& states, std::vector<std::pair<std::uint64_t, std::optional<State>>>& saved,
                   std::uint64_t key, std::uint32_t epoch) {
  reserveMore(saved, 1);
  auto it = states.find(key);
  if (it == states.end()) {
    it = states.try_emplace(key).first;
    saved.emplace_back(key, std::nullopt);
  } else if (it->second.savedEpoch != epoch) {
    std::optional<State> copy(it->second);
    saved.emplace_back(key, std::move(copy));
  }
  it->second.savedEpoch = epoch;
  return it->second;
}

// Puts back the states saved since `mark` (states are erased only by confirm()).
template <typename Map, typename State = typename Map::mapped_type>
void restoreStates(Map& states, std::vector<std::pair<std::uint64_t, std::optional<State>>>& saved,
                   std::size_t mark) noexcept {
  while (saved.size() > mark) {
    auto& [key, old] = saved.back();
    if (old) {
      states.find(key)->second = std::move(*old);
    } else {
      states.erase(key);
    }
    saved.pop_back();
  }
}

}  // namespace

SetState& RowStore::changeSet(RowId id, NameId col) {
  touch(id);
  return changeState(sets_, savedSets_, loserKey(id, col), epoch_);
}

void RowStore::removeObservedDots(RowId id, NameId col, const Observer& obs,
                                  const std::string* element) {
  if (sets_.find(loserKey(id, col)) == sets_.end()) return;
  SetState& st = changeSet(id, col);
  auto removeSeen = [&](SetElement& e) { eraseObserved(e.dots, obs); };
  if (element) {
    auto e = st.elements.find(*element);
    if (e == st.elements.end()) return;
    removeSeen(e->second);
    if (e->second.dots.empty()) st.elements.erase(e);
    return;
  }
  for (auto e = st.elements.begin(); e != st.elements.end();) {
    removeSeen(e->second);
    e = e->second.dots.empty() ? st.elements.erase(e) : std::next(e);
  }
}

void RowStore::addDot(RowId id, NameId col, ValueRef element, LV lv, const Observer& obs) {
  std::map<PeerIdx, LV>& dots = elementOf(changeSet(id, col), element).dots;
  eraseObserved(dots, obs);
  dots[graph_.stampOf(lv).peer] = lv;
}

void RowStore::refreshSetCellAt(RowId id, std::size_t idx) {
  const Cell& cur = rows_[id].cells[idx];
  if (!isSetValue(cur.value())) return;
  ByteWriter w;
  auto it = sets_.find(loserKey(id, cur.column()));
  if (it != sets_.end()) {
    writeSetValue(it->second, w);
  } else {
    w.raw(emptySetValue());
  }
  ++setCellsRefreshed_;
  replaceValue(id, idx, w.bytes());
}

void RowStore::replaceValue(RowId id, std::size_t idx, ValueRef value) {
  if (equalBytes(rows_[id].cells[idx].value(), value)) return;
  replaceValueBy(id, idx, std::span(&value, 1));
}

void RowStore::replaceValueBy(RowId id, std::size_t idx, std::span<const ValueRef> parts) {
  const Cell& cur = rows_[id].cells[idx];
  Cell c(cur.column(), cur.lv(), parts);
  c.setHasLosers(cur.hasLosers());
  if (cur.derived()) c.setDerived();
  replaceCell(id, idx, std::move(c));
}

void RowStore::refreshSetCells(RowId id) {
  for (std::size_t i = 0; i < rows_[id].cells.size(); ++i) refreshSetCellAt(id, i);
}

void RowStore::markSetsDirty(RowId id) { listOnce(setRows_, id, rows_[id].setsDirty, epoch_); }

void RowStore::settleSets() {
  settleTexts();  // first: a merge may fail (DecodeError), and the call then rolls back
  for (RowId id : setRows_) {
    if (live(id)) refreshSetCells(id);
  }
  setRows_.clear();
  // Counters: every one of the rows a whole-row change reached, then single columns.
  sortRange(counterRows_.begin(), counterRows_.end());
  counterRows_.erase(std::unique(counterRows_.begin(), counterRows_.end()), counterRows_.end());
  for (RowId id : counterRows_) {
    for (const auto& [key, st] : countersOf(id)) refreshCounter(id, columnOf(key), st);
  }
  for (const auto& [id, col] : counterColumns_) {
    if (!std::binary_search(counterRows_.begin(), counterRows_.end(), id))
      refreshCounter(id, col, counters_.find(loserKey(id, col))->second);
  }
  counterRows_.clear();
  counterColumns_.clear();
}

CounterState& RowStore::changeCounter(RowId id, NameId col) {
  touch(id);
  return changeState(counters_, savedCounters_, loserKey(id, col), epoch_);
}

void RowStore::applyClaims(RowId id, const ColumnWrite& w, LV lv, const Observer& obs) {
  const std::vector<CounterClaim> claims = readClaims(w.value);
  if (claims.empty()) return;
  CounterState& st = changeCounter(id, w.column);
  for (const CounterClaim& c : claims) {
    // A claim names an event before it that it has seen: anything else is forged. (Before:
    // a run is in the graph before its ops apply, and an observer that saw everything says
    // yes to its later events too.)
    const auto peer = peers_.find(c.peer);
    const auto at = peer ? graph_.lvOf(*peer, c.seq) : std::nullopt;
    if (!at || *at >= lv || !obs.observed(*at)) {
      throw DecodeError("counter claim names an event its operation has not seen");
    }
    st.peers[*peer].base.join(CounterClock{c.seq + 1, c.total});
  }
  markCounterDirty(id, w.column);
}

bool RowStore::hasLiveCounter(RowId id, const std::vector<NameId>* columns) const {
  ++counterLookups_;
  if (counters_.empty()) return false;
  if (!columns) {
    for (const auto& counter : countersOf(id)) {
      if (counter.second.live()) return true;
    }
    return false;
  }
  for (NameId col : *columns) {
    auto it = counters_.find(loserKey(id, col));
    if (it != counters_.end() && it->second.live()) return true;
  }
  return false;
}

std::vector<std::pair<NameId, Bytes>> RowStore::claimsOf(RowId id,
                                                         const std::vector<NameId>* columns) const {
  std::vector<std::pair<NameId, Bytes>> out;
  auto add = [&](NameId col, const CounterState& st) {
    ++counterLookups_;
    std::vector<CounterClaim> claims;
    for (const auto& [peer, e] : st.peers) {
      if (e.live()) claims.push_back({peers_.name(peer), e.latest.next - 1, e.latest.total});
    }
    if (claims.empty()) return;
    ByteWriter w;
    writeClaims(claims, w);
    out.emplace_back(col, w.take());
  };
  if (columns) {
    // The named columns looked up one by one: O(named · log), not O(counters · named).
    for (NameId col : *columns) {
      auto it = counters_.find(loserKey(id, col));
      if (it != counters_.end()) add(col, it->second);
    }
  } else {
    for (const auto& [key, st] : countersOf(id)) add(columnOf(key), st);
  }
  // An op names its columns in name order.
  sortRange(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    return names_.name(a.first) < names_.name(b.first);
  });
  return out;
}

ValueRef RowStore::storedValue(RowId id, const Cell& c) const {
  if (isSetValue(c.value())) return emptySetValue();                   // rebuilt from the dots
  if (isTextWrite(id, c.column(), c.lv())) return emptyStringValue();  // from its history
  if (!counters_.empty()) {
    auto it = counters_.find(loserKey(id, c.column()));
    if (it != counters_.end() && it->second.hasRaw && it->second.rawLv == c.lv()) {
      return it->second.raw;
    }
  }
  return c.value();
}

void RowStore::markCounterDirty(RowId id, NameId col) {
  auto it = counters_.find(loserKey(id, col));
  if (it == counters_.end() || it->second.dirtyEpoch == epoch_) return;
  reserveMore(counterColumns_, 1);
  counterColumns_.emplace_back(id, col);
  it->second.dirtyEpoch = epoch_;
}

void RowStore::markCountersDirty(RowId id) {
  const CounterRange counters = countersOf(id);
  if (counters.begin() == counters.end()) return;
  reserveMore(counterRows_, 1);
  counterRows_.push_back(id);
}

void RowStore::refreshCounter(RowId id, NameId col, const CounterState& current) {
  ++counterCellsRefreshed_;
  bool found;
  const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
  const CounterState* st = &current;
  auto forgetRaw = [&] {
    if (!st->hasRaw) return;
    CounterState& m = changeCounter(id, col);
    m.hasRaw = false;
    m.raw.clear();
  };
  ByteWriter w;
  if (found && !rows_[id].cells[idx].derived()) {
    const Cell& cur = rows_[id].cells[idx];
    if (!(st->hasRaw && st->rawLv == cur.lv())) {
      // A new winner: its cell holds what its write wrote.
      if (!isNumber(cur.value())) {
        forgetRaw();  // a winning non-number hides the increments
        return;
      }
      CounterState& m = changeCounter(id, col);
      m.raw.assign(cur.value().begin(), cur.value().end());
      m.rawLv = cur.lv();
      m.hasRaw = true;
      st = &m;
    }
    writeCounterValue(st->raw, st->sum(), w);
  } else {
    forgetRaw();
    if (!st->live()) {
      if (found) eraseCell(id, idx);
      return;
    }
    writeCounterValue({}, st->sum(), w);
  }
  if (found) {
    replaceValue(id, idx, w.bytes());
  } else {
    Cell c(col, 0, w.bytes());
    c.setDerived();
    insertCell(id, idx, std::move(c));
  }
}

void RowStore::apply(RowId id, OpKind kind, std::span<const ColumnWrite> columns, LV lv,
                     const Observer& obs, const TextEditValue* edit, std::uint32_t events) {
  if (kind == OpKind::TextCreate) {
    applyTextCreate(id, columns[0], lv, obs);
    if (!sets_.empty()) markSetsDirty(id);  // a set write it lost to shows what is left
    return;
  }
  if (kind == OpKind::TextEdit) {
    applyTextEdit(id, columns[0], lv, obs, edit, events);
    return;
  }
  if (kind == OpKind::Increment) {
    // The peer's running total continues from its previous increment (merge/counter.h).
    const Stamp s = graph_.stampOf(lv);
    CounterEntry& e = changeCounter(id, columns[0].column).peers[s.peer];
    e.latest = {s.seq + 1,
                addWrapping(e.latest.total, static_cast<std::int64_t>(numberOf(columns[0].value)))};
    markCounterDirty(id, columns[0].column);
    return;
  }
  if (kind == OpKind::CounterReset) {
    for (const ColumnWrite& w : columns) applyClaims(id, w, lv, obs);
    return;
  }
  if (isSetOp(kind)) {
    // An add is also a write of the column (a set write); a remove only takes dots away.
    const ColumnWrite& w = columns[0];
    if (kind == OpKind::AddToSet) {
      write(id, ColumnWrite{w.column, w.name, emptySetValue()}, lv, obs, true);
      addDot(id, w.column, w.value, lv, obs);
    } else {
      const std::string element = setOrderKey(w.value);
      removeObservedDots(id, w.column, obs, &element);
    }
    markSetsDirty(id);
    markCounterDirty(id, w.column);  // a set write may win over a counter's number
    return;
  }
  if (kind == OpKind::SetRow || kind == OpKind::DeleteRow) {
    if (!sets_.empty()) {
      for (std::size_t i = 0; i < rows_[id].cells.size(); ++i) {
        removeObservedDots(id, rows_[id].cells[i].column(), obs);
      }
    }
    // An event that has seen everything removes the whole row: one journal entry.
    if (!(obs.all && clearIfSimple(id))) {
      for (std::size_t i = rows_[id].cells.size(); i-- > 0;) removeObservedAt(id, i, obs);
    }
  }
  if (kind == OpKind::SetRow) {
    // Cells are most of a row's memory: a set sizes them exactly (no growth slack).
    std::vector<Cell>& cells = rows_[id].cells;
    if (cells.capacity() < cells.size() + columns.size() + 1) {
      cells.reserve(cells.size() + columns.size() + 1);
    }
    write(id, ColumnWrite{kTokenColumn, {}, kNull}, lv, obs, false);
  }
  if (kind == OpKind::UpdateRow && !sets_.empty()) {
    for (const ColumnWrite& w : columns) removeObservedDots(id, w.column, obs);
  }
  if (kind != OpKind::DeleteRow) {
    for (const ColumnWrite& w : columns) write(id, w, lv, obs, kind == OpKind::UpdateRow);
  }
  // Sets whose dots or winner changed (a concurrent set that still wins shows what is left),
  // counters whose plain write changed.
  if (!sets_.empty()) markSetsDirty(id);
  if (!counters_.empty()) {
    if (kind == OpKind::UpdateRow) {
      for (const ColumnWrite& w : columns) markCounterDirty(id, w.column);
    } else {
      markCountersDirty(id);
    }
  }
}

void RowStore::join(RowId id, std::span<const JoinWrite> theirs, std::span<const JoinDot> theirDots,
                    std::span<const JoinCounter> theirCounters, const std::vector<Seq>& seenByThem,
                    const std::vector<Seq>& seenByUs, std::uint64_t* checks) {
  // Their writes by column: an event writes several columns, and they may hold some of them.
  std::vector<std::pair<NameId, LV>> held;
  held.reserve(theirs.size());
  for (const JoinWrite& w : theirs) held.emplace_back(w.column, w.lv);
  sortRange(held.begin(), held.end());
  std::vector<LV> keep;
  Observer obs;
  obs.all = false;
  obs.graph = &graph_;
  obs.seen = &seenByThem;
  obs.keep = &keep;
  obs.checks = checks;
  // What they hold of column `col` (from `list`: sorted (column, LV) pairs) goes to `keep`.
  auto keepOf = [&](const std::vector<std::pair<NameId, LV>>& list, NameId col) {
    keep.clear();
    auto it = std::lower_bound(list.begin(), list.end(), std::make_pair(col, LV{0}));
    for (; it != list.end() && it->first == col; ++it) keep.push_back(it->second);
  };
  // Dots first (while the cells still say which columns have sets): ours they have seen but
  // no longer hold are gone.
  if (!sets_.empty()) {
    std::vector<std::pair<NameId, LV>> heldDots;
    heldDots.reserve(theirDots.size());
    for (const JoinDot& d : theirDots) heldDots.emplace_back(d.column, d.lv);
    sortRange(heldDots.begin(), heldDots.end());
    for (std::size_t i = 0; i < rows_[id].cells.size(); ++i) {
      keepOf(heldDots, rows_[id].cells[i].column());
      removeObservedDots(id, rows_[id].cells[i].column(), obs);
    }
  }
  for (std::size_t i = rows_[id].cells.size(); i-- > 0;) {
    keepOf(held, rows_[id].cells[i].column());
    removeObservedAt(id, i, obs);
  }
  for (const JoinWrite& w : theirs) {
    const Stamp s = graph_.stampOf(w.lv);
    // Seen here: we hold it still (kept above) or removed it.
    if (s.peer < seenByUs.size() && s.seq < seenByUs[s.peer]) continue;
    // A peer's writes to one column form a chain, so a valid state never holds two of them;
    // an invalid one does not get to add a second.
    bool found;
    const std::size_t idx = findCell(rows_[id], w.column, w.name, found);
    if (found && !rows_[id].cells[idx].derived()) {
      const Cell& cur = rows_[id].cells[idx];
      if (graph_.stampOf(cur.lv()).peer == s.peer) continue;
      if (cur.hasLosers() && losers_.at(loserKey(id, w.column)).byPeer.count(s.peer)) continue;
    }
    write(id, ColumnWrite{w.column, w.name, w.value}, w.lv, obs, false);
  }
  // Their dots we have not seen (a dot the same peer re-added later replaces its older one).
  for (const JoinDot& d : theirDots) {
    const Stamp s = graph_.stampOf(d.lv);
    if (s.peer < seenByUs.size() && s.seq < seenByUs[s.peer]) continue;
    auto [dot, fresh] =
        elementOf(changeSet(id, d.column), d.element).dots.try_emplace(s.peer, d.lv);
    if (!fresh && dot->second < d.lv) dot->second = d.lv;
  }
  // Counter entries are per-peer maxima: the join is theirs max ours.
  for (const JoinCounter& c : theirCounters) {
    CounterEntry& e = changeCounter(id, c.column).peers[c.peer];
    e.latest.join(c.entry.latest);
    e.base.join(c.entry.base);
  }
  if (!sets_.empty()) markSetsDirty(id);
  markCountersDirty(id);
}

RowStore::Mark RowStore::begin() {
  ++epoch_;
  return Mark{journal_.size(),    created_.size(),     touched_.size(),   loserNodes_.size(),
              setNodes_.size(),   cleared_.size(),     savedSets_.size(), savedCounters_.size(),
              savedTexts_.size(), droppedTexts_.size()};
}

void RowStore::rollback(const Mark& m) noexcept {
  while (journal_.size() > m.journal) {
    Undo& u = journal_.back();
    Row& r = rows_[u.row];
    switch (u.kind) {
      case Undo::CellInserted:
        r.cells.erase(r.cells.begin() + u.index);
        break;
      case Undo::CellErased:
        r.cells.insert(r.cells.begin() + u.index, std::move(u.cell));  // within capacity
        break;
      case Undo::CellReplaced:
        r.cells[u.index] = std::move(u.cell);
        break;
      case Undo::LosersFlag:
        r.cells[u.index].setHasLosers(u.column != 0);
        break;
      case Undo::LoserAdded: {
        ConflictSet& cs = losers_.at(loserKey(u.row, u.column));
        auto it = cs.byPeer.find(u.index);
        cs.order.erase(orderOf(it->second.lv()));
        cs.byPeer.erase(it);
        break;
      }
      case Undo::LoserRemoved: {
        LoserNodes& n = loserNodes_[u.index];
        ConflictSet& cs = losers_.at(loserKey(u.row, u.column));
        cs.byPeer.insert(std::move(n.cell));
        cs.order.insert(std::move(n.order));
        break;
      }
      case Undo::SetCreated:
        losers_.erase(loserKey(u.row, u.column));
        break;
      case Undo::SetErased:
        losers_.insert(std::move(setNodes_[u.index]));
        break;
      case Undo::CellsCleared:
        r.cells = std::move(cleared_[u.index]);  // the row's cells were moved out: no allocation
        break;
      case Undo::TextSpliced:
        undoSplice(r.cells[u.index], u.cell.value());  // within the block's capacity
        break;
    }
    journal_.pop_back();
  }
  setRows_.clear();  // (their epochs stay: a later call has a new one)
  counterRows_.clear();
  counterColumns_.clear();
  restoreStates(sets_, savedSets_, m.savedSets);
  restoreStates(counters_, savedCounters_, m.savedCounters);
  clearScratch(pendingTexts_);
  clearScratch(cellSplices_);
  while (droppedTexts_.size() > m.droppedTexts) {  // (dropped last in a call: undone first)
    texts_.insert(std::move(droppedTexts_.back()));
    droppedTexts_.pop_back();
  }
  while (savedTexts_.size() > m.savedTexts) {
    auto& [key, mark] = savedTexts_.back();
    auto it = texts_.find(key);
    if (mark) {
      it->second.col.rollback(*mark);
      it->second.col.forget();
      it->second.forgetEdit();  // (the cell may be back to an older string)
    } else {
      texts_.erase(it);
    }
    savedTexts_.pop_back();
  }
  loserNodes_.resize(m.loserNodes);
  setNodes_.resize(m.setNodes);
  cleared_.resize(m.cleared);
  while (created_.size() > m.created) {
    destroy(created_.back());
    created_.pop_back();
  }
  touched_.resize(m.touched);
}

void RowStore::confirm() noexcept {
  for (const auto& saved : savedSets_) {
    auto it = sets_.find(saved.first);
    if (it != sets_.end() && it->second.elements.empty()) sets_.erase(it);
  }
  clearScratch(savedSets_);
  clearScratch(savedCounters_);
  for (auto& [key, mark] : savedTexts_) {
    auto it = texts_.find(key);
    if (mark && it != texts_.end()) it->second.col.forget();
  }
  clearScratch(savedTexts_);
  clearScratch(droppedTexts_);
  // Rows the last call left empty: free them now that nothing can undo the call.
  try {
    std::vector<RowId> empty;
    for (const auto* list : {&touched_, &created_}) {
      for (RowId id : *list) {
        if (live(id) && !holdsState(id)) empty.push_back(id);
      }
    }
    sortRange(empty.begin(), empty.end());
    empty.erase(std::unique(empty.begin(), empty.end()), empty.end());
    reserveMore(free_, empty.size());
    sortRange(empty.begin(), empty.end(), [](RowId a, RowId b) { return a > b; });
    for (RowId id : empty) destroy(id);
  } catch (...) {
    // Out of memory: the empty rows stay allocated until a later confirm.
  }
  clearScratch(journal_);
  clearScratch(created_);
  clearScratch(touched_);
  clearScratch(loserNodes_);
  clearScratch(setNodes_);
  clearScratch(cleared_);
}

std::size_t RowStore::rowCount() const {
  std::size_t n = 0;
  for (const Row& r : rows_) n += !r.key.empty() && r.visible();
  return n;
}

std::size_t RowStore::memoryBytes() const {
  std::size_t n = rows_.size() * sizeof(Row) + slots_.capacity() * 4 + free_.capacity() * 4;
  for (const Row& r : rows_) {
    n += r.cells.capacity() * sizeof(Cell) + (r.key.size() > 10 ? r.key.capacity() : 0);
    for (const Cell& c : r.cells) n += c.heapBytes();
  }
  for (const auto& entry : counters_) {
    n += 64 + entry.second.raw.capacity() + 72 * entry.second.peers.size();
  }
  for (const auto& entry : sets_) {
    for (const auto& e : entry.second.elements) {
      n += 64 + e.first.capacity() + e.second.value.capacity() + 48 * e.second.dots.size();
    }
  }
  return n;
}

Bytes RowStore::encodeState() const {
  std::vector<RowId> ids;
  for (RowId id = 0; id < rows_.size(); ++id) {
    // Rows left empty by the last call are freed at the next one: they hold no state.
    if (!rows_[id].key.empty() && holdsState(id)) ids.push_back(id);
  }
  sortRange(ids.begin(), ids.end(), [&](RowId a, RowId b) {
    const Row& x = rows_[a];
    const Row& y = rows_[b];
    int c = names_.name(x.table).compare(names_.name(y.table));
    return c != 0 ? c < 0 : x.key < y.key;
  });
  ByteWriter w;
  auto stamp = [&](LV lv) {
    Stamp s = graph_.stampOf(lv);
    w.string(peers_.name(s.peer));
    w.varint(s.seq);
    w.varint(s.lamport);
  };
  w.varint(ids.size());
  for (RowId id : ids) {
    const Row& r = rows_[id];
    w.string(names_.name(r.table));
    w.string(r.key);
    w.varint(r.cells.size());
    for (const Cell& c : r.cells) {
      w.u8(c.derived() ? 2 : c.column() == kTokenColumn ? 0 : 1);
      if (c.derived()) {  // a function of the counter entries below
        w.string(names_.name(c.column()));
        w.raw(c.value());
        continue;
      }
      if (c.column() != kTokenColumn) w.string(names_.name(c.column()));
      stamp(c.lv());
      w.raw(c.value());
      auto set = sets_.find(loserKey(id, c.column()));
      const std::size_t nElements = set == sets_.end() ? 0 : set->second.elements.size();
      w.varint(nElements);
      if (nElements) {
        for (const auto& e : set->second.elements) {
          w.raw(e.second.value);
          w.varint(e.second.dots.size());
          std::vector<LV> dots;
          for (const auto& d : e.second.dots) dots.push_back(d.second);
          sortRange(dots.begin(), dots.end(), [&](LV a, LV b) { return orderOf(a) < orderOf(b); });
          for (LV d : dots) stamp(d);
        }
      }
      if (!c.hasLosers()) {
        w.varint(0);
        continue;
      }
      const ConflictSet& cs = losers_.at(loserKey(id, c.column()));
      w.varint(cs.order.size());
      for (auto it = cs.order.rbegin(); it != cs.order.rend(); ++it) {
        const Cell& l = cs.byPeer.at(it->peer);
        stamp(l.lv());
        w.raw(l.value());
      }
    }
    // Counters: columns and peers by name.
    std::vector<std::pair<std::string_view, const CounterState*>> counters;
    for (const auto& [key, st] : countersOf(id))
      counters.emplace_back(names_.name(columnOf(key)), &st);
    sortRange(counters.begin(), counters.end());
    w.varint(counters.size());
    for (const auto& [name, st] : counters) {
      w.string(name);
      std::vector<std::pair<std::string_view, CounterEntry>> entries;
      for (const auto& [peer, e] : st->peers) entries.emplace_back(peers_.name(peer), e);
      sortRange(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      w.varint(entries.size());
      for (const auto& [peer, e] : entries) {
        w.string(peer);
        for (const CounterClock& c : {e.latest, e.base}) {
          w.varint(c.next);
          w.zigzag(c.total);
        }
      }
    }
  }
  return w.take();
}

void RowStore::checkInvariants() const {
  std::size_t liveRows = 0;
  for (RowId id = 0; id < rows_.size(); ++id) {
    const Row& r = rows_[id];
    if (r.key.empty()) {
      internal(r.cells.empty(), "a free slot holds cells");
      continue;
    }
    ++liveRows;
    internal(find(r.table, r.key) == id, "lookup table disagrees with rows");
    for (std::size_t i = 0; i < r.cells.size(); ++i) {
      const Cell& c = r.cells[i];
      internal(c.column() != kTokenColumn || i == 0, "token cell not first");
      if (i > 0 && r.cells[i - 1].column() != kTokenColumn) {
        internal(names_.name(r.cells[i - 1].column()) < names_.name(c.column()),
                 "cells not sorted by column name");
      }
      if (isSetValue(c.value()) && sets_.find(loserKey(id, c.column())) == sets_.end()) {
        internal(c.value().size() == 2, "a set's cell holds elements it has no dots for");
      }
      if (c.derived()) {
        auto ct = counters_.find(loserKey(id, c.column()));
        internal(ct != counters_.end() && ct->second.live(), "a derived cell without increments");
        internal(!c.hasLosers(), "a derived cell with losers");
      }
      auto it = losers_.find(loserKey(id, c.column()));
      internal(c.hasLosers() == (it != losers_.end()), "losers flag disagrees with the sets");
      if (it != losers_.end()) {
        const ConflictSet& cs = it->second;
        internal(!cs.byPeer.empty() && cs.byPeer.size() == cs.order.size(), "bad conflict set");
        const WriteOrder win = orderOf(c.lv());
        for (const WriteOrder& o : cs.order) {
          internal(o < win, "a loser beats its winner");
          internal(cs.byPeer.count(o.peer) == 1, "conflict set indexes disagree");
          internal(o.peer != win.peer, "a loser by the winner's peer");
        }
      }
    }
  }
  internal(liveRows == live_, "live row count");
  for (const auto& [key, st] : sets_) {
    const auto id = static_cast<RowId>(key >> 32);
    const auto col = static_cast<NameId>(key & 0xffffffffu);
    internal(live(id), "set dots of a dead row");
    bool found;
    const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
    internal(found || st.elements.empty(), "set dots without a write of their column");
    for (const auto& [order, e] : st.elements) {
      internal(!e.dots.empty(), "a set element without dots");
      internal(order == setOrderKey(e.value), "a set element out of order");
      for (const auto& [peer, lv] : e.dots)
        internal(graph_.stampOf(lv).peer == peer, "a dot under the wrong peer");
    }
    if (!found || !isSetValue(rows_[id].cells[idx].value())) continue;
    ByteWriter w;
    writeSetValue(st, w);
    const ValueRef v = rows_[id].cells[idx].value();
    internal(std::equal(v.begin(), v.end(), w.bytes().begin(), w.bytes().end()),
             "a set's cell disagrees with its dots");
  }
  for (const auto& [key, st] : texts_) {
    const auto id = static_cast<RowId>(key.first >> 32);
    internal(live(id) && namesWrite(id, columnOf(key.first), key.second),
             "a text whose write is gone");
    internal(!st.col.pending(), "a text with edits left to merge");
    st.col.checkInvariants();
    // The cell that shows a text holds its string (refreshTextCells may skip a text it
    // believes shown already: this is where a wrong belief shows).
    bool found;
    const NameId col = columnOf(key.first);
    const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
    if (!found || rows_[id].cells[idx].derived() || rows_[id].cells[idx].lv() != key.second) {
      continue;
    }
    ByteWriter w;
    writeShownValue(st.col, w);
    const ValueRef v = rows_[id].cells[idx].value();
    internal(std::equal(v.begin(), v.end(), w.bytes().begin(), w.bytes().end()),
             "a text's cell does not show its string");
  }
  for (const auto& [key, st] : counters_) {
    const auto id = static_cast<RowId>(key >> 32);
    const NameId col = columnOf(key);
    internal(live(id), "counter state of a dead row");
    bool found;
    const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
    if (!found) {
      internal(!st.live(), "live increments without a cell");
      continue;
    }
    const Cell& c = rows_[id].cells[idx];
    const ValueRef raw = c.derived() ? ValueRef{} : storedValue(id, c);
    if (!c.derived() && !isNumber(raw)) continue;  // a winning non-number hides the increments
    ByteWriter w;
    writeCounterValue(raw, st.sum(), w);
    const ValueRef v = c.value();
    internal(std::equal(v.begin(), v.end(), w.bytes().begin(), w.bytes().end()),
             "a counter's cell disagrees with its entries");
  }
  for (const auto& [key, cs] : losers_) {
    internal(live(static_cast<RowId>(key >> 32)), "conflict set of a dead row");
    for (const auto& entry : cs.byPeer) {
      const ValueRef v = entry.second.value();
      internal(!isSetValue(v) || v.size() == 2, "a losing set write holds elements");
    }
  }
}

}  // namespace crdtdb
