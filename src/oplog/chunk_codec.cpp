#include "oplog/chunk_codec.h"

#include <algorithm>
#include <optional>
#include <string>

#include "core/errors.h"
#include "core/hash.h"
#include "core/reserve.h"
#include "core/sort.h"
#include "core/splice.h"
#include "merge/counter.h"
#include "merge/text_op.h"

namespace crdtdb {

namespace {

// A table's entries must be distinct. Checked with a seeded hash set (linear in the table;
// sorting a copy cost k log k string compares per chunk, the largest part of a full load).
void requireDistinct(const std::vector<std::string_view>& items, std::uint64_t seed,
                     const char* what) {
  if (items.size() < 2) return;
  std::size_t cap = 4;
  while (cap < items.size() * 2) cap *= 2;
  std::vector<std::uint32_t> slots(cap, 0);  // item index + 1; 0 is empty
  const std::size_t mask = cap - 1;
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::size_t h = hashBytes(items[i], seed) & mask;
    while (slots[h] != 0) {
      if (items[slots[h] - 1] == items[i]) throw DecodeError(std::string("duplicate ") + what);
      h = (h + 1) & mask;
    }
    slots[h] = static_cast<std::uint32_t>(i + 1);
  }
}

std::vector<std::string_view> readTable(ByteReader& r, std::size_t maxLen, const char* what,
                                        bool nonEmpty, std::uint64_t seed) {
  std::uint64_t n = r.varintBelow(r.remaining() + 1, what);
  std::vector<std::string_view> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string_view s = r.stringView(maxLen, what);
    if (nonEmpty && s.empty()) throw DecodeError(std::string("empty ") + what);
    out.push_back(s);
  }
  requireDistinct(out, seed, what);
  return out;
}

std::uint64_t rawVarint(ByteSpan b, std::size_t& pos) {
  std::uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    std::uint8_t x = b[pos++];
    v |= static_cast<std::uint64_t>(x & 0x7f) << shift;
    if (!(x & 0x80)) return v;
  }
}

// Where a text edit leaves the cursor its run's next relative edit starts from.
std::uint64_t cursorAfter(const TextEditValue& e) {
  return e.insert ? e.pos + utf16Length(e.content) : e.pos;
}

// pos = cursor + delta, or DecodeError unless it is a text position.
std::uint64_t relativePos(std::uint64_t cursor, std::int64_t delta) {
  if (delta < 0) {
    const std::uint64_t back = static_cast<std::uint64_t>(-(delta + 1)) + 1;
    if (back > cursor) throw DecodeError("text edit: position out of range");
    cursor -= back;
  } else {
    cursor += static_cast<std::uint64_t>(delta);  // cursor < 2^34: no overflow
  }
  if (cursor > kMaxEvents) throw DecodeError("text edit: position out of range");
  return cursor;
}

// The parts of a relative edit's body (see the header): its mode and position delta.
namespace relmode {
inline constexpr std::uint64_t kDelete = 0, kDeleteOne = 1, kInsert = 2, kInsertChar = 3;
}
// The extended kinds of the compact text edit forms.
inline constexpr std::uint64_t kRelativeExt = 7, kIndexedExt = 8;

// Appends a text edit op in the full form (ext 6): one column, its value the named form.
void writeFullTextEdit(ByteWriter& w, std::uint32_t table, std::uint32_t key, std::uint32_t column,
                       ByteSpan named) {
  w.varint(std::uint64_t{table} << 2);
  w.varint(static_cast<std::uint64_t>(OpKind::TextEdit) - 3);
  w.varint(key);
  w.varint(1);
  w.varint(column);
  w.raw(named);
}

