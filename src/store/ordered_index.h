// A sorted set of byte strings ("entries"), each with the RowId it points at, with O(log n)
// seek and rank: the secondary indexes and each table's primary-key order.
//
// Layout: a two-level B-tree. Entries live in sorted leaf chunks of at most kMaxChunk
// entries, each chunk one byte arena plus entry offsets and row ids (about len + 8 bytes per
// entry); the top level is the ordered vector of chunks, searched by each chunk's last entry.
// Prefix counts over chunks are rebuilt lazily (O(chunks)) so count and offset queries need
// no scan of the entries themselves.
//
// Mutation is journaled: insert and erase reserve what they need, then mutate without
// allocating, and record how to undo; rollback(mark) restores the index exactly. Chunks are
// split on insert and removed when emptied; thin neighbours merge in compact(), which runs at
// commit points and changes nothing when it fails.
// Invariants: every chunk is non-empty and sorted; chunks are ordered and disjoint; size_ is
// the sum of chunk sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/inline.h"
#include "core/reserve.h"

namespace crdtdb {

class OrderedIndex {
 public:
  static constexpr std::size_t kMaxChunk = 128;

  struct Entry {
    std::string_view bytes;
    std::uint32_t row;
  };

  bool insert(std::string_view entry, std::uint32_t row);  // false if already present
  bool erase(std::string_view entry);
  bool contains(std::string_view entry) const;
  std::size_t size() const { return size_; }

  // Number of entries < key: the rank of the first entry >= key.
  std::size_t lowerBound(std::string_view key) const;
  // Number of entries that are < key or start with `key` (the rank just past all entries
  // having `key` as a prefix). With key = encoded index key, this skips every row key tie.
  std::size_t upperBoundPrefix(std::string_view key) const;
  Entry at(std::size_t rank) const;

  template <typename F>  // f(Entry) for ranks [from, to), ascending
  void forEachInRanks(std::size_t from, std::size_t to, F&& f) const {
    if (from >= to) return;
    auto [c, i] = locate(from);
    for (std::size_t n = from; n < to; ++n) {
      f(chunks_[c].entry(i));
      if (++i == chunks_[c].count()) {
        ++c;
        i = 0;
      }
    }
  }
  template <typename F>  // f(Entry) for ranks [from, to), descending
  void forEachInRanksReverse(std::size_t from, std::size_t to, F&& f) const {
    if (from >= to) return;
    auto [c, i] = locate(to - 1);
    for (std::size_t n = to; n > from; --n) {
      f(chunks_[c].entry(i));
      if (i == 0) {
        if (c == 0) break;
        --c;
        i = chunks_[c].count();
      }
      --i;
    }
  }

  struct Mark {
    std::size_t journal;
  };
  std::uint32_t epoch = 0;  // the owner's call counter when this index was last journaled
  Mark mark() const { return {journal_.size()}; }
  std::size_t journalSize() const { return journal_.size(); }
  void rollback(const Mark& m) noexcept;
  void clearJournal() noexcept {
    clearScratch(journal_);
    clearScratch(erased_);
    clearScratch(removed_);
  }
  // Merges thin chunks (best effort, strong guarantee).
  void compact() noexcept;
  void clear();
  std::size_t memoryBytes() const;
  void checkInvariants() const;

 private:
  // The first 8 bytes of `s` as a big-endian number, zero-padded: when two heads differ, the
  // strings compare the same way (equal heads decide nothing).
  static CRDTDB_INLINE std::uint64_t headOf(std::string_view s) {
    std::uint64_t h = 0;
    const std::size_t n = s.size() < 8 ? s.size() : 8;
    for (std::size_t i = 0; i < n; ++i) {
      h |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (56 - 8 * i);
    }
    return h;
  }

  struct Chunk {
    // Head of the last entry, kept in the chunk record so the top-level search compares
    // numbers in one array instead of touching each probed chunk's entries.
    std::uint64_t lastHead = 0;
    std::string bytes;
    std::vector<std::uint32_t> offsets;  // start of each entry in `bytes`
    std::vector<std::uint32_t> rows;
    std::size_t count() const { return rows.size(); }
    void refreshHead() noexcept { lastHead = count() ? headOf(view(count() - 1)) : 0; }
    CRDTDB_INLINE std::string_view view(std::size_t i) const {
      const std::size_t begin = offsets[i];
      const std::size_t end = i + 1 < offsets.size() ? offsets[i + 1] : bytes.size();
      return std::string_view(bytes.data() + begin, end - begin);
    }
    Entry entry(std::size_t i) const { return {view(i), rows[i]}; }
    std::size_t find(std::string_view key) const;  // first index with view >= key
    void reserveOne(std::size_t len);
    void insertAt(std::size_t i, std::string_view e, std::uint32_t row) noexcept;
    void eraseAt(std::size_t i) noexcept;
  };
  struct Undo {
    enum Kind : std::uint8_t { Inserted, InsertedSplit, Erased, ChunkRemoved };
    Kind kind;
    std::uint32_t chunk, pos;
    std::uint32_t row;  // Erased: the entry's row
  };

  std::size_t chunkFor(std::string_view key) const;  // first chunk whose last entry >= key
  std::pair<std::size_t, std::size_t> locate(std::size_t rank) const;
  void rebuildPrefix() const;

  std::vector<Chunk> chunks_;
  std::size_t size_ = 0;
  mutable std::vector<std::size_t> prefix_;  // prefix_[c] = entries before chunk c
  mutable bool prefixDirty_ = true;
  std::vector<Undo> journal_;
  std::vector<std::string> erased_;  // Erased entries' bytes, in journal order
  std::vector<Chunk> removed_;       // ChunkRemoved chunks, in journal order
};

}  // namespace crdtdb
