// A fast non-cryptographic hash for the engine's open-addressing tables (names, peers, rows).
// Inputs are attacker-chosen strings, so tables must not degrade on collisions: every table
// using this keeps its load factor bounded and compares full keys.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace crdtdb {

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

inline std::uint64_t hashBytes(std::string_view s, std::uint64_t seed = 0x9e3779b97f4a7c15ull) {
  std::uint64_t h = seed ^ (static_cast<std::uint64_t>(s.size()) * 0xff51afd7ed558ccdull);
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix64(h ^ w) + i;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  return mix64(h ^ tail ^ (static_cast<std::uint64_t>(s.size()) << 56));
}

}  // namespace crdtdb
