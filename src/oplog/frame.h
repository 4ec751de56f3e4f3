// The envelope of every message and persisted blob:
//   "CRDB" | format version (u8) | kind (u8) | payload length (u32 LE) | payload | CRC-32 (LE)
// The CRC covers the payload. Decoding checks all of it before the payload is parsed. The
// fixed-width length lets an encoder write a payload in place and patch its length after.
//
// Format history: 1 = first release (varint length; Lamport times on the wire; one op list
// per message). 2 = chunked history (oplog/chunk_codec.h), Lamport derived from parents.
#pragma once

#include <cstdint>

#include "core/bytes.h"

namespace crdtdb {

inline constexpr std::uint8_t kFormatVersion = 2;
inline constexpr std::size_t kFrameHeaderBytes = 10;

enum class FrameKind : std::uint8_t {
  Changes = 1,   // a batch of events (changesSince, a commit's record)
  Version = 2,   // a version summary (version())
  RowState = 3,  // one row's CRDT state (persistence, state comparison)
  Snapshot = 4,  // every row's state and the causal graph (catching up past compaction)
};

// Starts a frame at the end of `out`; returns the offset to pass to finishFrame.
std::size_t beginFrame(ByteWriter& out, FrameKind kind);
void finishFrame(ByteWriter& out, std::size_t begin);

Bytes encodeFrame(FrameKind kind, ByteSpan payload);
// The kind byte of a message, unchecked otherwise (decodeFrame checks it all).
FrameKind frameKind(ByteSpan bytes);
// Returns the payload; throws DecodeError naming what is wrong.
ByteSpan decodeFrame(ByteSpan bytes, FrameKind expected);

}  // namespace crdtdb
