#include "core/bytes.h"

#include <string>

#include "core/errors.h"

namespace crdtdb {

void ByteWriter::varint(std::uint64_t v) {
  if (v < 0x80) {
    out_.push_back(static_cast<std::uint8_t>(v));
    return;
  }
  std::uint8_t buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<std::uint8_t>(v);
  out_.insert(out_.end(), buf, buf + n);
}

void ByteWriter::fixed32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void ByteWriter::fixed64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void ByteWriter::string(std::string_view s) {
  varint(s.size());
  out_.insert(out_.end(), s.begin(), s.end());
}

void ByteReader::need(std::size_t n) const {
  if (n > in_.size() - pos_) {
    throw DecodeError("truncated input: need " + std::to_string(n) + " bytes at offset " +
                      std::to_string(pos_) + ", have " + std::to_string(in_.size() - pos_));
  }
}

std::uint64_t ByteReader::varintLong() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    std::uint8_t b = u8();
    std::uint64_t part = b & 0x7f;
    if (shift == 63 && part > 1) throw DecodeError("varint overflows 64 bits");
    v |= part << shift;
    if (!(b & 0x80)) {
      // Canonical form only: a trailing zero byte would give one value two encodings.
      if (b == 0 && shift != 0) throw DecodeError("overlong varint");
      return v;
    }
  }
  throw DecodeError("varint longer than 10 bytes");
}

std::uint64_t ByteReader::varintBelow(std::uint64_t limit, const char* what) {
  std::uint64_t v = varint();
  if (v >= limit) {
    throw DecodeError(std::string(what) + " out of range: " + std::to_string(v) + " (limit " +
                      std::to_string(limit) + ")");
  }
  return v;
}

std::uint32_t ByteReader::fixed32() {
  need(4);
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return v;
}

std::uint64_t ByteReader::fixed64() {
  need(8);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
  pos_ += 8;
  return v;
}

ByteSpan ByteReader::raw(std::size_t n) {
  need(n);
  ByteSpan s = in_.subspan(pos_, n);
  pos_ += n;
  return s;
}

std::string ByteReader::string(std::size_t maxLen, const char* what) {
  return std::string(stringView(maxLen, what));
}

std::string_view ByteReader::stringView(std::size_t maxLen, const char* what) {
  std::uint64_t len = varint();
  if (len > maxLen) {
    throw DecodeError(std::string(what) + " too long: " + std::to_string(len) + " bytes");
  }
  ByteSpan s = raw(static_cast<std::size_t>(len));
  std::string_view out(reinterpret_cast<const char*>(s.data()), s.size());
  if (!isValidUtf8(out)) throw DecodeError(std::string(what) + " is not valid UTF-8");
  return out;
}

bool isValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

namespace {

// Slice-by-4 tables, built on first use (no static data in the binary).
struct CrcTables {
  std::uint32_t t[4][256];
  CrcTables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 4; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};

}  // namespace

std::uint32_t crc32(ByteSpan bytes) {
  static const CrcTables tables;
  const auto& t = tables.t;
  std::uint32_t c = 0xffffffffu;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 4; n -= 4, p += 4) {
    c ^= static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
    c = t[3][c & 0xff] ^ t[2][(c >> 8) & 0xff] ^ t[1][(c >> 16) & 0xff] ^ t[0][c >> 24];
  }
  for (; n > 0; --n) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

}  // namespace crdtdb
