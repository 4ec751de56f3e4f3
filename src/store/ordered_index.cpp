#include "store/ordered_index.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "core/reserve.h"

namespace crdtdb {

std::size_t OrderedIndex::Chunk::find(std::string_view key) const {
  std::size_t lo = 0, hi = count();
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (bytesLess(view(mid), key)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void OrderedIndex::Chunk::reserveOne(std::size_t len) {
  reserveMore(bytes, len);
  reserveMore(offsets, 1);
  reserveMore(rows, 1);
}

void OrderedIndex::Chunk::insertAt(std::size_t i, std::string_view e, std::uint32_t row) noexcept {
  // Capacity was reserved: none of these allocates.
  const std::size_t at = i < offsets.size() ? offsets[i] : bytes.size();
  bytes.insert(at, e.data(), e.size());
  for (std::size_t k = i; k < offsets.size(); ++k)
    offsets[k] += static_cast<std::uint32_t>(e.size());
  offsets.insert(offsets.begin() + static_cast<std::ptrdiff_t>(i), static_cast<std::uint32_t>(at));
  rows.insert(rows.begin() + static_cast<std::ptrdiff_t>(i), row);
  if (i + 1 == count()) refreshHead();
}

void OrderedIndex::Chunk::eraseAt(std::size_t i) noexcept {
  const std::size_t at = offsets[i];
  const std::size_t len = view(i).size();
  bytes.erase(at, len);
  offsets.erase(offsets.begin() + static_cast<std::ptrdiff_t>(i));
  for (std::size_t k = i; k < offsets.size(); ++k) offsets[k] -= static_cast<std::uint32_t>(len);
  rows.erase(rows.begin() + static_cast<std::ptrdiff_t>(i));
  if (i == count()) refreshHead();
}

std::size_t OrderedIndex::chunkFor(std::string_view key) const {
  const std::uint64_t head = headOf(key);
  std::size_t lo = 0, hi = chunks_.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const Chunk& c = chunks_[mid];
    if (c.lastHead != head) {
      if (c.lastHead < head) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    } else if (bytesLess(c.view(c.count() - 1), key)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

bool OrderedIndex::insert(std::string_view entry, std::uint32_t row) {
  reserveMore(journal_, 1);
  if (chunks_.empty()) {
    Chunk c;
    c.reserveOne(entry.size());
    chunks_.reserve(1);
    c.insertAt(0, entry, row);
    chunks_.push_back(std::move(c));
    ++size_;
    prefixDirty_ = true;
    journal_.push_back(Undo{Undo::Inserted, 0, 0, 0});
    return true;
  }
  // Past the last entry (rows loaded in key order, keys that grow): no search.
  const Chunk& back = chunks_.back();
  const std::uint64_t head = headOf(entry);
  const bool last =
      head > back.lastHead || (head == back.lastHead && entry > back.view(back.count() - 1));
  const std::size_t ci = last ? chunks_.size() - 1 : std::min(chunkFor(entry), chunks_.size() - 1);
  const std::size_t pos = last ? back.count() : chunks_[ci].find(entry);
  if (pos < chunks_[ci].count() && chunks_[ci].view(pos) == entry) return false;
  const std::size_t count = chunks_[ci].count();
  const bool split = count + 1 > kMaxChunk;
  // Appending past the last entry (keys that grow: counters, timestamps) keeps full chunks
  // full and starts a new one; elsewhere a chunk splits in halves.
  const bool appending = ci + 1 == chunks_.size() && pos == count;
  const std::size_t keep = appending ? count : (count + 1) / 2;  // entries left in the chunk
  Chunk upper;
  if (split) {
    // Room for the upper part, so the split below cannot fail.
    reserveMore(chunks_, 1);
    const std::size_t n = count + 1 - keep;
    upper.offsets.reserve(n + n / 4 + 4);
    upper.rows.reserve(n + n / 4 + 4);
    const std::size_t bytes = appending ? entry.size() : chunks_[ci].bytes.size() + entry.size();
    upper.bytes.reserve(bytes + bytes / 4 + 16);
  }
  Chunk& chunk = chunks_[ci];
  chunk.reserveOne(entry.size());
  chunk.insertAt(pos, entry, row);
  if (split) {
    const std::size_t cut = chunk.offsets[keep];
    upper.bytes.append(chunk.bytes, cut, std::string::npos);
    for (std::size_t k = keep; k < chunk.count(); ++k) {
      upper.offsets.push_back(static_cast<std::uint32_t>(chunk.offsets[k] - cut));
      upper.rows.push_back(chunk.rows[k]);
    }
    chunk.bytes.resize(cut);
    chunk.offsets.resize(keep);
    chunk.rows.resize(keep);
    chunk.refreshHead();
    upper.refreshHead();
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(ci) + 1, std::move(upper));
  }
  ++size_;
  prefixDirty_ = true;
  journal_.push_back(Undo{split ? Undo::InsertedSplit : Undo::Inserted,
                          static_cast<std::uint32_t>(ci), static_cast<std::uint32_t>(pos), 0});
  return true;
}

bool OrderedIndex::erase(std::string_view entry) {
  const std::size_t ci = chunkFor(entry);
  if (ci == chunks_.size()) return false;
  Chunk& chunk = chunks_[ci];
  const std::size_t pos = chunk.find(entry);
  if (pos == chunk.count() || chunk.view(pos) != entry) return false;
  reserveMore(journal_, 1);
  const auto c32 = static_cast<std::uint32_t>(ci), p32 = static_cast<std::uint32_t>(pos);
  if (chunk.count() == 1) {
    reserveMore(removed_, 1);
    removed_.push_back(std::move(chunk));
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(ci));
    journal_.push_back(Undo{Undo::ChunkRemoved, c32, 0, 0});
  } else {
    reserveMore(erased_, 1);
    erased_.emplace_back(entry);
    const std::uint32_t row = chunk.rows[pos];
    chunk.eraseAt(pos);
    journal_.push_back(Undo{Undo::Erased, c32, p32, row});
  }
  --size_;
  prefixDirty_ = true;
  return true;
}

void OrderedIndex::rollback(const Mark& m) noexcept {
  while (journal_.size() > m.journal) {
    Undo& u = journal_.back();
    switch (u.kind) {
      case Undo::Inserted:
      case Undo::InsertedSplit: {
        if (u.kind == Undo::InsertedSplit) {
          // Merge the upper half back into its chunk (within the capacity it had).
          Chunk& lo = chunks_[u.chunk];
          Chunk& hi = chunks_[u.chunk + 1];
          const auto base = static_cast<std::uint32_t>(lo.bytes.size());
          lo.bytes.append(hi.bytes);
          for (std::size_t k = 0; k < hi.count(); ++k) {
            lo.offsets.push_back(hi.offsets[k] + base);
            lo.rows.push_back(hi.rows[k]);
          }
          lo.refreshHead();
          chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(u.chunk) + 1);
        }
        Chunk& c = chunks_[u.chunk];
        c.eraseAt(u.pos);
        if (c.count() == 0) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(u.chunk));
        --size_;
        break;
      }
      case Undo::Erased:
        chunks_[u.chunk].insertAt(u.pos, erased_.back(), u.row);
        erased_.pop_back();
        ++size_;
        break;
      case Undo::ChunkRemoved:
        chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(u.chunk),
                       std::move(removed_.back()));
        removed_.pop_back();
        ++size_;
        break;
    }
    journal_.pop_back();
  }
  prefixDirty_ = true;
}

