// The encoding of history: what the wire carries (Changes messages), what the op log holds in
// memory, and what the IndexedDB `events` store will hold. A message is a list of chunks; a
// chunk is self-contained (its own peer and name tables), so chunks concatenate and slice
// without re-encoding their operations.
//
//   message payload := varint nChunks, nChunks × chunk
//   chunk := varint nPeers, nPeers × string     peer ids (unique, non-empty, <= 256 bytes)
//            varint nNames, nNames × string     table and column names (unique, <= 1024 bytes)
//            varint nKeys, nKeys × string       row keys (unique, non-empty, <= 64 KiB)
//            varint nTxns (>= 1), nTxns × txn
//   txn   := varint head = flags | peerIndex << 3
//              flag 1 linear:    the parent is this peer's previous event (seq - 1)
//              flag 2 continues: seq is the end of this peer's previous txn in the chunk
//              flag 4 single:    exactly one operation
//            [!continues] varint seq        (> the peer's previous end when it has a previous)
//            [!linear]    varint nParents, nParents × (varint peerIndex, varint seq)
//                         ascending by (peer id bytes, seq), unique
//            [!single]    varint nOps (>= 2)
//            nOps × op                      events seq, seq + 1, ...; each after the first has
//                                           the previous one as its only parent
//   op    := varint head = kind (1 set, 2 update, 3 delete, 0 extended) | tableNameIndex << 2
//            [extended] varint ext          1 add to set, 2 remove from set, 3 increment,
//                                           4 counter claims, 5 text create, 6 text edit,
//                                           7 relative text edit, 8 indexed text edit
//                                           (both below)
//                                           (later kinds extend this list)
//            varint keyIndex                a row written many times in a chunk costs its
//                                           key once and an index per write
//            [!delete] varint nCols, nCols × (varint nameIndex, value)
//                                           names strictly ascending by bytes; set ops have
//                                           exactly one column, its value the element
//   relative text edit := varint 0 (head: no table), varint 7, varint x, [payload]
//            x = zigzag(pos - cursor) << 2 | mode
//            mode 0 delete, payload varint len (>= 2)     mode 1 delete one unit
//            mode 2 insert, payload string (UTF-8, more than one character)
//            mode 3 insert one character, payload its UTF-8 bytes (1-4, as its lead says)
//     A text edit (OpKind::TextEdit) of the same row, column and text as the run's previous
//     text edit, `cursor` being where that one left off (an insert's pos plus its UTF-16
//     units, a delete's pos). A run here is what TxnRunView groups: consecutive txns of one
//     peer, each after the first linear and continuing; the first text edit of a run is
//     written in full. A keystroke thus costs 5 bytes (txn head, op head, 7, x, character)
//     instead of ~30 (the full form names the text's creator by its peer id). Readers see
//     the full form either way.
//   indexed text edit := varint head (kind 0 | table << 2), varint 8, varint keyIndex,
//            varint column nameIndex, varint creator peerIndex, varint creator seq,
//            varint x = pos << 2 | mode, payload as above
//     A text edit whose text's creator is in the chunk's peer table, by index: the first
//     edit of a run, or any edit, without the creator's id repeated.
// Lamport times are not encoded: every event's is max(its parents') + 1, derived on arrival.
// One peer's consecutive transactions thus cost a byte or two of header each. Every rule
// above is checked on decode (canonical form: one byte string per history, except that a
// text edit may be written in full where the relative form would do), so a decoder can be
// straight-line code over hostile input.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"
#include "core/interner.h"
#include "core/reserve.h"
#include "merge/text_op.h"
#include "oplog/op.h"

