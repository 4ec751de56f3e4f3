#include "merge/counter.h"

#include <string>

#include "core/errors.h"
#include "oplog/op.h"

namespace crdtdb {

bool CounterState::live() const {
  for (const auto& entry : peers) {
    if (entry.second.live()) return true;
  }
  return false;
}

std::int64_t CounterState::sum() const {
  std::int64_t s = 0;
  for (const auto& entry : peers) s = addWrapping(s, entry.second.contribution());
  return s;
}

namespace {

constexpr std::int64_t kSafe = std::int64_t{1} << 53;

void writeTotal(ByteWriter& out, std::int64_t v) {
  if (v >= -kSafe && v <= kSafe) {
    writeInt(out, v);
  } else {
    writeNumber(out, static_cast<double>(v));
  }
}

}  // namespace

void writeCounterValue(ValueRef raw, std::int64_t sum, ByteWriter& out) {
  if (raw.empty()) return writeTotal(out, sum);
  const ValueType t = typeOf(raw);
  if (t == ValueType::Int) {
    // Integers stay exact: int64 arithmetic, then the nearest double only past 2^53.
    return writeTotal(out, addWrapping(static_cast<std::int64_t>(numberOf(raw)), sum));
  }
  if (t == ValueType::Double) return writeNumber(out, numberOf(raw) + static_cast<double>(sum));
  out.raw(raw);
}

void writeClaims(const std::vector<CounterClaim>& claims, ByteWriter& out) {
  writeArrayHeader(out, claims.size());
  for (const CounterClaim& c : claims) {
    writeArrayHeader(out, 4);
    writeString(out, c.peer);
    writeInt(out, static_cast<std::int64_t>(c.seq));
    const auto bits = static_cast<std::uint64_t>(c.total);
    writeInt(out, static_cast<std::int32_t>(static_cast<std::uint32_t>(bits >> 32)));
    writeInt(out, static_cast<std::int64_t>(bits & 0xffffffffu));
  }
}

std::vector<CounterClaim> readClaims(ValueRef value) {
  auto fail = [](const char* what) { throw DecodeError(std::string("counter claims: ") + what); };
  ByteReader r(value);
  auto integer = [&](std::int64_t lo, std::int64_t hi, const char* what) {
    ByteReader at(r.rest());
    const ValueRef v = r.raw(scanValue(at).size);
    if (typeOf(v) != ValueType::Int) fail(what);
    const auto i = static_cast<std::int64_t>(numberOf(v));
    if (i < lo || i > hi) fail(what);
    return i;
  };
  auto header = [&](const char* what) {
    if (r.atEnd() || r.u8() != tag::kArray) fail(what);
    return r.varintBelow(r.remaining() + 1, "counter claim count");
  };
  const std::uint64_t n = header("not an array of claims");
  std::vector<CounterClaim> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    if (header("a claim is not an array") != 4) fail("a claim has not 4 parts");
    ByteReader at(r.rest());
    const ValueRef peer = r.raw(scanValue(at).size);
    if (typeOf(peer) != ValueType::String || stringOf(peer).empty() ||
        stringOf(peer).size() > kMaxPeerIdBytes) {
      fail("a claim's peer is not a peer id");
    }
    CounterClaim c{stringOf(peer), 0, 0};
    c.seq = static_cast<Seq>(integer(0, static_cast<std::int64_t>(kMaxClock) - 1, "bad seq"));
    const std::int64_t hi = integer(INT32_MIN, INT32_MAX, "bad total (high half)");
    const std::int64_t lo = integer(0, 0xffffffffll, "bad total (low half)");
    c.total = static_cast<std::int64_t>((static_cast<std::uint64_t>(hi) << 32) |
                                        static_cast<std::uint64_t>(lo));
    out.push_back(c);
  }
  if (!r.atEnd()) fail("trailing bytes");
  return out;
}

}  // namespace crdtdb
