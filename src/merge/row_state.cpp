#include "merge/row_state.h"

#include <new>

namespace crdtdb {

Cell::Cell(NameId column, LV lv, std::span<const ValueRef> parts, std::size_t capacity)
    : bits_(column | kLiveBit), lv_(lv) {
  std::size_t size = 0;
  for (const ValueRef& p : parts) size += p.size();
  std::uint8_t* out = raw_;
  if (capacity > 0) {
    capacity = std::min<std::size_t>(std::max(capacity, size), UINT32_MAX);
    auto* b = static_cast<std::uint8_t*>(::operator new(8 + capacity));
    const auto len = static_cast<std::uint32_t>(size);
    const auto cap = static_cast<std::uint32_t>(capacity);
    std::memcpy(b, &len, 4);
    std::memcpy(b + 4, &cap, 4);
    std::memcpy(raw_, &b, sizeof b);
    bits_ |= kHeapBit | kGrowBit;
    out = b + 8;
  } else if (size <= 8) {
    bits_ |= static_cast<std::uint32_t>(size) << kLenShift;
  } else {
    auto* b = static_cast<std::uint8_t*>(::operator new(4 + size));
    auto len = static_cast<std::uint32_t>(size);
    std::memcpy(b, &len, 4);
    std::memcpy(raw_, &b, sizeof b);
    bits_ |= kHeapBit;
    out = b + 4;
  }
  for (const ValueRef& p : parts) {
    if (!p.empty()) std::memcpy(out, p.data(), p.size());  // (memcpy of null is undefined)
    out += p.size();
  }
}

void Cell::release() noexcept {
  if (bits_ & kHeapBit) ::operator delete(block());
  bits_ = 0;
}

ValueRef Cell::value() const {
  if (bits_ & kHeapBit) {
    const std::uint8_t* b = block();
    std::uint32_t len;
    std::memcpy(&len, b, 4);
    return {b + ((bits_ & kGrowBit) ? 8 : 4), len};
  }
  return {raw_, (bits_ >> kLenShift) & kLenMask};
}

std::size_t Cell::capacity() const {
  if ((bits_ & (kHeapBit | kGrowBit)) != (kHeapBit | kGrowBit)) return 0;
  std::uint32_t cap;
  std::memcpy(&cap, block() + 4, 4);
  return cap;
}

std::size_t Cell::heapBytes() const {
  if (!(bits_ & kHeapBit)) return 0;
  return (bits_ & kGrowBit) ? 8 + capacity() : 4 + value().size();
}

void Cell::replaceBytes(std::size_t at, std::size_t removed, ValueRef inserted) noexcept {
  std::uint8_t* b = block();
  std::uint32_t len;
  std::memcpy(&len, b, 4);
  std::uint8_t* data = b + 8;
  if (removed != inserted.size()) {
    std::memmove(data + at + inserted.size(), data + at + removed, len - at - removed);
  }
  if (!inserted.empty()) std::memcpy(data + at, inserted.data(), inserted.size());
  len = static_cast<std::uint32_t>(len - removed + inserted.size());
  std::memcpy(b, &len, 4);
}

}  // namespace crdtdb
