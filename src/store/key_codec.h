// Order-preserving byte encoding of IndexedDB keys, so index entries compare with memcmp.
//
// Order (as IndexedDB): numbers < strings < arrays; numbers numerically (-0 == 0), strings by
// UTF-16 code units (as JavaScript compares them), arrays element by element, a prefix first.
//   number: 0x10, 8 bytes big-endian of the double with the sign bit flipped (negatives:
//           all bits flipped)
//   string: 0x20, each UTF-16 code unit in 1-3 bytes (prefix-free, order-preserving), 0x00
//   array:  0x30, each element's encoding, 0x00
// Every encoding is self-delimiting, so an index entry is simply key ‖ encoded row key, and
// ties between equal keys are broken by row key. Values that are not keys (booleans, null,
// objects, arrays containing those) have no encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/value.h"

namespace crdtdb {

// Appends the key encoding of a canonical value; false (out unspecified) when it is not a key.
bool appendKey(std::string& out, ValueRef v);
void appendStringKey(std::string& out, std::string_view utf8);  // a string key (no checks)
// The encoding of a string without its terminator: every string starting with `prefix`
// encodes to bytes starting with this.
std::string stringPrefixKey(std::string_view utf8);
// The encoding of an array without its terminator (every array starting with the elements of
// `prefix`, itself an array value, encodes to bytes starting with this); nullopt if not a key.
std::optional<std::string> arrayPrefixKey(ValueRef prefix);
// Length of the self-delimiting key at the start of `entry`.
std::size_t keyLength(std::string_view entry);

}  // namespace crdtdb
