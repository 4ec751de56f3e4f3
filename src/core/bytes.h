// Byte buffers and LEB128 varints: the primitives every encoder and decoder uses.
// ByteReader never reads past its end: every read checks bounds and throws DecodeError,
// so decoders can be written as straight-line code over hostile input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace crdtdb {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

// Signed integers as unsigned, small magnitudes small (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...).
inline std::uint64_t zigzagEncode(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t zigzagDecode(std::uint64_t z) {
  return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
}

class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void varint(std::uint64_t v);
  void zigzag(std::int64_t v) { varint(zigzagEncode(v)); }
  void fixed32(std::uint32_t v);
  void fixed64(std::uint64_t v);
  void raw(ByteSpan bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  void string(std::string_view s);  // varint length + bytes
  std::size_t size() const { return out_.size(); }
  Bytes& bytes() { return out_; }
  const Bytes& bytes() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : in_(in) {}
  // Inline fast paths (one byte: most counts, ids and lengths); the rest out of line.
  std::uint8_t u8() {
    if (pos_ < in_.size()) return in_[pos_++];
    need(1);  // throws
    return 0;
  }
  // Rejects overlong (> 10 bytes) and overflowing encodings.
  std::uint64_t varint() {
    if (pos_ < in_.size() && in_[pos_] < 0x80) return in_[pos_++];
    return varintLong();
  }
  std::int64_t zigzag() { return zigzagDecode(varint()); }
  // A varint that must fit below `limit` (counts, indexes): rejects larger values.
  std::uint64_t varintBelow(std::uint64_t limit, const char* what);
  std::uint32_t fixed32();
  std::uint64_t fixed64();
  ByteSpan raw(std::size_t n);
  std::string string(std::size_t maxLen, const char* what);  // length-prefixed, valid UTF-8
  // The same without a copy: a view into the input.
  std::string_view stringView(std::size_t maxLen, const char* what);
  // The unread bytes.
  ByteSpan rest() const { return in_.subspan(pos_); }
  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool atEnd() const { return pos_ == in_.size(); }

 private:
  void need(std::size_t n) const;
  std::uint64_t varintLong();
  ByteSpan in_;
  std::size_t pos_ = 0;
};

bool isValidUtf8(std::string_view s);
std::uint32_t crc32(ByteSpan bytes);

// Byte equality, sizes first (long values of different sizes cost nothing to tell apart;
// memcmp goes 4 bytes a step in WASM).
inline bool equalBytes(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
// The bytes of a string.
inline ByteSpan bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace crdtdb
