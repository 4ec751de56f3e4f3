#include "merge/add_wins_set.h"

#include <vector>

#include "oplog/chunk_codec.h"
#include "store/key_codec.h"

namespace crdtdb {

std::string setOrderKey(ValueRef element) {
  std::string key(1, '\0');
  if (appendKey(key, element)) return key;
  key.assign(1, '\1');
  key += toJson(element);
  return key;
}

void writeSetValue(const SetState& state, ByteWriter& out) {
  out.u8(tag::kSet);
  out.varint(state.elements.size());
  for (const auto& entry : state.elements) out.raw(entry.second.value);
}

void writeSetValueWith(ValueRef set, ValueRef element, bool add, ByteWriter& out) {
  ByteReader r(set);
  r.u8();
  const std::uint64_t n = r.varint();
  std::vector<ValueRef> items;
  items.reserve(static_cast<std::size_t>(n) + 1);
  ByteSpan rest = r.rest();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::size_t size = validValueSize(rest);
    items.push_back(rest.first(size));
    rest = rest.subspan(size);
  }
  // Binary search: an order key per probe, not per element.
  const std::string key = setOrderKey(element);
  std::size_t at = 0, hi = items.size();
  while (at < hi) {
    const std::size_t mid = (at + hi) / 2;
    if (setOrderKey(items[mid]) < key) {
      at = mid + 1;
    } else {
      hi = mid;
    }
  }
  const bool found = at < items.size() && setOrderKey(items[at]) == key;
  if (add && !found) items.insert(items.begin() + static_cast<std::ptrdiff_t>(at), element);
  if (!add && found) items.erase(items.begin() + static_cast<std::ptrdiff_t>(at));
  out.u8(tag::kSet);
  out.varint(items.size());
  for (ValueRef v : items) out.raw(v);
}

const char* typeNameOf(ValueRef v) {
  if (isSetValue(v)) return "a set";
  switch (typeOf(v)) {
    case ValueType::Null:
      return "null";
    case ValueType::False:
    case ValueType::True:
      return "a boolean";
    case ValueType::Int:
    case ValueType::Double:
      return "a number";
    case ValueType::String:
      return "a string";
    case ValueType::Array:
      return "an array";
    case ValueType::Object:
      return "an object";
  }
  return "a value";
}

}  // namespace crdtdb
