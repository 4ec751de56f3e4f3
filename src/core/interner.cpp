#include "core/interner.h"

#include "core/hash.h"

namespace crdtdb {

std::size_t Interner::slotOf(std::string_view s) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hashBytes(s, seed_) & mask;
  while (slots_[i] != 0 && names_[slots_[i] - 1] != s) i = (i + 1) & mask;
  return i;
}

std::optional<std::uint32_t> Interner::find(std::string_view s) const {
  if (slots_.empty()) return std::nullopt;
  std::size_t i = slotOf(s);
  if (slots_[i] == 0) return std::nullopt;
  return slots_[i] - 1;
}

void Interner::grow() {
  std::vector<std::uint32_t> next(slots_.empty() ? 16 : slots_.size() * 2, 0);
  slots_.swap(next);
  const std::size_t mask = slots_.size() - 1;
  for (std::uint32_t id = 0; id < names_.size(); ++id) {
    std::size_t i = hashBytes(names_[id], seed_) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = id + 1;
  }
}

std::uint32_t Interner::intern(std::string_view s) {
  if (auto id = find(s)) return *id;
  if ((names_.size() + 1) * 4 > slots_.size() * 3) grow();  // load <= 3/4; layout only
  names_.emplace_back(s);                                   // strong guarantee
  const auto id = static_cast<std::uint32_t>(names_.size() - 1);
  slots_[slotOf(s)] = id + 1;
  return id;
}

void Interner::truncate(std::uint32_t n) {
  const std::size_t mask = slots_.size() - 1;
  while (names_.size() > n) {
    // Backward-shift deletion keeps every probe chain intact without tombstones.
    std::size_t i = slotOf(names_.back());
    slots_[i] = 0;
    for (std::size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
      std::size_t home = hashBytes(names_[slots_[j] - 1], seed_) & mask;
      // Move slots_[j] into the hole when its home is not in (i, j] cyclically.
      bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!between) {
        slots_[i] = slots_[j];
        slots_[j] = 0;
        i = j;
      }
    }
    names_.pop_back();
  }
}

}  // namespace crdtdb
