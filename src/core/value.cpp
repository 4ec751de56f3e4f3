#include "core/value.h"

#include <cmath>

#include "core/bit_cast.h"
#include "core/errors.h"

namespace crdtdb {

namespace {

enum Tag : std::uint8_t {
  kNull = 0,
  kFalse = 1,
  kTrue = 2,
  kInt = 3,
  kDouble = 4,
  kString = 5,
  kArray = 6,
  kObject = 7,
};

constexpr double kMaxSafe = 9007199254740992.0;  // 2^53
constexpr std::size_t kMaxStringBytes = 1u << 28;

bool fitsInt(double d) {
  return std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= kMaxSafe;
}

double asDouble(const Value& v) {
  if (v.is_number_unsigned()) return static_cast<double>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return static_cast<double>(v.get<std::int64_t>());
  return v.get<double>();
}

void canonicalizeAt(Value& v, const std::string& path, int depth) {
  if (depth > kMaxValueDepth) {
    throw Error(ErrorCode::Type, "column " + path + " is nested deeper than " +
                                     std::to_string(kMaxValueDepth) + " levels");
  }
  switch (v.type()) {
    case Value::value_t::number_float:
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: {
      double d = asDouble(v);
      if (!std::isfinite(d)) {
        throw Error(ErrorCode::Type, "column " + path + " is not a finite number");
      }
      v = fitsInt(d) ? Value(static_cast<std::int64_t>(d)) : Value(d);
      break;
    }
    case Value::value_t::array:
      for (std::size_t i = 0; i < v.size(); ++i) {
        canonicalizeAt(v[i], path + "[" + std::to_string(i) + "]", depth + 1);
      }
      break;
    case Value::value_t::object:
      for (auto it = v.begin(); it != v.end(); ++it) {
        canonicalizeAt(it.value(), path + "." + it.key(), depth + 1);
      }
      break;
    case Value::value_t::binary:
    case Value::value_t::discarded:
      throw Error(ErrorCode::Type, "column " + path + " is not a JSON value");
    default:
      break;
  }
}

Value decodeAt(ByteReader& r, int depth) {
  if (depth > kMaxValueDepth) throw DecodeError("value nested too deeply");
  std::uint8_t tag = r.u8();
  switch (tag) {
    case kNull:
      return Value(nullptr);
    case kFalse:
      return Value(false);
    case kTrue:
      return Value(true);
    case kInt: {
      std::int64_t i = r.zigzag();
      if (i > static_cast<std::int64_t>(kMaxSafe) || i < -static_cast<std::int64_t>(kMaxSafe)) {
        throw DecodeError("integer value outside the safe range");
      }
      return Value(i);
    }
    case kDouble: {
      double d = bitCast<double>(r.fixed64());
      if (!std::isfinite(d)) throw DecodeError("non-finite number value");
      if (fitsInt(d)) throw DecodeError("non-canonical number encoding");
      return Value(d);
    }
    case kString:
      return Value(r.string(kMaxStringBytes, "string value"));
    case kArray: {
      std::uint64_t n = r.varintBelow(r.remaining() + 1, "array length");
      Value a = Value::array();
      for (std::uint64_t i = 0; i < n; ++i) a.push_back(decodeAt(r, depth + 1));
      return a;
    }
    case kObject: {
      std::uint64_t n = r.varintBelow(r.remaining() + 1, "object size");
      Value o = Value::object();
      std::string prev;
      for (std::uint64_t i = 0; i < n; ++i) {
        std::string key = r.string(kMaxStringBytes, "object key");
        // Keys are written sorted and unique: anything else has a second encoding.
        if (i > 0 && key <= prev) throw DecodeError("object keys not strictly ascending");
        o[key] = decodeAt(r, depth + 1);
        prev = std::move(key);
      }
      return o;
    }
    default:
      throw DecodeError("unknown value tag " + std::to_string(tag));
  }
}

}  // namespace

void canonicalizeValue(Value& v, const std::string& path) { canonicalizeAt(v, path, 0); }

void encodeValue(ByteWriter& w, const Value& v) {
  switch (v.type()) {
    case Value::value_t::null:
      w.u8(kNull);
      break;
    case Value::value_t::boolean:
      w.u8(v.get<bool>() ? kTrue : kFalse);
      break;
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
    case Value::value_t::number_float: {
      double d = asDouble(v);
      if (fitsInt(d)) {
        w.u8(kInt);
        w.zigzag(static_cast<std::int64_t>(d));
      } else {
        w.u8(kDouble);
        w.fixed64(bitCast<std::uint64_t>(d));
      }
      break;
    }
    case Value::value_t::string:
      w.u8(kString);
      w.string(v.get_ref<const std::string&>());
      break;
    case Value::value_t::array:
      w.u8(kArray);
      w.varint(v.size());
      for (const auto& e : v) encodeValue(w, e);
      break;
    case Value::value_t::object:
      w.u8(kObject);
      w.varint(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) {  // std::map: sorted keys
        w.string(it.key());
        encodeValue(w, it.value());
      }
      break;
    default:
      throw Error(ErrorCode::Type, "value is not a JSON value");
  }
}

Value decodeValue(ByteReader& r) { return decodeAt(r, 0); }

}  // namespace crdtdb
