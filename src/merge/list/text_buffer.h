// The current content of a text column: UTF-16 code units in a gap buffer. Edits cluster
// where the user types, so moving the gap costs the distance between edits, not the length.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace crdtdb::list {

inline bool isHighSurrogate(std::uint32_t c) { return c >= 0xd800 && c <= 0xdbff; }
inline bool isLowSurrogate(std::uint32_t c) { return c >= 0xdc00 && c <= 0xdfff; }

class TextBuffer {
 public:
  std::size_t size() const { return buf_.size() - gapLen_; }
  char16_t at(std::size_t i) const { return i < gapStart_ ? buf_[i] : buf_[i + gapLen_]; }

  // Makes room for `extra` more units, so that inserts up to that total do not allocate.
  void reserveFor(std::size_t extra) {
    if (extra <= gapLen_) return;
    const std::size_t n = size();
    std::vector<char16_t> grown(std::max(n * 2, n + extra) + 64);
    const std::size_t tail = buf_.size() - gapStart_ - gapLen_;
    if (!buf_.empty()) {  // memcpy from a null pointer is undefined even for 0 bytes
      std::memcpy(grown.data(), buf_.data(), gapStart_ * sizeof(char16_t));
      std::memcpy(grown.data() + grown.size() - tail, buf_.data() + gapStart_ + gapLen_,
                  tail * sizeof(char16_t));
    }
    gapLen_ = grown.size() - n;
    buf_.swap(grown);
  }
  void insert(std::size_t pos, std::u16string_view s) {
    if (s.empty()) return;
    reserveFor(s.size());
    moveGap(pos);
    std::memcpy(buf_.data() + gapStart_, s.data(), s.size() * sizeof(char16_t));
    gapStart_ += s.size();
    gapLen_ -= s.size();
  }
  void erase(std::size_t pos, std::size_t len) {
    if (len == 0) return;
    moveGap(pos);
    gapLen_ += len;
  }
  // Appends units [pos, pos + len) to `out` (which has the room: no allocation).
  void copyTo(std::size_t pos, std::size_t len, std::u16string& out) const {
    const std::size_t before = pos < gapStart_ ? std::min(len, gapStart_ - pos) : 0;
    out.append(buf_.data() + pos, before);
    out.append(buf_.data() + pos + before + gapLen_, len - before);
  }
  std::u16string str() const {
    std::u16string out;
    out.reserve(size());
    out.append(buf_.data(), gapStart_);
    out.append(buf_.data() + gapStart_ + gapLen_, buf_.size() - gapStart_ - gapLen_);
    return out;
  }
  std::size_t memoryBytes() const { return buf_.capacity() * sizeof(char16_t); }

 private:
  void moveGap(std::size_t pos) {
    if (pos < gapStart_) {
      std::memmove(buf_.data() + pos + gapLen_, buf_.data() + pos,
                   (gapStart_ - pos) * sizeof(char16_t));
    } else if (pos > gapStart_) {
      std::memmove(buf_.data() + gapStart_, buf_.data() + gapStart_ + gapLen_,
                   (pos - gapStart_) * sizeof(char16_t));
    }
    gapStart_ = pos;
  }
  std::vector<char16_t> buf_;
  std::size_t gapStart_ = 0, gapLen_ = 0;
};

}  // namespace crdtdb::list
