#include "merge/list/text_column.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "core/errors.h"
#include "core/reserve.h"

namespace crdtdb::list {

namespace {
bool sameVersion(std::span<const LV> a, std::span<const LV> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
}  // namespace

void TextColumn::checkInsert(std::uint32_t pos, bool keepPairs) const {
  const std::size_t n = text_.size();
  if (pos > n) {
    throw Error(ErrorCode::Range, "text position " + std::to_string(pos) +
                                      " is past the end of the text (length " + std::to_string(n) +
                                      ")");
  }
  if (keepPairs && pos > 0 && pos < n && isHighSurrogate(text_.at(pos - 1)) &&
      isLowSurrogate(text_.at(pos))) {
    throw Error(ErrorCode::Range,
                "text position " + std::to_string(pos) + " would split a surrogate pair");
  }
}

void TextColumn::checkDelete(std::uint32_t pos, std::uint32_t len, bool keepPairs) const {
  const std::size_t n = text_.size();
  if (pos > n || len > n - pos) {
    throw Error(ErrorCode::Range, "text range [" + std::to_string(pos) + ", " +
                                      std::to_string(std::uint64_t{pos} + len) +
                                      ") is past the end of the text (length " + std::to_string(n) +
                                      ")");
  }
  checkInsert(pos, keepPairs);
  checkInsert(pos + len, keepPairs);
}

LV TextColumn::eventOf(LV unit) const {
  auto it = std::upper_bound(events_.begin(), events_.end(), unit,
                             [](LV u, const EventRun& r) { return u < r.unit; });
  if (it == events_.begin() || unit >= (it - 1)->unit + (it - 1)->len) {
    throw Error(ErrorCode::Internal, "text column: unknown unit");
  }
  --it;
  return it->perUnit ? it->event + (unit - it->unit) : it->event;
}

void TextColumn::append(LV event, const ListOp& op, std::u16string_view content,
                        std::span<const LV> parents, bool perUnit) {
  // Reserve everything, then the graph (all or nothing), then the rest, which cannot fail:
  // a failed allocation changes nothing.
  reserveMore(ops_, 1);
  reserveMore(content_, content.size());
  reserveMore(events_, 1);
  const bool linear = !ops_.empty() && ops_.back().end() == op.start && parents.size() == 1 &&
                      parents[0] == op.start - 1;
  graph_.append(op.start, op.len, parents);
  // Keystrokes (one unit per event, consecutive events) share one event run.
  perUnit = perUnit || op.len == 1;
  if (perUnit) {
    EventRun* last = events_.empty() ? nullptr : &events_.back();
    if (last && last->unit + last->len == op.start && last->event + last->len == event &&
        (last->perUnit || last->len == 1)) {
      last->perUnit = true;
      last->len += op.len;
    } else {
      events_.push_back({op.start, op.len, event, true});
    }
  } else {
    events_.push_back({op.start, op.len, event, false});
  }
  if (linear) {
    // One author's consecutive edits: extend its run when the meaning stays the same.
    ListOp& last = ops_.back();
    if (last.kind == ListOp::Insert && op.kind == ListOp::Insert &&
        op.pos == std::uint64_t{last.pos} + last.len &&
        std::uint64_t{last.contentAt} + last.len == content_.size()) {
      last.len += op.len;
      content_.append(content);
      return;
    }
    if (last.kind == ListOp::Delete && op.kind == ListOp::Delete) {
      const bool lastFwd = last.forward || last.len == 1, lastBack = !last.forward || last.len == 1;
      const bool opFwd = op.forward || op.len == 1, opBack = !op.forward || op.len == 1;
      if (op.pos == last.pos && lastFwd && opFwd) {
        last.forward = true;
        last.len += op.len;
        return;
      }
      if (std::uint64_t{op.pos} + op.len == last.pos && lastBack && opBack) {
        last.forward = false;
        last.pos = op.pos;
        last.len += op.len;
        return;
      }
    }
  }
  ListOp stored = op;
  if (op.kind == ListOp::Insert) {
    stored.contentAt = static_cast<std::uint32_t>(content_.size());
    content_.append(content);
  }
  ops_.push_back(stored);
}

void TextColumn::localInsert(LV event, std::uint32_t pos, std::u16string_view text,
                             std::vector<TextPatch>* out, bool keepPairs, bool perUnit) {
  if (pending()) throw Error(ErrorCode::Internal, "text column: local edit with merges pending");
  checkInsert(pos, keepPairs);
  if (text.empty()) return;
  text_.reserveFor(text.size());
  reserveUndo(1, 0);
  version_.reserve(1);
  if (out != nullptr) reserveMore(*out, 1);
  parentsScratch_.assign(graph_.frontier().begin(), graph_.frontier().end());
  const std::vector<LV>& parents = parentsScratch_;  // a copy: append() changes the frontier
  const auto len = static_cast<std::uint32_t>(text.size());
  const LV lv = graph_.lastEnd();
  append(event, {lv, len, ListOp::Insert, true, pos, 0}, text, parents, perUnit);
  applyPatch({pos, 0, text});
  version_.assign(1, lv + len - 1);
  merged_ = lv + len;
  if (out != nullptr) out->push_back({pos, 0, content(ops_.back()).substr(ops_.back().len - len)});
}

void TextColumn::localDelete(LV event, std::uint32_t pos, std::uint32_t len,
                             std::vector<TextPatch>* out, bool keepPairs) {
  if (pending()) throw Error(ErrorCode::Internal, "text column: local edit with merges pending");
  checkDelete(pos, len, keepPairs);
  if (len == 0) return;
  parentsScratch_.assign(graph_.frontier().begin(), graph_.frontier().end());
  const std::vector<LV>& parents = parentsScratch_;  // a copy: append() changes the frontier
  version_.reserve(1);
  reserveUndo(1, len);
  if (out != nullptr) reserveMore(*out, 1);
  const LV lv = graph_.lastEnd();
  append(event, {lv, len, ListOp::Delete, true, pos, 0}, {}, parents, false);
  applyPatch({pos, len, {}});
  version_.assign(1, lv + len - 1);
  merged_ = lv + len;
  if (out != nullptr) out->push_back({pos, len, {}});
}

void TextColumn::addRemote(LV event, const TextEdit& edit, std::span<const LV> parents,
                           bool perUnit, bool backward) {
  // What no honest author can send, rejected before anything changes: an empty edit, more
  // units than the column can number, or positions past every unit ever inserted (the
  // author's text is never longer than that).
  const std::uint64_t len = edit.insert ? edit.content.size() : edit.len;
  if (len == 0) throw DecodeError("empty text edit");
  if (len > kMaxEvents - graph_.lastEnd()) throw DecodeError("text edit too long");
  const std::uint64_t inserted = content_.size() + (edit.insert ? len : 0);
  if (edit.insert ? edit.pos > content_.size() : std::uint64_t{edit.pos} + len > inserted) {
    throw DecodeError("text edit past the end of its text");
  }
  const ListOp op{graph_.lastEnd(),
                  static_cast<std::uint32_t>(len),
                  edit.insert ? ListOp::Insert : ListOp::Delete,
                  !(perUnit && backward),
                  edit.pos,
                  0};
  append(event, op, edit.insert ? edit.content : std::u16string_view{}, parents, perUnit);
}

std::size_t TextColumn::opAt(LV lv) const {
  auto it = std::upper_bound(ops_.begin(), ops_.end(), lv,
                             [](LV v, const ListOp& o) { return v < o.start; });
  if (it == ops_.begin() || lv >= (it - 1)->end()) {
    throw Error(ErrorCode::Internal, "text column: no operation at event");
  }
  return static_cast<std::size_t>(it - ops_.begin()) - 1;
}

void TextColumn::checkPiece(const ListOp& op, std::uint64_t pos, LV k, std::uint64_t length) {
  if (op.kind == ListOp::Insert) {
    if (pos > length) throw DecodeError("text insert past the end of its text");
  } else if (pos > length || k > length - pos) {
    throw DecodeError("text delete past the end of its text");
  }
}

TextPatch TextColumn::piecePatch(const ListOp& op, std::uint64_t pos, LV o, LV k) const {
  if (op.kind == ListOp::Insert)
    return {static_cast<std::uint32_t>(pos), 0, content(op).substr(o, k)};
  return {static_cast<std::uint32_t>(pos), k, {}};
}

void TextColumn::flush(const AuthorLess& authorLess, std::vector<TextPatch>* out) {
  if (!pending()) return;
  std::vector<TextPatch> patches;
  std::vector<LV> version = version_;
  std::uint64_t length = text_.size();
  LV scratch = 0;
  // Operations made on exactly the text we hold apply as they are (sequential history). A
  // run may have grown since the last flush: start inside it.
  auto it = std::upper_bound(ops_.begin(), ops_.end(), merged_,
                             [](LV v, const ListOp& o) { return v < o.end(); });
  LV a = it == ops_.end() ? graph_.lastEnd() : std::max(merged_, it->start);
  for (; it != ops_.end(); ++it) {
    const ListOp& op = *it;
    a = std::max(a, op.start);
    if (!sameVersion(graph_.parentsOf(a, scratch), version)) break;
    const LV o = a - op.start, k = op.end() - a;
    const std::uint64_t pos = op.piecePos(o, k);
    checkPiece(op, pos, k, length);
    patches.push_back(piecePatch(op, pos, o, k));
    length = op.kind == ListOp::Insert ? length + k : length - k;
    version.assign(1, op.end() - 1);
    a = op.end();
  }
  if (it != ops_.end()) slowMerge(a, length, authorLess, patches);

  // Apply without allocating.
  std::size_t inserted = 0, removed = 0;
  for (const TextPatch& p : patches) {
    inserted += p.inserted.size();
    removed += p.removed;
  }
  text_.reserveFor(inserted);
  reserveUndo(patches.size(), removed);
  std::vector<LV> frontier = graph_.frontier();
  if (out != nullptr) reserveMore(*out, patches.size());
  for (const TextPatch& p : patches) applyPatch(p);
  version_.swap(frontier);
  merged_ = graph_.lastEnd();
  if (out != nullptr) out->insert(out->end(), patches.begin(), patches.end());
}

void TextColumn::slowMerge(LV newFrom, std::uint64_t length, const AuthorLess& authorLess,
                           std::vector<TextPatch>& patches) const {
  const ConflictRegion region = graph_.conflictRegion(graph_.frontier(), newFrom);
  ++work_.slowMerges;
  for (const LVRange& r : region.events) work_.regionEvents += r.size();
  LV scratch = 0;
  auto fresh = [&] {
    return std::make_unique<Tracker>(
        [&](ItemId a, ItemId b) {
          return authorLess(eventOf(static_cast<LV>(a)), eventOf(static_cast<LV>(b)));
        },
        &work_);
  };
  std::unique_ptr<Tracker> tracker = fresh();
  bool empty = true;  // the tracker holds only its placeholder
  std::vector<LV> prep;
  if (region.common != ConflictRegion::kNone) prep.push_back(region.common);
  std::vector<LV> tips = prep;  // the frontier of the events replayed so far

  // The region as segments, replayed depth-first: after a segment, one of the segments it
  // unblocked goes next, so a branch is replayed to its end before the next one starts (few
  // retreats and advances, not one per switch of branch in LV order). Segments are the
  // column graph's runs, cut at newFrom (old segments, which the text reflects, all go
  // first) and after every event another segment forks from: a branch from inside a long
  // run then follows the part it forked from, not the whole run. Merges (segments with two
  // or more parents in the region) wait until nothing else is ready, so a long branch is not
  // undone and redone once per merge into it.
  struct Segment {
    LV start, end;
    std::uint32_t deps = 0;
    std::uint32_t childrenAt = 0, childCount = 0;  // in `children`
  };
  auto inRegion = [&](LV lv) {
    auto it = std::upper_bound(region.events.begin(), region.events.end(), lv,
                               [](LV v, const LVRange& r) { return v < r.start; });
    return it != region.events.begin() && lv < (it - 1)->end;
  };
  std::vector<LV> cuts{newFrom};
  for (const LVRange& r : region.events) {
    graph_.forEachStart(r, [&](LV at, std::span<const LV> parents) {
      cuts.push_back(at);
      for (LV p : parents) {
        if (inRegion(p)) cuts.push_back(p + 1);
      }
    });
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<Segment> segs;
  for (const LVRange& r : region.events) {
    for (auto it = std::lower_bound(cuts.begin(), cuts.end(), r.start);
         it != cuts.end() && *it < r.end; ++it) {
      const LV end = it + 1 != cuts.end() && *(it + 1) < r.end ? *(it + 1) : r.end;
      segs.push_back({*it, end, 0, 0, 0});
    }
  }
  auto segmentOf = [&](LV lv) -> std::optional<std::uint32_t> {
    auto it = std::upper_bound(segs.begin(), segs.end(), lv,
                               [](LV v, const Segment& g) { return v < g.start; });
    if (it == segs.begin() || lv >= (it - 1)->end) return std::nullopt;
    return static_cast<std::uint32_t>(it - segs.begin() - 1);
  };
  // Children as one flat array (counted, then placed): no vector per segment.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;  // (parent segment, child)
  for (std::uint32_t i = 0; i < segs.size(); ++i) {
    for (LV p : graph_.parentsOf(segs[i].start, scratch)) {
      if (auto d = segmentOf(p)) {
        ++segs[i].deps;
        ++segs[*d].childCount;
        edges.emplace_back(*d, i);
      }
    }
  }
  std::vector<std::uint32_t> children(edges.size());
  std::vector<bool> isMerge(segs.size());
  for (std::uint32_t i = 0, at = 0; i < segs.size(); ++i) {
    segs[i].childrenAt = at;
    at += segs[i].childCount;
    segs[i].childCount = 0;
    isMerge[i] = segs[i].deps > 1;
  }
  for (auto [parent, child] : edges) {
    children[segs[parent].childrenAt + segs[parent].childCount++] = child;
  }
  // Ready segments: stacks of old and new ones, and of merges (taken last).
  std::vector<std::uint32_t> ready[4];  // old, old merges, new, new merges
  auto release = [&](std::uint32_t i) {
    ready[(segs[i].start < newFrom ? 0 : 2) + (isMerge[i] ? 1 : 0)].push_back(i);
  };
  for (std::uint32_t i = static_cast<std::uint32_t>(segs.size()); i-- > 0;) {
    if (segs[i].deps == 0) release(i);
  }

  // Critical versions (the paper's clearing of internal state): after event x, if every event
  // replayed so far is in x's past and every later one has x in its past, nothing later can
  // be concurrent with what came before, so the tracker is replaced by a placeholder. With
  // the replayed events' frontier {x}, the later ones all descend from x exactly when every
  // segment ready to go has x as a parent (inside a segment: when none is ready; no segment
  // forks from inside one, since segments are cut after fork points).
  LV criticalScratch = 0;
  auto critical = [&](LV x, bool segmentEnd) {
    if (tips.size() != 1 || tips[0] != x) return false;
    std::size_t waiting = 0;
    for (const auto& stack : ready) waiting += stack.size();
    if (!segmentEnd) return waiting == 0;
    if (waiting > 64) return false;  // bounded check: stay safe
    for (const auto& stack : ready) {
      for (std::uint32_t i : stack) {
        const std::span<const LV> ps = graph_.parentsOf(segs[i].start, criticalScratch);
        if (std::find(ps.begin(), ps.end(), x) == ps.end()) return false;
      }
    }
    return true;
  };

  // Lengths: the placeholder stands for the text at the last clearing, whose real length is
  // only known once the old events are replayed (the text we hold is their result). Until
  // then `offset` is that length minus the length at the common point; afterwards `hidden`
  // is the placeholder's length beyond the real text.
  bool known = false;
  std::int64_t offset = 0;
  std::uint64_t hidden = 0;
  auto clear = [&] {
#ifdef CRDTDB_DEEP_CHECKS
    tracker->checkInvariants();
#endif
    const std::uint64_t change = tracker->effectSize() - kPlaceholderLen;  // modular
    if (known) {
      hidden -= change;
    } else {
      offset += static_cast<std::int64_t>(change);
    }
    tracker = fresh();
    empty = true;
    ++work_.clears;
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> removed;
  GraphDiffRanges d;

  auto runPiece = [&](LV a, LV b, bool isNew, bool segmentEnd) {
    const std::span<const LV> parents = graph_.parentsOf(a, scratch);
    const ListOp& op = ops_[opAt(a)];
    const LV o = a - op.start, k = b - a;
    const bool insert = op.kind == ListOp::Insert;
    const std::uint64_t pos = op.piecePos(o, k);
    // Remove parents from the tips before checking whether the piece's end is critical.
    std::erase_if(
        tips, [&](LV t) { return std::find(parents.begin(), parents.end(), t) != parents.end(); });
    tips.push_back(b - 1);
    const bool onPrep = sameVersion(prep, parents);
    const bool isCritical = critical(b - 1, segmentEnd);
    if (empty && onPrep && isCritical) {
      // Sequential history between two critical versions: positions are positions in the
      // text, no tracker needed.
      const std::int64_t delta = insert ? k : -static_cast<std::int64_t>(k);
      if (isNew) {
        checkPiece(op, pos, k, kPlaceholderLen - hidden);
        patches.push_back(piecePatch(op, pos, o, k));
      }
      if (known) {
        hidden -= static_cast<std::uint64_t>(delta);
      } else {
        offset += delta;
      }
      work_.directUnits += k;
      prep.assign(1, b - 1);
      return;
    }
    if (!onPrep) {
      graph_.diff(prep, parents, d);
      for (auto it = d.onlyA.rbegin(); it != d.onlyA.rend(); ++it) tracker->retreat(*it);
      for (const LVRange& r : d.onlyB) tracker->advance(r);
    }
    empty = false;
    if (isNew) checkPiece(op, pos, k, tracker->prepareSize() - hidden);
    if (insert) {
      const std::uint64_t at = tracker->insert(a, k, pos);
      if (isNew) {
        patches.push_back({static_cast<std::uint32_t>(at), 0, content(op).substr(o, k)});
      }
    } else {
      removed.clear();
      tracker->remove(a, pos, k, op.forward, isNew ? &removed : nullptr);
      for (auto [at, n] : removed) {
        patches.push_back({static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(n), {}});
      }
    }
    prep.assign(1, b - 1);
    if (isCritical) clear();
  };
  auto runSegment = [&](std::uint32_t i) {
    const bool isNew = segs[i].start >= newFrom;
    for (LV a = segs[i].start; a < segs[i].end;) {
      const LV b = std::min(segs[i].end, ops_[opAt(a)].end());
      const bool last = b == segs[i].end;
      if (last) {
        // Unblock its children first: whether this end is critical depends on them.
        for (std::uint32_t c = segs[i].childCount; c-- > 0;) {
          const std::uint32_t child = children[segs[i].childrenAt + c];
          if (--segs[child].deps == 0) release(child);
        }
      }
      runPiece(a, b, isNew, last);
      a = b;
    }
  };
  auto drain = [&](std::vector<std::uint32_t>& plain, std::vector<std::uint32_t>& merges) {
    while (!plain.empty() || !merges.empty()) {
      std::vector<std::uint32_t>& stack = plain.empty() ? merges : plain;
      const std::uint32_t i = stack.back();
      stack.pop_back();
      runSegment(i);
    }
  };
  // The events the text already reflects first (they rebuild its state), then the new ones,
  // whose effects are the patches.
  drain(ready[0], ready[1]);
  // The text at the common point had `length` minus what the old events changed.
  const std::uint64_t changed =
      static_cast<std::uint64_t>(offset) + (tracker->effectSize() - kPlaceholderLen);
  const std::uint64_t atCommon = length - changed;
  hidden = kPlaceholderLen - (atCommon + static_cast<std::uint64_t>(offset));
  known = true;
  drain(ready[2], ready[3]);
#ifdef CRDTDB_DEEP_CHECKS
  tracker->checkInvariants();
#endif
}

void TextColumn::reserveUndo(std::size_t patches, std::size_t removedUnits) {
  if (!recording_) return;
  reserveMore(undo_, patches);
  reserveMore(undoContent_, removedUnits);
}

void TextColumn::applyPatch(const TextPatch& p) noexcept {
  if (recording_) {
    undo_.push_back(
        {p.pos, static_cast<std::uint32_t>(p.inserted.size()), p.removed, undoContent_.size()});
    text_.copyTo(p.pos, p.removed, undoContent_);
  }
  if (p.removed > 0) text_.erase(p.pos, p.removed);
  // Room was reserved by the caller: no allocation.
  if (!p.inserted.empty()) text_.insert(p.pos, p.inserted);
}

TextColumn::Mark TextColumn::mark() {
  recording_ = true;
  return {graph_.mark(),
          ops_.size(),
          content_.size(),
          events_.size(),
          undo_.size(),
          undoContent_.size(),
          ops_.empty() ? ListOp{} : ops_.back(),
          events_.empty() ? EventRun{} : events_.back(),
          version_,
          merged_};
}

void TextColumn::rollback(Mark& m) noexcept {
  // The text first, newest change first: each step brings back a text the buffer held
  // before, so its capacity suffices and nothing allocates.
  for (std::size_t i = undo_.size(); i-- > m.undo;) {
    const TextUndo& u = undo_[i];
    text_.erase(u.pos, u.inserted);
    text_.insert(u.pos, std::u16string_view(undoContent_).substr(u.removedAt, u.removed));
  }
  undo_.resize(m.undo);
  undoContent_.resize(m.undoContent);
  // The last op and event run may have been extended in place (RLE): restore them too.
  graph_.rollback(m.graph);
  ops_.resize(m.ops);
  if (!ops_.empty()) ops_.back() = m.lastOp;
  content_.resize(m.content);
  events_.resize(m.events);
  if (!events_.empty()) events_.back() = m.lastEvent;
  version_.swap(m.version);
  merged_ = m.merged;
}

void TextColumn::forget() noexcept {
  recording_ = false;
  clearScratch(undo_);
  clearScratch(undoContent_);
}

void TextColumn::checkInvariants() const {
  auto broken = [](const char* what) {
    throw Error(ErrorCode::Internal, std::string("text column: ") + what);
  };
  LV unit = 0;
  std::size_t content = 0;
  for (const ListOp& op : ops_) {
    if (op.start != unit || op.len == 0) broken("ops do not tile the units");
    if (op.kind == ListOp::Insert) {
      if (op.contentAt != content) broken("insert content out of order");
      content += op.len;
    }
    unit = op.end();
  }
  if (unit != graph_.lastEnd() || content != content_.size()) broken("ops and units disagree");
  LV at = 0;
  for (const EventRun& r : events_) {
    if (r.unit != at || r.len == 0) broken("event runs do not tile the units");
    at = r.unit + r.len;
  }
  if (at != unit) broken("event runs and units disagree");
  if (!pending() && version_ != graph_.frontier()) broken("version is not the frontier");
}

std::size_t TextColumn::memoryBytes() const {
  return graph_.memoryBytes() + ops_.capacity() * sizeof(ListOp) +
         events_.capacity() * sizeof(EventRun) + content_.capacity() * sizeof(char16_t) +
         text_.memoryBytes() + version_.capacity() * sizeof(LV) +
         undo_.capacity() * sizeof(TextUndo) + undoContent_.capacity() * sizeof(char16_t);
}

}  // namespace crdtdb::list
