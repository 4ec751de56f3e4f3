#include "store/key_codec.h"

#include <cmath>

#include "core/bit_cast.h"
#include "core/errors.h"

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
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    int len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : 4;
    cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
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

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

std::uint8_t byteAt(std::string_view b, std::size_t pos) {
  if (pos >= b.size()) throw Error(ErrorCode::Internal, "truncated index key");
  return static_cast<std::uint8_t>(b[pos]);
}

}  // namespace

void appendStringKey(std::string& out, std::string_view utf8) {
  out.push_back(kString);
  appendUtf16Units(out, utf8);
  out.push_back(kEnd);
}

bool appendKey(std::string& out, const Value& v) {
  if (v.is_number()) {
    double d = v.get<double>();
    if (!std::isfinite(d)) return false;
    if (d == 0) d = 0;  // -0 and 0 are the same key
    auto bits = bitCast<std::uint64_t>(d);
    bits = (bits & (1ull << 63)) ? ~bits : bits | (1ull << 63);
    out.push_back(kNumber);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(bits >> (8 * i)));
    return true;
  }
  if (v.is_string()) {
    appendStringKey(out, v.get_ref<const std::string&>());
    return true;
  }
  if (v.is_array()) {
    out.push_back(kArray);
    for (const auto& e : v) {
      if (!appendKey(out, e)) return false;
    }
    out.push_back(kEnd);
    return true;
  }
  return false;
}

std::optional<std::string> encodeKey(const Value& v) {
  std::string out;
  if (!appendKey(out, v)) return std::nullopt;
  return out;
}

std::string stringPrefixKey(std::string_view utf8) {
  std::string out(1, kString);
  appendUtf16Units(out, utf8);
  return out;
}

std::optional<std::string> arrayPrefixKey(const Value& prefix) {
  if (!prefix.is_array()) return std::nullopt;
  std::string out(1, kArray);
  for (const auto& e : prefix) {
    if (!appendKey(out, e)) return std::nullopt;
  }
  return out;
}

Value decodeKey(std::string_view b, std::size_t& pos) {
  std::uint8_t tag = byteAt(b, pos++);
  if (tag == static_cast<std::uint8_t>(kNumber)) {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | byteAt(b, pos++);
    bits = (bits & (1ull << 63)) ? bits & ~(1ull << 63) : ~bits;
    double d = bitCast<double>(bits);
    Value v(d);
    canonicalizeValue(v, "key");
    return v;
  }
  if (tag == static_cast<std::uint8_t>(kString)) {
    std::string s;
    std::uint32_t pendingHigh = 0;
    for (;;) {
      std::uint8_t c = byteAt(b, pos++);
      if (c == 0) break;
      std::uint32_t unit;
      if (c < 0x80) {
        unit = c - 1u;
      } else if (c < 0xc0) {
        unit = (((c & 0x3fu) << 8) | byteAt(b, pos++)) + 0x7f;
      } else {
        unit = (static_cast<std::uint32_t>(byteAt(b, pos)) << 8) | byteAt(b, pos + 1);
        pos += 2;
      }
      if (unit >= 0xd800 && unit < 0xdc00) {
        pendingHigh = unit;
        continue;
      }
      if (unit >= 0xdc00 && unit < 0xe000 && pendingHigh) {
        appendUtf8(s, 0x10000 + ((pendingHigh - 0xd800) << 10) + (unit - 0xdc00));
        pendingHigh = 0;
        continue;
      }
      appendUtf8(s, unit);
    }
    return Value(s);
  }
  if (tag == static_cast<std::uint8_t>(kArray)) {
    Value a = Value::array();
    while (byteAt(b, pos) != 0) a.push_back(decodeKey(b, pos));
    ++pos;
    return a;
  }
  throw Error(ErrorCode::Internal, "bad index key tag");
}

}  // namespace crdtdb
