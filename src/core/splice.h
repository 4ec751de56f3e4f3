// The one splice that turns a UTF-8 string into another: keep their common prefix and
// suffix (whole code points), replace the middle. Change records send it instead of a long
// string (an edit of a long text then costs what the edit does, not what the text does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace crdtdb {

struct Splice {
  std::uint64_t pos = 0;      // UTF-16 code units of `before` kept in front
  std::uint64_t removed = 0;  // ... and removed after them
  std::size_t from = 0;       // the inserted part: bytes [from, to) of `after`
  std::size_t to = 0;
};

// Both strings must be well-formed UTF-8 (engine values are).
Splice spliceBetween(std::string_view before, std::string_view after);

// UTF-16 code units of well-formed UTF-8 bytes.
std::uint64_t utf16Length(std::string_view utf8);

// The length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
inline std::size_t utf8SequenceLength(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 0;
}

// Moves (units, bytes), a code point boundary of well-formed UTF-8 `utf8` (bytes in front,
// UTF-16 units they hold), forward or back to UTF-16 offset `target`: work in the distance,
// eight ASCII bytes a step. False when `target` is past the end or between the two units of
// a 4-byte sequence's surrogate pair (then (units, bytes) is some boundary on the way).
bool seekUtf16(std::string_view utf8, std::uint64_t target, std::uint64_t& units,
               std::size_t& bytes);

}  // namespace crdtdb