// Checks the rest of a text edit's body at `pos` (its mode's payload); returns the cursor it
// leaves.
std::uint64_t readEditBody(ByteReader& r, std::uint64_t pos, std::uint64_t mode) {
  switch (mode) {
    case relmode::kDelete:
      if (r.varintBelow(kMaxEvents + 1, "text delete length") < 2) {
        throw DecodeError("text edit: non-canonical delete length (below 2)");
      }
      return pos;
    case relmode::kDeleteOne:
      return pos;
    case relmode::kInsert: {
      const std::string_view content = r.stringView(kMaxStringBytes, "text insert");
      if (content.empty()) throw DecodeError("text edit: an empty insert");
      if (utf8SequenceLength(static_cast<std::uint8_t>(content[0])) == content.size()) {
        throw DecodeError("text edit: non-canonical insert (one character)");
      }
      return pos + utf16Length(content);
    }
    default: {
      const std::size_t n = utf8SequenceLength(r.atEnd() ? 0xff : r.rest()[0]);
      if (n == 0) throw DecodeError("text edit: an insert that is not UTF-8");
      const ByteSpan c = r.raw(n);
      if (!isValidUtf8({reinterpret_cast<const char*>(c.data()), c.size()})) {
        throw DecodeError("text edit: an insert that is not UTF-8");
      }
      return pos + (n == 4 ? 2 : 1);
    }
  }
}

// Checks a relative text edit (after its ext) against the run's context and advances it.
void readRelativeEdit(ByteReader& r, std::uint64_t opHead, TextRunContext& ctx) {
  if (opHead != 0) throw DecodeError("non-canonical relative text edit (a table index)");
  if (!ctx.valid) throw DecodeError("relative text edit without a text edit before it in its run");
  const std::uint64_t x = r.varint();
  ctx.cursor = readEditBody(r, relativePos(ctx.cursor, zigzagDecode(x >> 2)), x & 3);
}

// Checks a text edit in the indexed form (after its ext and a checked table index) and makes
// it the run's context.
void readIndexedEdit(ByteReader& r, std::uint64_t table, const ChunkTables& t,
                     TextRunContext& ctx) {
  TextRunContext c;
  c.valid = true;
  c.table = static_cast<std::uint32_t>(table);
  c.key = static_cast<std::uint32_t>(r.varintBelow(t.keys.size(), "row key index"));
  c.column = static_cast<std::uint32_t>(r.varintBelow(t.names.size(), "column name index"));
  c.creatorPeer = static_cast<std::uint32_t>(r.varintBelow(t.peers.size(), "text creator index"));
  c.creator = t.peers[c.creatorPeer];
  c.seq = r.varintBelow(kMaxClock, "text creator seq");
  const std::uint64_t x = r.varint();
  if ((x >> 2) > kMaxEvents) throw DecodeError("text edit: position out of range");
  c.cursor = readEditBody(r, x >> 2, x & 3);
  ctx = c;
}

}  // namespace

std::size_t validValueSize(ByteSpan bytes) {
  // Trusted (already scanned) bytes: count open elements instead of recursing.
  std::size_t pos = 0;
  std::uint64_t open = 1;
  while (open > 0) {
    --open;
    const std::uint8_t t = bytes[pos++];
    if (t >= 0x80 || t <= 0x02) continue;
    if (t >= 0x40) {
      pos += t - 0x40;
      continue;
    }
    switch (t) {
      case 0x03:
        rawVarint(bytes, pos);
        break;
      case 0x04:
        pos += 8;
        break;
      case 0x05:
        pos += static_cast<std::size_t>(rawVarint(bytes, pos));
        break;
      case 0x06:
      case 0x08:  // a set value (stored cells only)
        open += rawVarint(bytes, pos);
        break;
      default: {  // object: keys are inline, so walk entries one level at a time
        std::uint64_t n = rawVarint(bytes, pos);
        for (std::uint64_t i = 0; i < n; ++i) {
          pos += static_cast<std::size_t>(rawVarint(bytes, pos));
          pos += validValueSize(bytes.subspan(pos));  // depth <= 64: bounded recursion
        }
      }
    }
  }
  return pos;
}

