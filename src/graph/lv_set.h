// An open-addressing set of LVs (the graph's frontier). Inserting or erasing never allocates
// once reserveOne() made room, and capacity never shrinks, so an erase can always be undone
// without allocating (what the graph's rollback needs).
// Invariants: linear probing over a power-of-two table, load <= 1/2; kEmpty marks free slots.
#pragma once

#include <cstdint>
#include <vector>

#include "core/ids.h"

namespace crdtdb {

class LVSet {
 public:
  bool contains(LV v) const {
    if (slots_.empty()) return false;
    for (std::size_t i = home(v);; i = (i + 1) & mask()) {
      if (slots_[i] == v) return true;
      if (slots_[i] == kEmpty) return false;
    }
  }
  // Makes room for one more element (may allocate; changes no content).
  void reserveOne() {
    if ((size_ + 1) * 2 <= slots_.size()) return;
    std::vector<LV> old(slots_.empty() ? 8 : slots_.size() * 2, kEmpty);
    old.swap(slots_);
    for (LV v : old) {
      if (v != kEmpty) place(v);
    }
  }
  bool insert(LV v) noexcept {
    if (contains(v)) return false;
    place(v);
    ++size_;
    return true;
  }
  bool erase(LV v) noexcept {
    if (slots_.empty()) return false;
    std::size_t i = home(v);
    for (;; i = (i + 1) & mask()) {
      if (slots_[i] == kEmpty) return false;
      if (slots_[i] == v) break;
    }
    slots_[i] = kEmpty;
    // Backward shift keeps every probe chain intact without tombstones.
    for (std::size_t j = (i + 1) & mask(); slots_[j] != kEmpty; j = (j + 1) & mask()) {
      std::size_t h = home(slots_[j]);
      bool between = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (!between) {
        slots_[i] = slots_[j];
        slots_[j] = kEmpty;
        i = j;
      }
    }
    --size_;
    return true;
  }
  std::size_t size() const { return size_; }
  template <typename F>
  void forEach(F&& f) const {
    for (LV v : slots_) {
      if (v != kEmpty) f(v);
    }
  }

 private:
  static constexpr LV kEmpty = 0xffffffffu;
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t home(LV v) const {
    return (static_cast<std::uint32_t>(v * 0x9e3779b1u) >> 7) & mask();
  }
  void place(LV v) noexcept {
    std::size_t i = home(v);
    while (slots_[i] != kEmpty) i = (i + 1) & mask();
    slots_[i] = v;
  }
  std::vector<LV> slots_;
  std::size_t size_ = 0;
};

}  // namespace crdtdb
