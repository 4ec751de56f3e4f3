#include "store/index_set.h"

#include <algorithm>

#include "core/errors.h"
#include "store/key_codec.h"

namespace crdtdb {

namespace {

Value requireKey(const Value& v, const char* what) {
  Value c = v;
  try {
    canonicalizeValue(c, what);
  } catch (const Error&) {
    throw Error(ErrorCode::Type, std::string(what) + " is not a valid key");
  }
  if (!encodeKey(c)) {
    throw Error(ErrorCode::Type,
                std::string(what) + " is not a valid key (a number, string or array of those)");
  }
  return c;
}

std::string encodeOrThrow(const Value& v) { return *encodeKey(v); }

}  // namespace

KeyRange KeyRange::fromJson(const Value& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw Error(ErrorCode::Type, "a key range must be built with equals, above, between, ...");
  }
  const std::string type = j["type"].get<std::string>();
  KeyRange r;
  auto field = [&](const char* name) -> const Value& {
    if (!j.contains(name)) throw Error(ErrorCode::Type, "range \"" + type + "\" needs " + name);
    return j[name];
  };
  if (type == "all") {
    r.kind = Kind::All;
  } else if (type == "equals") {
    r.kind = Kind::Bounds;
    r.lower = r.upper = requireKey(field("value"), "equals() value");
  } else if (type == "above" || type == "aboveOrEqual") {
    r.kind = Kind::Bounds;
    r.lower = requireKey(field("value"), "range bound");
    r.lowerOpen = type == "above";
  } else if (type == "below" || type == "belowOrEqual") {
    r.kind = Kind::Bounds;
    r.upper = requireKey(field("value"), "range bound");
    r.upperOpen = type == "below";
  } else if (type == "between") {
    r.kind = Kind::Bounds;
    r.lower = requireKey(field("lower"), "between() lower bound");
    r.upper = requireKey(field("upper"), "between() upper bound");
    r.lowerOpen = !j.value("includeLower", true);
    r.upperOpen = !j.value("includeUpper", false);
  } else if (type == "startsWith") {
    r.kind = Kind::Prefix;
    r.prefix = field("prefix");
    if (r.prefix.is_string()) {
      // any string is a valid prefix
    } else if (r.prefix.is_array()) {
      r.prefix = requireKey(r.prefix, "startsWith() prefix");
    } else {
      throw Error(ErrorCode::Type, "startsWith() takes a string or an array prefix");
    }
  } else if (type == "anyOf") {
    r.kind = Kind::AnyOf;
    const Value& vs = field("values");
    if (!vs.is_array()) throw Error(ErrorCode::Type, "anyOf() takes a list of keys");
    for (const auto& v : vs) r.values.push_back(requireKey(v, "anyOf() value"));
  } else {
    throw Error(ErrorCode::Type, "unknown key range type \"" + type + "\"");
  }
  return r;
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

std::optional<std::string> IndexSet::entryFor(const IndexDef& def, const std::string& key,
                                              const Value& row) {
  std::string out;
  if (def.keys.size() == 1) {
    auto it = row.find(def.keys[0]);
    if (it == row.end() || !appendKey(out, *it)) return std::nullopt;
  } else {
    Value compound = Value::array();
    for (const auto& k : def.keys) {
      auto it = row.find(k);
      if (it == row.end()) return std::nullopt;
      compound.push_back(*it);
    }
    if (!appendKey(out, compound)) return std::nullopt;
  }
  appendStringKey(out, key);
  return out;
}

void IndexSet::onRowChange(const std::string& table, const std::string& key,
                           const std::optional<Value>& before, const std::optional<Value>& after) {
  if (before.has_value() != after.has_value()) {
    std::string pk;
    appendStringKey(pk, key);
    if (after) {
      primary_[table].insert(std::move(pk));
    } else {
      auto it = primary_.find(table);
      if (it != primary_.end()) {
        it->second.erase(pk);
        if (it->second.size() == 0) primary_.erase(it);
      }
    }
  }
  for (auto& [name, s] : secondary_) {
    if (s.def.table != table) continue;
    std::optional<std::string> oldE = before ? entryFor(s.def, key, *before) : std::nullopt;
    std::optional<std::string> newE = after ? entryFor(s.def, key, *after) : std::nullopt;
    if (oldE == newE) continue;
    if (oldE) s.entries.erase(*oldE);
    if (newE) s.entries.insert(std::move(*newE));
  }
}

const IndexDef* IndexSet::def(const std::string& name) const {
  auto it = secondary_.find(name);
  return it == secondary_.end() ? nullptr : &it->second.def;
}

std::vector<IndexDef> IndexSet::defs() const {
  std::vector<IndexDef> out;
  for (const auto& [name, s] : secondary_) out.push_back(s.def);
  return out;
}

const OrderedIndex* IndexSet::resolve(const std::string& table, const std::string& index) const {
  if (index.empty()) {
    auto it = primary_.find(table);
    return it == primary_.end() ? nullptr : &it->second;
  }
  auto it = secondary_.find(index);
  if (it == secondary_.end())
    throw Error(ErrorCode::UnknownIndex, "unknown index \"" + index + "\"");
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
      if (r.lower) {
        std::string k = encodeOrThrow(*r.lower);
        lo = r.lowerOpen ? ix.upperBoundPrefix(k) : ix.lowerBound(k);
      }
      if (r.upper) {
        std::string k = encodeOrThrow(*r.upper);
        hi = r.upperOpen ? ix.lowerBound(k) : ix.upperBoundPrefix(k);
      }
      if (lo < hi) out.emplace_back(lo, hi);  // reversed bounds: an empty range
      break;
    }
    case KeyRange::Kind::Prefix: {
      std::string p = r.prefix.is_string() ? stringPrefixKey(r.prefix.get<std::string>())
                                           : *arrayPrefixKey(r.prefix);
      std::size_t lo = ix.lowerBound(p), hi = ix.upperBoundPrefix(p);
      if (lo < hi) out.emplace_back(lo, hi);
      break;
    }
    case KeyRange::Kind::AnyOf: {
      std::vector<std::string> keys;
      for (const auto& v : r.values) keys.push_back(encodeOrThrow(v));
      std::sort(keys.begin(), keys.end());
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

std::optional<std::string> IndexSet::entryIn(const IndexDef* def, const std::string& key,
                                             const std::optional<Value>& row) {
  if (!row) return std::nullopt;
  if (def) return entryFor(*def, key, *row);
  std::string pk;
  appendStringKey(pk, key);
  return pk;
}

const std::string& IndexSet::tableOf(const std::string& table, const std::string& index) const {
  if (index.empty()) return table;
  const IndexDef* d = def(index);
  if (!d) throw Error(ErrorCode::UnknownIndex, "unknown index \"" + index + "\"");
  return d->table;
}

void IndexSet::clipAfter(const OrderedIndex& ix, const QueryOptions& opts,
                         std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  if (!opts.after) return;
  const std::string& a = *opts.after;
  // Forward: ranks past every entry <= after. Reverse: ranks of entries < after.
  std::size_t cut = ix.lowerBound(a) + (opts.reverse ? 0 : ix.contains(a) ? 1 : 0);
  for (auto& [lo, hi] : ranges) {
    if (opts.reverse) {
      hi = std::min(hi, cut);
    } else {
      lo = std::max(lo, cut);
    }
  }
  std::erase_if(ranges, [](const auto& r) { return r.first >= r.second; });
}

std::vector<std::string> IndexSet::queryOverlay(const OrderedIndex* ix, const IndexDef* def,
                                                const KeyRange& range, const QueryOptions& opts,
                                                const Overlay& overlay,
                                                std::string* lastEntry) const {
  // Committed entries minus the staged rows' old entries, merged with the staged rows' new
  // entries; both streams are in entry order, so the merge is in range order.
  OrderedIndex added;
  std::vector<std::string> removed;
  for (const auto& [key, row] : overlay.rows) {
    if (auto e = entryIn(def, key, row.committed)) removed.push_back(std::move(*e));
    if (auto e = entryIn(def, key, row.staged)) added.insert(std::move(*e));
  }
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> stream;  // committed entries in range, order of the query
  if (ix) {
    auto ranges = rankRanges(*ix, range);
    for (auto [lo, hi] : ranges) {
      ix->forEachInRanks(lo, hi, [&](const std::string& e) {
        if (!std::binary_search(removed.begin(), removed.end(), e)) stream.push_back(e);
      });
    }
  }
  for (auto [lo, hi] : rankRanges(added, range)) {
    added.forEachInRanks(lo, hi, [&](const std::string& e) { stream.push_back(e); });
  }
  std::sort(stream.begin(), stream.end());
  if (opts.after) {
    const std::string& a = *opts.after;
    std::erase_if(stream, [&](const std::string& e) { return opts.reverse ? e >= a : e <= a; });
  }
  if (opts.reverse) std::reverse(stream.begin(), stream.end());
  std::vector<std::string> keys;
  for (std::size_t i = opts.offset; i < stream.size() && keys.size() < opts.limit; ++i) {
    keys.push_back(rowKeyOfEntry(stream[i], def != nullptr));
    if (lastEntry) *lastEntry = stream[i];
  }
  return keys;
}

std::vector<std::string> IndexSet::query(const std::string& table, const std::string& index,
                                         const KeyRange& range, const QueryOptions& opts,
                                         const Overlay* overlay, std::string* lastEntry) const {
  std::vector<std::string> keys;
  const OrderedIndex* ix = resolve(table, index);
  if (overlay && !overlay->rows.empty()) {
    return queryOverlay(ix, index.empty() ? nullptr : def(index), range, opts, *overlay, lastEntry);
  }
  if (!ix || opts.limit == 0) return keys;
  auto ranges = rankRanges(*ix, range);
  clipAfter(*ix, opts, ranges);
  if (opts.reverse) std::reverse(ranges.begin(), ranges.end());
  std::size_t skip = opts.offset;
  for (auto [lo, hi] : ranges) {
    std::size_t n = hi - lo;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    std::size_t take = std::min(n - skip, opts.limit - keys.size());
    auto emit = [&](const std::string& e) {
      keys.push_back(rowKeyOfEntry(e, !index.empty()));
      if (lastEntry) *lastEntry = e;
    };
    if (opts.reverse) {
      ix->forEachInRanksReverse(hi - skip - take, hi - skip, emit);
    } else {
      ix->forEachInRanks(lo + skip, lo + skip + take, emit);
    }
    skip = 0;
    if (keys.size() == opts.limit) break;
  }
  return keys;
}

std::size_t IndexSet::count(const std::string& table, const std::string& index,
                            const KeyRange& range, const Overlay* overlay) const {
  const OrderedIndex* ix = resolve(table, index);
  if (overlay && !overlay->rows.empty()) {
    return queryOverlay(ix, index.empty() ? nullptr : def(index), range, QueryOptions{}, *overlay,
                        nullptr)
        .size();
  }
  if (!ix) return 0;
  std::size_t n = 0;
  for (auto [lo, hi] : rankRanges(*ix, range)) n += hi - lo;
  return n;
}

void IndexSet::checkInvariants() const {
  for (const auto& [name, s] : secondary_) s.entries.checkInvariants();
  for (const auto& [table, ix] : primary_) ix.checkInvariants();
}

std::string rowKeyOfEntry(const std::string& entry, bool secondary) {
  std::size_t pos = 0;
  if (secondary) decodeKey(entry, pos);  // skip the index key
  return decodeKey(entry, pos).get<std::string>();
}

}  // namespace crdtdb
