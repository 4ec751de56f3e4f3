#include "oplog/frame.h"

#include <string>

#include "core/errors.h"

namespace crdtdb {

namespace {
constexpr std::uint8_t kMagic[4] = {'C', 'R', 'D', 'B'};
}

Bytes encodeFrame(FrameKind kind, ByteSpan payload) {
  ByteWriter w;
  w.raw(ByteSpan(kMagic, 4));
  w.u8(kFormatVersion);
  w.u8(static_cast<std::uint8_t>(kind));
  w.varint(payload.size());
  w.raw(payload);
  w.fixed32(crc32(payload));
  return w.take();
}

ByteSpan decodeFrame(ByteSpan bytes, FrameKind expected) {
  ByteReader r(bytes);
  ByteSpan magic = r.raw(4);
  if (!std::equal(magic.begin(), magic.end(), kMagic)) {
    throw DecodeError("not a crdtdb message (bad magic)");
  }
  std::uint8_t version = r.u8();
  if (version != kFormatVersion) {
    throw DecodeError("unsupported format version " + std::to_string(version));
  }
  std::uint8_t kind = r.u8();
  if (kind != static_cast<std::uint8_t>(expected)) {
    throw DecodeError("unexpected message kind " + std::to_string(kind) + " (expected " +
                      std::to_string(static_cast<int>(expected)) + ")");
  }
  std::uint64_t len = r.varint();
  if (len + 4 != r.remaining()) throw DecodeError("payload length does not match the message");
  ByteSpan payload = r.raw(static_cast<std::size_t>(len));
  if (r.fixed32() != crc32(payload)) throw DecodeError("checksum mismatch");
  return payload;
}

}  // namespace crdtdb
