// IndexedDB key comparison written directly from the spec's rules: the reference the key
// codec and index queries are tested against.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

namespace crdtdb::testing {

inline std::u16string utf16(const std::string& s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : 4;
    std::uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += static_cast<std::size_t>(len);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

using Key = nlohmann::json;

inline int typeRank(const Key& v) { return v.is_number() ? 0 : v.is_string() ? 1 : 2; }

// a, b: numbers, strings or arrays of those (IndexedDB keys).
inline int idbCompare(const Key& a, const Key& b) {
  if (typeRank(a) != typeRank(b)) return typeRank(a) < typeRank(b) ? -1 : 1;
  if (a.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string()) {
    auto x = utf16(a.get<std::string>()), y = utf16(b.get<std::string>());
    return x < y ? -1 : x > y ? 1 : 0;
  }
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    int c = idbCompare(a[i], b[i]);
    if (c != 0) return c;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

}  // namespace crdtdb::testing
