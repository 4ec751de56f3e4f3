#include "oplog/op_log.h"

#include <algorithm>

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
  // Nothing below allocates.
  sealed_.push_back(Chunk{std::move(bytes), openStart_, openEnd_, openChecked_});
  openChecked_ = true;
  open_ = std::move(fresh);
  names_.clear();
  openStart_ = openEnd_;
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