void decodeChunk(ByteReader& r, std::uint32_t chunkIndex, DecodedChanges& out, std::uint64_t seed) {
  ChunkTables t;
  t.peers = readTable(r, kMaxPeerIdBytes, "peer id", true, seed);
  t.names = readTable(r, kMaxNameBytes, "name", false, seed);
  t.keys = readTable(r, kMaxKeyBytes, "row key", true, seed);
  const std::uint64_t nTxns = r.varintBelow(r.remaining() + 1, "transaction count");
  if (nTxns == 0) throw DecodeError("chunk without transactions");
  std::vector<Seq> peerEnd(t.peers.size(), 0);
  const std::size_t firstRun = out.runs.size();
  TextRunContext ctx;
  for (std::uint64_t ti = 0; ti < nTxns; ++ti) {
    const auto begin = static_cast<std::uint32_t>(r.position());
    const std::uint64_t head = r.varint();
    const std::uint64_t peerIdx = head >> txnflag::kBits;
    if (peerIdx >= t.peers.size()) throw DecodeError("transaction peer index out of range");
    const auto peer = static_cast<std::uint32_t>(peerIdx);
    const bool linear = head & txnflag::kLinear, continues = head & txnflag::kContinues,
               single = head & txnflag::kSingle;
    Seq seq;
    if (continues) {
      if (peerEnd[peer] == 0) throw DecodeError("transaction continues nothing");
      seq = peerEnd[peer];
    } else {
      seq = r.varintBelow(kMaxClock, "seq");
      if (peerEnd[peer] != 0 && seq <= peerEnd[peer]) {
        throw DecodeError(seq == peerEnd[peer] ? "non-canonical seq (continues its predecessor)"
                                               : "a peer's transactions overlap or go back");
      }
    }
    const auto parentsBegin = static_cast<std::uint32_t>(out.parents.size());
    std::uint32_t parentCount = 0;
    if (linear) {
      if (seq == 0) throw DecodeError("linear transaction at seq 0 has no predecessor");
    } else {
      const std::uint64_t np = r.varintBelow(r.remaining() / 2 + 1, "parent count");
      if (np == 0 && seq > 0) {
        throw DecodeError("transaction at seq " + std::to_string(seq) +
                          " does not follow its peer's previous event");
      }
      for (std::uint64_t k = 0; k < np; ++k) {
        const std::uint64_t ppi = r.varintBelow(t.peers.size(), "parent peer index");
        const Seq ps = r.varintBelow(kMaxClock, "parent seq");
        if (ppi == peer && ps >= seq) throw DecodeError("parent is not an earlier event");
        // A peer's events form a chain, so any other parent of its own would be redundant.
        if (ppi == peer && ps + 1 != seq) {
          throw DecodeError("non-canonical parents (an own event other than the previous one)");
        }
        ParentRef p{static_cast<std::uint32_t>(ppi), ps};
        if (k > 0) {
          const ParentRef& q = out.parents.back();
          const int c = t.peers[q.peer].compare(t.peers[p.peer]);
          if (c > 0 || (c == 0 && q.seq >= p.seq)) {
            throw DecodeError("parents not in ascending order or duplicated");
          }
          // Two events of one peer: the earlier is in the later's past (the chain rule).
          if (c == 0) throw DecodeError("non-canonical parents (two events of one peer)");
        }
        out.parents.push_back(p);
      }
      parentCount = static_cast<std::uint32_t>(np);
      if (np == 1 && out.parents.back().peer == peer && out.parents.back().seq + 1 == seq) {
        throw DecodeError("non-canonical parents (the linear flag says this)");
      }
    }
    std::uint64_t nOps = 1;
    if (!single) {
      nOps = r.varintBelow(r.remaining() + 1, "operation count");
      if (nOps < 2) throw DecodeError("non-canonical operation count");
    }
    if (seq + nOps > kMaxClock) throw DecodeError("seq out of range");
    TxnRunView* last = out.runs.size() > firstRun ? &out.runs.back() : nullptr;
    const bool joins =
        last && last->peer == peer && linear && continues && last->seq + last->events == seq;
    if (!joins) ctx.valid = false;
    for (std::uint64_t oi = 0; oi < nOps; ++oi) {
      const std::uint64_t opHead = r.varint();
      std::uint64_t kind = opHead & 3;
      bool indexed = false;
      if (kind == 0) {
        const std::uint64_t ext = r.varint();
        if (ext < 1 || ext > kIndexedExt) throw DecodeError("unknown operation kind");
        if (ext == kRelativeExt) {  // (no table: it is the context's)
          readRelativeEdit(r, opHead, ctx);
          continue;
        }
        indexed = ext == kIndexedExt;
        kind = ext + 3;
      }
      const std::uint64_t table = opHead >> 2;
      if (table >= t.names.size()) throw DecodeError("table name index out of range");
      if (t.names[table].empty()) throw DecodeError("empty table name");
      if (indexed) {
        readIndexedEdit(r, table, t, ctx);
        continue;
      }
      const auto key = static_cast<std::uint32_t>(r.varintBelow(t.keys.size(), "row key index"));
      if (kind == static_cast<std::uint64_t>(OpKind::DeleteRow)) continue;
      const std::uint64_t nCols = r.varintBelow(r.remaining() / 2 + 1, "column count");
      const auto opKind = static_cast<OpKind>(kind);
      if (isOneColumnOp(opKind) && nCols != 1) {
        throw DecodeError(isSetOp(opKind)    ? "a set operation names one column"
                          : isTextOp(opKind) ? "a text operation names one column"
                                             : "an increment names one column");
      }
      std::string_view prev;
      for (std::uint64_t ci = 0; ci < nCols; ++ci) {
        const auto nameIdx =
            static_cast<std::uint32_t>(r.varintBelow(t.names.size(), "column name index"));
        const std::string_view name = t.names[nameIdx];
        if (ci > 0 && !(prev < name)) {
          throw DecodeError("columns not in ascending order or duplicated");
        }
        prev = name;
        const ByteSpan valueAt = r.rest();
        const ValueScan scan = scanValue(r);
        if (scan.depth > kMaxSetElementDepth && isSetOp(opKind)) {
          throw DecodeError("set element nested deeper than " +
                            std::to_string(kMaxSetElementDepth) + " levels");
        }
        if (opKind == OpKind::Increment && typeOf(valueAt.first(scan.size)) != ValueType::Int) {
          throw DecodeError("an increment's delta is not a safe integer");
        }
        if (opKind == OpKind::CounterReset) readClaims(valueAt.first(scan.size));
        if (opKind == OpKind::TextCreate && typeOf(valueAt.first(scan.size)) != ValueType::String) {
          throw DecodeError("a text's content is not a string");
        }
        if (opKind == OpKind::TextEdit) {
          const TextEditValue e = readScannedTextEdit(valueAt.first(scan.size));
          ctx = {true,          static_cast<std::uint32_t>(table), key, nameIdx, 0, e.peer, e.seq,
                 cursorAfter(e)};
        }
      }
    }
    peerEnd[peer] = seq + nOps;
    const auto end = static_cast<std::uint32_t>(r.position());
    if (joins) {
      last->events += nOps;
      last->txnCount += 1;
      last->end = end;
    } else {
      out.runs.push_back(TxnRunView{chunkIndex, peer, seq, nOps, 1, linear, parentsBegin,
                                    parentCount, begin, end});
    }
  }
  out.chunks.push_back(std::move(t));
}

