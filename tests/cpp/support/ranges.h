// Test convenience: key ranges written as JSON ({"type":"between","lower":1,"upper":5,...}, the
// shapes of the JS API), encoded in the boundary's binary range shape (bindings/convert.h) and
// turned into a KeyRange by the boundary's own decoder, plus key encodings of JSON keys.
#pragma once

#include <optional>
#include <string>

#include "convert.h"
#include "store/index_set.h"
#include "store/key_codec.h"
#include "support/values.h"

namespace crdtdb::testing {

// The binary range shape of a JSON range.
inline Bytes rangeBytes(const Json& r) {
  ByteWriter w;
  const std::string t = r.at("type");
  auto v = [&](const char* field) { writeJson(w, r.at(field)); };
  if (t == "all") {
    w.u8(0);
  } else if (t == "equals") {
    w.u8(1);
    v("value");
  } else if (t == "above") {
    w.u8(2);
    v("value");
  } else if (t == "aboveOrEqual") {
    w.u8(3);
    v("value");
  } else if (t == "below") {
    w.u8(4);
    v("value");
  } else if (t == "belowOrEqual") {
    w.u8(5);
    v("value");
  } else if (t == "between") {
    w.u8(6);
    w.u8(static_cast<std::uint8_t>((r.value("includeLower", true) ? 1 : 0) |
                                   (r.value("includeUpper", false) ? 2 : 0)));
    v("lower");
    v("upper");
  } else if (t == "startsWith") {
    w.u8(7);
    v("prefix");
  } else if (t == "anyOf") {
    w.u8(8);
    w.varint(r.at("values").size());
    for (const Json& x : r.at("values")) writeJson(w, x);
  } else {
    w.u8(0xee);  // an unknown type: the decoder must refuse it
  }
  return w.take();
}

// The KeyRange the boundary decodes from a JSON range (throws what decodeRange throws).
inline KeyRange rangeOf(const Json& r) {
  const Bytes b = rangeBytes(r);
  ByteReader reader(b);
  KeyRange k = boundary::decodeRange(reader);
  if (!reader.atEnd()) throw std::logic_error("range bytes not fully read");
  return k;
}

// The key encoding of a JSON key, or nullopt when it is not a key.
inline std::optional<std::string> keyOf(const Json& k) {
  std::string out;
  if (!appendKey(out, enc(k))) return std::nullopt;
  return out;
}

}  // namespace crdtdb::testing
