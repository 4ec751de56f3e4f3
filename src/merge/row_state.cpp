#include "merge/row_state.h"

#include <new>

namespace crdtdb {

Cell::Cell(NameId column, LV lv, ValueRef value) : bits_(column | kLiveBit), lv_(lv) {
  if (value.size() <= 8) {
    bits_ |= static_cast<std::uint32_t>(value.size()) << kLenShift;
    std::memcpy(raw_, value.data(), value.size());
  } else {
    auto* block = static_cast<std::uint8_t*>(::operator new(4 + value.size()));
    auto len = static_cast<std::uint32_t>(value.size());
    std::memcpy(block, &len, 4);
    std::memcpy(block + 4, value.data(), value.size());
    std::memcpy(raw_, &block, sizeof block);
    bits_ |= kHeapBit;
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
