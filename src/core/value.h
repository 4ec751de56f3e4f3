// Column values: JSON (null, booleans, finite numbers, strings, arrays, objects) held as their
// canonical binary encoding. The engine never builds a value tree: row state, indexes, the op
// log, the wire and the boundary records all hold these bytes, so a value costs about its
// encoded size wherever it lives and moves by memcpy.
//
// Encoding (one meaning per byte string, one byte string per value):
//   0x00 null · 0x01 false · 0x02 true
//   0x80..0xff  integer tag - 0xc0, i.e. -64..63
//   0x03 varint zigzag   any other integer within ±2^53
//   0x04 8 bytes LE      a double that is not an integer within ±2^53 (finite; never -0)
//   0x40..0x7f           string of tag - 0x40 bytes (0..63), UTF-8
//   0x05 varint n bytes  string of n >= 64 bytes
//   0x06 varint n, n values                     array
//   0x07 varint n, n × (varint len, key bytes, value)   object, keys strictly ascending bytewise
//   0x08 varint n, n values                     the read value of an add-wins set column
//                                               (merge/add_wins_set.h): top level of a column
//                                               cell only, never in input, ops or messages;
//                                               it reads as an array everywhere
// Numbers follow JavaScript: integral doubles within ±2^53 are integers, -0 is 0.
//
// Limits, checked while decoding and before anything is allocated: nesting depth (a column
// value may nest kMaxValueDepth levels below itself), string bytes, element counts (each
// element takes at least one byte, so no count can exceed the bytes left).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace crdtdb {

inline constexpr int kMaxValueDepth = 64;
inline constexpr std::size_t kMaxStringBytes = std::size_t{1} << 28;
inline constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53

enum class ValueType : std::uint8_t { Null, False, True, Int, Double, String, Array, Object };

namespace tag {
inline constexpr std::uint8_t kNull = 0x00, kFalse = 0x01, kTrue = 0x02, kInt = 0x03,
                              kDouble = 0x04, kString = 0x05, kArray = 0x06, kObject = 0x07,
                              kSet = 0x08, kShortString = 0x40, kSmallInt = 0x80;
}

// A view of one canonical encoded value.
using ValueRef = std::span<const std::uint8_t>;

ValueType typeOf(ValueRef v);  // a set value is an Array
// Whether `v` is a set column's value (tag kSet) rather than a plain one.
inline bool isSetValue(ValueRef v) { return !v.empty() && v[0] == tag::kSet; }
inline bool isNumber(ValueRef v) {
  const ValueType t = typeOf(v);
  return t == ValueType::Int || t == ValueType::Double;
}
// For Int and Double values.
double numberOf(ValueRef v);
// For String values: the UTF-8 bytes.
std::string_view stringOf(ValueRef v);

// What scanValue learned about a value while checking it.
struct ValueScan {
  std::size_t size = 0;    // bytes of the encoding
  bool hasObject = false;  // contains an object (whose keys a converter may need to sort)
  int depth = 0;           // levels of containers below the value (a scalar: 0)
};
// The deepest a set element may nest: its set's read value holds it one level down.
inline constexpr int kMaxSetElementDepth = kMaxValueDepth - 1;

// Checks one canonical value at the reader's position and advances past it; throws
// DecodeError naming what is wrong. No allocation, no recursion.
ValueScan scanValue(ByteReader& r);
// As scanValue, but object keys may come in any order (duplicates still rejected later by
// canonicalizeValue). For values built outside the engine (the JS boundary).
ValueScan scanValueLoose(ByteReader& r);

// Appends the canonical form of a loosely encoded value (object keys in any order) to `out`;
// throws DecodeError on malformed input or a duplicate object key.
void canonicalizeValue(ValueRef loose, ByteWriter& out);

// Encoders for code that builds values (bindings, tests).
void writeNull(ByteWriter& w);
void writeBool(ByteWriter& w, bool b);
void writeNumber(ByteWriter& w, double d);     // canonical; d must be finite
void writeInt(ByteWriter& w, std::int64_t i);  // |i| <= 2^53
void writeString(ByteWriter& w, std::string_view utf8);
// The head of a string value of `bytes` UTF-8 bytes, which the caller appends.
void writeStringHeader(ByteWriter& w, std::size_t bytes);
void writeArrayHeader(ByteWriter& w, std::size_t n);
void writeObjectHeader(ByteWriter& w, std::size_t n);  // then n × (writeKey, value)
void writeKey(ByteWriter& w, std::string_view utf8);

// JSON text of a value (tests, diagnostics). Object keys in encoded (byte) order.
std::string toJson(ValueRef v);

}  // namespace crdtdb
