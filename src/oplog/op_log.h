// History: every event this replica holds, as encoded chunks (oplog/chunk_codec.h) in LV
// order: sealed chunks of about kSealBytes, then the open chunk that commits and merges
// append to. The bytes are those of the wire, so changesSince copies whole chunks and
// re-emits only the transaction headers of chunks it needs in part. Memory is the encoded
// size plus a vector header per chunk (and the open chunk's growth slack, < kSealBytes).
//
// Compaction folds a prefix of the history away: events before folded() stay in the causal
// graph but leave the log, and a peer that lacks any of them catches up from a snapshot of the
// row states (Database::changesSince) instead.
//
// Invariants: chunks cover [folded(), size) contiguously in LV order; each chunk holds at
// least one transaction; transaction boundaries inside a chunk are those its authors
// committed. Appends and folds are journaled (mark / rollback / clearJournal); seal() runs
// only at a commit point and changes nothing when it fails.
#pragma once

#include <memory>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"
#include "core/interner.h"
#include "graph/causal_graph.h"
#include "oplog/chunk_codec.h"

namespace crdtdb {

class OpLog {
 public:
  explicit OpLog(std::uint64_t seed = 0x13198a2e03707344ull) : seed_(seed), open_(seed) {
    open_.internTextCreators();
  }
  static constexpr std::size_t kSealBytes = 512 * 1024;

  struct Chunk {
    Bytes bytes;
    LV start, end;
    mutable bool checked = true;  // loaded from storage: validated on first use
  };

  // The chunk appends go to; call extendTo(end LV) after writing a transaction into it.
  ChunkWriter& open() { return open_; }
  // The open chunk's index of replica name `id` (cached by id: no hashing per op).
  std::uint32_t nameIndex(NameId id, std::string_view name) {
    if (id < names_.size() && names_[id] != 0) return names_[id] - 1;
    if (id >= names_.size()) names_.resize(id + 1, 0);
    const std::uint32_t i = open_.name(name);
    names_[id] = i + 1;
    return i;
  }
  void extendTo(LV end) { openEnd_ = end; }
  LV size() const { return openEnd_; }

  // Appends (inside a frame already begun in `out`) the payload of a Changes message holding
  // every transaction with events whose seq is at or past theirs[peer] (by global PeerIdx),
  // except `withhold.peer`'s transactions from seq `withhold.from` on (whole transactions).
  struct Withhold {
    PeerIdx peer;
    Seq from;
  };
  void changesSince(const CausalGraph& graph, const Interner& peers, const std::vector<Seq>& theirs,
                    Withhold withhold, ByteWriter& out) const;

  // Moves the open chunk to the sealed list once it reached kSealBytes. Strong guarantee.
  void seal();

  std::size_t encodedBytes() const;
  // encodedBytes() without encoding the open chunk (its tables are left out): cheap per call.
  std::size_t approxBytes() const { return sealedBytes_ + open_.bodySize(); }

  // ---- compaction ----
  LV folded() const { return foldedEnd_; }
  // Drops the history before `upTo`, which must be a chunk boundary: a sealed chunk's start,
  // the open chunk's start, or size() or beyond (the graph then holds events [size(), upTo)
  // that never entered the log: a snapshot brought them). At most one fold per call. Strong
  // guarantee.
  void fold(LV upTo);
  bool foldedThisCall() const { return undo_ != nullptr; }
  // The shortest prefix to fold so that at most `keepBytes` of history stay (approxBytes):
  // a chunk boundary; size() when even the open chunk alone is larger.
  LV foldPointFor(std::size_t keepBytes) const;
  // The last chunk boundary at or before `lv` (what fold() accepts; folded() at least).
  LV boundaryAtOrBefore(LV lv) const;
  // Whether the holder of `theirs` lacks an event before folded().
  bool lacksFolded(const CausalGraph& graph, const std::vector<Seq>& theirs) const;
  // The events record of a folded prefix [0, end): its graph summary, no operations (the
  // first record of the events store once something was folded; also a snapshot's graph).
  static Bytes foldedRecord(const CausalGraph& graph, const Interner& peers, LV end);
  std::size_t memoryBytes() const;
  const std::vector<Chunk>& sealed() const { return sealed_; }

