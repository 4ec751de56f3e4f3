#include "store/index_set.h"

#include <algorithm>

#include "core/errors.h"
#include "core/reserve.h"
#include "core/sort.h"
#include "oplog/chunk_codec.h"
#include "store/key_codec.h"

namespace crdtdb {

namespace {

std::optional<std::string> successor(std::string s) {
  while (!s.empty() && static_cast<std::uint8_t>(s.back()) == 0xff) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<std::uint8_t>(s.back()) + 1);
  return s;
}

}  // namespace

std::vector<std::pair<std::string, std::optional<std::string>>> KeyRange::intervals() const {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  switch (kind) {
    case Kind::All:
      out.emplace_back(std::string(), std::nullopt);
      break;
    case Kind::Bounds: {
      // Keys are self-delimiting: the smallest key above b is at least b + "\0".
      std::string lo = lower ? (lowerOpen ? *lower + '\0' : *lower) : std::string();
      std::optional<std::string> hi;
      if (upper) hi = upperOpen ? *upper : *upper + '\0';
      if (!hi || lo < *hi) out.emplace_back(std::move(lo), std::move(hi));
      break;
    }
    case Kind::Prefix:
      out.emplace_back(prefix, successor(prefix));
      break;
    case Kind::AnyOf:
      for (const auto& v : values) out.emplace_back(v, v + '\0');
      break;
  }
  return out;
}

void IndexSet::validate(const IndexDef& def) {
  if (def.name.empty()) throw Error(ErrorCode::Type, "index names must be non-empty strings");
  if (def.table.empty()) {
    throw Error(ErrorCode::Type, "index \"" + def.name + "\" needs a table");
  }
  if (def.keys.empty()) {
    throw Error(ErrorCode::Type, "index \"" + def.name + "\" needs at least one key column");
  }
}

IndexSet::Declared IndexSet::prepare(const std::vector<IndexDef>& defs,
                                     std::vector<std::string>& build) const {
  Declared next;
  for (const IndexDef& d : defs) {
    auto old = secondary_.find(d.name);
    next.emplace(d.name, Secondary{d, {}});
    if (old == secondary_.end() || !(old->second.def == d)) build.push_back(d.name);
  }
  return next;
}

void IndexSet::addTo(Declared& set, const std::string& index, std::uint32_t row,
                     std::string_view key, const ColumnLookup& col) {
  Secondary& s = set.at(index);
  std::vector<std::string> entries;
  entriesFor(&s.def, key, col, entries);
  for (const std::string& e : entries) s.entries.insert(e, row);
}

void IndexSet::install(Declared&& set) noexcept {
  for (auto& [name, s] : set) {
    auto old = secondary_.find(name);
    if (old != secondary_.end() && old->second.def == s.def)
      std::swap(s.entries, old->second.entries);
    s.entries.clearJournal();
    s.entries.epoch = 0;
  }
  secondary_.swap(set);
}

std::optional<std::string> IndexSet::entryFor(const IndexDef* def, std::string_view key,
                                              const ColumnLookup& col) {
  std::string out;
  if (def) {
    if (def->keys.size() == 1) {
      auto v = col(def->keys[0]);
      if (!v || v->size() > kMaxIndexKeyBytes || !appendKey(out, *v)) return std::nullopt;
    } else {
      out.push_back(0x30);  // an array key (key_codec.h)
      for (const auto& k : def->keys) {
        auto v = col(k);
        if (!v || v->size() > kMaxIndexKeyBytes || !appendKey(out, *v)) return std::nullopt;
      }
      out.push_back(0x00);
    }
    if (out.size() > kMaxIndexKeyBytes) return std::nullopt;
  }
  appendStringKey(out, key);
  return out;
}

void IndexSet::entriesFor(const IndexDef* def, std::string_view key, const ColumnLookup& col,
                          std::vector<std::string>& out,
                          const std::function<void(ValueRef)>& element) {
  std::optional<ValueRef> v;
  if (def && def->keys.size() == 1) v = col(def->keys[0]);
  if (!v || !isSetValue(*v)) {
    if (auto e = entryFor(def, key, col)) out.push_back(std::move(*e));
    return;
  }
  // A set: its elements, in set order (keys first, in key order).
  ByteReader r(*v);
  r.u8();
  const std::uint64_t n = r.varint();
  ByteSpan rest = r.rest();
  for (std::uint64_t i = 0; i < n; ++i) {
    const ValueRef e = rest.first(validValueSize(rest));
    rest = rest.subspan(e.size());
    std::string entry;
    if (e.size() > kMaxIndexKeyBytes) continue;
    if (!appendKey(entry, e)) break;  // the rest are not keys either
    if (entry.size() > kMaxIndexKeyBytes) continue;
    appendStringKey(entry, key);
    out.push_back(std::move(entry));
    if (element) element(e);
  }
}

