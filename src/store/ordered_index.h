// A sorted set of byte strings with O(log n) seek and rank, used for secondary indexes and
// the primary-key order of each table.
//
// Layout: a two-level B-tree. Entries live in sorted leaf chunks of at most kMaxChunk
// entries; the top level is the ordered vector of chunks, searched by each chunk's last
// entry. Prefix counts over chunks are rebuilt lazily (O(chunks), a few hundred for 10^5
// entries) so count and offset queries need no scan of the entries themselves.
// Invariants: every chunk is non-empty and sorted; chunks are ordered and disjoint; size_
// is the sum of chunk sizes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace crdtdb {

class OrderedIndex {
 public:
  static constexpr std::size_t kMaxChunk = 512;

  bool insert(std::string entry);  // false if already present
  bool erase(std::string_view entry);
  bool contains(std::string_view entry) const;
  std::size_t size() const { return size_; }

  // Number of entries < key: the rank of the first entry >= key.
  std::size_t lowerBound(std::string_view key) const;
  // Number of entries that are < key or start with `key` (the rank just past all entries
  // having `key` as a prefix). With key = encoded index key, this skips every row key tie.
  std::size_t upperBoundPrefix(std::string_view key) const;
  // The entry at rank i (0 <= i < size()).
  const std::string& at(std::size_t rank) const;

  template <typename F>  // f(const std::string&) for ranks [from, to), ascending
  void forEachInRanks(std::size_t from, std::size_t to, F&& f) const {
    if (from >= to) return;
    auto [c, i] = locate(from);
    for (std::size_t n = from; n < to; ++n) {
      f(chunks_[c][i]);
      if (++i == chunks_[c].size()) {
        ++c;
        i = 0;
      }
    }
  }
  template <typename F>  // f(const std::string&) for ranks [from, to), descending
  void forEachInRanksReverse(std::size_t from, std::size_t to, F&& f) const {
    for (std::size_t n = to; n > from;) {
      auto [c, i] = locate(--n);
      // Walk within the chunk without relocating.
      for (;;) {
        f(chunks_[c][i]);
        if (n == from || i == 0) break;
        --i;
        --n;
      }
    }
  }

  void clear();
  void checkInvariants() const;

 private:
  std::size_t chunkFor(std::string_view key) const;  // first chunk whose last entry >= key
  std::pair<std::size_t, std::size_t> locate(std::size_t rank) const;
  void rebuildPrefix() const;

  std::vector<std::vector<std::string>> chunks_;
  std::size_t size_ = 0;
  mutable std::vector<std::size_t> prefix_;  // prefix_[c] = entries before chunk c
  mutable bool prefixDirty_ = true;
};

}  // namespace crdtdb
