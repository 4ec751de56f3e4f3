// The envelope of every message and persisted blob:
//   "CRDB" | format version (u8) | kind (u8) | payload length (varint) | payload | CRC-32 (LE)
// The CRC covers the payload. Decoding checks all of it before the payload is parsed.
#pragma once

#include <cstdint>

#include "core/bytes.h"

namespace crdtdb {

inline constexpr std::uint8_t kFormatVersion = 1;

enum class FrameKind : std::uint8_t {
  Changes = 1,   // a batch of events (changesSince, a commit's record)
  Version = 2,   // a version summary (version())
  RowState = 3,  // one row's CRDT state (persistence, state comparison)
};

Bytes encodeFrame(FrameKind kind, ByteSpan payload);
// Returns the payload; throws DecodeError naming what is wrong.
ByteSpan decodeFrame(ByteSpan bytes, FrameKind expected);

}  // namespace crdtdb
