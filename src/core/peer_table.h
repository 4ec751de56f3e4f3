// Interns peer id strings to dense PeerIdx values (local to one replica).
// Invariant: names_[i] is unique and idx_[names_[i]] == i.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ids.h"

namespace crdtdb {

inline constexpr std::size_t kMaxPeerIdBytes = 256;

class PeerTable {
 public:
  PeerIdx intern(const std::string& name);
  std::optional<PeerIdx> find(const std::string& name) const;
  const std::string& name(PeerIdx idx) const { return names_[idx]; }
  std::size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, PeerIdx> idx_;
};

// Throws Error(Type) unless `name` is a usable peer id (non-empty, UTF-8, bounded).
void validatePeerId(std::string_view name);

}  // namespace crdtdb