DecodedChanges decodeChangesPayload(ByteSpan payload, std::uint64_t seed) {
  if (payload.size() > 0xffffffffu) throw DecodeError("message too large");
  ByteReader r(payload);
  DecodedChanges out;
  const std::uint64_t n = r.varintBelow(r.remaining() + 1, "chunk count");
  for (std::uint64_t i = 0; i < n; ++i) decodeChunk(r, static_cast<std::uint32_t>(i), out, seed);
  if (!r.atEnd()) throw DecodeError("trailing bytes after the last chunk");
  return out;
}

std::uint64_t TxnCursor::varint() { return rawVarint(bytes_, pos_); }

TxnHeader TxnCursor::header(Seq prevEnd) {
  TxnHeader h;
  const std::uint64_t head = varint();
  h.peer = static_cast<std::uint32_t>(head >> txnflag::kBits);
  h.linear = head & txnflag::kLinear;
  const bool continues = head & txnflag::kContinues;
  h.seq = continues ? prevEnd : varint();
  // The rule decodeChunk groups runs by (the writer's too): the text context carries over.
  joined_ = h.linear && continues && lastPeer_ == h.peer;
  if (!joined_) ctx_.valid = false;
  lastPeer_ = h.peer;
  if (!h.linear) {
    std::uint64_t np = varint();
    h.parents.reserve(static_cast<std::size_t>(np));
    for (std::uint64_t k = 0; k < np; ++k) {
      auto p = static_cast<std::uint32_t>(varint());
      h.parents.push_back({p, varint()});
    }
  }
  h.opCount = (head & txnflag::kSingle) ? 1 : static_cast<std::uint32_t>(varint());
  return h;
}

