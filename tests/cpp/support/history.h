// Test support: a Changes message as owned transaction records, and back.
//
// decodeMessage() validates through the engine's decoder (decodeFrame, decodeChangesPayload)
// and walks the transactions with TxnCursor, so every record is what a replica would apply:
// peer, first seq, parents as (peer id, seq) (the linear case spelled out as (peer, seq - 1)),
// and the ops. Lamport times are not in the message; whoever needs them derives them.
//
// encodeMessage() builds a message with ChunkWriter from records as given (parents in the given
// order, columns in the given order), so tests can write both valid messages and
// well-framed ones that break a rule; the linear flag is used exactly when the parents are
// [(peer, seq - 1)], as canonical encoders do.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "oplog/chunk_codec.h"
#include "oplog/frame.h"
#include "oplog/op.h"

namespace crdtdb::testing {

struct TxnRecord {
  std::string peer;
  Seq seq = 0;
  std::vector<std::pair<std::string, Seq>> parents;
  std::vector<Op> ops;
  bool linear() const {
    return seq > 0 && parents.size() == 1 && parents[0].first == peer &&
           parents[0].second + 1 == seq;
  }
  bool operator==(const TxnRecord&) const = default;
};

using Chunk = std::vector<TxnRecord>;

// The chunks of a valid Changes message; throws DecodeError like applyChanges would.
inline std::vector<Chunk> decodeChunks(ByteSpan message) {
  const ByteSpan payload = decodeFrame(message, FrameKind::Changes);
  const DecodedChanges dc = decodeChangesPayload(payload);
  std::vector<Chunk> out(dc.chunks.size());
  OpRef op;
  std::vector<ColumnRef> cols;
  for (const TxnRunView& run : dc.runs) {
    const ChunkTables& t = dc.chunks[run.chunk];
    TxnCursor cur(payload, run.begin, run.end);
    Seq prevEnd = run.seq;
    for (std::uint32_t k = 0; k < run.txnCount; ++k) {
      TxnHeader h = cur.header(prevEnd);
      prevEnd = h.seq + h.opCount;
      TxnRecord rec;
      rec.peer = std::string(t.peers[h.peer]);
      rec.seq = h.seq;
      if (h.linear) {
        rec.parents.emplace_back(rec.peer, h.seq - 1);
      } else {
        for (const ParentRef& p : h.parents)
          rec.parents.emplace_back(std::string(t.peers[p.peer]), p.seq);
      }
      for (std::uint32_t i = 0; i < h.opCount; ++i) {
        cur.op(t, op, cols);
        rec.ops.push_back(ownedOf(op));
      }
      out[run.chunk].push_back(std::move(rec));
    }
  }
  return out;
}

// All transactions of a valid Changes message, chunk after chunk.
inline std::vector<TxnRecord> decodeMessage(ByteSpan message) {
  std::vector<TxnRecord> out;
  for (Chunk& c : decodeChunks(message)) {
    for (TxnRecord& t : c) out.push_back(std::move(t));
  }
  return out;
}

inline std::size_t eventCountOf(const std::vector<TxnRecord>& txns) {
  std::size_t n = 0;
  for (const TxnRecord& t : txns) n += t.ops.size();
  return n;
}

// Appends one chunk holding `txns` (as given) to `out`.
inline void writeChunk(const Chunk& txns, ByteWriter& out) {
  ChunkWriter w;
  w.internTextCreators();
  for (const TxnRecord& t : txns) {
    const std::uint32_t peer = w.peer(t.peer);
    std::vector<ParentRef> refs;
    for (const auto& [p, s] : t.parents) refs.push_back({w.peer(p), s});
    w.beginTxn(peer, t.seq, t.linear(), refs, t.ops.size());
    for (const Op& op : t.ops) {
      if (op.kind == OpKind::TextEdit) {
        w.textEdit(w.name(op.table), w.key(op.key), w.name(op.columns[0].first),
                   op.columns[0].second);
        continue;
      }
      w.op(op.kind, w.name(op.table), op.key);
      if (op.kind == OpKind::DeleteRow) continue;
      w.columnCount(op.columns.size());
      for (const auto& [name, value] : op.columns) w.column(w.name(name), value);
    }
  }
  w.writeTo(out);
}

// The payload (no frame) of a message of the given chunks.
inline Bytes encodePayload(const std::vector<Chunk>& chunks) {
  ByteWriter w;
  w.varint(chunks.size());
  for (const Chunk& c : chunks) writeChunk(c, w);
  return w.take();
}

inline Bytes encodeMessage(const std::vector<Chunk>& chunks) {
  return encodeFrame(FrameKind::Changes, encodePayload(chunks));
}

// A message of one chunk (none when `txns` is empty).
inline Bytes encodeTxns(const std::vector<TxnRecord>& txns) {
  if (txns.empty()) return encodeMessage({});
  return encodeMessage({txns});
}

}  // namespace crdtdb::testing