OrderedIndex& IndexSet::use(OrderedIndex& ix) {
  if (ix.epoch != epoch_) {
    reserveMore(touched_, 1);
    touched_.emplace_back(&ix, ix.mark());
    ix.epoch = epoch_;
  }
  return ix;
}

void IndexSet::onRowChange(
    std::uint32_t row, std::string_view table, std::string_view key, const ColumnLookup* before,
    const ColumnLookup* after,
    const std::function<void(std::string_view index, std::string_view keyPart)>& onEntry) {
  if (!before && !after) return;
  std::string pk;
  appendStringKey(pk, key);
  if ((before != nullptr) != (after != nullptr)) {
    auto it = primary_.find(table);
    if (it == primary_.end()) it = primary_.emplace(std::string(table), OrderedIndex()).first;
    OrderedIndex& ix = use(it->second);
    if (after) {
      ix.insert(pk, row);
    } else {
      ix.erase(pk);
    }
  }
  if (onEntry) onEntry("", pk);
  for (auto& [name, s] : secondary_) {
    if (s.def.table != table) continue;
    std::vector<std::string> oldE, newE;  // sorted: a set's entries come in key order
    if (before) entriesFor(&s.def, key, *before, oldE);
    if (after) entriesFor(&s.def, key, *after, newE);
    if (oldE != newE) {
      OrderedIndex& ix = use(s.entries);
      for (const std::string& e : oldE) {
        if (!std::binary_search(newE.begin(), newE.end(), e)) ix.erase(e);
      }
      for (const std::string& e : newE) {
        if (!std::binary_search(oldE.begin(), oldE.end(), e)) ix.insert(e, row);
      }
    }
    if (onEntry) {
      for (const std::string& e : oldE) {
        onEntry(name, std::string_view(e).substr(0, e.size() - pk.size()));
      }
      for (const std::string& e : newE) {
        if (!std::binary_search(oldE.begin(), oldE.end(), e)) {
          onEntry(name, std::string_view(e).substr(0, e.size() - pk.size()));
        }
      }
    }
  }
}

const OrderedIndex* IndexSet::find(std::string_view table, const std::string& index) const {
  if (index.empty()) {
    auto it = primary_.find(table);
    return it == primary_.end() ? nullptr : &it->second;
  }
  auto it = secondary_.find(index);
  return it == secondary_.end() ? nullptr : &it->second.entries;
}

const IndexDef* IndexSet::def(const std::string& name) const {
  auto it = secondary_.find(name);
  return it == secondary_.end() ? nullptr : &it->second.def;
}

const std::string& IndexSet::tableOf(const std::string& table, const std::string& index) const {
  if (index.empty()) return table;
  const IndexDef* d = def(index);
  if (!d) throw Error(ErrorCode::UnknownIndex, "unknown index \"" + index + "\"");
  return d->table;
}

const OrderedIndex* IndexSet::resolve(const std::string& table, const std::string& index) const {
  if (index.empty()) {
    auto it = primary_.find(table);
    return it == primary_.end() ? nullptr : &it->second;
  }
  auto it = secondary_.find(index);
  if (it == secondary_.end()) {
    throw Error(ErrorCode::UnknownIndex, "unknown index \"" + index + "\"");
  }
  return &it->second.entries;
}

std::vector<std::pair<std::size_t, std::size_t>> IndexSet::rankRanges(const OrderedIndex& ix,
                                                                      const KeyRange& r) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  switch (r.kind) {
    case KeyRange::Kind::All:
      out.emplace_back(0, ix.size());
      break;
    case KeyRange::Kind::Bounds: {
      std::size_t lo = 0, hi = ix.size();
      if (r.lower) lo = r.lowerOpen ? ix.upperBoundPrefix(*r.lower) : ix.lowerBound(*r.lower);
      if (r.upper) hi = r.upperOpen ? ix.lowerBound(*r.upper) : ix.upperBoundPrefix(*r.upper);
      if (lo < hi) out.emplace_back(lo, hi);  // reversed bounds: an empty range
      break;
    }
    case KeyRange::Kind::Prefix: {
      std::size_t lo = ix.lowerBound(r.prefix), hi = ix.upperBoundPrefix(r.prefix);
      if (lo < hi) out.emplace_back(lo, hi);
      break;
    }
    case KeyRange::Kind::AnyOf: {
      std::vector<std::string> keys = r.values;
      sortRange(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      for (const auto& k : keys) {
        std::size_t lo = ix.lowerBound(k), hi = ix.upperBoundPrefix(k);
        if (lo < hi) out.emplace_back(lo, hi);
      }
      break;
    }
  }
  return out;
}

