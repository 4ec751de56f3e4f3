// The causal-graph summary that storage keeps beside each stored slice of history, so a
// replica reopens its graph without decoding any operation.
//
//   summary := varint nPeers, nPeers × string        peer ids used below
//              varint nRuns, nRuns × run
//   run     := varint peerIndex, varint seq, varint count (>= 1),
//              varint parents   0: the peer's previous event (a run cut at a slice boundary)
//                               n + 1: then n × (varint peerIndex, varint seq), the parents of
//                               the run's first event
// A summary covers one LV range of the graph; loading summaries in LV order rebuilds the graph
// with the same LVs, Lamport times and runs.
#pragma once

#include "core/bytes.h"
#include "core/interner.h"
#include "graph/causal_graph.h"

namespace crdtdb {

// Appends the summary of events [start, end) of `graph` (peer names from `peers`).
void encodeGraphRange(const CausalGraph& graph, const Interner& peers, LV start, LV end,
                      ByteWriter& out);

// Appends the events a summary describes to `graph`, interning their peers; they must start
// at graph.size() == `start`. Throws DecodeError naming what is wrong (the graph may then hold
// part of the summary: callers discard it).
void decodeGraphRange(ByteSpan bytes, LV start, CausalGraph& graph, Interner& peers);

}  // namespace crdtdb