TextEditValue TxnCursor::compactEdit(std::uint64_t ext, std::uint64_t head) {
  // Valid bytes: a relative edit has its context and the position is in range.
  std::uint64_t x, at;
  if (ext == kIndexedExt) {
    ctx_.valid = true;
    ctx_.table = static_cast<std::uint32_t>(head >> 2);
    ctx_.key = static_cast<std::uint32_t>(varint());
    ctx_.column = static_cast<std::uint32_t>(varint());
    ctx_.creatorPeer = static_cast<std::uint32_t>(varint());
    ctx_.creator = {};
    ctx_.creatorByIndex = true;
    ctx_.seq = varint();
    x = varint();
    at = x >> 2;
  } else {
    x = varint();
    at = static_cast<std::uint64_t>(static_cast<std::int64_t>(ctx_.cursor) + zigzagDecode(x >> 2));
    relative_ = true;
  }
  TextEditValue e;
  e.named = true;
  e.peer = ctx_.creator;
  e.seq = ctx_.seq;
  e.pos = static_cast<std::uint32_t>(at);
  const std::uint64_t mode = x & 3;
  e.insert = mode >= relmode::kInsert;
  if (mode == relmode::kDelete) {
    e.len = static_cast<std::uint32_t>(varint());
  } else if (mode == relmode::kDeleteOne) {
    e.len = 1;
  } else {
    const std::size_t n = mode == relmode::kInsert ? static_cast<std::size_t>(varint())
                                                   : utf8SequenceLength(bytes_[pos_]);
    e.content = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
  }
  ctx_.cursor = cursorAfter(e);
  return e;
}

void TxnCursor::noteFullEdit(std::uint32_t table, std::uint32_t key, std::uint32_t column,
                             ByteSpan value) {
  edit_ = readScannedTextEdit(value);
  const TextEditValue& e = edit_;
  ctx_ = {true, table, key, column, 0, e.peer, e.seq, cursorAfter(e), false};
}

void TxnCursor::op(const ChunkTables& t, OpRef& op, std::vector<ColumnRef>& cols, OpIndexes* idx) {
  relative_ = false;
  const std::uint64_t head = varint();
  cols.clear();
  if (idx) idx->columns.clear();
  std::uint64_t kind = head & 3;
  if (kind == 0) {
    const std::uint64_t ext = varint();
    if (ext >= kRelativeExt) {
      edit_ = compactEdit(ext, head);
      TextEditValue& e = edit_;
      if (ctx_.creatorByIndex) e.peer = t.peers[ctx_.creatorPeer];
      scratch_.bytes().clear();
      writeTextEdit(e.peer, e.seq, e, scratch_);
      op.kind = OpKind::TextEdit;
      op.table = t.names[ctx_.table];
      op.key = t.keys[ctx_.key];
      cols.push_back({t.names[ctx_.column], scratch_.bytes()});
      if (idx) {
        idx->table = ctx_.table;
        idx->key = ctx_.key;
        idx->columns.push_back(ctx_.column);
      }
      op.columns = cols;
      return;
    }
    kind = ext + 3;
  }
  op.kind = static_cast<OpKind>(kind);
  const auto table = static_cast<std::uint32_t>(head >> 2);
  const auto key = static_cast<std::uint32_t>(varint());
  op.table = t.names[table];
  op.key = t.keys[key];
  if (idx) {
    idx->table = table;
    idx->key = key;
  }
  if (op.kind != OpKind::DeleteRow) {
    const std::uint64_t n = varint();
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto nameIdx = static_cast<std::uint32_t>(varint());
      if (idx) idx->columns.push_back(nameIdx);
      std::string_view name = t.names[nameIdx];
      std::size_t size = validValueSize(bytes_.subspan(pos_));
      cols.push_back({name, bytes_.subspan(pos_, size)});
      if (op.kind == OpKind::TextEdit) noteFullEdit(table, key, nameIdx, cols.back().value);
      pos_ += size;
    }
  }
  op.columns = cols;
}

