// Column values: JSON values (null, booleans, finite numbers, strings, arrays, objects) held
// as nlohmann::json, and their compact tagged binary encoding. Numbers follow JavaScript:
// every number is a double; integral values within ±2^53 are encoded as zigzag varints,
// the rest as IEEE-754 doubles, so each value has exactly one encoding.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/bytes.h"

namespace crdtdb {

using Value = nlohmann::json;

inline constexpr int kMaxValueDepth = 64;

// Validates `v` in place and rewrites it to its canonical form (integral doubles within ±2^53
// become integers), so a value held locally equals what every peer decodes from its encoding.
// Throws Error(Type) naming the column path when `v` is not storable (NaN, too deep, ...).
void canonicalizeValue(Value& v, const std::string& path);

void encodeValue(ByteWriter& w, const Value& v);
Value decodeValue(ByteReader& r);  // throws DecodeError on anything non-canonical

}  // namespace crdtdb
