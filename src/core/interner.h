// Interns strings to dense ids 0, 1, 2, ... in order of first use: table and column names
// (NameId) and peer ids (PeerIdx). Ids are local to one replica and never sent.
//
// Invariants: name(i) is unique; find(name(i)) == i; slots_ is an open-addressing table
// (linear probing, load <= 3/4) holding id + 1 for every id, 0 for empty.
// intern() gives the strong guarantee (an allocation failure changes nothing) and
// truncate() never allocates, so callers can roll an interning back.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crdtdb {

class Interner {
 public:
  explicit Interner(std::uint64_t seed = 0) : seed_(seed) {}

  std::optional<std::uint32_t> find(std::string_view s) const;
  std::uint32_t intern(std::string_view s);
  std::string_view name(std::uint32_t id) const { return names_[id]; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(names_.size()); }
  // Forgets ids >= n (rollback of interning). Never allocates.
  void truncate(std::uint32_t n);

 private:
  std::size_t slotOf(std::string_view s) const;  // slot holding s, or the empty slot for it
  void grow();

  std::uint64_t seed_;
  std::deque<std::string> names_;
  std::vector<std::uint32_t> slots_;
};

}  // namespace crdtdb