ByteSpan TxnCursor::skipOp() {
  relative_ = false;
  const std::size_t start = pos_;
  const std::uint64_t head = varint();
  std::uint64_t kind = head & 3;
  if (kind == 0) {
    const std::uint64_t ext = varint();
    if (ext >= kRelativeExt) {
      compactEdit(ext, head);
      return bytes_.subspan(start, pos_ - start);
    }
    kind = ext + 3;
  }
  const auto key = static_cast<std::uint32_t>(varint());
  if (kind != static_cast<std::uint64_t>(OpKind::DeleteRow)) {
    const std::uint64_t n = varint();
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto nameIdx = static_cast<std::uint32_t>(varint());
      const std::size_t size = validValueSize(bytes_.subspan(pos_));
      if (kind == static_cast<std::uint64_t>(OpKind::TextEdit)) {
        noteFullEdit(static_cast<std::uint32_t>(head >> 2), key, nameIdx,
                     bytes_.subspan(pos_, size));
      }
      pos_ += size;
    }
  }
  return bytes_.subspan(start, pos_ - start);
}

void ChunkWriter::beginTxn(std::uint32_t peer, Seq seq, bool linear,
                           std::span<const ParentRef> parents, std::uint64_t opCount) {
  if (peer >= peerEnd_.size()) peerEnd_.resize(peer + 1, 0);
  reserveMore(journal_, 1);
  const bool continues = peerEnd_[peer] != 0 && peerEnd_[peer] == seq;
  std::uint64_t head = std::uint64_t{peer} << txnflag::kBits;
  if (linear) head |= txnflag::kLinear;
  if (continues) head |= txnflag::kContinues;
  if (opCount == 1) head |= txnflag::kSingle;
  body_.varint(head);
  if (!continues) body_.varint(seq);
  if (!linear) {
    body_.varint(parents.size());
    for (const ParentRef& p : parents) {
      body_.varint(p.peer);
      body_.varint(p.seq);
    }
  }
  if (opCount != 1) body_.varint(opCount);
  journal_.emplace_back(peer, peerEnd_[peer]);
  peerEnd_[peer] = seq + opCount;
  ++txns_;
  // Mirrors TxnCursor::header: a txn that does not join the run starts without a context.
  if (!(linear && continues && lastPeer_ == peer)) ctx_.valid = false;
  lastPeer_ = peer;
}

