// std::bit_cast stand-in: Emscripten 3.1.6's libc++ lacks <bit>'s bit_cast.
#pragma once

#include <cstring>
#include <type_traits>

namespace crdtdb {

template <typename To, typename From>
To bitCast(const From& from) {
  static_assert(sizeof(To) == sizeof(From) && std::is_trivially_copyable_v<From> &&
                std::is_trivially_copyable_v<To>);
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

}  // namespace crdtdb
