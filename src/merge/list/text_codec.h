// The history of one text column as bytes (for snapshots and storage): its edits as their
// authors made them, named by (peer, seq) so that any replica whose causal graph holds those
// events can read them back. The column graph is not encoded: it is the projection of the
// replica's graph, and the reader recomputes it (TextColumn::parentsFor), so bytes cannot
// make it inconsistent.
//
//   text    := u8 flags (0; later versions may add sections)
//              varint nOps, nOps × op              the column's ops (RLE runs), in unit order
//              varint n, n bytes content           inserted units of the insert ops, WTF-8
//                                                  (UTF-8 that also carries lone surrogates)
//              varint nRuns, nRuns × run           which event made each unit, in unit order
//   op      := varint len (>= 1), u8 kind (1 insert, 2 delete forward, 3 delete backward),
//              varint pos
//   run     := varint len (>= 1), u8 perUnit (0: one event made all len units; 1: events seq,
//              seq + 1, ... made one unit each), varint peer (the caller's peer table), varint seq
//
// Every rule is checked on decode (DecodeError); positions are checked when the edits merge.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"
#include "merge/list/text_column.h"

namespace crdtdb::list {

// An event as an encoding names it: the encoder's index for its peer, and its seq.
struct EventName {
  std::uint32_t peer;
  Seq seq;
};

// Appends the column's history (everything added to it, merged or not).
void encodeText(const TextColumn& col, const std::function<EventName(LV)>& nameOf, ByteWriter& out);

// One piece of history read back: an edit of event `event` (in the reader's LVs), or, when
// perUnit, a run of keystrokes by events event, event + 1, ... (one unit each, `backward`
// for a Backspace run), kept as one piece so that memory follows the encoding's runs, not
// its units. `edit.content` views DecodedText::content.
struct DecodedEdit {
  LV event;
  TextEdit edit;
  bool perUnit;
  bool backward;
  LV events() const { return perUnit ? (edit.insert ? edit.content.size() : edit.len) : 1; }
};
struct DecodedText {
  std::u16string content;
  std::vector<DecodedEdit> edits;  // ascending by event: a causal order of the reader's graph
};
// Reads encodeText's bytes into `out` (whose edits view its content: do not move it while
// they are used). `lvOf(peer, seq)` gives the reader's LV of an event (it throws DecodeError
// for one it does not hold). DecodeError for malformed bytes, an event named twice or an edit
// that spans two ops.
void decodeText(ByteReader& r, const std::function<LV(std::uint32_t, Seq)>& lvOf, DecodedText& out);
// How addDecoded sees the reader's causal graph: whether an event is new to the column,
// the parents an event's edit has in the column (as TextColumn::parentsFor computes them),
// and whether an event's only parent is the event before it (a keystroke run then goes in
// as one piece; false is always safe).
struct DecodedGraph {
  std::function<bool(LV)> fresh;
  std::function<std::vector<LV>(const TextColumn&, LV)> parentsOf;
  std::function<bool(LV)> followsPrevious;
};
// Adds the edits of `in` whose events are fresh to `col` and merges them: how a decoded
// history goes into a new column, or joins one that holds part of it. Edits are checked as
// remote edits are (DecodeError; the caller rolls the column back).
void addDecoded(TextColumn& col, const DecodedText& in, const DecodedGraph& graph,
                const TextColumn::AuthorLess& authorLess);

// UTF-16 units as WTF-8, and back (DecodeError for bytes that are not the canonical WTF-8 of
// some units: overlong forms, a surrogate pair written as two surrogates, stray bytes).
void appendWtf8(std::u16string_view units, std::string& out);
// UTF-16 units as UTF-8 with each lone surrogate shown as U+FFFD (also one unit, so positions
// stay aligned): how a text reads as a string. Only a hostile peer's edit can leave a lone
// surrogate (honest ones never split a pair), and every replica shows it alike. Writes at
// most 3 bytes per unit to `out`; returns how many.
std::size_t writeUtf8(std::u16string_view units, char* out);
void decodeWtf8(std::string_view bytes, std::u16string& out);

}  // namespace crdtdb::list
