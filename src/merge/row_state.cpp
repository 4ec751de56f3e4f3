#include "merge/row_state.h"

#include <new>

namespace crdtdb {

Cell::Cell(NameId column, LV lv, std::span<const ValueRef> parts)
    : bits_(column | kLiveBit), lv_(lv) {
  std::size_t size = 0;
  for (const ValueRef& p : parts) size += p.size();
  std::uint8_t* out = raw_;
  if (size <= 8) {
    bits_ |= static_cast<std::uint32_t>(size) << kLenShift;
  } else {
    auto* block = static_cast<std::uint8_t*>(::operator new(4 + size));
    auto len = static_cast<std::uint32_t>(size);
    std::memcpy(block, &len, 4);
    std::memcpy(raw_, &block, sizeof block);
    bits_ |= kHeapBit;
    out = block + 4;
  }
  for (const ValueRef& p : parts) {
    if (!p.empty()) std::memcpy(out, p.data(), p.size());  // (memcpy of null is undefined)
    out += p.size();
  }
}

void Cell::release() noexcept {
  if (bits_ & kHeapBit) {
    std::uint8_t* block;
    std::memcpy(&block, raw_, sizeof block);
    ::operator delete(block);
  }
  bits_ = 0;
}

ValueRef Cell::value() const {
  if (bits_ & kHeapBit) {
    const std::uint8_t* block;
    std::memcpy(&block, raw_, sizeof block);
    std::uint32_t len;
    std::memcpy(&len, block, 4);
    return {block + 4, len};
  }
  return {raw_, (bits_ >> kLenShift) & kLenMask};
}

std::size_t Cell::heapBytes() const { return (bits_ & kHeapBit) ? 4 + value().size() : 0; }

}  // namespace crdtdb
