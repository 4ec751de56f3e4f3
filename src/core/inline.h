// Hot helpers the WASM build must inline even though it builds with a low inlining
// threshold (for size): CRDTDB_INLINE forces it (clang and GCC).
#pragma once

#include <cstring>
#include <string_view>

#define CRDTDB_INLINE __attribute__((always_inline)) inline

namespace crdtdb {

// Bytewise a < b, without a call per comparison.
CRDTDB_INLINE bool bytesLess(std::string_view a, std::string_view b) {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  const int c = n ? std::memcmp(a.data(), b.data(), n) : 0;
  return c < 0 || (c == 0 && a.size() < b.size());
}

}  // namespace crdtdb