namespace crdtdb {

namespace txnflag {
inline constexpr std::uint64_t kLinear = 1, kContinues = 2, kSingle = 4, kBits = 3;
}

struct ChunkTables {
  std::vector<std::string_view> peers;
  std::vector<std::string_view> names;
  std::vector<std::string_view> keys;
};

struct ParentRef {
  std::uint32_t peer;  // index into the chunk's peers
  Seq seq;
};

// A run of consecutive transactions of one peer in one chunk, each after the first linear and
// continuing the previous one: the unit the causal buffer and the apply loop work on.
struct TxnRunView {
  std::uint32_t chunk;  // index of the chunk in the message
  std::uint32_t peer;   // index into that chunk's peers
  Seq seq;              // first event
  Seq events;           // events in the run
  std::uint32_t txnCount;
  bool linear;                 // the first txn's parent is the peer's previous event
  std::uint32_t parentsBegin;  // first txn's explicit parents (when !linear), in `parents`
  std::uint32_t parentCount;
  std::uint32_t begin, end;  // byte offsets of the run's txns in the decoded buffer
};

struct DecodedChanges {
  std::vector<ChunkTables> chunks;
  std::vector<TxnRunView> runs;
  std::vector<ParentRef> parents;
};

// Decodes and validates a message payload (without its frame). Views point into `payload`.
// Throws DecodeError naming what is wrong. `seed` keys the hash that checks tables for
// duplicates (a replica passes its own, so crafted collisions cannot slow the check).
inline constexpr std::uint64_t kDecodeSeed = 0x243f6a8885a308d3ull;
DecodedChanges decodeChangesPayload(ByteSpan payload, std::uint64_t seed = kDecodeSeed);
// Decodes and validates one chunk starting at r's position, appending to `out`.
void decodeChunk(ByteReader& r, std::uint32_t chunkIndex, DecodedChanges& out,
                 std::uint64_t seed = kDecodeSeed);

// Where the relative form of a text edit starts from: the run's previous text edit (its
// table, row key and column as chunk-table indexes, the text's creator, and the cursor).
struct TextRunContext {
  bool valid = false;
  std::uint32_t table = 0, key = 0, column = 0;
  std::uint32_t creatorPeer = 0;  // writer: chunk peer index of the creator
  std::string_view creator;       // reader: the creator's peer id (views the chunk) ...
  Seq seq = 0;
  std::uint64_t cursor = 0;
  bool creatorByIndex = false;  // ... or, when set, the chunk's peer creatorPeer
};

// One transaction's header as read back from valid bytes.
struct TxnHeader {
  std::uint32_t peer;
  Seq seq;
  bool linear;
  std::vector<ParentRef> parents;  // when !linear
  std::uint32_t opCount;
};

// Walks the transactions and operations of already validated bytes.
class TxnCursor {
 public:
  TxnCursor(ByteSpan bytes, std::size_t begin, std::size_t end)
      : bytes_(bytes), pos_(begin), end_(end) {}
  bool atEnd() const { return pos_ >= end_; }
  std::size_t position() const { return pos_; }
  // Reads the next txn header; `prevEnd` is the peer's previous end in this chunk (for
  // continues).
  TxnHeader header(Seq prevEnd);
  // Reads the next op of the current txn into `op` (column views in `cols`); with `idx`, also
  // the chunk-table indexes of its table, key and column names. A relative text edit reads
  // back in full: its value views a buffer of the cursor, valid until the next op.
  struct OpIndexes {
    std::uint32_t table = 0, key = 0;
    std::vector<std::uint32_t> columns;
  };
  void op(const ChunkTables& t, OpRef& op, std::vector<ColumnRef>& cols, OpIndexes* idx = nullptr);
  // Byte span of the next op without interpreting it (beyond following the text context).
  ByteSpan skipOp();
  // Whether the last header joined the run of the transaction before it (the text context
  // carried over), and whether the last op read was a relative text edit.
  bool joinedRun() const { return joined_; }
  bool lastOpRelative() const { return relative_; }
  // The last op read, when a text edit, parsed (its views valid like the op's): readers need
  // not parse its value again.
  const TextEditValue& lastEdit() const { return edit_; }

 private:
  std::uint64_t varint();
  // Reads the rest of a relative (ext 7) or indexed (ext 8) text edit and advances the
  // context; the edit's peer is empty when the context names the creator by index.
  TextEditValue compactEdit(std::uint64_t ext, std::uint64_t head);
  void noteFullEdit(std::uint32_t table, std::uint32_t key, std::uint32_t column, ByteSpan value);
  ByteSpan bytes_;
  std::size_t pos_, end_;
  static constexpr std::uint32_t kNoPeer = 0xffffffffu;
  std::uint32_t lastPeer_ = kNoPeer;
  bool joined_ = false, relative_ = false;
  TextRunContext ctx_;
  ByteWriter scratch_;  // a relative edit's value in full
  TextEditValue edit_;
};

// Builds one chunk: tables grow as transactions name new peers and names. Appends are
// journaled: rollback(mark) restores the writer exactly, without allocating.
class ChunkWriter {
 public:
  // `seed` keys the tables' hashing (chunk tables hold names and keys peers chose).
  explicit ChunkWriter(std::uint64_t seed = 0x243f6a8885a308d3ull)
      : seed_(seed), peers_(seed ^ 1), names_(seed ^ 2), keys_(seed ^ 3) {}
  // Appends a transaction header. `parents` are (chunk peer index, seq) pairs, ascending by
  // (peer id bytes, seq); ignored when `linear`.
  void beginTxn(std::uint32_t peer, Seq seq, bool linear, std::span<const ParentRef> parents,
                std::uint64_t opCount);
  void op(OpKind kind, std::uint32_t table, std::string_view key);
  void opByIndex(OpKind kind, std::uint32_t table, std::uint32_t key) {
    opHead(kind, table);
    body_.varint(key);
  }
  std::uint32_t key(std::string_view k) { return keys_.intern(k); }
  // Appends a text edit op (one column) whose value `named` is the named form of
  // merge/text_op.h, in the relative form when it follows a text edit of the same text in
  // the same run of transactions.
  void textEdit(std::uint32_t table, std::uint32_t key, std::uint32_t column, ValueRef named) {
    textEdit(table, key, column, named, readScannedTextEdit(named));
  }
  // The same with `named` already parsed (`e`: readScannedTextEdit(named)).
  void textEdit(std::uint32_t table, std::uint32_t key, std::uint32_t column, ValueRef named,
                const TextEditValue& e);
  // Let textEdit add a text's creator to the peer table (the op log's chunks, where later
  // edits then go relative); otherwise only a creator the table holds allows relative edits
  // (one-call chunks, which should not grow a table entry for a single edit).
  void internTextCreators() { internCreators_ = true; }
  void columnCount(std::size_t n) { body_.varint(n); }
  void column(std::uint32_t name, ValueRef value) {
    body_.varint(name);
    body_.raw(value);
  }

