#include "oplog/changes_codec.h"

#include <string>
#include <unordered_map>

#include "core/errors.h"
#include "core/peer_table.h"
#include "oplog/frame.h"

namespace crdtdb {

namespace {

constexpr std::uint64_t kLinear = 1;

class Interner {
 public:
  std::uint64_t id(const std::string& s) {
    auto [it, inserted] = idx_.emplace(s, list_.size());
    if (inserted) list_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& list() const { return list_; }

 private:
  std::unordered_map<std::string, std::uint64_t> idx_;
  std::vector<std::string> list_;
};

bool isLinear(const TxnRecord& t) {
  return t.seq > 0 && t.parents.size() == 1 && t.parents[0].peer == t.peer &&
         t.parents[0].seq == t.seq - 1;
}

std::vector<std::string> readStringTable(ByteReader& r, std::size_t maxLen, const char* what) {
  std::uint64_t n = r.varintBelow(r.remaining() + 1, what);
  std::vector<std::string> out;
  out.reserve(n);
  std::unordered_map<std::string, bool> seen;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string s = r.string(maxLen, what);
    if (!seen.emplace(s, true).second) throw DecodeError(std::string("duplicate ") + what);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Bytes encodeChanges(const std::vector<TxnRecord>& txns) {
  Interner peers, names;
  for (const auto& t : txns) {
    peers.id(t.peer);
    for (const auto& p : t.parents) peers.id(p.peer);
    for (const auto& op : t.ops) {
      names.id(op.table);
      for (const auto& c : op.columns) names.id(c.first);
    }
  }
  ByteWriter body;
  std::vector<Seq> nextSeq(peers.list().size(), 0);
  Lamport prevLamportEnd = 0;
  body.varint(txns.size());
  for (const auto& t : txns) {
    std::uint64_t pi = peers.id(t.peer);
    bool linear = isLinear(t);
    body.varint(pi);
    body.varint(linear ? kLinear : 0);
    body.varint(t.seq - nextSeq[pi]);
    body.zigzag(static_cast<std::int64_t>(t.lamport - prevLamportEnd));
    if (!linear) {
      body.varint(t.parents.size());
      for (const auto& p : t.parents) {
        body.varint(peers.id(p.peer));
        body.varint(p.seq);
      }
    }
    body.varint(t.ops.size());
    for (const auto& op : t.ops) {
      body.u8(static_cast<std::uint8_t>(op.kind));
      body.varint(names.id(op.table));
      body.string(op.key);
      if (op.kind != OpKind::DeleteRow) {
        body.varint(op.columns.size());
        for (const auto& [name, value] : op.columns) {
          body.varint(names.id(name));
          encodeValue(body, value);
        }
      }
    }
    nextSeq[pi] = t.endSeq();
    prevLamportEnd = t.lamport + t.ops.size();
  }

  ByteWriter payload;
  payload.varint(peers.list().size());
  for (const auto& p : peers.list()) payload.string(p);
  payload.varint(names.list().size());
  for (const auto& n : names.list()) payload.string(n);
  payload.raw(body.bytes());
  return encodeFrame(FrameKind::Changes, payload.bytes());
}

std::vector<TxnRecord> decodeChanges(ByteSpan bytes) {
  ByteReader r(decodeFrame(bytes, FrameKind::Changes));
  std::vector<std::string> peers = readStringTable(r, kMaxPeerIdBytes, "peer id");
  for (const auto& p : peers) {
    if (p.empty()) throw DecodeError("empty peer id");
  }
  std::vector<std::string> names = readStringTable(r, kMaxNameBytes, "name");

  std::vector<Seq> nextSeq(peers.size(), 0);
  Lamport prevLamportEnd = 0;
  std::uint64_t nTxns = r.varintBelow(r.remaining() + 1, "transaction count");
  std::vector<TxnRecord> txns;
  txns.reserve(nTxns);
  for (std::uint64_t ti = 0; ti < nTxns; ++ti) {
    std::size_t startPos = r.position();
    TxnRecord t;
    std::uint64_t pi = r.varintBelow(peers.size(), "peer index");
    t.peer = peers[pi];
    std::uint64_t flags = r.varintBelow(2, "transaction flags");
    std::uint64_t seqDelta = r.varint();
    if (seqDelta > kMaxClock - nextSeq[pi]) throw DecodeError("seq out of range");
    t.seq = nextSeq[pi] + seqDelta;
    std::int64_t lamportDelta = r.zigzag();
    if ((lamportDelta < 0 && static_cast<std::uint64_t>(-(lamportDelta + 1)) >= prevLamportEnd) ||
        (lamportDelta > 0 && static_cast<std::uint64_t>(lamportDelta) > kMaxClock)) {
      throw DecodeError("Lamport time out of range");
    }
    t.lamport = prevLamportEnd + static_cast<std::uint64_t>(lamportDelta);
    if (t.lamport == 0) throw DecodeError("Lamport time must be positive");
    if (flags & kLinear) {
      if (t.seq == 0) throw DecodeError("linear transaction at seq 0 has no predecessor");
      t.parents.push_back({t.peer, t.seq - 1});
    } else {
      std::uint64_t np = r.varintBelow(r.remaining() + 1, "parent count");
      for (std::uint64_t k = 0; k < np; ++k) {
        std::uint64_t ppi = r.varintBelow(peers.size(), "parent peer index");
        Seq ps = r.varintBelow(kMaxClock, "parent seq");
        if (ppi == pi && ps >= t.seq) throw DecodeError("parent is not an earlier event");
        t.parents.push_back({peers[ppi], ps});
      }
      for (std::size_t k = 1; k < t.parents.size(); ++k) {
        if (!(t.parents[k - 1] < t.parents[k])) {
          throw DecodeError("parents not in ascending order or duplicated");
        }
      }
    }
    std::uint64_t nOps = r.varintBelow(r.remaining() + 1, "operation count");
    if (nOps == 0) throw DecodeError("transaction without operations");
    if (t.seq + nOps > kMaxClock) throw DecodeError("seq out of range");
    if (t.lamport + nOps > kMaxClock) throw DecodeError("Lamport time out of range");
    t.ops.reserve(nOps);
    for (std::uint64_t oi = 0; oi < nOps; ++oi) {
      Op op;
      std::uint8_t kind = r.u8();
      if (kind < 1 || kind > 3) throw DecodeError("unknown operation kind " + std::to_string(kind));
      op.kind = static_cast<OpKind>(kind);
      op.table = names[r.varintBelow(names.size(), "table name index")];
      op.key = r.string(kMaxKeyBytes, "row key");
      if (op.table.empty()) throw DecodeError("empty table name");
      if (op.key.empty()) throw DecodeError("empty row key");
      if (op.kind != OpKind::DeleteRow) {
        std::uint64_t nCols = r.varintBelow(r.remaining() + 1, "column count");
        for (std::uint64_t ci = 0; ci < nCols; ++ci) {
          const std::string& name = names[r.varintBelow(names.size(), "column name index")];
          if (!op.columns.empty() && !(op.columns.back().first < name)) {
            throw DecodeError("columns not in ascending order or duplicated");
          }
          op.columns.emplace_back(name, decodeValue(r));
        }
      }
      t.ops.push_back(std::move(op));
    }
    nextSeq[pi] = t.endSeq();
    prevLamportEnd = t.lamport + nOps;
    t.encodedSize = r.position() - startPos;
    txns.push_back(std::move(t));
  }
  if (!r.atEnd()) throw DecodeError("trailing bytes after the last transaction");
  return txns;
}

}  // namespace crdtdb
