// A transaction as it travels: a run of events by one peer with consecutive seqs and Lamport
// times; the first event's parents are given, each later event's parent is its predecessor.
// Peers are named by their id strings here (PeerIdx values are local to one replica).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "oplog/op.h"

namespace crdtdb {

struct EventRef {
  std::string peer;
  Seq seq;
  // Spelled out: Emscripten 3.1.6's libc++ has no operator<=> for std::string.
  bool operator==(const EventRef& o) const { return seq == o.seq && peer == o.peer; }
  bool operator<(const EventRef& o) const { return peer != o.peer ? peer < o.peer : seq < o.seq; }
};

struct TxnRecord {
  std::string peer;
  Seq seq = 0;
  Lamport lamport = 0;
  std::vector<EventRef> parents;  // of the first event; sorted, unique
  std::vector<Op> ops;            // one per event, in order
  std::size_t encodedSize = 0;    // bytes it occupied in its message (bounds held changes)

  Seq endSeq() const { return seq + ops.size(); }
};

}  // namespace crdtdb
