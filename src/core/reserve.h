// "Reserve, then mutate" is how the engine keeps the strong guarantee (an allocation failure
// happens before anything changes). reserve(size + 1) would defeat geometric growth (libc++
// then allocates exactly that, making n appends O(n^2)); reserveMore keeps it.
#pragma once

#include <algorithm>
#include <cstddef>

namespace crdtdb {

template <typename V>
void reserveMore(V& v, std::size_t extra) {
  const std::size_t need = v.size() + extra;
  if (need > v.capacity()) v.reserve(std::max(need, v.capacity() + v.capacity() / 2 + 8));
}

// Empties a call-scoped journal or scratch list, and frees its storage when a large call left
// it big: merging a whole history must not keep its undo log's capacity for the replica's
// life. Small ones keep theirs (no allocation per keystroke-sized call).
template <typename V>
void clearScratch(V& v) noexcept {
  constexpr std::size_t kKeep = 4096;  // elements
  if (v.capacity() > kKeep) {
    V().swap(v);
  } else {
    v.clear();
  }
}

}  // namespace crdtdb