std::vector<QueryHit> IndexSet::query(const std::string& table, const std::string& index,
                                      const KeyRange& range, const QueryOptions& opts) const {
  std::vector<QueryHit> hits;
  const OrderedIndex* ix = resolve(table, index);
  if (!ix || opts.limit == 0) return hits;
  auto ranges = rankRanges(*ix, range);
  if (opts.after) {
    const std::string& a = *opts.after;
    // Forward: ranks past every entry <= after. Reverse: ranks of entries < after.
    std::size_t cut = ix->lowerBound(a) + (opts.reverse ? 0 : ix->contains(a) ? 1 : 0);
    for (auto& [lo, hi] : ranges) {
      if (opts.reverse) {
        hi = std::min(hi, cut);
      } else {
        lo = std::max(lo, cut);
      }
    }
    std::erase_if(ranges, [](const auto& rr) { return rr.first >= rr.second; });
  }
  if (opts.reverse) std::reverse(ranges.begin(), ranges.end());
  std::size_t skip = opts.offset;
  auto emit = [&](OrderedIndex::Entry e) { hits.push_back({e.row, e.bytes}); };
  for (auto [lo, hi] : ranges) {
    std::size_t n = hi - lo;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    std::size_t take = std::min(n - skip, opts.limit - hits.size());
    if (opts.reverse) {
      ix->forEachInRanksReverse(hi - skip - take, hi - skip, emit);
    } else {
      ix->forEachInRanks(lo + skip, lo + skip + take, emit);
    }
    skip = 0;
    if (hits.size() == opts.limit) break;
  }
  return hits;
}

std::size_t IndexSet::count(const std::string& table, const std::string& index,
                            const KeyRange& range) const {
  const OrderedIndex* ix = resolve(table, index);
  if (!ix) return 0;
  std::size_t n = 0;
  for (auto [lo, hi] : rankRanges(*ix, range)) n += hi - lo;
  return n;
}

std::vector<QueryHit> IndexSet::queryOverlay(
    const std::string& table, const std::string& index, const KeyRange& range,
    const QueryOptions& opts, const std::vector<std::string>& removed,
    const std::vector<std::pair<std::string, std::uint32_t>>& added) const {
  // Committed entries minus the staged rows' old entries, merged with their new entries.
  const OrderedIndex* ix = resolve(table, index);
  std::vector<std::string> gone(removed);
  sortRange(gone.begin(), gone.end());
  std::vector<QueryHit> stream;
  if (ix) {
    for (auto [lo, hi] : rankRanges(*ix, range)) {
      ix->forEachInRanks(lo, hi, [&](OrderedIndex::Entry e) {
        if (!std::binary_search(gone.begin(), gone.end(), e.bytes))
          stream.push_back({e.row, e.bytes});
      });
    }
  }
  OrderedIndex extra;
  for (const auto& [e, row] : added) extra.insert(e, row);
  for (auto [lo, hi] : rankRanges(extra, range)) {
    extra.forEachInRanks(lo, hi, [&](OrderedIndex::Entry e) {
      // Point at the caller's string (extra dies with this call).
      auto it = std::find_if(added.begin(), added.end(),
                             [&](const auto& a) { return a.first == e.bytes; });
      stream.push_back({e.row, it->first});
    });
  }
  sortRange(stream.begin(), stream.end(),
            [](const QueryHit& a, const QueryHit& b) { return a.entry < b.entry; });
  if (opts.after) {
    const std::string& a = *opts.after;
    std::erase_if(stream,
                  [&](const QueryHit& h) { return opts.reverse ? h.entry >= a : h.entry <= a; });
  }
  if (opts.reverse) std::reverse(stream.begin(), stream.end());
  std::vector<QueryHit> out;
  for (std::size_t i = opts.offset; i < stream.size() && out.size() < opts.limit; ++i) {
    out.push_back(stream[i]);
  }
  return out;
}

IndexSet::Mark IndexSet::begin() {
  ++epoch_;
  return Mark{touched_.size()};
}

void IndexSet::rollback(const Mark& m) noexcept {
  while (touched_.size() > m.touched) {
    touched_.back().first->rollback(touched_.back().second);
    touched_.back().first->epoch = 0;
    touched_.pop_back();
  }
}

void IndexSet::confirm() noexcept {
  for (auto& [ix, mark] : touched_) {
    ix->clearJournal();
    ix->compact();
  }
  clearScratch(touched_);
}

std::size_t IndexSet::memoryBytes() const {
  std::size_t n = 0;
  for (const auto& [name, s] : secondary_) n += s.entries.memoryBytes();
  for (const auto& [table, ix] : primary_) n += ix.memoryBytes();
  return n;
}

void IndexSet::checkInvariants() const {
  for (const auto& [name, s] : secondary_) s.entries.checkInvariants();
  for (const auto& [table, ix] : primary_) ix.checkInvariants();
}

}  // namespace crdtdb
