#include "store/ordered_index.h"

#include <algorithm>

#include "core/errors.h"

namespace crdtdb {

std::size_t OrderedIndex::chunkFor(std::string_view key) const {
  auto it = std::lower_bound(chunks_.begin(), chunks_.end(), key,
                             [](const std::vector<std::string>& c, std::string_view k) {
                               return std::string_view(c.back()) < k;
                             });
  return static_cast<std::size_t>(it - chunks_.begin());
}

bool OrderedIndex::insert(std::string entry) {
  if (chunks_.empty()) {
    chunks_.push_back({std::move(entry)});
    size_ = 1;
    prefixDirty_ = true;
    return true;
  }
  std::size_t c = std::min(chunkFor(entry), chunks_.size() - 1);
  auto& chunk = chunks_[c];
  auto pos = std::lower_bound(chunk.begin(), chunk.end(), entry);
  if (pos != chunk.end() && *pos == entry) return false;
  chunk.insert(pos, std::move(entry));
  ++size_;
  if (chunk.size() > kMaxChunk) {
    std::vector<std::string> upper(std::make_move_iterator(chunk.begin() + kMaxChunk / 2),
                                   std::make_move_iterator(chunk.end()));
    chunk.resize(kMaxChunk / 2);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
  }
  prefixDirty_ = true;
  return true;
}

bool OrderedIndex::erase(std::string_view entry) {
  std::size_t c = chunkFor(entry);
  if (c == chunks_.size()) return false;
  auto& chunk = chunks_[c];
  auto pos = std::lower_bound(chunk.begin(), chunk.end(), entry,
                              [](const std::string& a, std::string_view b) { return a < b; });
  if (pos == chunk.end() || *pos != entry) return false;
  chunk.erase(pos);
  --size_;
  if (chunk.empty()) {
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
  } else if (c + 1 < chunks_.size() && chunk.size() + chunks_[c + 1].size() <= kMaxChunk / 2) {
    // Merge thin neighbours so the chunk count stays proportional to size.
    auto& next = chunks_[c + 1];
    chunk.insert(chunk.end(), std::make_move_iterator(next.begin()),
                 std::make_move_iterator(next.end()));
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1);
  }
  prefixDirty_ = true;
  return true;
}

bool OrderedIndex::contains(std::string_view entry) const {
  std::size_t c = chunkFor(entry);
  if (c == chunks_.size()) return false;
  return std::binary_search(chunks_[c].begin(), chunks_[c].end(), entry, [](auto a, auto b) {
    return std::string_view(a) < std::string_view(b);
  });
}

void OrderedIndex::rebuildPrefix() const {
  if (!prefixDirty_) return;
  prefix_.resize(chunks_.size());
  std::size_t n = 0;
  for (std::size_t c = 0; c < chunks_.size(); ++c) {
    prefix_[c] = n;
    n += chunks_[c].size();
  }
  prefixDirty_ = false;
}

std::size_t OrderedIndex::lowerBound(std::string_view key) const {
  std::size_t c = chunkFor(key);
  if (c == chunks_.size()) return size_;
  rebuildPrefix();
  const auto& chunk = chunks_[c];
  auto pos = std::lower_bound(chunk.begin(), chunk.end(), key,
                              [](const std::string& a, std::string_view b) { return a < b; });
  return prefix_[c] + static_cast<std::size_t>(pos - chunk.begin());
}

std::size_t OrderedIndex::upperBoundPrefix(std::string_view key) const {
  // Entries with `key` as a prefix sort before key + 0xff... only if no byte after the prefix
  // is 0xff; key encodings never contain a 0xff lead byte, but row-key bytes may, so compare
  // with an explicit predicate instead of a sentinel.
  auto lessOrPrefixed = [&](const std::string& e) {
    return std::string_view(e).substr(0, key.size()) <= key;
  };
  // Find the first chunk whose last entry is not <= key-prefixed.
  auto it = std::partition_point(
      chunks_.begin(), chunks_.end(),
      [&](const std::vector<std::string>& c) { return lessOrPrefixed(c.back()); });
  if (it == chunks_.end()) return size_;
  rebuildPrefix();
  std::size_t c = static_cast<std::size_t>(it - chunks_.begin());
  auto pos = std::partition_point(it->begin(), it->end(), lessOrPrefixed);
  return prefix_[c] + static_cast<std::size_t>(pos - it->begin());
}

std::pair<std::size_t, std::size_t> OrderedIndex::locate(std::size_t rank) const {
  if (rank >= size_) throw Error(ErrorCode::Internal, "index rank out of range");
  rebuildPrefix();
  auto it = std::upper_bound(prefix_.begin(), prefix_.end(), rank);
  std::size_t c = static_cast<std::size_t>(it - prefix_.begin()) - 1;
  return {c, rank - prefix_[c]};
}

const std::string& OrderedIndex::at(std::size_t rank) const {
  auto [c, i] = locate(rank);
  return chunks_[c][i];
}

void OrderedIndex::clear() {
  chunks_.clear();
  size_ = 0;
  prefixDirty_ = true;
}

void OrderedIndex::checkInvariants() const {
  std::size_t n = 0;
  const std::string* prev = nullptr;
  for (const auto& chunk : chunks_) {
    if (chunk.empty() || chunk.size() > kMaxChunk) {
      throw Error(ErrorCode::Internal, "index chunk size out of bounds");
    }
    for (const auto& e : chunk) {
      if (prev && !(*prev < e)) throw Error(ErrorCode::Internal, "index entries out of order");
      prev = &e;
    }
    n += chunk.size();
  }
  if (n != size_) throw Error(ErrorCode::Internal, "index size mismatch");
}

}  // namespace crdtdb