void ChunkWriter::textEdit(std::uint32_t table, std::uint32_t key, std::uint32_t column,
                           ValueRef named, const TextEditValue& e) {
  std::optional<std::uint32_t> creator;
  if (ctx_.valid && peers_.name(ctx_.creatorPeer) == e.peer) {
    creator = ctx_.creatorPeer;
  } else {
    creator = internCreators_ ? std::optional(peers_.intern(e.peer)) : peers_.find(e.peer);
  }
  // The body both compact forms end with: x = position << 2 | mode, then the payload.
  auto body = [&](std::uint64_t position) {
    const bool oneChar =
        e.insert && utf8SequenceLength(static_cast<std::uint8_t>(e.content[0])) == e.content.size();
    const std::uint64_t mode = !e.insert ? (e.len == 1 ? relmode::kDeleteOne : relmode::kDelete)
                               : oneChar ? relmode::kInsertChar
                                         : relmode::kInsert;
    body_.varint(position << 2 | mode);
    if (mode == relmode::kDelete) body_.varint(e.len);
    if (mode == relmode::kInsert) body_.string(e.content);
    if (mode == relmode::kInsertChar) {
      body_.raw(
          ByteSpan(reinterpret_cast<const std::uint8_t*>(e.content.data()), e.content.size()));
    }
  };
  if (ctx_.valid && creator == ctx_.creatorPeer && e.seq == ctx_.seq && table == ctx_.table &&
      key == ctx_.key && column == ctx_.column) {
    body_.varint(0);
    body_.varint(kRelativeExt);
    body(zigzagEncode(static_cast<std::int64_t>(e.pos) - static_cast<std::int64_t>(ctx_.cursor)));
  } else if (creator) {
    body_.varint(std::uint64_t{table} << 2);
    body_.varint(kIndexedExt);
    body_.varint(key);
    body_.varint(column);
    body_.varint(*creator);
    body_.varint(e.seq);
    body(e.pos);
  } else {
    writeFullTextEdit(body_, table, key, column, named);
  }
  if (creator) {
    ctx_ = {true, table, key, column, *creator, {}, e.seq, cursorAfter(e)};
  } else {
    ctx_.valid = false;  // a creator the table lacks: the next edit goes in full
  }
}

void ChunkWriter::opHead(OpKind kind, std::uint32_t table) {
  const auto k = static_cast<std::uint64_t>(kind);
  body_.varint((k <= 3 ? k : 0) | (std::uint64_t{table} << 2));
  if (k > 3) body_.varint(k - 3);
}

void ChunkWriter::op(OpKind kind, std::uint32_t table, std::string_view key) {
  opHead(kind, table);
  body_.varint(keys_.intern(key));
}

void ChunkWriter::writeTo(ByteWriter& out) const {
  out.varint(peers_.size());
  for (std::uint32_t i = 0; i < peers_.size(); ++i) out.string(peers_.name(i));
  out.varint(names_.size());
  for (std::uint32_t i = 0; i < names_.size(); ++i) out.string(names_.name(i));
  out.varint(keys_.size());
  for (std::uint32_t i = 0; i < keys_.size(); ++i) out.string(keys_.name(i));
  out.varint(txns_);
  out.raw(body_.bytes());
}

void ChunkWriter::writeSegment(const Position& from, ByteWriter& out) const {
  const Interner* tables[] = {&peers_, &names_, &keys_};
  const std::uint32_t starts[] = {from.peers, from.names, from.keys};
  for (int t = 0; t < 3; ++t) {
    out.varint(tables[t]->size() - starts[t]);
    for (std::uint32_t i = starts[t]; i < tables[t]->size(); ++i) out.string(tables[t]->name(i));
  }
  out.varint(txns_ - from.txns);
  out.raw(ByteSpan(body_.bytes()).subspan(from.body));
}

void ChunkWriter::restore(const ChunkTables& tables, std::size_t txns, ByteSpan body,
                          const std::vector<Seq>& peerEnds) {
  ChunkWriter w(seed_);
  for (std::string_view p : tables.peers) w.peers_.intern(p);
  for (std::string_view n : tables.names) w.names_.intern(n);
  for (std::string_view k : tables.keys) w.keys_.intern(k);
  w.body_.raw(body);
  w.txns_ = txns;
  w.peerEnd_ = peerEnds;
  w.internCreators_ = internCreators_;
  *this = std::move(w);  // no run context: the next text edit goes in full
}

std::size_t ChunkWriter::memoryBytes() const {
  return body_.bytes().capacity() + peerEnd_.capacity() * sizeof(Seq) +
         journal_.capacity() * sizeof(journal_[0]) + peerCache_.capacity() * sizeof(std::uint32_t);
}

