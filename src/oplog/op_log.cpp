#include "oplog/op_log.h"

#include <algorithm>

#include "core/errors.h"
#include "core/reserve.h"

namespace crdtdb {

namespace {

enum class Need { None, Some, All };

// What the holder of `theirs` lacks of the events in [start, end), not counting withheld
// ones: nothing, part, or all (then nothing in the range is withheld either).
Need needOf(const CausalGraph& graph, const std::vector<Seq>& theirs, OpLog::Withhold withhold,
            LV start, LV end) {
  bool any = false, all = true;
  for (std::size_t i = graph.runIndexAt(start); i < graph.runs().size(); ++i) {
    const GraphRun& run = graph.runs()[i];
    if (run.start >= end) break;
    const LV lo = std::max(run.start, start), hi = std::min(run.end, end);
    const Seq s0 = run.seq + (lo - run.start);
    Seq s1 = run.seq + (hi - run.start);
    if (run.peer == withhold.peer && s1 > withhold.from) {
      all = false;
      if (s0 >= withhold.from) continue;  // all of it withheld
      s1 = withhold.from;
    }
    const Seq have = run.peer < theirs.size() ? theirs[run.peer] : 0;
    if (s1 > have) any = true;
    if (s0 < have) all = false;
  }
  return !any ? Need::None : all ? Need::All : Need::Some;
}

}  // namespace

void OpLog::changesSince(const CausalGraph& graph, const Interner& peers,
                         const std::vector<Seq>& theirs, Withhold withhold, ByteWriter& out) const {
  // Decide first so the chunk count can be written before the chunks.
  std::vector<Need> needs;
  needs.reserve(sealed_.size() + 1);
  for (const Chunk& c : sealed_) needs.push_back(needOf(graph, theirs, withhold, c.start, c.end));
  const bool hasOpen = !open_.empty();
  if (hasOpen) needs.push_back(needOf(graph, theirs, withhold, openStart_, openEnd_));
  out.varint(std::count_if(needs.begin(), needs.end(), [](Need n) { return n != Need::None; }));

  auto keep = [&](std::string_view peer, Seq seq, Seq end) {
    auto idx = peers.find(peer);
    if (idx && *idx == withhold.peer && seq >= withhold.from) return false;
    Seq have = idx && *idx < theirs.size() ? theirs[*idx] : 0;
    return end > have;
  };
  Bytes openBytes;
  for (std::size_t i = 0; i < needs.size(); ++i) {
    if (needs[i] == Need::None) continue;
    ByteSpan bytes;
    if (i < sealed_.size()) {
      checkChunk(sealed_[i]);
      bytes = sealed_[i].bytes;
    } else {
      ByteWriter w;
      open_.writeTo(w);
      openBytes = w.take();
      bytes = openBytes;
      if (!openChecked_) {
        checkBytes(bytes, openStart_, openEnd_);
        openChecked_ = true;
      }
    }
    if (needs[i] == Need::All) {
      out.raw(bytes);
    } else {
      sliceChunk(bytes, keep, out);
    }
  }
}

void OpLog::seal() {
  if (open_.bodySize() < kSealBytes) return;
  ByteWriter w;
  open_.writeTo(w);
  Bytes bytes = w.take();
  bytes.shrink_to_fit();
  reserveMore(sealed_, 1);
  ChunkWriter fresh(seed_);
  fresh.internTextCreators();
  // Nothing below allocates.
  sealedBytes_ += bytes.size();
  sealed_.push_back(Chunk{std::move(bytes), openStart_, openEnd_, openChecked_});
  openChecked_ = true;
  open_ = std::move(fresh);
  names_.clear();
  openStart_ = openEnd_;
}

void OpLog::fold(LV upTo) {
  if (upTo <= foldedEnd_) return;
  if (undo_) throw Error(ErrorCode::Internal, "two history folds in one call");
  std::size_t k = 0;  // sealed chunks dropped
  while (k < sealed_.size() && sealed_[k].end <= upTo) ++k;
  const bool dropOpen = upTo > openStart_;
  if ((k < sealed_.size() && sealed_[k].start != upTo) || (dropOpen && upTo < openEnd_) ||
      (k == sealed_.size() && !dropOpen && upTo != openStart_)) {
    throw Error(ErrorCode::Internal, "history fold point is not a chunk boundary");
  }
  // The stored segments belong to the open chunk, or to the first sealed chunk not stored yet
  // (sealed since the last take); they go if their chunk goes.
  LV segsChunk = openStart_;
  bool segsGo = dropOpen;
  if (!segs_.empty() && storedSealed_ < sealed_.size() &&
      segs_.front().start == sealed_[storedSealed_].start) {
    segsChunk = sealed_[storedSealed_].start;
    segsGo = storedSealed_ < k;
  }
  // Everything that allocates comes first.
  auto undo = std::make_unique<FoldUndo>();
  undo->dropped.reserve(k);
  std::unique_ptr<ChunkWriter> fresh;
  if (dropOpen) {
    fresh = std::make_unique<ChunkWriter>(seed_);
    fresh->internTextCreators();
    undo->open = std::make_unique<ChunkWriter>(seed_);
  }
  const std::size_t storedGone = std::min(k, storedSealed_);
  foldDeletes_.reserve(foldDeletes_.size() + storedGone + (segsGo ? segs_.size() : 0));
  // Nothing below allocates.
  undo->openStart = openStart_;
  undo->openEnd = openEnd_;
  undo->foldedEnd = foldedEnd_;
  undo->storedEnd = storedEnd_;
  undo->storedSealed = storedSealed_;
  undo->foldDeletes = foldDeletes_.size();
  undo->storedPos = storedPos_;
  undo->openChecked = openChecked_;
  undo->foldDue = foldDue_;
  undo->segsTaken = segsGo;
  for (std::size_t i = 0; i < storedGone; ++i) {
    foldDeletes_.emplace_back(sealed_[i].start, sealed_[i].start);
  }
  if (segsGo) {
    for (const Segment& seg : segs_) foldDeletes_.emplace_back(segsChunk, seg.start);
    undo->segs.swap(segs_);
    storedPos_ = {};
  }
  for (std::size_t i = 0; i < k; ++i) {
    sealedBytes_ -= sealed_[i].bytes.size();
    undo->dropped.push_back(std::move(sealed_[i]));
  }
  sealed_.erase(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(k));
  storedSealed_ -= storedGone;
  if (dropOpen) {
    *undo->open = std::move(open_);
    open_ = std::move(*fresh);
    openStart_ = openEnd_ = upTo;
    storedEnd_ = upTo;
    openChecked_ = true;
    names_.clear();
  }
  foldedEnd_ = upTo;
  foldDue_ = true;
  undo_ = std::move(undo);
}

void OpLog::unfold() noexcept {
  FoldUndo& u = *undo_;
  // The dropped chunks go back in front (erasing them left the capacity for it).
  for (Chunk& c : u.dropped) sealedBytes_ += c.bytes.size();
  sealed_.insert(sealed_.begin(), std::make_move_iterator(u.dropped.begin()),
                 std::make_move_iterator(u.dropped.end()));
  if (u.open) {
    open_ = std::move(*u.open);
    names_.clear();
  }
  if (u.segsTaken) segs_.swap(u.segs);
  openStart_ = u.openStart;
  openEnd_ = u.openEnd;
  foldedEnd_ = u.foldedEnd;
  storedEnd_ = u.storedEnd;
  storedSealed_ = u.storedSealed;
  foldDeletes_.resize(u.foldDeletes);
  storedPos_ = u.storedPos;
  openChecked_ = u.openChecked;
  foldDue_ = u.foldDue;
  undo_.reset();
}

LV OpLog::foldPointFor(std::size_t keepBytes) const {
  std::size_t left = approxBytes();
  for (const Chunk& c : sealed_) {
    if (left <= keepBytes) return c.start;
    left -= c.bytes.size();
  }
  return left <= keepBytes ? openStart_ : openEnd_;
}

LV OpLog::boundaryAtOrBefore(LV lv) const {
  if (lv >= openEnd_) return lv;  // past the log: everything it holds may go
  LV best = foldedEnd_;
  for (const Chunk& c : sealed_) {
    if (c.start > lv) return best;
    best = std::max(best, c.start);
  }
  return openStart_ <= lv ? std::max(best, openStart_) : best;
}

bool OpLog::lacksFolded(const CausalGraph& graph, const std::vector<Seq>& theirs) const {
  for (const GraphRun& run : graph.runs()) {
    if (run.start >= foldedEnd_) break;
    const Seq end = run.seq + (std::min(run.end, foldedEnd_) - run.start);
    if ((run.peer < theirs.size() ? theirs[run.peer] : 0) < end) return true;
  }
  return false;
}

std::size_t OpLog::encodedBytes() const {
  std::size_t n = 0;
  for (const Chunk& c : sealed_) n += c.bytes.size();
  if (!open_.empty()) {
    ByteWriter w;
    open_.writeTo(w);
    n += w.size();
  }
  return n;
}

std::size_t OpLog::memoryBytes() const {
  std::size_t n = sealed_.capacity() * sizeof(Chunk);
  for (const Chunk& c : sealed_) n += c.bytes.capacity();
  return n + open_.memoryBytes();
}

}  // namespace crdtdb
