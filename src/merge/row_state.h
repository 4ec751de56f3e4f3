// Per-row CRDT state, updated in O(columns touched) per operation (never a history replay).
//
// A row is an observed-remove set of existence tokens plus one multi-value register per
// column:
//  - tokens: the SetRow events not yet removed; the row is visible iff there is one.
//  - a column: the writes to it that no later-seen write, set or delete removed, i.e.
//    mutually concurrent writes. The visible value is the greatest by (Lamport, peer id, seq);
//    the others ("losers") are what conflicts() reports.
// Applying an event removes exactly the tokens and writes it has observed (its causal past):
//  SetRow removes every observed token and column write, then adds its token and columns;
//  UpdateRow removes observed writes of the columns it names, then adds its writes;
//  DeleteRow removes every observed token and column write.
//
// Representation: a row holds one Cell per live column (its winner) plus one token cell
// (column kTokenColumn) while visible, sorted token first, then by column name bytes. A Cell
// is 16 bytes: column id, LV of the write, and the value's canonical encoding inline when it
// fits in 8 bytes (else an owned heap block). Concurrent losers, rare, live in a ConflictSet
// beside the row (flagged on the winner cell), keyed by peer (a peer's writes form a chain, so
// a column has at most one candidate per peer) and ordered by LWW, so an event that names few
// peers in its version vector removes what it observed in O(peers named · log n).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <string_view>

#include "core/ids.h"
#include "core/value.h"

namespace crdtdb {

inline constexpr NameId kTokenColumn = 0;  // the names interner reserves id 0 for it
inline constexpr NameId kMaxColumnId = (1u << 24) - 1;

class Cell {
 public:
  Cell() = default;
  // Copies `value` (inline when <= 8 bytes). Allocates for longer values.
  Cell(NameId column, LV lv, ValueRef value) : Cell(column, lv, std::span(&value, 1)) {}
  // The same for the value made of `parts` one after another.
  Cell(NameId column, LV lv, std::span<const ValueRef> parts) : Cell(column, lv, parts, 0) {}
  // A heap value with room for `capacity` bytes (at least its size), which replaceBytes
  // edits in place: a text's cell, so a keystroke moves the bytes after it, not the text.
  static Cell growable(NameId column, LV lv, std::span<const ValueRef> parts,
                       std::size_t capacity) {
    return Cell(column, lv, parts, std::max<std::size_t>(capacity, 1));
  }
  Cell(Cell&& o) noexcept : bits_(o.bits_), lv_(o.lv_) {
    std::memcpy(raw_, o.raw_, 8);
    o.bits_ = 0;
  }
  Cell& operator=(Cell&& o) noexcept {
    if (this != &o) {
      release();
      bits_ = o.bits_;
      lv_ = o.lv_;
      std::memcpy(raw_, o.raw_, 8);
      o.bits_ = 0;
    }
    return *this;
  }
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;
  ~Cell() { release(); }

  Cell clone() const { return Cell(column(), lv_, value()); }

  NameId column() const { return bits_ & kMaxColumnId; }
  LV lv() const { return lv_; }
  ValueRef value() const;
  bool hasLosers() const { return bits_ & kLosersBit; }
  void setHasLosers(bool on) { bits_ = on ? bits_ | kLosersBit : bits_ & ~kLosersBit; }
  // A counter's sum shown where no plain write is (merge/counter.h): not a write, lv 0.
  bool derived() const { return bits_ & kDerivedBit; }
  void setDerived() { bits_ |= kDerivedBit; }
  // Heap bytes owned beyond the 16-byte cell.
  std::size_t heapBytes() const;
  // The bytes a growable cell's value may take in place (0: not growable).
  std::size_t capacity() const;
  // Replaces value bytes [at, at + removed) by `inserted` in place. The cell must be growable
  // with capacity for the result; nothing is allocated.
  void replaceBytes(std::size_t at, std::size_t removed, ValueRef inserted) noexcept;

 private:
  static constexpr std::uint32_t kLenShift = 24, kLenMask = 0xf, kHeapBit = 1u << 28,
                                 kLosersBit = 1u << 29, kLiveBit = 1u << 30, kDerivedBit = 1u << 31;
  // With kHeapBit (where the inline length is unused): the block is [u32 len][u32 cap][bytes].
  static constexpr std::uint32_t kGrowBit = 1u << kLenShift;
  Cell(NameId column, LV lv, std::span<const ValueRef> parts, std::size_t capacity);
  std::uint8_t* block() const {
    std::uint8_t* b;
    std::memcpy(&b, raw_, sizeof b);
    return b;
  }
  void release() noexcept;
  std::uint32_t bits_ = 0;  // column | inline length (or grow bit) << 24 | heap | losers | live |
                            // derived
  LV lv_ = 0;
  alignas(4) std::uint8_t raw_[8] = {};  // inline bytes, or a pointer to [u32 len][bytes]
};
static_assert(sizeof(Cell) == 16, "Cell must stay 16 bytes");

// LWW order key of a write: greater wins.
struct WriteOrder {
  Lamport lamport;
  std::string_view peerName;
  Seq seq;
  PeerIdx peer;
  bool operator<(const WriteOrder& o) const {
    if (lamport != o.lamport) return lamport < o.lamport;
    int c = peerName.compare(o.peerName);
    if (c != 0) return c < 0;
    return seq < o.seq;
  }
};

// The concurrent losers of one column of one row (its winner stays in the row).
struct ConflictSet {
  std::map<PeerIdx, Cell> byPeer;
  std::set<WriteOrder> order;  // ascending: the best loser is the last
};

}  // namespace crdtdb
