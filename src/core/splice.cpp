#include "core/splice.h"

#include <algorithm>
#include <cstring>

namespace crdtdb {

namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// Bytes the two share in front, a word at a time (texts are long; edits are small).
std::size_t commonPrefix(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) break;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Bytes the two share at the end, within the last `limit` of each.
std::size_t commonSuffix(std::string_view a, std::string_view b, std::size_t limit) {
  const char* ea = a.data() + a.size();
  const char* eb = b.data() + b.size();
  std::size_t i = 0;
  for (; i + 8 <= limit; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, ea - i - 8, 8);
    std::memcpy(&y, eb - i - 8, 8);
    if (x != y) break;
  }
  while (i < limit &&
         ea[-1 - static_cast<std::ptrdiff_t>(i)] == eb[-1 - static_cast<std::ptrdiff_t>(i)])
    ++i;
  return i;
}

constexpr std::uint64_t kHigh = 0x8080808080808080ULL;  // bit 7 of each byte

// Eight bytes at `p` (unaligned).
std::uint64_t word(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

// How many bytes of a mask with only bit 7 of each byte used have it set (no popcount
// instruction needed).
std::uint64_t bytesSet(std::uint64_t mask) { return ((mask >> 7) * 0x0101010101010101ULL) >> 56; }

}  // namespace

std::uint64_t utf16Length(std::string_view utf8) {
  // A code point is one unit, two from U+10000 (a 4-byte sequence): count the bytes that are
  // not continuations (10xxxxxx) and the 4-byte leads (11110xxx), eight bytes at a time.
  std::uint64_t units = 0;
  std::size_t i = 0;
  for (; i + 8 <= utf8.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, utf8.data() + i, 8);
    const std::uint64_t continuation = x & ~(x << 1) & kHigh;  // bit 7 set, bit 6 clear
    const std::uint64_t lead4 = x & (x << 1) & (x << 2) & (x << 3) & kHigh;  // 1111xxxx
    units += 8 - bytesSet(continuation) + bytesSet(lead4);
  }
  for (const char ch : utf8.substr(i)) {
    const auto b = static_cast<unsigned char>(ch);
    units += static_cast<std::uint64_t>((b & 0xc0) != 0x80) + static_cast<std::uint64_t>(b >= 0xf0);
  }
  return units;
}

Splice spliceBetween(std::string_view before, std::string_view after) {
  std::size_t p = commonPrefix(before, after);
  // Back to a code point boundary in both.
  while (p > 0 && ((p < before.size() && continuation(before[p])) ||
                   (p < after.size() && continuation(after[p])))) {
    --p;
  }
  std::size_t s = commonSuffix(before, after, std::min(before.size(), after.size()) - p);
  // The suffix starts at the same code point in both (its bytes are the same).
  while (s > 0 && continuation(before[before.size() - s])) --s;
  Splice out;
  out.pos = utf16Length(before.substr(0, p));
  out.removed = utf16Length(before.substr(p, before.size() - s - p));
  out.from = p;
  out.to = after.size() - s;
  return out;
}

bool seekUtf16(std::string_view utf8, std::uint64_t target, std::uint64_t& units,
               std::size_t& bytes) {
  while (units < target) {
    if (target - units >= 8 && utf8.size() - bytes >= 8 &&
        (word(utf8.data() + bytes) & kHigh) == 0) {
      units += 8, bytes += 8;
      continue;
    }
    if (bytes >= utf8.size()) return false;
    const std::size_t n = utf8SequenceLength(static_cast<std::uint8_t>(utf8[bytes]));
    const std::uint64_t step = n == 4 ? 2 : 1;
    if (target - units < step) return false;
    units += step, bytes += n;
  }
  while (units > target) {
    if (units - target >= 8 && bytes >= 8 && (word(utf8.data() + bytes - 8) & kHigh) == 0) {
      units -= 8, bytes -= 8;
      continue;
    }
    std::size_t n = 1;
    while (continuation(utf8[bytes - n])) ++n;
    const std::uint64_t step = n == 4 ? 2 : 1;
    if (units - target < step) return false;
    units -= step, bytes -= n;
  }
  return true;
}

}  // namespace crdtdb
