// Identifiers shared by every engine module.
//
// A peer is a replica (a tab, worker or process); its id is a string chosen in JS and interned
// to a small PeerIdx that is local to one replica (never sent: messages carry the strings).
// Every event is identified globally by (peer, seq), seq counting 0,1,2,... per peer, and
// locally by its LV ("local version"): its position in this replica's event graph, assigned
// in the order events were applied here, so LV order is always a topological order.
#pragma once

#include <cstdint>

namespace crdtdb {

using PeerIdx = std::uint32_t;
using NameId = std::uint32_t;
using LV = std::uint32_t;
using Seq = std::uint64_t;
using Lamport = std::uint64_t;

// Seqs and Lamport times stay within JavaScript's safe integers, so every value round-trips
// through JS and no clock can wrap. A message that would push past this is rejected.
inline constexpr std::uint64_t kMaxClock = std::uint64_t{1} << 53;
// LVs are 32-bit (as in diamond-types' WASM build): a replica holds at most this many
// events. WASM memory (4 GiB) runs out long before; a message that would exceed it is rejected.
inline constexpr LV kMaxEvents = 0xfffffff0u;

struct LVRange {
  LV start;
  LV end;  // exclusive
  LV size() const { return end - start; }
  bool operator==(const LVRange&) const = default;
};

// A write's identity for ordering: LWW orders by (lamport, peer name, seq).
struct Stamp {
  LV lv;
  Lamport lamport;
  PeerIdx peer;
  Seq seq;
};

}  // namespace crdtdb
