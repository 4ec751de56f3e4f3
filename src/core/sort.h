// One small sort for the engine: insertion sort for short ranges, heapsort beyond (O(n log n)
// whatever the input, no recursion). std::sort instantiates several kilobytes of code per
// element type and comparator, which the WASM download pays for every call site; most of the
// engine's sorts are short or already sorted (checked first).
#pragma once

#include <cstddef>
#include <utility>

namespace crdtdb {

template <typename It, typename Less>
void sortRange(It first, It last, Less less) {
  const std::ptrdiff_t n = last - first;
  if (n < 2) return;
  bool sorted = true;
  for (std::ptrdiff_t i = 1; i < n && sorted; ++i) sorted = !less(first[i], first[i - 1]);
  if (sorted) return;
  if (n <= 16) {
    for (std::ptrdiff_t i = 1; i < n; ++i) {
      for (std::ptrdiff_t j = i; j > 0 && less(first[j], first[j - 1]); --j) {
        std::swap(first[j], first[j - 1]);
      }
    }
    return;
  }
  auto siftDown = [&](std::ptrdiff_t root, std::ptrdiff_t end) {
    for (;;) {
      std::ptrdiff_t child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && less(first[child], first[child + 1])) ++child;
      if (!less(first[root], first[child])) return;
      std::swap(first[root], first[child]);
      root = child;
    }
  };
  for (std::ptrdiff_t i = n / 2; i-- > 0;) siftDown(i, n);
  for (std::ptrdiff_t end = n - 1; end > 0; --end) {
    std::swap(first[0], first[end]);
    siftDown(0, end);
  }
}

template <typename It>
void sortRange(It first, It last) {
  sortRange(first, last, [](const auto& a, const auto& b) { return a < b; });
}

}  // namespace crdtdb
