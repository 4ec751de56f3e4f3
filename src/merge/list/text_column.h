// One list/text column merged with Eg-walker (README.md): its operations as their authors
// saw them (insert text at a position, delete a range), run-length encoded, on the column's
// own causal graph (ListGraph), plus the current text. No per-character CRDT metadata is
// kept: merging builds a Tracker for the concurrent region only and drops it afterwards.
//
// Remote operations are added with addRemote() and merged together by flush(), so a message
// carrying many concurrent edits replays its region once. Local edits apply at once.
// Positions and lengths are in UTF-16 code units.
//
// Failure atomicity: flush() computes every patch before it changes the text, then applies
// them without allocating; a failed local edit changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "merge/list/list_graph.h"
#include "merge/list/text_buffer.h"
#include "merge/list/tracker.h"

namespace crdtdb::list {

// A run of one author's consecutive edits of one kind: events [start, start + len).
//  insert: the units content[contentAt, + len) at pos, pos + 1, ... (typing forwards);
//  delete forward: every event removes the unit at pos (the Delete key);
//  delete backward: event i removes the unit at pos + len - 1 - i (Backspace).
struct ListOp {
  enum Kind : std::uint8_t { Insert = 1, Delete = 2 };
  LV start;
  std::uint32_t len;
  Kind kind;
  bool forward;
  std::uint32_t pos;
  std::uint32_t contentAt;  // inserts: offset into the column's content buffer
  LV end() const { return start + len; }
};

// A change to the text as positions in it (for editor bindings): remove `removed` units at
// pos, then insert `inserted` there. `inserted` views the column's history: valid until the
// column changes again.
struct TextPatch {
  std::uint32_t pos;
  std::uint32_t removed;
  std::u16string_view inserted;
};

class TextColumn {
 public:
  using AuthorLess = std::function<bool(LV, LV)>;  // FugueMax tie-break by author peer id

  // ---- local edits (the column must have nothing pending) ----
  // Events [lv, lv + text.size()) insert `text` at pos. Error(Range) if pos is past the end
  // or would split a surrogate pair (nothing changes then).
  void localInsert(LV lv, std::uint32_t pos, std::u16string_view text, std::vector<TextPatch>* out);
  // Events [lv, lv + len) delete [pos, pos + len). Error(Range) as for insert.
  void localDelete(LV lv, std::uint32_t pos, std::uint32_t len, std::vector<TextPatch>* out);
  // Throws Error(Range) unless an insert at pos / a delete of [pos, pos + len) is valid.
  void checkInsert(std::uint32_t pos) const;
  void checkDelete(std::uint32_t pos, std::uint32_t len) const;

  // ---- remote edits ----
  // Adds an operation whose first event has the column parents `parents` (ListGraph order:
  // sorted; graph().latestSeen() computes them). Content is copied. Merged by flush().
  void addRemote(const ListOp& op, std::u16string_view content, std::span<const LV> parents);
  bool pending() const { return graph_.lastEnd() > merged_; }
  // Merges every pending operation into the text; appends the patches to `out` if given.
  // DecodeError if an operation's positions are outside its author's text (then the text
  // is unchanged).
  void flush(const AuthorLess& authorLess, std::vector<TextPatch>* out);

  const TextBuffer& text() const { return text_; }
  const ListGraph& graph() const { return graph_; }
  const std::vector<ListOp>& ops() const { return ops_; }
  std::u16string_view content(const ListOp& op) const {
    return std::u16string_view(content_).substr(op.contentAt, op.len);
  }
  std::size_t memoryBytes() const;

 private:
  void append(const ListOp& op, std::u16string_view content, std::span<const LV> parents);
  void slowMerge(LV newFrom, std::uint64_t length, const AuthorLess& authorLess,
                 std::vector<TextPatch>& patches) const;
  std::size_t opAt(LV lv) const;

  ListGraph graph_;
  std::vector<ListOp> ops_;
  std::u16string content_;  // inserted units of every insert op, in op order
  TextBuffer text_;
  std::vector<LV> version_;  // the events the text reflects (graph frontier when nothing pends)
  LV merged_ = 0;            // events below it are in the text (a run may grow past it)
};

}  // namespace crdtdb::list
