// Binary encoding of a version summary: which events a replica has seen, as a version vector
// (peer id → number of that peer's events seen). Canonical: peers in ascending byte order,
// zero entries omitted, so replicas that saw the same events produce identical bytes.
//   payload: varint n, n × (string peer id, varint next seq)
#pragma once

#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"

namespace crdtdb {

using VersionVector = std::vector<std::pair<std::string, Seq>>;  // sorted by peer id

Bytes encodeVersion(const VersionVector& vv);
VersionVector decodeVersion(ByteSpan bytes);  // throws DecodeError

}  // namespace crdtdb
