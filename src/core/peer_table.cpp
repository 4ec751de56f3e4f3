#include "core/peer_table.h"

#include "core/bytes.h"
#include "core/errors.h"

namespace crdtdb {

PeerIdx PeerTable::intern(const std::string& name) {
  auto it = idx_.find(name);
  if (it != idx_.end()) return it->second;
  auto idx = static_cast<PeerIdx>(names_.size());
  names_.push_back(name);
  idx_.emplace(name, idx);
  return idx;
}

std::optional<PeerIdx> PeerTable::find(const std::string& name) const {
  auto it = idx_.find(name);
  if (it == idx_.end()) return std::nullopt;
  return it->second;
}

void validatePeerId(std::string_view name) {
  if (name.empty() || name.size() > kMaxPeerIdBytes || !isValidUtf8(name)) {
    throw Error(ErrorCode::Type, "peerId must be a non-empty UTF-8 string of at most " +
                                     std::to_string(kMaxPeerIdBytes) + " bytes");
  }
}

}  // namespace crdtdb
