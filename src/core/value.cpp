#include "core/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/bit_cast.h"
#include "core/errors.h"
#include "core/sort.h"

namespace crdtdb {

namespace {

bool isSafeIntegral(double d) { return std::trunc(d) == d && std::fabs(d) <= kMaxSafeInteger; }

std::uint64_t readLE64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// Reads a varint from raw bytes known to hold a valid one (already scanned).
std::uint64_t rawVarint(const std::uint8_t*& p) {
  std::uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

std::string_view readKeyBytes(ByteReader& r) {
  std::uint64_t len = r.varint();
  if (len > kMaxStringBytes || len > r.remaining()) {
    throw DecodeError("object key length out of range");
  }
  ByteSpan s = r.raw(static_cast<std::size_t>(len));
  std::string_view key(reinterpret_cast<const char*>(s.data()), s.size());
  if (!isValidUtf8(key)) throw DecodeError("object key is not valid UTF-8");
  return key;
}

ValueScan scanImpl(ByteReader& r, bool strictKeyOrder) {
  // Trivial members only: the array stays uninitialized (a frame is written when opened).
  // With a std::string_view member every call zeroed all 64 frames, most of a scalar's cost.
  struct Frame {
    std::uint64_t left;
    bool object;
    bool hasPrev;
    const char* prevData;
    std::size_t prevSize;
  };
  Frame stack[kMaxValueDepth];
  int depth = 0;
  ValueScan out;
  const std::size_t start = r.position();
  for (;;) {
    if (depth > 0 && stack[depth - 1].object) {
      std::string_view key = readKeyBytes(r);
      Frame& f = stack[depth - 1];
      if (strictKeyOrder && f.hasPrev && !(std::string_view(f.prevData, f.prevSize) < key)) {
        throw DecodeError("object keys not strictly ascending");
      }
      f.prevData = key.data();
      f.prevSize = key.size();
      f.hasPrev = true;
    }
    const std::uint8_t t = r.u8();
    bool opened = false;
    if (t >= tag::kSmallInt || t <= tag::kTrue) {
      // null, booleans, small integers: the tag is the whole value
    } else if (t >= tag::kShortString) {
      ByteSpan s = r.raw(t - tag::kShortString);
      if (!isValidUtf8({reinterpret_cast<const char*>(s.data()), s.size()})) {
        throw DecodeError("string value is not valid UTF-8");
      }
    } else {
      switch (t) {
        case tag::kInt: {
          std::int64_t i = zigzagDecode(r.varint());
          if (i >= -64 && i <= 63) throw DecodeError("non-canonical small integer");
          if (i > (std::int64_t{1} << 53) || i < -(std::int64_t{1} << 53)) {
            throw DecodeError("integer value outside the safe range");
          }
          break;
        }
        case tag::kDouble: {
          double d = bitCast<double>(r.fixed64());
          if (!std::isfinite(d)) throw DecodeError("non-finite number value");
          if (isSafeIntegral(d)) throw DecodeError("non-canonical number encoding");
          break;
        }
        case tag::kString: {
          std::uint64_t len = r.varint();
          if (len < 64) throw DecodeError("non-canonical string length");
          if (len > kMaxStringBytes || len > r.remaining()) {
            throw DecodeError("string value length out of range");
          }
          ByteSpan s = r.raw(static_cast<std::size_t>(len));
          if (!isValidUtf8({reinterpret_cast<const char*>(s.data()), s.size()})) {
            throw DecodeError("string value is not valid UTF-8");
          }
          break;
        }
        case tag::kArray:
        case tag::kObject: {
          const bool object = t == tag::kObject;
          out.hasObject = out.hasObject || object;
          std::uint64_t n = r.varint();
          if (n > r.remaining() / (object ? 2 : 1)) {
            throw DecodeError(object ? "object size out of range" : "array length out of range");
          }
          if (n > 0) {
            if (depth + 1 > kMaxValueDepth) {
              throw DecodeError("value nested deeper than " + std::to_string(kMaxValueDepth) +
                                " levels");
            }
            stack[depth++] = Frame{n, object, false, nullptr, 0};
            out.depth = std::max(out.depth, depth);
            opened = true;
          }
          break;
        }
        default:
          throw DecodeError("unknown value tag " + std::to_string(t));
      }
    }
    if (opened) continue;
    // One value complete: close every container it completes.
    while (depth > 0 && --stack[depth - 1].left == 0) --depth;
    if (depth == 0) break;
  }
  out.size = r.position() - start;
  return out;
}

void canonicalizeAt(ByteReader& r, ByteWriter& out, int depth) {
  if (depth > kMaxValueDepth) {
    throw DecodeError("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  const ByteSpan here = r.rest();
  if (here.empty()) throw DecodeError("truncated value");
  const std::uint8_t t = here[0];
  if (t != tag::kArray && t != tag::kObject) {
    // Scalars are canonical once scanned: copy them.
    out.raw(here.first(scanImpl(r, false).size));
    return;
  }
  r.u8();
  std::uint64_t n = r.varint();
  if (n > r.remaining() / (t == tag::kObject ? 2 : 1))
    throw DecodeError("element count out of range");
  if (t == tag::kArray) {
    writeArrayHeader(out, static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) canonicalizeAt(r, out, depth + 1);
    return;
  }
  struct Entry {
    std::string_view key;
    ByteSpan value;
  };
  std::vector<Entry> entries;
  entries.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string_view key = readKeyBytes(r);
    ByteSpan rest = r.rest();
    std::size_t size = scanImpl(r, false).size;
    entries.push_back({key, rest.first(size)});
  }
  sortRange(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i - 1].key == entries[i].key) {
      throw DecodeError("object has the key \"" + std::string(entries[i].key) + "\" twice");
    }
  }
  writeObjectHeader(out, entries.size());
  for (const Entry& e : entries) {
    writeKey(out, e.key);
    ByteReader sub(e.value);
    canonicalizeAt(sub, out, depth + 1);
  }
}

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void appendJsonNumber(std::string& out, double d) {
  char buf[32];
  if (isSafeIntegral(d)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
  } else {
    // Shortest representation that reads back as the same double.
    for (int prec = 1; prec <= 17; ++prec) {
      std::snprintf(buf, sizeof buf, "%.*g", prec, d);
      if (std::strtod(buf, nullptr) == d) break;
    }
  }
  out += buf;
}

void jsonAt(const std::uint8_t*& p, std::string& out) {
  const std::uint8_t t = *p++;
  if (t >= tag::kSmallInt) {
    out += std::to_string(static_cast<int>(t) - 0xc0);
  } else if (t >= tag::kShortString) {
    std::size_t len = t - tag::kShortString;
    appendJsonString(out, {reinterpret_cast<const char*>(p), len});
    p += len;
  } else {
    switch (t) {
      case tag::kNull:
        out += "null";
        break;
      case tag::kFalse:
        out += "false";
        break;
      case tag::kTrue:
        out += "true";
        break;
      case tag::kInt:
        out += std::to_string(zigzagDecode(rawVarint(p)));
        break;
      case tag::kDouble:
        appendJsonNumber(out, bitCast<double>(readLE64(p)));
        p += 8;
        break;
      case tag::kString: {
        std::size_t len = static_cast<std::size_t>(rawVarint(p));
        appendJsonString(out, {reinterpret_cast<const char*>(p), len});
        p += len;
        break;
      }
      case tag::kArray:
      case tag::kSet: {
        std::uint64_t n = rawVarint(p);
        out.push_back('[');
        for (std::uint64_t i = 0; i < n; ++i) {
          if (i) out.push_back(',');
          jsonAt(p, out);
        }
        out.push_back(']');
        break;
      }
      default: {  // object
        std::uint64_t n = rawVarint(p);
        out.push_back('{');
        for (std::uint64_t i = 0; i < n; ++i) {
          if (i) out.push_back(',');
          std::size_t len = static_cast<std::size_t>(rawVarint(p));
          appendJsonString(out, {reinterpret_cast<const char*>(p), len});
          p += len;
          out.push_back(':');
          jsonAt(p, out);
        }
        out.push_back('}');
      }
    }
  }
}

}  // namespace

ValueType typeOf(ValueRef v) {
  const std::uint8_t t = v[0];
  if (t >= tag::kSmallInt) return ValueType::Int;
  if (t >= tag::kShortString) return ValueType::String;
  switch (t) {
    case tag::kNull:
      return ValueType::Null;
    case tag::kFalse:
      return ValueType::False;
    case tag::kTrue:
      return ValueType::True;
    case tag::kInt:
      return ValueType::Int;
    case tag::kDouble:
      return ValueType::Double;
    case tag::kString:
      return ValueType::String;
    case tag::kArray:
    case tag::kSet:
      return ValueType::Array;
    default:
      return ValueType::Object;
  }
}

double numberOf(ValueRef v) {
  const std::uint8_t t = v[0];
  if (t >= tag::kSmallInt) return static_cast<double>(static_cast<int>(t) - 0xc0);
  const std::uint8_t* p = v.data() + 1;
  if (t == tag::kInt) return static_cast<double>(zigzagDecode(rawVarint(p)));
  return bitCast<double>(readLE64(p));
}

std::string_view stringOf(ValueRef v) {
  const std::uint8_t t = v[0];
  const std::uint8_t* p = v.data() + 1;
  std::size_t len = t == tag::kString ? static_cast<std::size_t>(rawVarint(p))
                                      : static_cast<std::size_t>(t - tag::kShortString);
  return {reinterpret_cast<const char*>(p), len};
}

ValueScan scanValue(ByteReader& r) { return scanImpl(r, true); }
ValueScan scanValueLoose(ByteReader& r) { return scanImpl(r, false); }

void canonicalizeValue(ValueRef loose, ByteWriter& out) {
  ByteReader r(loose);
  canonicalizeAt(r, out, 0);
  if (!r.atEnd()) throw DecodeError("trailing bytes after a value");
}

void writeNull(ByteWriter& w) { w.u8(tag::kNull); }
void writeBool(ByteWriter& w, bool b) { w.u8(b ? tag::kTrue : tag::kFalse); }

void writeInt(ByteWriter& w, std::int64_t i) {
  if (i >= -64 && i <= 63) {
    w.u8(static_cast<std::uint8_t>(i + 0xc0));
  } else {
    w.u8(tag::kInt);
    w.zigzag(i);
  }
}

void writeNumber(ByteWriter& w, double d) {
  if (isSafeIntegral(d)) {
    writeInt(w, static_cast<std::int64_t>(d));  // also turns -0 into 0
  } else {
    w.u8(tag::kDouble);
    w.fixed64(bitCast<std::uint64_t>(d));
  }
}

void writeStringHeader(ByteWriter& w, std::size_t bytes) {
  if (bytes < 64) {
    w.u8(static_cast<std::uint8_t>(tag::kShortString + bytes));
  } else {
    w.u8(tag::kString);
    w.varint(bytes);
  }
}

void writeString(ByteWriter& w, std::string_view utf8) {
  writeStringHeader(w, utf8.size());
  w.raw(bytesOf(utf8));
}

void writeArrayHeader(ByteWriter& w, std::size_t n) {
  w.u8(tag::kArray);
  w.varint(n);
}

void writeObjectHeader(ByteWriter& w, std::size_t n) {
  w.u8(tag::kObject);
  w.varint(n);
}

void writeKey(ByteWriter& w, std::string_view utf8) { w.string(utf8); }

std::string toJson(ValueRef v) {
  std::string out;
  const std::uint8_t* p = v.data();
  jsonAt(p, out);
  return out;
}

}  // namespace crdtdb
