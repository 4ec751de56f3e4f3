// Binary encoding of a batch of transactions (what changesSince returns and commits emit).
//
// Payload, inside a Changes frame (frame.h):
//   peers:  varint n, n × string          peer ids, in order of first use
//   names:  varint n, n × string          table and column names, in order of first use
//   txns:   varint n, then per txn:
//     varint peer index
//     varint flags                         bit 0: linear (parents = this peer's previous event)
//     varint seq - next seq expected for that peer in this message (first: absolute)
//     zigzag lamport - Lamport end of the previous txn in the message (first: from 0)
//     [not linear] varint n parents, n × (varint peer index, varint seq)
//     varint n ops, then per op: u8 kind, varint table name index, string key,
//       [set/update] varint n columns, n × (varint name index, value)   names ascending
// A peer's consecutive transactions thus cost a few bytes of header each.
#pragma once

#include <vector>

#include "core/bytes.h"
#include "oplog/txn.h"

namespace crdtdb {

Bytes encodeChanges(const std::vector<TxnRecord>& txns);

// Validates everything that can be checked without replica state (bounds, ranges, UTF-8,
// canonical order, value encodings, checksum); throws DecodeError.
std::vector<TxnRecord> decodeChanges(ByteSpan bytes);

}  // namespace crdtdb