void OrderedIndex::compact() noexcept {
  const std::size_t target = kMaxChunk / 2;
  if (chunks_.size() < 4 || chunks_.size() * target / 2 < size_) return;
  try {
    std::vector<Chunk> next;
    next.reserve(size_ / target + 1);
    for (const Chunk& c : chunks_) {
      for (std::size_t i = 0; i < c.count(); ++i) {
        if (next.empty() || next.back().count() == target) next.emplace_back();
        Chunk& n = next.back();
        n.offsets.push_back(static_cast<std::uint32_t>(n.bytes.size()));
        n.bytes.append(c.view(i));
        n.rows.push_back(c.rows[i]);
      }
    }
    for (Chunk& c : next) c.refreshHead();
    chunks_.swap(next);
    prefixDirty_ = true;
  } catch (...) {
    // Out of memory: keep the thin chunks.
  }
}

bool OrderedIndex::contains(std::string_view entry) const {
  std::size_t c = chunkFor(entry);
  if (c == chunks_.size()) return false;
  std::size_t pos = chunks_[c].find(entry);
  return pos < chunks_[c].count() && chunks_[c].view(pos) == entry;
}

void OrderedIndex::rebuildPrefix() const {
  if (!prefixDirty_) return;
  prefix_.resize(chunks_.size());
  std::size_t n = 0;
  for (std::size_t c = 0; c < chunks_.size(); ++c) {
    prefix_[c] = n;
    n += chunks_[c].count();
  }
  prefixDirty_ = false;
}

