// Counter columns: concurrent increments add up; a plain write of the column (set, update,
// delete of the row) removes exactly the increments it has observed.
//
// An increment is not a write of the column: the column's plain writes stay an LWW register
// (the base) and the increments not yet removed add to it. A peer's increments of one column
// form a chain, so "the increments a write observed" is, per peer, a prefix of that chain.
// Each replica numbers a peer's chain by its running total C (the sum of the peer's
// increments of this column so far, wrapping int64): every replica applies the chain in order,
// so every replica computes the same C. Per peer the state keeps two max-by-seq registers:
//  - latest: (seq, C) of the peer's last increment;
//  - base:   (seq, C) of the last of its increments a plain write removed.
// The peer contributes latest.C - base.C while latest is after base. A plain write cannot say
// what C its observed prefix ended at on a replica that holds later increments, so the writer
// says it: right after a local plain write the engine records a claims op (OpKind::CounterReset)
// naming, per counter column with live increments, each peer's latest (seq, C) it has seen.
// Every state change is a per-peer max, so the state is a join-semilattice (snapshots join it
// directly). Per-peer entries are never dropped while the row lives: a replica that forgot one
// would restart C and misread later claims, so a row keeps its counter state after a delete.
//
// Read value: the winning plain write's number plus the live contributions; with no plain
// write (a missing column, or a row set/delete that did not see a concurrent increment) the
// live contributions alone, in a derived cell. A winning non-number hides the increments.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"
#include "core/value.h"

namespace crdtdb {

// (seq + 1, C) of an event of a peer's chain; next == 0: none yet.
struct CounterClock {
  Seq next = 0;
  std::int64_t total = 0;
  // Max by seq: a later event of the chain replaces an earlier one. Honest states never
  // disagree on the total at one seq; forged ones may, so ties take the greater total (the
  // join must not depend on arrival order).
  void join(const CounterClock& o) {
    if (o.next > next || (o.next == next && o.total > total)) *this = o;
  }
  bool operator==(const CounterClock&) const = default;
};

struct CounterEntry {
  CounterClock latest, base;
  bool live() const { return latest.next > base.next; }
  std::int64_t contribution() const {
    return live() ? static_cast<std::int64_t>(static_cast<std::uint64_t>(latest.total) -
                                              static_cast<std::uint64_t>(base.total))
                  : 0;
  }
  bool operator==(const CounterEntry&) const = default;
};

struct CounterState {
  std::map<PeerIdx, CounterEntry> peers;
  // The winning plain write's own value while its cell shows the sum (RowStore).
  Bytes raw;
  LV rawLv = 0;
  bool hasRaw = false;
  std::uint32_t savedEpoch = 0;  // RowStore: call that last saved it for undo
  std::uint32_t dirtyEpoch = 0;  // RowStore: call that last listed it for a refresh
  bool live() const;
  std::int64_t sum() const;  // wrapping
};

// A + B for int64 totals, wrapping (every replica wraps alike).
inline std::int64_t addWrapping(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

// The read value of a counter column: `raw` (the winning plain write, empty when none) plus
// `sum`; a non-number raw shows as is.
void writeCounterValue(ValueRef raw, std::int64_t sum, ByteWriter& out);

// One claim of a CounterReset op: the latest increment of `peer` the writer had seen.
struct CounterClaim {
  std::string_view peer;
  Seq seq;
  std::int64_t total;
};
// A claims op column's value: an array of [peer id, seq, total >> 32, total & 0xffffffff]
// (plain integers, so the value stays JSON).
void writeClaims(const std::vector<CounterClaim>& claims, ByteWriter& out);
// Reads claims written by writeClaims; DecodeError naming what is wrong (wire input).
std::vector<CounterClaim> readClaims(ValueRef value);

}  // namespace crdtdb
