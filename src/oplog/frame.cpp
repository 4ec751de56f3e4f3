#include "oplog/frame.h"

#include <algorithm>
#include <string>

#include "core/errors.h"

namespace crdtdb {

namespace {
constexpr std::uint8_t kMagic[4] = {'C', 'R', 'D', 'B'};
}

std::size_t beginFrame(ByteWriter& out, FrameKind kind) {
  const std::size_t begin = out.size();
  out.raw(ByteSpan(kMagic, 4));
  out.u8(kFormatVersion);
  out.u8(static_cast<std::uint8_t>(kind));
  out.fixed32(0);  // patched by finishFrame
  return begin;
}

void finishFrame(ByteWriter& out, std::size_t begin) {
  Bytes& b = out.bytes();
  const std::size_t payloadBegin = begin + kFrameHeaderBytes;
  const std::size_t len = b.size() - payloadBegin;
  if (len > 0xffffffffu) throw DecodeError("message larger than 4 GiB");
  for (int i = 0; i < 4; ++i) b[begin + 6 + i] = static_cast<std::uint8_t>(len >> (8 * i));
  out.fixed32(crc32(ByteSpan(b.data() + payloadBegin, len)));
}

Bytes encodeFrame(FrameKind kind, ByteSpan payload) {
  ByteWriter w;
  std::size_t begin = beginFrame(w, kind);
  w.raw(payload);
  finishFrame(w, begin);
  return w.take();
}

FrameKind frameKind(ByteSpan bytes) {
  if (bytes.size() < kFrameHeaderBytes) throw DecodeError("truncated message header");
  return static_cast<FrameKind>(bytes[5]);
}

ByteSpan decodeFrame(ByteSpan bytes, FrameKind expected) {
  ByteReader r(bytes);
  ByteSpan magic = r.raw(4);
  if (!std::equal(magic.begin(), magic.end(), kMagic)) {
    throw DecodeError("not a crdtdb message (bad magic)");
  }
  std::uint8_t version = r.u8();
  if (version != kFormatVersion) {
    throw DecodeError("unsupported format version " + std::to_string(version) +
                      " (this build reads version " + std::to_string(kFormatVersion) + ")");
  }
  std::uint8_t kind = r.u8();
  if (kind != static_cast<std::uint8_t>(expected)) {
    throw DecodeError("unexpected message kind " + std::to_string(kind) + " (expected " +
                      std::to_string(static_cast<int>(expected)) + ")");
  }
  std::uint64_t len = r.fixed32();
  if (len + 4 != r.remaining()) throw DecodeError("payload length does not match the message");
  ByteSpan payload = r.raw(static_cast<std::size_t>(len));
  if (r.fixed32() != crc32(payload)) throw DecodeError("checksum mismatch");
  return payload;
}

}  // namespace crdtdb