std::size_t OrderedIndex::lowerBound(std::string_view key) const {
  std::size_t c = chunkFor(key);
  if (c == chunks_.size()) return size_;
  rebuildPrefix();
  return prefix_[c] + chunks_[c].find(key);
}

std::size_t OrderedIndex::upperBoundPrefix(std::string_view key) const {
  // Entries with `key` as a prefix sort before key + 0xff... only if no byte after the prefix
  // is 0xff; row-key bytes may be, so compare only the first key.size() bytes.
  auto lessOrPrefixed = [&](std::string_view e) {
    const std::size_t n = e.size() < key.size() ? e.size() : key.size();
    return (n ? std::memcmp(e.data(), key.data(), n) : 0) <= 0;
  };
  // With 8 or more key bytes the heads decide whenever they differ (truncating an entry to
  // the key's length keeps its first 8 bytes).
  const bool useHead = key.size() >= 8;
  const std::uint64_t head = headOf(key);
  std::size_t lo = 0, hi = chunks_.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const Chunk& c = chunks_[mid];
    if (useHead && c.lastHead != head ? c.lastHead < head : lessOrPrefixed(c.view(c.count() - 1))) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == chunks_.size()) return size_;
  rebuildPrefix();
  const Chunk& chunk = chunks_[lo];
  std::size_t a = 0, b = chunk.count();
  while (a < b) {
    const std::size_t mid = (a + b) / 2;
    if (lessOrPrefixed(chunk.view(mid))) {
      a = mid + 1;
    } else {
      b = mid;
    }
  }
  return prefix_[lo] + a;
}

std::pair<std::size_t, std::size_t> OrderedIndex::locate(std::size_t rank) const {
  if (rank >= size_) throw Error(ErrorCode::Internal, "index rank out of range");
  rebuildPrefix();
  auto it = std::upper_bound(prefix_.begin(), prefix_.end(), rank);
  std::size_t c = static_cast<std::size_t>(it - prefix_.begin()) - 1;
  return {c, rank - prefix_[c]};
}

OrderedIndex::Entry OrderedIndex::at(std::size_t rank) const {
  auto [c, i] = locate(rank);
  return chunks_[c].entry(i);
}

void OrderedIndex::clear() {
  chunks_.clear();
  size_ = 0;
  prefixDirty_ = true;
  clearJournal();
}

std::size_t OrderedIndex::memoryBytes() const {
  std::size_t n = chunks_.capacity() * sizeof(Chunk);
  for (const Chunk& c : chunks_) {
    n += c.bytes.capacity() + (c.offsets.capacity() + c.rows.capacity()) * 4;
  }
  return n;
}

void OrderedIndex::checkInvariants() const {
  std::size_t n = 0;
  std::string_view prev;
  bool first = true;
  for (const Chunk& chunk : chunks_) {
    if (chunk.count() == 0 || chunk.count() > kMaxChunk || chunk.offsets.size() != chunk.count()) {
      throw Error(ErrorCode::Internal, "index chunk size out of bounds");
    }
    if (chunk.lastHead != headOf(chunk.view(chunk.count() - 1))) {
      throw Error(ErrorCode::Internal, "index chunk head stale");
    }
    for (std::size_t i = 0; i < chunk.count(); ++i) {
      std::string_view e = chunk.view(i);
      if (!first && !(prev < e)) throw Error(ErrorCode::Internal, "index entries out of order");
      prev = e;
      first = false;
    }
    n += chunk.count();
  }
  if (n != size_) throw Error(ErrorCode::Internal, "index size mismatch");
}

}  // namespace crdtdb
