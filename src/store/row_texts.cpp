// RowStore: text columns (a text's state beside its row, its edits, its read value).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "core/errors.h"
#include "core/reserve.h"
#include "core/sort.h"
#include "merge/list/text_codec.h"
#include "merge/text_op.h"
#include "store/row_store.h"

namespace crdtdb {

namespace {

std::u16string utf16Of(std::string_view utf8) {
  std::u16string out;
  list::decodeWtf8(utf8, out);  // valid UTF-8 is valid WTF-8
  return out;
}

// U+FFFD, which also stands for a lone surrogate (that an edit beside it may pair up).
bool replacementAt(std::string_view s, std::size_t at) {
  return at + 3 <= s.size() && s.substr(at, 3) == "\xEF\xBF\xBD";
}

// Bytes [from, end) of the cell's string `s` that an edit at UTF-16 `pos` removing `removed`
// units replaces, found from a known point (units, from) of `s`. False where splicing the
// UTF-8 could differ from encoding the edited text: inside a surrogate pair, or beside a
// U+FFFD (a delete may pair up the lone surrogates two of them stand for).
bool locateEdit(std::string_view s, std::uint64_t pos, std::uint64_t removed, std::uint64_t& units,
                std::size_t& from, std::size_t& end) {
  if (!seekUtf16(s, pos, units, from)) return false;
  std::uint64_t endUnits = units;
  end = from;
  if (!seekUtf16(s, pos + removed, endUnits, end)) return false;
  return !(from >= 3 && replacementAt(s, from - 3)) && !replacementAt(s, end);
}

// A cell value's heap block, which a call keeps alive once replaced (null: held inline).
const std::uint8_t* blockOf(ValueRef value) { return value.size() > 8 ? value.data() : nullptr; }

}  // namespace

list::TextColumn::AuthorLess RowStore::authorLess() const {
  // FugueMax breaks ties between concurrent inserts by their authors' peer ids.
  return [this](LV a, LV b) {
    return peers_.name(graph_.stampOf(a).peer) < peers_.name(graph_.stampOf(b).peer);
  };
}

bool RowStore::namesWrite(RowId id, NameId col, LV lv) const noexcept {
  bool found;
  const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
  if (!found) return false;
  const Cell& c = rows_[id].cells[idx];
  if (c.lv() == lv && !c.derived()) return true;
  if (!c.hasLosers()) return false;
  for (const auto& entry : losers_.at(loserKey(id, col)).byPeer) {
    if (entry.second.lv() == lv) return true;
  }
  return false;
}

const list::TextColumn* RowStore::shownText(RowId id, NameId col, LV* created) const {
  if (texts_.empty()) return nullptr;
  bool found;
  const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
  if (!found || rows_[id].cells[idx].derived()) return nullptr;
  const LV lv = rows_[id].cells[idx].lv();
  const list::TextColumn* t = text(id, col, lv);
  if (t && created) *created = lv;
  return t;
}

RowStore::TextState& RowStore::changeText(RowId id, NameId col, LV created, bool create) {
  touch(id);
  reserveMore(savedTexts_, 1);
  const TextKey key{loserKey(id, col), created};
  if (create) {
    auto [it, added] = texts_.try_emplace(key);
    if (!added) throw DecodeError("a text is created twice");
    it->second.savedEpoch = epoch_;
    savedTexts_.emplace_back(key, std::nullopt);
    return it->second;
  }
  TextState& st = texts_.at(key);
  ++st.changes;
  if (st.savedEpoch != epoch_) {
    std::optional<list::TextColumn::Mark> m(st.col.mark());
    savedTexts_.emplace_back(key, std::move(m));
    st.savedEpoch = epoch_;
  }
  return st;
}

list::TextColumn& RowStore::loadText(RowId id, NameId col, LV created) {
  if (!namesWrite(id, col, created)) {
    throw DecodeError("stored text is not one of its column's writes");
  }
  auto [it, added] = texts_.try_emplace({loserKey(id, col), created});
  if (!added) throw DecodeError("stored row lists one text twice");
  it->second.savedEpoch = epoch_;
  return it->second.col;
}

void RowStore::applyTextCreate(RowId id, const ColumnWrite& w, LV lv, const Observer& obs) {
  // A write of the column like an update with "" (losers and storage hold that); its text
  // starts with the op's string, inserted by the creating event itself.
  removeObservedDots(id, w.column, obs);
  write(id, ColumnWrite{w.column, w.name, emptyStringValue()}, lv, obs, true);
  list::TextColumn& t = changeText(id, w.column, lv, true).col;
  const std::u16string content = utf16Of(stringOf(w.value));
  if (!content.empty()) {
    if (obs.all) {  // (a new text: nothing pending)
      t.localInsert(lv, 0, content, nullptr);
    } else {
      reserveMore(pendingTexts_, 1);
      t.addRemote(lv, {true, 0, 0, content}, {});
      pendingTexts_.push_back({loserKey(id, w.column), lv});
    }
  }
  markCounterDirty(id, w.column);  // a text write may win over a counter's number
}

void RowStore::applyTextEdit(RowId id, const ColumnWrite& w, LV lv, const Observer& obs,
                             const TextEditValue* parsed, std::uint32_t events) {
  // (Decoded messages and local commits' named forms were read in full before.)
  const TextEditValue e = parsed ? *parsed : readScannedTextEdit(w.value);
  if (events > 1 && (!e.insert || utf16Length(e.content) != events)) {
    throw Error(ErrorCode::Internal, "a typed run's characters are not one unit each");
  }
  // The text is named by its creating event, which the edit must have seen (on every
  // replica alike: a forged name is refused everywhere, not only where the text lives).
  const auto peer = peers_.find(e.peer);
  const auto created = peer ? graph_.lvOf(*peer, e.seq) : std::nullopt;
  if (!created || *created >= lv || !obs.observed(*created)) {
    throw DecodeError("text edit names a text its operation has not seen");
  }
  // A text no cell names any more was replaced by a write that saw it: it can never show
  // again, so its late edits change nothing. (Its state may lag: replaced earlier in this
  // call, by a snapshot that did not carry its history, it leaves only at settleTexts.)
  if (text(id, w.column, *created) == nullptr || !namesWrite(id, w.column, *created)) return;
  TextState& st = changeText(id, w.column, *created, false);
  list::TextColumn& t = st.col;
  ++textEditsApplied_;
  if (obs.all && !t.pending()) {
    // Made on exactly the text held here: it applies at once, and its cell can take it as
    // a splice (kept before the edit: an allocation failure then leaves no record of it).
    st.edit.changes = 0;
    st.edit.inserted.assign(e.insert ? e.content : std::string_view());
    try {
      if (e.insert) {
        t.localInsert(lv, e.pos, utf16Of(e.content), nullptr, !obs.remote, events > 1);
      } else {
        t.localDelete(lv, e.pos, e.len, nullptr, !obs.remote);
      }
    } catch (const Error& err) {
      if (!obs.remote || err.code() != ErrorCode::Range) throw;
      throw DecodeError(std::string("text edit: ") + err.what());
    }
    st.edit.changes = st.changes;
    st.edit.pos = e.pos;
    st.edit.removed = e.insert ? 0 : e.len;
    return;
  }
  const std::u16string content = e.insert ? utf16Of(e.content) : std::u16string();
  const std::vector<LV> parents = t.parentsFor([&](LV x) { return obs.observed(x); });
  const TextKey key{loserKey(id, w.column), *created};
  const bool listed = !pendingTexts_.empty() && pendingTexts_.back() == key;  // (a run of edits)
  if (!listed) reserveMore(pendingTexts_, 1);
  t.addRemote(lv, {e.insert, e.pos, e.len, content}, parents, events > 1);
  if (!listed) pendingTexts_.push_back(key);
}

void RowStore::settleTexts() {
  clearScratch(cellSplices_);
  if (texts_.empty()) return;
  sortRange(pendingTexts_.begin(), pendingTexts_.end());
  pendingTexts_.erase(std::unique(pendingTexts_.begin(), pendingTexts_.end()), pendingTexts_.end());
  const list::TextColumn::AuthorLess less = authorLess();
  for (const TextKey& key : pendingTexts_) {
    auto it = texts_.find(key);
    if (it != texts_.end()) it->second.col.flush(less, nullptr);
  }
  clearScratch(pendingTexts_);
  // The shown text of every row the call touched goes into its winning cell.
  for (RowId id : touched_) {
    if (live(id)) refreshTextCells(id);
  }
  sortRange(cellSplices_.begin(), cellSplices_.end());
  // Texts no cell names any more (replaced, or their row deleted) leave now, not at the next
  // call: nothing between calls (a snapshot, storage) may see them. Kept whole for undo.
  auto dead = [&](RowId id, auto&& f) {
    for (auto it = texts_.lower_bound({loserKey(id, 0), 0});
         it != texts_.end() && (it->first.first >> 32) == id;) {
      const auto next = std::next(it);
      if (!live(id) || !namesWrite(id, columnOf(it->first.first), it->first.second)) f(it);
      it = next;
    }
  };
  std::size_t n = 0;
  for (RowId id : touched_) dead(id, [&](auto) { ++n; });
  reserveMore(droppedTexts_, n);
  for (RowId id : touched_) dead(id, [&](auto it) { droppedTexts_.push_back(texts_.extract(it)); });
}

void RowStore::writeShownValue(const list::TextColumn& t, ByteWriter& out) {
  // A scratch buffer that only grows: no allocation or zero fill per edit.
  static std::unique_ptr<char[]> scratch;
  static std::size_t scratchSize = 0;
  const std::u16string units = t.text().str();
  if (scratchSize < 3 * units.size()) {
    scratch.reset(new char[3 * units.size()]);  // (left uninitialised)
    scratchSize = 3 * units.size();
  }
  const std::size_t len = list::writeUtf8(units, scratch.get());
  writeString(out, std::string_view(scratch.get(), len));
}

void RowStore::refreshTextCells(RowId id) {
  for (auto it = texts_.lower_bound({loserKey(id, 0), 0});
       it != texts_.end() && (it->first.first >> 32) == id; ++it) {
    const NameId col = columnOf(it->first.first);
    bool found;
    const std::size_t idx = findCell(rows_[id], col, names_.name(col), found);
    if (!found || rows_[id].cells[idx].lv() != it->first.second) continue;
    TextState& st = it->second;
    // Unchanged since its cell last showed it (a call that wrote another column of the row):
    // nothing to encode. A cell made stale meanwhile holds "" (what a text write or a loser
    // holds), which its size tells unless the text is "" too. Undo restores cell and text
    // together, so a stale count after a rollback still pairs a cell with its text.
    const bool shows = rows_[id].cells[idx].value().size() == st.shownBytes;
    if (shows && st.shownChanges == st.changes) continue;
    // One edit since, applied in place: a keystroke costs its distance from the previous
    // one, not the text's length.
    if (shows && st.edit.changes == st.changes && st.shownChanges + 1 == st.changes &&
        spliceTextCell(id, idx, col, st)) {
      continue;
    }
    ByteWriter v;
    writeShownValue(st.col, v);
    ++textCellsRefreshed_;
    textCellBytesMoved_ += v.bytes().size();
    replaceValue(id, idx, v.bytes());
    st.shown(v.bytes().size(), 0, 0);
  }
}

bool RowStore::spliceTextCell(RowId id, std::size_t idx, NameId col, TextState& st) {
  const Cell& cur = rows_[id].cells[idx];
  const ValueRef old = cur.value();
  const std::string_view s = stringOf(old);
  // (The anchor is a point of this string: every other change of the cell resets it.)
  if (st.anchorBytes > s.size()) throw Error(ErrorCode::Internal, "text cell anchor past its end");
  std::uint64_t units = st.anchorUnits;
  std::size_t from = st.anchorBytes, end = 0;
  if (!locateEdit(s, st.edit.pos, st.edit.removed, units, from, end)) return false;
  const std::string& ins = st.edit.inserted;
  const std::size_t size = s.size() - (end - from) + ins.size();
  ByteWriter head;
  writeStringHeader(head, size);
  const std::size_t oldHead = old.size() - s.size(), total = head.bytes().size() + size;
  reserveMore(cellSplices_, 1);
  CellSplice made{
      id,      col,     s.size(), Splice{units, st.edit.removed, from, from + ins.size()},
      nullptr, nullptr, false};
  if (cur.capacity() >= total) {
    // In place: the bytes after the edit move; the journal keeps what the edit removed.
    Cell undo;
    const bool journaled = rows_[id].created != epoch_;
    if (journaled) {
      const std::uint32_t meta[4] = {
          static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(ins.size()),
          static_cast<std::uint32_t>(head.bytes().size()), static_cast<std::uint32_t>(oldHead)};
      const ValueRef parts[] = {ValueRef(reinterpret_cast<const std::uint8_t*>(meta), sizeof meta),
                                old.first(oldHead), bytesOf(s.substr(from, end - from))};
      undo = Cell(col, 0, parts);
      reserveMore(journal_, 1);
    }
    touch(id);
    made.beforeBlock = blockOf(old);
    made.inPlace = true;
    textCellBytesMoved_ +=
        ins.size() + (s.size() - end) + (head.bytes().size() != oldHead ? total : 0);
    Cell& c = rows_[id].cells[idx];  // (s dangles from here)
    c.replaceBytes(oldHead + from, end - from, bytesOf(ins));
    c.replaceBytes(0, oldHead, head.bytes());
    if (journaled) {
      journal_.push_back(
          Undo{Undo::TextSpliced, id, static_cast<std::uint32_t>(idx), col, std::move(undo)});
    }
  } else {
    // Made again, once, in a block with room to grow: later keystrokes go in place.
    const ValueRef parts[] = {head.bytes(), bytesOf(s.substr(0, from)), bytesOf(ins),
                              bytesOf(s.substr(end))};
    Cell c = Cell::growable(cur.column(), cur.lv(), parts, total + total / 2);
    c.setHasLosers(cur.hasLosers());
    if (cur.derived()) c.setDerived();
    made.beforeBlock = blockOf(old);
    textCellBytesMoved_ += total;
    replaceCell(id, idx, std::move(c));  // (s dangles from here: the old cell went to the journal)
  }
  const ValueRef now = rows_[id].cells[idx].value();
  cellSplices_.push_back(made);
  // (In place: the block itself, however short its value; valueBeforeSplice checks it.)
  cellSplices_.back().afterBlock = made.inPlace ? now.data() : blockOf(now);
  ++textCellsSpliced_;
  st.shown(now.size(), units + utf16Length(ins), made.splice.to);
  return true;
}

void RowStore::undoSplice(Cell& c, ValueRef undo) noexcept {
  std::uint32_t meta[4];
  std::memcpy(meta, undo.data(), sizeof meta);
  const auto [from, inserted, newHead, oldHead] = meta;
  c.replaceBytes(0, newHead, undo.subspan(sizeof meta, oldHead));
  c.replaceBytes(oldHead + from, inserted, undo.subspan(sizeof meta + oldHead));
}

Bytes RowStore::valueBeforeSplice(std::size_t splice) const {
  const Undo& u = journal_.at(splice);
  bool found;
  const std::size_t idx = findCell(rows_[u.row], u.column, names_.name(u.column), found);
  if (u.kind != Undo::TextSpliced || !found) {
    throw Error(ErrorCode::Internal, "no spliced text cell to undo");
  }
  const ValueRef now = rows_[u.row].cells[idx].value();
  // Only the very cell the splice left can be undone into the old value (a later change of
  // it in the call would need its own undo first).
  const CellSplice key{u.row, u.column, 0, {}, nullptr, nullptr, false};
  const auto it = std::lower_bound(cellSplices_.begin(), cellSplices_.end(), key);
  if (it == cellSplices_.end() || it->row != u.row || it->column != u.column || !it->inPlace ||
      it->afterBlock != now.data()) {
    throw Error(ErrorCode::Internal, "a spliced text cell changed again in its call");
  }
  Cell c = Cell::growable(u.column, 0, std::span(&now, 1), now.size() + u.cell.value().size());
  undoSplice(c, u.cell.value());
  return Bytes(c.value().begin(), c.value().end());
}

std::optional<Splice> RowStore::splicedInPlace(RowId id, NameId col) const {
  const CellSplice key{id, col, 0, {}, nullptr, nullptr, false};
  const auto it = std::lower_bound(cellSplices_.begin(), cellSplices_.end(), key);
  if (it == cellSplices_.end() || it->row != id || it->column != col || !it->inPlace)
    return std::nullopt;
  return it->splice;
}

std::optional<Splice> RowStore::cellSplice(RowId id, NameId col, ValueRef before,
                                           ValueRef after) const {
  const CellSplice key{id, col, 0, {}, nullptr, nullptr, false};
  const auto it = std::lower_bound(cellSplices_.begin(), cellSplices_.end(), key);
  if (it == cellSplices_.end() || it->row != id || it->column != col) return std::nullopt;
  if (typeOf(before) != ValueType::String || typeOf(after) != ValueType::String)
    return std::nullopt;
  const std::string_view a = stringOf(before), b = stringOf(after);
  const Splice& sp = it->splice;
  // The splice keeps bytes [0, from) and the last `kept` of both.
  if (a.size() != it->beforeBytes || sp.to > b.size() || a.size() < sp.from) return std::nullopt;
  const std::size_t kept = b.size() - sp.to;
  if (a.size() - sp.from < kept) return std::nullopt;
  const bool same = it->beforeBlock != nullptr && it->afterBlock != nullptr &&
                    before.data() == it->beforeBlock && after.data() == it->afterBlock;
  if (!same && (a.substr(0, sp.from) != b.substr(0, sp.from) ||
                a.substr(a.size() - kept) != b.substr(sp.to))) {
    return std::nullopt;
  }
  Splice out = sp;
  out.removed = utf16Length(a.substr(sp.from, a.size() - kept - sp.from));  // (the edit's size)
  return out;
}

void RowStore::joinText(RowId id, NameId col, LV created, const list::DecodedText& theirs,
                        const std::vector<Seq>& seenByUs, const TextParents& parentsOf) {
  auto seenHere = [&](LV lv) {
    const Stamp s = graph_.stampOf(lv);
    return s.peer < seenByUs.size() && s.seq < seenByUs[s.peer];
  };
  const bool have = text(id, col, created) != nullptr;
  if (!have) {
    // Their write, if new here and kept by the join, starts a text; one we removed is gone.
    if (seenHere(created)) return;
    if (!namesWrite(id, col, created)) return;
  }
  list::TextColumn& t = changeText(id, col, created, !have).col;
  list::addDecoded(t, theirs,
                   {[&](LV lv) { return !seenHere(lv); }, parentsOf,
                    [this](LV lv) { return graph_.followsPrevious(lv); }},
                   authorLess());
}

}  // namespace crdtdb
