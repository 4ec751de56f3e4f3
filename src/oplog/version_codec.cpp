#include "oplog/version_codec.h"

#include "core/errors.h"
#include "oplog/frame.h"
#include "oplog/op.h"

namespace crdtdb {

Bytes encodeVersion(const VersionVector& vv) {
  ByteWriter w;
  std::size_t n = 0;
  for (const auto& e : vv) n += e.second > 0;
  w.varint(n);
  for (const auto& [peer, next] : vv) {
    if (next == 0) continue;
    w.string(peer);
    w.varint(next);
  }
  return encodeFrame(FrameKind::Version, w.bytes());
}

VersionVector decodeVersion(ByteSpan bytes) {
  ByteReader r(decodeFrame(bytes, FrameKind::Version));
  std::uint64_t n = r.varintBelow(r.remaining() + 1, "version entry count");
  VersionVector vv;
  vv.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string peer = r.string(kMaxPeerIdBytes, "peer id");
    if (peer.empty()) throw DecodeError("empty peer id");
    if (!vv.empty() && !(vv.back().first < peer)) {
      throw DecodeError("version entries not in ascending peer order");
    }
    Seq next = r.varintBelow(kMaxClock + 1, "version seq");
    if (next == 0) throw DecodeError("zero version entry");
    vv.emplace_back(std::move(peer), next);
  }
  if (!r.atEnd()) throw DecodeError("trailing bytes after the version");
  return vv;
}

}  // namespace crdtdb