  // ---- persistence: the events store (see op_log_store.cpp) ----
  // Sealed chunks are stored whole; the open chunk as segments that concatenate back into it,
  // keyed (chunk start, segment start), merged by size tiers (op_log_store.cpp), so a chunk
  // is O(log) records and a byte is rewritten O(log) times (base 8).
  //   record := u8 kind (1 sealed chunk, 2 open-chunk segment), varint chunk start,
  //             varint start, varint end, varint graphLen, graph summary of [start, end)
  //             (graph/graph_codec.h), payload (1: the chunk; 2: ChunkWriter::writeSegment)
  struct StoredRecord {
    LV chunk, start;
    Bytes bytes;
  };
  // Keys [chunk, from] … [chunk, to] (every stored record between them goes too).
  struct StoredRange {
    LV chunk, from, to;
  };
  struct EventsDelta {
    std::vector<StoredRange> deletes;  // before the puts: one range per run of records
    std::vector<StoredRecord> puts;
  };
  // What storage must write for events appended since the last take.
  void takeStored(const CausalGraph& graph, const Interner& peers, EventsDelta& out);
  //   kind 3 (folded prefix) := chunk 0, start 0, end = folded(), the summary, no payload; it
  //   is stored under key (0, 0) and comes first.
  // Loading a fresh replica: records in key order. loadRecord appends each one's graph
  // summary to `graph` and keeps its payload; finishLoad rebuilds the open chunk. DecodeError
  // on a malformed or out-of-order record (the replica is then discarded). Returns the bytes
  // it decoded (graph summaries and the open chunk; sealed chunks are validated lazily).
  std::size_t loadRecord(ByteSpan record, CausalGraph& graph, Interner& peers);
  std::size_t finishLoad(const CausalGraph& graph, const Interner& peers);

  struct Mark {
    ChunkWriter::Mark open;
    LV openEnd;
    bool folded;  // a fold was journaled before the mark
  };
  Mark mark() const { return {open_.mark(), openEnd_, undo_ != nullptr}; }
  void rollback(const Mark& m) noexcept {
    if (undo_ && !m.folded) unfold();
    open_.rollback(m.open);
    openEnd_ = m.openEnd;
    names_.clear();  // a cache: it may name indexes the rollback removed
  }
  void clearJournal() noexcept {
    open_.clearJournal();
    undo_.reset();
  }

 private:
  std::uint64_t seed_;
  std::vector<Chunk> sealed_;
  std::size_t sealedBytes_ = 0;
  LV foldedEnd_ = 0;
  ChunkWriter open_;
  LV openStart_ = 0, openEnd_ = 0;
  std::vector<std::uint32_t> names_;  // replica NameId → open chunk index + 1 (0: unknown)

  // Persistence state: sealed chunks stored, the open chunk's stored segments.
  struct Segment {
    LV start;
    std::size_t bytes;  // of transactions (the measure segments are merged by)
    ChunkWriter::Position from;
  };
  void checkChunk(const Chunk& c) const;
  void checkBytes(ByteSpan bytes, LV start, LV end) const;
  mutable bool openChecked_ = true;  // the open chunk was loaded: validated on first use
  std::size_t storedSealed_ = 0;
  std::vector<Segment> segs_;
  ChunkWriter::Position storedPos_;
  LV storedEnd_ = 0;
  std::vector<Bytes> loadSegs_;  // while loading: the open chunk's segment records
  // Storage: keys of stored records that folds dropped, and whether the folded record is due.
  std::vector<std::pair<LV, LV>> foldDeletes_;
  bool foldDue_ = false;

  // What a fold changed, to undo it (until the call's journal is cleared).
  struct FoldUndo {
    std::vector<Chunk> dropped;         // the sealed chunks it dropped, in order
    std::unique_ptr<ChunkWriter> open;  // the open chunk, if it dropped that too
    LV openStart, openEnd, foldedEnd, storedEnd;
    std::size_t storedSealed, foldDeletes;
    std::vector<Segment> segs;
    ChunkWriter::Position storedPos;
    bool openChecked, foldDue, segsTaken;
  };
  std::unique_ptr<FoldUndo> undo_;
  void unfold() noexcept;
};

}  // namespace crdtdb