  // Chunk-local indexes (interned by string).
  std::uint32_t peer(std::string_view id) { return peers_.intern(id); }
  // The same for the peer the caller numbers `global`, remembered by that number: a header per
  // transaction then costs no hashing. A remembered index is checked against the name, so
  // rollbacks and reuse of the writer need no invalidation.
  std::uint32_t peerOf(std::uint32_t global, std::string_view id) {
    if (global < peerCache_.size()) {
      const std::uint32_t c = peerCache_[global];
      if (c != 0 && c - 1 < peers_.size() && peers_.name(c - 1) == id) return c - 1;
    }
    const std::uint32_t i = peers_.intern(id);
    if (global >= peerCache_.size()) peerCache_.resize(std::size_t{global} + 1, 0);
    peerCache_[global] = i + 1;
    return i;
  }
  std::uint32_t name(std::string_view name) { return names_.intern(name); }
  std::string_view peerName(std::uint32_t i) const { return peers_.name(i); }

  std::size_t txnCount() const { return txns_; }
  std::size_t bodySize() const { return body_.size(); }
  bool empty() const { return txns_ == 0; }
  // Appends the encoded chunk (tables + transactions) to `out`.
  void writeTo(ByteWriter& out) const;
  std::size_t memoryBytes() const;

  // Persistence writes the chunk as segments: each holds the table entries and transactions
  // appended since the previous one, so segments concatenate back into this writer.
  struct Position {
    std::size_t body = 0, txns = 0;
    std::uint32_t peers = 0, names = 0, keys = 0;
  };
  Position position() const {
    return {body_.size(), txns_, peers_.size(), names_.size(), keys_.size()};
  }
  // Appends segment [from, position()) := three tables of new strings (varint n, n × string),
  // varint transactions, body bytes (to the end of `out`'s record: callers frame it).
  void writeSegment(const Position& from, ByteWriter& out) const;
  // Rebuilds the writer from a chunk's tables (duplicate-free: the caller checks), its
  // transaction count and body, whose transactions end each peer at `peerEnds` (chunk peer
  // index → end seq, 0 = none). The body is not validated here. Strong guarantee.
  void restore(const ChunkTables& tables, std::size_t txns, ByteSpan body,
               const std::vector<Seq>& peerEnds);

  struct Mark {
    std::size_t body, txns, journal;
    std::uint32_t peers, names, keys;
    std::uint32_t lastPeer;
    TextRunContext ctx;
  };
  Mark mark() const {
    return {body_.size(),  txns_,        journal_.size(), peers_.size(),
            names_.size(), keys_.size(), lastPeer_,       ctx_};
  }
  void rollback(const Mark& m) noexcept;
  void clearJournal() noexcept { clearScratch(journal_); }
  // Empty again, keeping its memory (a writer reused call after call allocates nothing).
  void clear() noexcept {
    rollback(Mark{0, 0, 0, 0, 0, 0, kNoPeer, {}});
    clearJournal();
  }

 private:
  void opHead(OpKind kind, std::uint32_t table);

  std::uint64_t seed_;
  ByteWriter body_;
  std::size_t txns_ = 0;
  Interner peers_, names_, keys_;
  std::vector<Seq> peerEnd_;  // per chunk peer: end seq of its last txn (0 = none yet)
  std::vector<std::pair<std::uint32_t, Seq>> journal_;  // (peer, previous end)
  std::vector<std::uint32_t> peerCache_;                // caller's peer number → index + 1
  static constexpr std::uint32_t kNoPeer = 0xffffffffu;
  std::uint32_t lastPeer_ = kNoPeer;  // the peer of the last transaction (run tracking)
  TextRunContext ctx_;                // the current run's last text edit
  bool internCreators_ = false;
};

// Re-emits the transactions of a valid chunk for which keep(peer id, first seq, end seq) is
// true, with the chunk's tables, as a chunk of its own (continues flags recomputed). Returns
// how many transactions it wrote (nothing is written when none is kept).
std::size_t sliceChunk(ByteSpan chunk,
                       const std::function<bool(std::string_view peer, Seq seq, Seq end)>& keep,
                       ByteWriter& out);

// Size of the valid value encoding at the start of `bytes`.
std::size_t validValueSize(ByteSpan bytes);

}  // namespace crdtdb