void ChunkWriter::rollback(const Mark& m) noexcept {
  while (journal_.size() > m.journal) {
    peerEnd_[journal_.back().first] = journal_.back().second;
    journal_.pop_back();
  }
  body_.bytes().resize(m.body);
  txns_ = m.txns;
  peers_.truncate(m.peers);
  names_.truncate(m.names);
  keys_.truncate(m.keys);
  if (peerEnd_.size() > m.peers) peerEnd_.resize(m.peers);
  lastPeer_ = m.lastPeer;
  ctx_ = m.ctx;
}

std::size_t sliceChunk(ByteSpan chunk,
                       const std::function<bool(std::string_view peer, Seq seq, Seq end)>& keep,
                       ByteWriter& out) {
  // Tables are copied as they are; kept transactions are copied op by op, except that a
  // relative text edit whose context the slice dropped is written in full.
  ByteReader r(chunk);
  ChunkTables t;
  t.peers = readTable(r, kMaxPeerIdBytes, "peer id", true, kDecodeSeed);
  t.names = readTable(r, kMaxNameBytes, "name", false, kDecodeSeed);
  t.keys = readTable(r, kMaxKeyBytes, "row key", true, kDecodeSeed);
  const std::size_t tablesEnd = r.position();
  const std::uint64_t nTxns = r.varint();
  std::vector<Seq> peerEnd(t.peers.size(), 0), outEnd(t.peers.size(), 0);
  constexpr std::uint32_t kNone = 0xffffffffu;
  std::uint32_t outLast = kNone;
  bool contextKept = true;  // the output's text context equals the input's
  ByteWriter body;
  std::size_t kept = 0;
  TxnCursor c(chunk, r.position(), chunk.size());
  OpRef op;
  std::vector<ColumnRef> cols;
  TxnCursor::OpIndexes idx;
  for (std::uint64_t i = 0; i < nTxns; ++i) {
    std::size_t peekPos = c.position();
    const std::uint64_t head = rawVarint(chunk, peekPos);
    const auto peer = static_cast<std::uint32_t>(head >> txnflag::kBits);
    TxnHeader h = c.header(peerEnd[peer]);
    peerEnd[peer] = h.seq + h.opCount;
    if (!keep(t.peers[peer], h.seq, h.seq + h.opCount)) {
      for (std::uint32_t k = 0; k < h.opCount; ++k) c.skipOp();
      continue;
    }
    ++kept;
    const bool continues = outEnd[peer] != 0 && outEnd[peer] == h.seq;
    const bool outJoins = h.linear && continues && outLast == peer;
    if (!c.joinedRun()) {
      contextKept = true;  // both start afresh (the input has no context to refer to)
    } else if (!outJoins) {
      contextKept = false;
    }
    outLast = peer;
    outEnd[peer] = h.seq + h.opCount;
    std::uint64_t txnHead = std::uint64_t{peer} << txnflag::kBits;
    if (h.linear) txnHead |= txnflag::kLinear;
    if (continues) txnHead |= txnflag::kContinues;
    if (h.opCount == 1) txnHead |= txnflag::kSingle;
    body.varint(txnHead);
    if (!continues) body.varint(h.seq);
    if (!h.linear) {
      body.varint(h.parents.size());
      for (const ParentRef& p : h.parents) {
        body.varint(p.peer);
        body.varint(p.seq);
      }
    }
    if (h.opCount != 1) body.varint(h.opCount);
    for (std::uint32_t k = 0; k < h.opCount; ++k) {
      const std::size_t opStart = c.position();
      c.op(t, op, cols, &idx);
      if (c.lastOpRelative() && !contextKept) {
        writeFullTextEdit(body, idx.table, idx.key, idx.columns[0], cols[0].value);
      } else {
        body.raw(chunk.subspan(opStart, c.position() - opStart));
      }
      if (op.kind == OpKind::TextEdit) contextKept = true;
    }
  }
  if (kept == 0) return 0;
  out.raw(chunk.first(tablesEnd));
  out.varint(kept);
  out.raw(body.bytes());
  return kept;
}

}  // namespace crdtdb
