// OpLog persistence: the records of the events store (format in op_log.h) and loading them.
#include <algorithm>

#include "core/errors.h"
#include "graph/graph_codec.h"
#include "oplog/op_log.h"

namespace crdtdb {

namespace {

enum RecordKind : std::uint8_t { kSealedChunk = 1, kSegment = 2, kFolded = 3 };

Bytes makeRecord(RecordKind kind, LV chunk, LV start, LV end, const CausalGraph& graph,
                 const Interner& peers, const std::function<void(ByteWriter&)>& payload) {
  ByteWriter summary;
  encodeGraphRange(graph, peers, start, end, summary);
  ByteWriter w;
  w.u8(kind);
  w.varint(chunk);
  w.varint(start);
  w.varint(end);
  w.varint(summary.size());
  w.raw(summary.bytes());
  payload(w);
  return w.take();
}

struct RecordHeader {
  RecordKind kind;
  LV chunk, start, end;
  ByteSpan graph, payload;
};

RecordHeader readHeader(ByteSpan record) {
  ByteReader r(record);
  RecordHeader h{};
  const std::uint8_t kind = r.u8();
  if (kind != kSealedChunk && kind != kSegment && kind != kFolded) {
    throw DecodeError("events record of unknown kind " + std::to_string(kind));
  }
  h.kind = static_cast<RecordKind>(kind);
  h.chunk = static_cast<LV>(r.varintBelow(kMaxEvents, "events record chunk"));
  h.start = static_cast<LV>(r.varintBelow(kMaxEvents, "events record start"));
  h.end = static_cast<LV>(r.varintBelow(kMaxEvents + 1, "events record end"));
  if (h.start < h.chunk || h.end <= h.start) throw DecodeError("events record with a bad range");
  if (h.kind == kSealedChunk && h.start != h.chunk) {
    throw DecodeError("sealed chunk record that does not start its chunk");
  }
  if (h.kind == kFolded && h.start != 0) throw DecodeError("folded history record not at 0");
  const std::uint64_t g = r.varintBelow(r.remaining() + 1, "graph summary length");
  h.graph = r.raw(static_cast<std::size_t>(g));
  h.payload = r.rest();
  if (h.kind == kFolded && !h.payload.empty()) {
    throw DecodeError("folded history record has trailing bytes");
  }
  return h;
}

}  // namespace

Bytes OpLog::foldedRecord(const CausalGraph& graph, const Interner& peers, LV end) {
  return makeRecord(kFolded, 0, 0, end, graph, peers, [](ByteWriter&) {});
}

void OpLog::takeStored(const CausalGraph& graph, const Interner& peers, EventsDelta& out) {
  if (foldDue_) {
    // Deletes go before puts: the folded record may take the key of a chunk it folded.
    for (const auto& [chunk, start] : foldDeletes_) out.deletes.push_back({chunk, start, start});
    out.puts.push_back({0, 0, foldedRecord(graph, peers, foldedEnd_)});
    foldDeletes_.clear();
    foldDue_ = false;
  }
  for (; storedSealed_ < sealed_.size(); ++storedSealed_) {
    const Chunk& c = sealed_[storedSealed_];
    if (!segs_.empty() && segs_.front().start == c.start) {
      // The chunk was stored as segments while open: its record replaces them (and takes the
      // first one's key).
      if (segs_.size() > 1) out.deletes.push_back({c.start, segs_[1].start, segs_.back().start});
      segs_.clear();
      storedPos_ = {};
    }
    out.puts.push_back({c.start, c.start,
                        makeRecord(kSealedChunk, c.start, c.start, c.end, graph, peers,
                                   [&](ByteWriter& w) { w.raw(c.bytes); })});
  }
  if (open_.empty() || (!segs_.empty() && storedEnd_ == openEnd_)) return;
  if (segs_.empty()) storedPos_ = {};
  // Tiered merging: a segment's tier is the base-8 order of its size, and once kFanout
  // segments at the tail share a tier they become one. A chunk is then at most
  // (kFanout - 1) records per tier, and a byte is rewritten at most once per tier.
  constexpr std::size_t kFanout = 8;
  auto tier = [](std::size_t b) {
    int t = 0;
    for (; b >= 8; b /= 8) ++t;
    return t;
  };
  const LV start = segs_.empty() ? openStart_ : storedEnd_;
  segs_.push_back({start, open_.bodySize() - storedPos_.body, storedPos_});
  while (segs_.size() >= kFanout) {
    const std::size_t first = segs_.size() - kFanout;
    const int t = tier(segs_.back().bytes);
    bool same = true;
    for (std::size_t i = first; i < segs_.size(); ++i) same = same && tier(segs_[i].bytes) == t;
    if (!same) break;
    Segment merged = segs_[first];
    for (std::size_t i = first + 1; i < segs_.size(); ++i) merged.bytes += segs_[i].bytes;
    // Their keys go, one range (the merged record takes the first one's key; no other record
    // lies between them; deleting the key of the new, never stored segment is a no-op).
    out.deletes.push_back({openStart_, segs_[first + 1].start, segs_.back().start});
    segs_.resize(first);
    segs_.push_back(merged);
  }
  const Segment& tail = segs_.back();
  out.puts.push_back({openStart_, tail.start,
                      makeRecord(kSegment, openStart_, tail.start, openEnd_, graph, peers,
                                 [&](ByteWriter& w) { open_.writeSegment(tail.from, w); })});
  storedPos_ = open_.position();
  storedEnd_ = openEnd_;
}

std::size_t OpLog::loadRecord(ByteSpan record, CausalGraph& graph, Interner& peers) {
  const RecordHeader h = readHeader(record);
  if (h.start != graph.size()) {
    throw DecodeError("stored history has a gap or overlap at event " + std::to_string(h.start));
  }
  if (!loadSegs_.empty() && (h.kind != kSegment || h.chunk != openStart_)) {
    throw DecodeError("stored history continues after its open chunk");
  }
  decodeGraphRange(h.graph, h.start, graph, peers);
  if (graph.size() != h.end) throw DecodeError("events record's graph summary has a bad length");
  if (h.kind == kFolded) {
    foldedEnd_ = openStart_ = openEnd_ = storedEnd_ = h.end;
  } else if (h.kind == kSealedChunk) {
    if (openEnd_ != h.start) throw DecodeError("stored history has a gap");
    sealed_.push_back(Chunk{Bytes(h.payload.begin(), h.payload.end()), h.start, h.end, false});
    sealedBytes_ += h.payload.size();
    storedSealed_ = sealed_.size();
    openStart_ = openEnd_ = h.end;
  } else {
    if (loadSegs_.empty() && (h.chunk != h.start || openEnd_ != h.start)) {
      throw DecodeError("stored history has a gap before its open chunk");
    }
    loadSegs_.emplace_back(record.begin(), record.end());
    openEnd_ = h.end;
  }
  return h.graph.size();
}

std::size_t OpLog::finishLoad(const CausalGraph& graph, const Interner& peers) {
  if (loadSegs_.empty()) return 0;
  // Concatenate the segments' tables, transaction counts and bodies into one chunk. The body
  // is copied, not decoded: it is validated on first use, as sealed chunks are.
  ChunkTables tables;
  std::size_t txns = 0, decoded = 0;
  Bytes body;
  std::vector<Segment> segs;
  ChunkWriter::Position pos;
  for (const Bytes& rec : loadSegs_) {
    const RecordHeader h = readHeader(rec);
    ByteReader r(h.payload);
    std::vector<std::string_view>* lists[] = {&tables.peers, &tables.names, &tables.keys};
    for (auto* list : lists) {
      const std::uint64_t n = r.varintBelow(r.remaining() + 1, "segment table size");
      for (std::uint64_t i = 0; i < n; ++i) {
        list->push_back(r.stringView(kMaxKeyBytes, "segment table entry"));
      }
    }
    const std::uint64_t t = r.varintBelow(r.remaining() + 1, "segment transaction count");
    decoded += r.position();
    const ByteSpan b = r.rest();
    segs.push_back({h.start, b.size(), pos});
    txns += static_cast<std::size_t>(t);
    body.insert(body.end(), b.begin(), b.end());
    pos = {body.size(), txns, static_cast<std::uint32_t>(tables.peers.size()),
           static_cast<std::uint32_t>(tables.names.size()),
           static_cast<std::uint32_t>(tables.keys.size())};
  }
  // Where each of the chunk's peers ends, from the graph (the chunk holds events
  // [openStart_, openEnd_) in LV order).
  // Tables must be duplicate-free (restore interns them: a duplicate would shift indexes).
  Interner chunkPeers(seed_);
  for (std::string_view p : tables.peers) {
    if (chunkPeers.find(p) || p.empty()) throw DecodeError("open chunk has a bad peer table");
    chunkPeers.intern(p);
  }
  for (const auto* list : {&tables.names, &tables.keys}) {
    Interner seen(seed_ ^ 5);
    for (std::string_view v : *list) {
      if (seen.find(v)) throw DecodeError("open chunk's segments repeat a table entry");
      seen.intern(v);
    }
  }
  std::vector<Seq> peerEnds(tables.peers.size(), 0);
  if (openEnd_ > openStart_) {
    for (std::size_t i = graph.runIndexAt(openStart_); i < graph.runs().size(); ++i) {
      const GraphRun& run = graph.runs()[i];
      if (run.start >= openEnd_) break;
      auto idx = chunkPeers.find(peers.name(run.peer));
      if (!idx) throw DecodeError("open chunk lacks a peer its graph summary names");
      const LV hi = std::min(run.end, openEnd_);
      peerEnds[*idx] = run.seq + (hi - run.start);
    }
  }
  open_.restore(tables, txns, body, peerEnds);
  openChecked_ = false;
  segs_ = std::move(segs);
  storedPos_ = open_.position();
  storedEnd_ = openEnd_;
  loadSegs_.clear();
  return decoded;
}

void OpLog::checkBytes(ByteSpan bytes, LV start, LV end) const {
  DecodedChanges decoded;
  ByteReader r(bytes);
  decodeChunk(r, 0, decoded, seed_);
  LV events = 0;
  for (const TxnRunView& run : decoded.runs) events += static_cast<LV>(run.events);
  if (!r.atEnd() || events != end - start) {
    throw DecodeError("a stored history chunk does not match its graph summary");
  }
}

void OpLog::checkChunk(const Chunk& c) const {
  if (c.checked) return;
  checkBytes(c.bytes, c.start, c.end);
  c.checked = true;
}

}  // namespace crdtdb
