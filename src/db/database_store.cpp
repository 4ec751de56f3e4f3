// Database persistence: what storage must write after calls (takeStorage), and opening a
// replica from what storage holds (load). Formats in database.h, op_log.h and row_store.h.
#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>

#include "core/errors.h"
#include "core/reserve.h"
#include "core/sort.h"
#include "db/database.h"
#include "db/row_lookup.h"
#include "merge/list/text_codec.h"

namespace crdtdb {

void Database::trackStorage(bool on) {
  tracking_ = on;
  // Everything held when tracking starts came from storage (or is nothing yet).
  durableSelf_ = takenSelf_ = on ? graph_.nextSeq(self_) : kNoSeqLimit;
  dirty_.clear();
  dirtyAt_.clear();
}

namespace {

// The storage entry of a row in one index: [table, index, ...values, row key], if it has one.
void appendEntry(const IndexDef& def, std::string_view key, const ColumnLookup& col,
                 std::vector<Bytes>& out) {
  auto write = [&](const ValueRef* element) {
    ByteWriter w;
    writeArrayHeader(w, def.keys.size() + 3);
    writeString(w, def.table);
    writeString(w, def.name);
    for (const std::string& c : def.keys) w.raw(element ? *element : *col(c));
    writeString(w, key);
    out.push_back(w.take());
  };
  std::vector<std::string> entries;
  bool multi = false;
  IndexSet::entriesFor(&def, key, col, entries, [&](ValueRef e) {
    multi = true;
    write(&e);
  });
  if (!multi && !entries.empty()) write(nullptr);
}

}  // namespace

void Database::indexEntries(NameId table, std::string_view key, const ColumnLookup& col,
                            std::vector<Bytes>& out) const {
  const std::string_view tableName = names_.name(table);
  indexes_.forEachDef([&](const IndexDef& def) {
    if (def.table == tableName) appendEntry(def, key, col, out);
  });
}

void Database::noteDirty(RowId id, const ColumnLookup* before) {
  const Row& r = rows_.row(id);
  std::string k(sizeof(NameId) + r.key.size(), '\0');
  std::memcpy(k.data(), &r.table, sizeof(NameId));
  std::memcpy(k.data() + sizeof(NameId), r.key.data(), r.key.size());
  if (dirtyAt_.count(k) != 0) return;
  Dirty d{std::move(k), r.table, {}};
  if (before) indexEntries(r.table, r.key, *before, d.stored);
  reserveMore(dirty_, 1);
  dirtyAt_.emplace(d.id, dirty_.size());
  dirty_.push_back(std::move(d));  // reserved: cannot throw
}

void Database::takeStorage(ByteWriter& out) {
  confirm();  // seals a full open chunk and frees emptied rows first
  std::vector<const Bytes*> dels, puts;
  // Each row's entries now; the outer vector owns the entries `puts` points at (moving an
  // inner vector when it grows keeps its elements where they are).
  std::vector<std::vector<Bytes>> nowByRow;
  out.varint(dirty_.size());
  for (const Dirty& d : dirty_) {
    const std::string_view key(d.id.data() + sizeof(NameId), d.id.size() - sizeof(NameId));
    out.string(names_.name(d.table));
    out.string(key);
    const auto id = rows_.find(d.table, key);
    std::vector<Bytes>& now = nowByRow.emplace_back();
    if (!id || !rows_.holdsState(*id)) {
      out.u8(0);
    } else {
      const Row& r = rows_.row(*id);
      ByteWriter state;
      rows_.encodeRowState(*id, state);
      out.u8(r.visible() ? 2 : 1);
      out.varint(state.size());
      out.raw(state.bytes());
      if (r.visible()) {
        ByteWriter row;
        std::size_t n = 0;
        forEachColumn(*id, [&](NameId, ValueRef) { ++n; });
        writeObjectHeader(row, n);
        forEachColumn(*id, [&](NameId col, ValueRef v) {
          writeKey(row, names_.name(col));
          row.raw(v);
        });
        out.varint(row.size());
        out.raw(row.bytes());
        indexEntries(d.table, key, lookupIn(rows_, r), now);
      }
    }
    // A row has an entry per index, or per element of an indexed set: compare sorted lists.
    std::vector<const Bytes*> was, is;
    for (const Bytes& e : d.stored) was.push_back(&e);
    for (const Bytes& e : now) is.push_back(&e);
    auto less = [](const Bytes* a, const Bytes* b) { return *a < *b; };
    sortRange(was.begin(), was.end(), less);
    sortRange(is.begin(), is.end(), less);
    std::set_difference(was.begin(), was.end(), is.begin(), is.end(), std::back_inserter(dels),
                        less);
    std::set_difference(is.begin(), is.end(), was.begin(), was.end(), std::back_inserter(puts),
                        less);
  }
  for (const auto* list : {&dels, &puts}) {
    out.varint(list->size());
    for (const Bytes* e : *list) {
      out.varint(e->size());
      out.raw(*e);
    }
  }
  OpLog::EventsDelta events;
  oplog_.takeStored(graph_, peers_, events);
  out.varint(events.deletes.size());
  for (const OpLog::StoredRange& d : events.deletes) {
    out.varint(d.chunk);
    out.varint(d.from);
    out.varint(d.to);
  }
  out.varint(events.puts.size());
  for (const OpLog::StoredRecord& p : events.puts) {
    out.varint(p.chunk);
    out.varint(p.start);
    out.varint(p.bytes.size());
    out.raw(p.bytes);
  }
  dirty_.clear();
  dirtyAt_.clear();
  takenSelf_ = graph_.nextSeq(self_);
}

void Database::writeIndexEntries(const std::string& name, ByteWriter& out) const {
  const IndexDef* def = indexes_.def(name);
  if (!def) throw Error(ErrorCode::UnknownIndex, "unknown index \"" + name + "\"");
  std::vector<Bytes> entries;
  if (auto table = names_.find(def->table)) {
    rows_.forEachVisible(*table, [&](RowId, const Row& r) {
      appendEntry(*def, r.key, lookupIn(rows_, r), entries);
    });
  }
  out.varint(entries.size());
  for (const Bytes& e : entries) {
    out.varint(e.size());
    out.raw(e);
  }
}

RowId Database::loadRowState(ByteSpan bytes) {
  ByteReader r(bytes);
  const std::string_view table = r.stringView(kMaxNameBytes, "stored row table");
  const std::string_view key = r.stringView(kMaxKeyBytes, "stored row key");
  try {
    validateTableAndKey(table, key);
  } catch (const Error& e) {
    throw DecodeError(std::string("stored row: ") + e.what());
  }
  const std::uint64_t nPeers = r.varintBelow(r.remaining() + 1, "stored row peer count");
  // Rows of one table mostly list the same peers and columns in the same places: each place
  // remembers what it resolved last, so most names cost a compare instead of a lookup.
  std::vector<PeerIdx>& peers = loadScratch_.peerIdx;
  peers.clear();
  for (std::uint64_t i = 0; i < nPeers; ++i) {
    const std::string_view name = r.stringView(256, "stored row peer id");
    auto& seen = loadScratch_.peers;
    if (i < seen.size() && seen[i].first == name) {
      peers.push_back(seen[i].second);
      continue;
    }
    auto p = peers_.find(name);
    if (!p) throw DecodeError("stored row names a peer the stored history lacks");
    if (i >= seen.size()) seen.resize(i + 1);
    seen[i] = {std::string(name), *p};
    peers.push_back(*p);
  }
  auto columnName = [&](std::uint64_t i, std::string_view name) {
    auto& seen = loadScratch_.columns;
    if (i < seen.size() && seen[i].first == name) return seen[i].second;
    const NameId id = internName(name);
    if (i >= seen.size()) seen.resize(i + 1);
    seen[i] = {std::string(name), id};
    return id;
  };
  auto readCell = [&](NameId col) {
    const std::uint64_t pi = r.varintBelow(peers.size(), "stored row peer index");
    const Seq seq = r.varint();
    auto lv = graph_.lvOf(peers[static_cast<std::size_t>(pi)], seq);
    if (!lv) throw DecodeError("stored row names an event the stored history lacks");
    const ByteSpan rest = r.rest();
    if (!rest.empty() && rest[0] == tag::kSet) {  // a set write: stored as the bare marker
      if (rest.size() < 2 || rest[1] != 0) throw DecodeError("stored set cell holds elements");
      r.raw(2);
      return Cell(col, *lv, emptySetValue());
    }
    ByteReader vr(rest);
    const std::size_t size = scanValue(vr).size;
    return Cell(col, *lv, r.raw(size));
  };
  // A set column's dots: elements in set order, each with its dots (one per peer).
  auto readDots = [&]() {
    SetState st;
    const std::uint64_t n = r.varintBelow(r.remaining() / 3 + 1, "stored set element count");
    if (n == 0) throw DecodeError("stored set has no elements");
    std::string prev;
    for (std::uint64_t k = 0; k < n; ++k) {
      ByteReader vr(r.rest());
      const ValueRef element = r.raw(scanValue(vr).size);
      std::string order = setOrderKey(element);
      if (k > 0 && !(prev < order)) throw DecodeError("stored set elements out of order");
      SetElement e;
      e.value.assign(element.begin(), element.end());
      const std::uint64_t nDots = r.varintBelow(r.remaining() / 2 + 1, "stored set dot count");
      if (nDots == 0) throw DecodeError("stored set element has no dots");
      for (std::uint64_t d = 0; d < nDots; ++d) {
        const std::uint64_t pi = r.varintBelow(peers.size(), "stored row peer index");
        auto lv = graph_.lvOf(peers[static_cast<std::size_t>(pi)], r.varint());
        if (!lv) throw DecodeError("stored set dot names an event the stored history lacks");
        if (!e.dots.emplace(peers[static_cast<std::size_t>(pi)], *lv).second) {
          throw DecodeError("stored set element has two dots of one peer");
        }
      }
      prev = order;
      st.elements.emplace(std::move(order), std::move(e));
    }
    return st;
  };
  const std::uint64_t nCells = r.varintBelow(r.remaining() / 3 + 1, "stored row cell count");
  std::vector<Cell> cells;
  std::vector<std::pair<NameId, std::vector<Cell>>> losers;
  std::vector<std::pair<NameId, SetState>> dots;
  cells.reserve(static_cast<std::size_t>(nCells));
  for (std::uint64_t i = 0; i < nCells; ++i) {
    const std::uint8_t flags = r.u8();
    if (flags > 7) throw DecodeError("stored row cell has unknown flags");
    if ((flags & 5) == 5) throw DecodeError("stored row token has set dots");
    NameId col = kTokenColumn;
    if (!(flags & 1)) col = columnName(i, r.stringView(kMaxNameBytes, "stored row column"));
    cells.push_back(readCell(col));
    if (flags & 2) {
      const std::uint64_t n = r.varintBelow(r.remaining() / 3 + 1, "stored row loser count");
      std::vector<Cell> list;
      for (std::uint64_t k = 0; k < n; ++k) list.push_back(readCell(col));
      losers.emplace_back(col, std::move(list));
    }
    if (flags & 4) dots.emplace_back(col, readDots());
  }
  // Counters (rows stored before counters existed end here), then texts.
  std::vector<std::pair<NameId, CounterState>> counters;
  if (!r.atEnd()) {
    const std::uint64_t n = r.varintBelow(r.remaining() / 3 + 1, "stored counter count");
    if (n == 0 && r.atEnd()) throw DecodeError("stored row lists no counters");
    for (std::uint64_t i = 0; i < n; ++i) {
      const NameId col = internName(r.stringView(kMaxNameBytes, "stored counter column"));
      CounterState st;
      const std::uint64_t nPeers = r.varintBelow(r.remaining() / 5 + 1, "stored counter peers");
      if (nPeers == 0) throw DecodeError("stored counter has no entries");
      for (std::uint64_t k = 0; k < nPeers; ++k) {
        const PeerIdx peer =
            peers[static_cast<std::size_t>(r.varintBelow(peers.size(), "stored row peer index"))];
        CounterEntry e;
        for (CounterClock* c : {&e.latest, &e.base}) {
          c->next = r.varintBelow(kMaxClock + 1, "stored counter seq");
          c->total = r.zigzag();
          if (c->next > graph_.nextSeq(peer)) {
            throw DecodeError("stored counter names an event the stored history lacks");
          }
        }
        if (e.latest.next == 0 && e.base.next == 0)
          throw DecodeError("stored counter entry is empty");
        if (!st.peers.emplace(peer, e).second) {
          throw DecodeError("stored counter has two entries of one peer");
        }
      }
      counters.emplace_back(col, std::move(st));
    }
  }
  struct StoredText {
    NameId column;
    LV created;
    std::unique_ptr<list::DecodedText> history;  // (its edits view its content: not moved)
  };
  std::vector<StoredText> texts;
  if (!r.atEnd()) {
    const std::uint64_t n = r.varintBelow(r.remaining() / 4 + 1, "stored text count");
    if (n == 0) throw DecodeError("stored row lists no texts");
    auto lvOf = [&](std::uint32_t pi, Seq seq) {
      if (pi >= peers.size()) throw DecodeError("stored text peer index out of range");
      auto lv = graph_.lvOf(peers[pi], seq);
      if (!lv) throw DecodeError("stored text names an event the stored history lacks");
      return *lv;
    };
    for (std::uint64_t i = 0; i < n; ++i) {
      StoredText t;
      t.column = internName(r.stringView(kMaxNameBytes, "stored text column"));
      const auto pi =
          static_cast<std::uint32_t>(r.varintBelow(peers.size(), "stored row peer index"));
      t.created = lvOf(pi, r.varint());
      t.history = std::make_unique<list::DecodedText>();
      list::decodeText(r, lvOf, *t.history);
      texts.push_back(std::move(t));
    }
  }
  if (!r.atEnd()) throw DecodeError("stored row has trailing bytes");
  auto& lastTable = loadScratch_.table;
  if (lastTable.first.empty() || lastTable.first != table)
    lastTable = {std::string(table), internName(table)};
  const NameId tableId = lastTable.second;
  const RowId id = rows_.loadRow(tableId, key, std::move(cells), std::move(losers), std::move(dots),
                                 std::move(counters));
  if (texts.empty()) return id;
  // Each text's history merged into a new column (the row is new: nothing to journal).
  for (const StoredText& t : texts) {
    list::TextColumn& col = rows_.loadText(id, t.column, t.created);
    list::addDecoded(col, *t.history,
                     {[](LV) { return true; },
                      [&](const list::TextColumn& c, LV lv) { return textParents(c, lv); },
                      [&](LV lv) { return graph_.followsPrevious(lv); }},
                     rows_.authorLess());
  }
  rows_.refreshTextCells(id);
  return id;
}

std::vector<LV> Database::textParents(const list::TextColumn& t, LV event) {
  const std::vector<LV> parents = graph_.parentsOf(event);
  return t.parentsFor([&](LV x) {
    const Stamp s = graph_.stampOf(x);
    return s.seq < graph_.seenOf(parents, s.peer);
  });
}

void Database::load(std::span<const ByteSpan> events, std::span<const ByteSpan> rows) {
  loadHistory(events);
  loadRows(rows, nullptr);
  finishLoad();
}

void Database::loadHistory(std::span<const ByteSpan> events) {
  if (loading_ || graph_.size() != 0 || rows_.rowCount() != 0 || !dirty_.empty()) {
    throw Error(ErrorCode::Internal, "load() into a replica that is not fresh");
  }
  confirm();
  loading_ = true;
  std::size_t decoded = 0;
  for (ByteSpan rec : events) decoded += oplog_.loadRecord(rec, graph_, peers_);
  decoded += oplog_.finishLoad(graph_, peers_);
  work_.loadDecodedBytes += decoded;
}

void Database::loadRows(std::span<const ByteSpan> rows, std::vector<RowId>* loaded) {
  if (!loading_) throw Error(ErrorCode::Internal, "loadRows() outside a load");
  indexes_.begin();
  for (ByteSpan row : rows) {
    const RowId id = loadRowState(row);
    if (loaded) loaded->push_back(id);
    work_.loadDecodedBytes += row.size();
    // The tables' order and the indexes declared so far, row by row: a batch is taken in
    // whole while storage reads the next.
    const Row& r = rows_.row(id);
    if (!r.visible()) continue;
    const ColumnLookup after = lookupIn(rows_, r);
    indexes_.onRowChange(id, names_.name(r.table), r.key, nullptr, &after, {});
  }
  confirm();  // (a load is never undone: what the batch journaled is dropped)
}

void Database::finishLoad() {
  if (!loading_) throw Error(ErrorCode::Internal, "finishLoad() outside a load");
  confirm();
  loading_ = false;
  loadScratch_ = {};
}

}  // namespace crdtdb
