#include "merge/list/text_codec.h"

#include <algorithm>

#include "core/errors.h"
#include "core/sort.h"

namespace crdtdb::list {

namespace {

constexpr std::uint8_t kInsert = 1, kDeleteForward = 2, kDeleteBackward = 3;

}  // namespace

namespace {

// Writes at most 3 bytes per unit (a pair takes 4 for its 2 units) through a pointer: a
// text's whole content is encoded on every edit of its row. A lone surrogate is written as
// itself (WTF-8) or as U+FFFD (UTF-8).
template <bool kReplaceLone>
std::size_t writeUnits(std::u16string_view units, char* out) {
  char* p = out;
  const char16_t* u = units.data();
  const std::size_t n = units.size();
  for (std::size_t i = 0; i < n;) {
    // ASCII four units at a time (most text is).
    if (i + 4 <= n && ((u[i] | u[i + 1] | u[i + 2] | u[i + 3]) & 0xff80) == 0) {
      p[0] = static_cast<char>(u[i]);
      p[1] = static_cast<char>(u[i + 1]);
      p[2] = static_cast<char>(u[i + 2]);
      p[3] = static_cast<char>(u[i + 3]);
      p += 4;
      i += 4;
      continue;
    }
    std::uint32_t c = u[i++];
    if (c < 0x80) {
      *p++ = static_cast<char>(c);
      continue;
    }
    if (isHighSurrogate(c) && i < n && isLowSurrogate(u[i])) {
      c = 0x10000 + ((c - 0xd800) << 10) + (u[i++] - 0xdc00);
    } else if (kReplaceLone && (isHighSurrogate(c) || isLowSurrogate(c))) {
      c = 0xfffd;
    }
    if (c < 0x800) {
      *p++ = static_cast<char>(0xc0 | (c >> 6));
      *p++ = static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      *p++ = static_cast<char>(0xe0 | (c >> 12));
      *p++ = static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      *p++ = static_cast<char>(0x80 | (c & 0x3f));
    } else {
      *p++ = static_cast<char>(0xf0 | (c >> 18));
      *p++ = static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      *p++ = static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      *p++ = static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return static_cast<std::size_t>(p - out);
}

}  // namespace

void appendWtf8(std::u16string_view units, std::string& out) {
  const std::size_t at = out.size();
  out.resize(at + 3 * units.size());
  out.resize(at + writeUnits<false>(units, out.data() + at));
}

std::size_t writeUtf8(std::u16string_view units, char* out) { return writeUnits<true>(units, out); }

void decodeWtf8(std::string_view bytes, std::u16string& out) {
  auto bad = [] { throw DecodeError("text content is not valid WTF-8"); };
  bool afterHigh = false;  // the previous unit was a lone high surrogate
  for (std::size_t i = 0; i < bytes.size();) {
    const auto b0 = static_cast<std::uint8_t>(bytes[i]);
    std::size_t n;
    std::uint32_t c, min;
    if (b0 < 0x80) {
      n = 1, c = b0, min = 0;
    } else if ((b0 & 0xe0) == 0xc0) {
      n = 2, c = b0 & 0x1f, min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
      n = 3, c = b0 & 0x0f, min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
      n = 4, c = b0 & 0x07, min = 0x10000;
    } else {
      bad();
      return;
    }
    if (bytes.size() - i < n) bad();
    for (std::size_t k = 1; k < n; ++k) {
      const auto b = static_cast<std::uint8_t>(bytes[i + k]);
      if ((b & 0xc0) != 0x80) bad();
      c = (c << 6) | (b & 0x3f);
    }
    if (c < min || c > 0x10ffff) bad();
    // A pair written as two surrogates has a shorter canonical form (one 4-byte sequence).
    if (afterHigh && isLowSurrogate(c)) bad();
    afterHigh = isHighSurrogate(c);
    if (c >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xd800 + ((c - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + ((c - 0x10000) & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
    i += n;
  }
}

void encodeText(const TextColumn& col, const std::function<EventName(LV)>& nameOf,
                ByteWriter& out) {
  out.u8(0);
  out.varint(col.ops().size());
  for (const ListOp& op : col.ops()) {
    out.varint(op.len);
    out.u8(op.kind == ListOp::Insert   ? kInsert
           : op.forward || op.len == 1 ? kDeleteForward
                                       : kDeleteBackward);
    out.varint(op.pos);
  }
  // All of it at once: a surrogate pair may straddle two insert ops.
  std::string content;
  appendWtf8(col.insertedContent(), content);
  out.string(content);
  // Event runs, split where a per-unit run's events are not one peer's consecutive seqs
  // (adjacent LVs here may be different peers elsewhere).
  ByteWriter body;
  std::size_t count = 0;
  auto emit = [&](LV units, bool perUnit, EventName name) {
    body.varint(units);
    body.u8(perUnit ? 1 : 0);
    body.varint(name.peer);
    body.varint(name.seq);
    ++count;
  };
  col.forEachEventRun([&](const TextColumn::EventRun& r) {
    if (!r.perUnit) {
      emit(r.len, false, nameOf(r.event));
      return;
    }
    EventName first = nameOf(r.event);
    LV len = 1;
    for (LV i = 1; i < r.len; ++i) {
      const EventName next = nameOf(r.event + i);
      if (next.peer == first.peer && next.seq == first.seq + len) {
        ++len;
        continue;
      }
      emit(len, true, first);
      first = next;
      len = 1;
    }
    emit(len, true, first);
  });
  out.varint(count);
  out.raw(body.bytes());
}

void decodeText(ByteReader& r, const std::function<LV(std::uint32_t, Seq)>& lvOf,
                DecodedText& out) {
  out.content.clear();
  out.edits.clear();
  if (r.u8() != 0) throw DecodeError("text history: unknown flags");
  struct RawOp {
    std::uint32_t len;
    std::uint8_t kind;
    std::uint32_t pos;
    std::size_t contentAt;
  };
  std::vector<RawOp> ops;
  const std::uint64_t nOps = r.varintBelow(r.remaining() / 3 + 1, "text op count");
  ops.reserve(nOps);
  std::uint64_t units = 0, inserted = 0;
  for (std::uint64_t i = 0; i < nOps; ++i) {
    const std::uint64_t len = r.varintBelow(kMaxEvents, "text op length");
    const std::uint8_t kind = r.u8();
    const std::uint64_t pos = r.varintBelow(kMaxEvents, "text op position");
    if (len == 0) throw DecodeError("text history: an empty op");
    if (kind < kInsert || kind > kDeleteBackward)
      throw DecodeError("text history: unknown op kind");
    units += len;
    if (units > kMaxEvents) throw DecodeError("text history: too many units");
    ops.push_back({static_cast<std::uint32_t>(len), kind, static_cast<std::uint32_t>(pos),
                   static_cast<std::size_t>(inserted)});
    if (kind == kInsert) inserted += len;
  }
  const std::uint64_t nBytes = r.varintBelow(r.remaining() + 1, "text content size");
  const ByteSpan raw = r.raw(static_cast<std::size_t>(nBytes));
  decodeWtf8(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()), out.content);
  if (out.content.size() != inserted) throw DecodeError("text history: content and ops disagree");

  // Units → events → pieces. An event's units lie in one op (edits are never split); a
  // keystroke run becomes one piece per op it crosses and per break in the reader's LVs.
  const std::uint64_t nRuns = r.varintBelow(r.remaining() / 4 + 1, "text run count");
  std::uint64_t unit = 0;
  std::size_t opIdx = 0;
  std::uint64_t opStart = 0;
  // Units [unit, unit + k) made by event `event` (perUnit: by event, event + 1, ...).
  auto addPiece = [&](LV event, std::uint64_t k, bool perUnit) {
    while (k > 0) {
      while (opIdx < ops.size() && unit >= opStart + ops[opIdx].len) opStart += ops[opIdx++].len;
      if (opIdx == ops.size() || (!perUnit && unit + k > opStart + ops[opIdx].len)) {
        throw DecodeError("text history: an edit spans two ops");
      }
      const RawOp& op = ops[opIdx];
      const std::uint64_t o = unit - opStart, m = std::min(k, op.len - o);
      const std::uint64_t pos =
          runPiecePos(op.kind == kInsert, op.kind == kDeleteForward, op.pos, op.len, o, m);
      if (pos > kMaxEvents) throw DecodeError("text history: a position past the unit space");
      TextEdit e{
          op.kind == kInsert, static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(m), {}};
      if (e.insert) e.content = std::u16string_view(out.content).substr(op.contentAt + o, m);
      out.edits.push_back({event, e, perUnit, op.kind == kDeleteBackward});
      unit += m;
      k -= m;
      if (perUnit) event += static_cast<LV>(m);
    }
  };
  for (std::uint64_t i = 0; i < nRuns; ++i) {
    const std::uint64_t len = r.varintBelow(kMaxEvents, "text run length");
    const std::uint8_t perUnit = r.u8();
    const auto peer = static_cast<std::uint32_t>(r.varintBelow(0xffffffffu, "text run peer"));
    const std::uint64_t seq = r.varintBelow(kMaxClock, "text run seq");
    if (len == 0 || perUnit > 1) throw DecodeError("text history: malformed event run");
    if (unit + len > units) throw DecodeError("text history: more event runs than units");
    if (perUnit == 0) {
      addPiece(lvOf(peer, seq), len, false);
      continue;
    }
    if (seq + len > kMaxClock) throw DecodeError("text history: seq past the clock");
    // One piece per stretch of consecutive reader LVs.
    LV first = lvOf(peer, seq);
    std::uint64_t n = 1;
    for (std::uint64_t k = 1; k < len; ++k) {
      const LV lv = lvOf(peer, seq + k);
      if (lv == first + n) {
        ++n;
        continue;
      }
      addPiece(first, n, true);
      first = lv;
      n = 1;
    }
    addPiece(first, n, true);
  }
  if (unit != units) throw DecodeError("text history: units without an event");
  sortRange(out.edits.begin(), out.edits.end(),
            [](const DecodedEdit& a, const DecodedEdit& b) { return a.event < b.event; });
  for (std::size_t i = 1; i < out.edits.size(); ++i) {
    const DecodedEdit& prev = out.edits[i - 1];
    if (out.edits[i].event - prev.event < prev.events()) {
      throw DecodeError("text history: an event named twice");
    }
  }
}

void addDecoded(TextColumn& col, const DecodedText& in, const DecodedGraph& graph,
                const TextColumn::AuthorLess& authorLess) {
  for (const DecodedEdit& e : in.edits) {
    if (!e.perUnit) {
      if (graph.fresh(e.event)) col.addRemote(e.event, e.edit, graph.parentsOf(col, e.event));
      continue;
    }
    // A keystroke run: its fresh stretches, each cut where an event saw more than the one
    // before it (that event's parents are computed; the others follow on).
    const LV n = e.events();
    for (LV i = 0; i < n;) {
      if (!graph.fresh(e.event + i)) {
        ++i;
        continue;
      }
      LV j = i + 1;
      while (j < n && graph.fresh(e.event + j) && graph.followsPrevious(e.event + j)) ++j;
      // Units [i, j) of the piece.
      TextEdit sub = e.edit;
      const LV total = sub.insert ? sub.content.size() : sub.len;
      sub.pos = static_cast<std::uint32_t>(
          runPiecePos(sub.insert, !e.backward, sub.pos, total, i, j - i));
      if (sub.insert) {
        sub.content = sub.content.substr(i, j - i);
      } else {
        sub.len = static_cast<std::uint32_t>(j - i);
      }
      col.addRemote(e.event + i, sub, graph.parentsOf(col, e.event + i), true, e.backward);
      i = j;
    }
  }
  col.flush(authorLess, nullptr);
}

}  // namespace crdtdb::list
