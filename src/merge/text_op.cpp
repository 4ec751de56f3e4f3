#include "merge/text_op.h"

#include <string>

#include "core/errors.h"
#include "oplog/chunk_codec.h"
#include "oplog/op.h"

namespace crdtdb {

namespace {
constexpr std::uint8_t kEmptyStringBytes[1] = {tag::kShortString};
}

ValueRef emptyStringValue() { return {kEmptyStringBytes, 1}; }

namespace {

// `scanned`: the value passed scanValue (well-formed, strings valid UTF-8), so its parts are
// split by size alone; every check of the edit's shape and ranges still runs.
TextEditValue readEdit(ValueRef v, bool wire, bool scanned) {
  auto fail = [&](const char* what) {
    const std::string msg = std::string("text edit: ") + what;
    if (wire) throw DecodeError(msg);
    throw Error(ErrorCode::Type, msg);
  };
  ByteReader r(v);
  auto next = [&] {
    if (r.atEnd()) fail("missing parts");
    if (scanned) return r.raw(validValueSize(r.rest()));
    ByteReader at(r.rest());
    return r.raw(scanValue(at).size);
  };
  auto integer = [&](std::uint64_t hi, const char* what) {
    const ValueRef x = next();
    if (typeOf(x) != ValueType::Int) fail(what);
    const double d = numberOf(x);
    if (d < 0 || d > static_cast<double>(hi)) fail(what);
    return static_cast<std::uint64_t>(d);
  };
  if (r.atEnd() || r.u8() != tag::kArray) fail("not an array");
  const std::uint64_t n = r.varintBelow(5, "text edit parts");
  if (n != 2 && n != 4) fail("not 2 or 4 parts");
  TextEditValue e;
  e.named = n == 4;
  if (wire && !e.named) fail("the text is not named");
  if (e.named) {
    const ValueRef peer = next();
    if (typeOf(peer) != ValueType::String || stringOf(peer).empty() ||
        stringOf(peer).size() > kMaxPeerIdBytes) {
      fail("the text's peer is not a peer id");
    }
    e.peer = stringOf(peer);
    e.seq = integer(kMaxClock - 1, "bad seq");
  }
  e.pos = static_cast<std::uint32_t>(integer(kMaxEvents, "position out of range"));
  const ValueRef what = next();
  if (typeOf(what) == ValueType::String) {
    e.insert = true;
    e.content = stringOf(what);
    if (e.content.empty()) fail("an empty insert");
  } else if (typeOf(what) == ValueType::Int && numberOf(what) >= 1 &&
             numberOf(what) <= static_cast<double>(kMaxEvents)) {
    e.len = static_cast<std::uint32_t>(numberOf(what));
  } else {
    fail("neither an insert string nor a delete length >= 1");
  }
  if (!r.atEnd()) fail("trailing bytes");
  return e;
}

}  // namespace

TextEditValue readTextEdit(ValueRef v, bool wire) { return readEdit(v, wire, false); }

TextEditValue readScannedTextEdit(ValueRef v) { return readEdit(v, true, true); }

void writeTextEdit(std::string_view peer, Seq seq, const TextEditValue& e, ByteWriter& out) {
  writeArrayHeader(out, 4);
  writeString(out, peer);
  writeInt(out, static_cast<std::int64_t>(seq));
  writeInt(out, e.pos);
  if (e.insert) {
    writeString(out, e.content);
  } else {
    writeInt(out, e.len);
  }
}

void writeLocalTextEdit(std::uint32_t pos, bool insert, std::string_view content, std::uint32_t len,
                        ByteWriter& out) {
  writeArrayHeader(out, 2);
  writeInt(out, pos);
  if (insert) {
    writeString(out, content);
  } else {
    writeInt(out, len);
  }
}

}  // namespace crdtdb
