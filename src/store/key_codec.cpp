#include "store/key_codec.h"

#include <cmath>

#include "core/bit_cast.h"
#include "oplog/chunk_codec.h"

namespace crdtdb {

namespace {

constexpr char kNumber = 0x10, kString = 0x20, kArray = 0x30, kEnd = 0x00;

void appendCodeUnit(std::string& out, std::uint32_t c) {
  if (c < 0x7f) {
    out.push_back(static_cast<char>(c + 1));
  } else if (c < 0x7f + 0x4000) {
    std::uint32_t d = c - 0x7f;
    out.push_back(static_cast<char>(0x80 | (d >> 8)));
    out.push_back(static_cast<char>(d & 0xff));
  } else {
    out.push_back(static_cast<char>(0xc0));
    out.push_back(static_cast<char>(c >> 8));
    out.push_back(static_cast<char>(c & 0xff));
  }
}

// UTF-8 (already validated) to UTF-16 code units, each appended in key form.
void appendUtf16Units(std::string& out, std::string_view s) {
  // ASCII prefix (below U+007F) in one pass (most keys): each byte b becomes b + 1.
  std::size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x7f) ++i;
  const std::size_t at = out.size();
  out.resize(at + i);
  for (std::size_t k = 0; k < i; ++k) out[at + k] = static_cast<char>(s[k] + 1);
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      appendCodeUnit(out, b);  // U+007F takes the two-byte form: 0x80 is that form's lead byte
      ++i;
      continue;
    }
    int len = (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : 4;
    std::uint32_t cp = len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
    for (int k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    i += static_cast<std::size_t>(len);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      appendCodeUnit(out, 0xd800 + (cp >> 10));
      appendCodeUnit(out, 0xdc00 + (cp & 0x3ff));
    } else {
      appendCodeUnit(out, cp);
    }
  }
}

void appendNumberKey(std::string& out, double d) {
  if (d == 0) d = 0;  // -0 and 0 are the same key
  auto bits = bitCast<std::uint64_t>(d);
  bits = (bits & (1ull << 63)) ? ~bits : bits | (1ull << 63);
  char buf[9];
  buf[0] = kNumber;
  for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (8 * (7 - i)));
  out.append(buf, 9);
}

// Appends the elements of an array value (without the array's own markers).
bool appendElements(std::string& out, ValueRef array) {
  const std::uint8_t* p = array.data() + 1;
  std::uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    std::uint8_t b = *p++;
    n |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  ByteSpan rest(p, array.data() + array.size() - p);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::size_t size = validValueSize(rest);
    if (!appendKey(out, rest.first(size))) return false;  // depth <= 64: bounded recursion
    rest = rest.subspan(size);
  }
  return true;
}

}  // namespace

void appendStringKey(std::string& out, std::string_view utf8) {
  out.reserve(out.size() + utf8.size() + 2);
  out.push_back(kString);
  appendUtf16Units(out, utf8);
  out.push_back(kEnd);
}

bool appendKey(std::string& out, ValueRef v) {
  switch (typeOf(v)) {
    case ValueType::Int:
    case ValueType::Double:
      appendNumberKey(out, numberOf(v));
      return true;
    case ValueType::String:
      appendStringKey(out, stringOf(v));
      return true;
    case ValueType::Array:
      out.push_back(kArray);
      if (!appendElements(out, v)) return false;
      out.push_back(kEnd);
      return true;
    default:
      return false;
  }
}

std::string stringPrefixKey(std::string_view utf8) {
  std::string out(1, kString);
  appendUtf16Units(out, utf8);
  return out;
}

std::optional<std::string> arrayPrefixKey(ValueRef prefix) {
  if (typeOf(prefix) != ValueType::Array) return std::nullopt;
  std::string out(1, kArray);
  if (!appendElements(out, prefix)) return std::nullopt;
  return out;
}

std::size_t keyLength(std::string_view e) {
  std::size_t pos = 0;
  std::size_t depth = 0;
  do {
    const auto t = static_cast<std::uint8_t>(e[pos++]);
    if (t == static_cast<std::uint8_t>(kNumber)) {
      pos += 8;
    } else if (t == static_cast<std::uint8_t>(kString)) {
      for (;;) {
        auto c = static_cast<std::uint8_t>(e[pos]);
        if (c == 0) {
          ++pos;
          break;
        }
        pos += c < 0x80 ? 1 : c < 0xc0 ? 2 : 3;
      }
    } else if (t == static_cast<std::uint8_t>(kArray)) {
      ++depth;
      continue;
    } else {  // kEnd of an array
      --depth;
    }
    // After a number or string inside an array, the loop goes on to the next element.
  } while (depth > 0);
  return pos;
}

}  // namespace crdtdb
