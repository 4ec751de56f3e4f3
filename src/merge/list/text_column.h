// One list/text column merged with Eg-walker (README.md): its operations as their authors
// saw them (insert text at a position, delete a range), run-length encoded, on the column's
// own causal graph (ListGraph), plus the current text. No per-character CRDT metadata is
// kept: merging builds a Tracker for the concurrent region only and drops it afterwards.
//
// Units: every inserted or deleted UTF-16 unit gets a column-local id ("unit", 0, 1, 2, ...
// in the order edits were added); an edit is one event of the replica's graph covering a run
// of units, so eventOf(unit) maps back. The ListGraph, the ops and the tracker work on units.
//
// Remote operations are added with addRemote() and merged together by flush(), so a message
// carrying many concurrent edits replays its region once. Local edits apply at once.
// Positions and lengths are in UTF-16 code units.
//
// Failure atomicity: flush() computes every patch before it changes the text, then applies
// them without allocating; a failed local edit changes nothing. mark()/rollback() undo whole
// calls (what a Database call did to the column, failed or reverted afterwards).
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

// Where units [o, o + k) of a run of `len` (kind as ListOp) sit as their author saw them:
// an insert types forwards, a forward delete stays at pos, a Backspace run walks back.
inline std::uint64_t runPiecePos(bool insert, bool forward, std::uint64_t pos, std::uint64_t len,
                                 std::uint64_t o, std::uint64_t k) {
  if (insert) return pos + o;
  return forward ? pos : pos + len - o - k;
}

// A run of one author's consecutive edits of one kind: units [start, start + len).
//  insert: the units content[contentAt, + len) at pos, pos + 1, ... (typing forwards);
//  delete forward: every unit removes the one at pos (the Delete key);
//  delete backward: unit i removes the one at pos + len - 1 - i (Backspace).
struct ListOp {
  enum Kind : std::uint8_t { Insert = 1, Delete = 2 };
  LV start;
  std::uint32_t len;
  Kind kind;
  bool forward;
  std::uint32_t pos;
  std::uint32_t contentAt;  // inserts: offset into the column's content buffer
  LV end() const { return start + len; }
  std::uint64_t piecePos(LV o, LV k) const {
    return runPiecePos(kind == Insert, forward, pos, len, o, k);
  }
};

// An edit as its author made it: insert `content` at pos, or delete [pos, pos + len).
struct TextEdit {
  bool insert;
  std::uint32_t pos;
  std::uint32_t len;            // deletes
  std::u16string_view content;  // inserts
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
  // FugueMax tie-break between two events' authors: ascending by peer id.
  using AuthorLess = std::function<bool(LV, LV)>;

  // ---- local edits (the column must have nothing pending) ----
  // Event `event` inserts `text` at pos. Error(Range) if pos is past the end or, with
  // keepPairs, would split a surrogate pair (nothing changes then). A remote edit that saw
  // exactly this text comes here too, without keepPairs: addRemote does not look inside
  // pairs either, and every replica must judge an edit alike.
  // perUnit: the units are keystrokes instead, events event, event + 1, ... (as addRemote).
  void localInsert(LV event, std::uint32_t pos, std::u16string_view text,
                   std::vector<TextPatch>* out, bool keepPairs = true, bool perUnit = false);
  // Event `event` deletes [pos, pos + len). Error(Range) as for insert.
  void localDelete(LV event, std::uint32_t pos, std::uint32_t len, std::vector<TextPatch>* out,
                   bool keepPairs = true);
  // Throws Error(Range) unless an insert at pos / a delete of [pos, pos + len) is valid.
  void checkInsert(std::uint32_t pos, bool keepPairs = true) const;
  void checkDelete(std::uint32_t pos, std::uint32_t len, bool keepPairs = true) const;

  // ---- remote edits ----
  // The units an arriving event had seen last (its parents in the column graph), given
  // seenEvent(e): whether replica event e is in its causal past.
  template <class SeenEvent>
  std::vector<LV> parentsFor(SeenEvent&& seenEvent) const {
    return graph_.latestSeen([&](LV unit) { return seenEvent(eventOf(unit)); });
  }
  // Adds event `event`'s edit, made on the units `parents` (sorted; parentsFor() computes
  // them). Content is copied. Merged by flush().
  // perUnit: the edit is a run of keystrokes instead, events event, event + 1, ... making one
  // unit each, every one on the units the previous left (a decoded history's run, added in
  // one step); `backward` then says a delete run was typed with Backspace (ListOp).
  void addRemote(LV event, const TextEdit& edit, std::span<const LV> parents, bool perUnit = false,
                 bool backward = false);
  // The replica event that made unit `unit`.
  LV eventOf(LV unit) const;
  bool pending() const { return graph_.lastEnd() > merged_; }
  // Merges every pending operation into the text; appends the patches to `out` if given.
  // DecodeError if an operation's positions are outside its author's text (then the text
  // is unchanged).
  void flush(const AuthorLess& authorLess, std::vector<TextPatch>* out);

  const TextBuffer& text() const { return text_; }
  const ListGraph& graph() const { return graph_; }
  const std::vector<ListOp>& ops() const { return ops_; }
  // The inserted units of every insert op, in op order.
  std::u16string_view insertedContent() const { return content_; }
  std::u16string_view content(const ListOp& op) const {
    return std::u16string_view(content_).substr(op.contentAt, op.len);
  }
  std::size_t memoryBytes() const;
  // unit -> event, run-length encoded: units [unit, unit + len) belong to `event` (one
  // edit), or to event, event + 1, ... (perUnit: single-unit edits, i.e. keystrokes).
  struct EventRun {
    LV unit, len, event;
    bool perUnit;
  };
  template <class F>  // f(const EventRun&) in unit order
  void forEachEventRun(F&& f) const {
    for (const EventRun& r : events_) f(r);
  }

  // Undo of everything since mark(): local edits, remote additions and flushes (a call that
  // fails, or that its caller reverts, leaves the column exactly as it was). mark() starts
  // recording how the text changes (the units each change removed are kept); forget() stops
  // and drops the record (marks taken before it are then void). rollback() does not
  // allocate; it takes the mark's saved version.
  struct Mark {
    ListGraph::Mark graph;
    std::size_t ops, content, events, undo, undoContent;
    ListOp lastOp;
    EventRun lastEvent;
    std::vector<LV> version;
    LV merged;
  };
  Mark mark();
  void rollback(Mark& m) noexcept;
  void forget() noexcept;

  // Deep invariant check (tests; O(history)): ops and event runs tile the units, inserted
  // content matches the ops, the version is the frontier when nothing is pending.
  void checkInvariants() const;

  // Work done by merges so far (tests pin the cost of history shapes with it).
  struct Work : TrackerWork {
    std::uint64_t slowMerges = 0;    // flushes that needed a tracker
    std::uint64_t regionEvents = 0;  // units in their concurrent regions
    std::uint64_t directUnits = 0;   // units applied with no tracker
    std::uint64_t clears = 0;        // trackers dropped at critical versions
  };
  const Work& work() const { return work_; }

 private:
  void append(LV event, const ListOp& op, std::u16string_view content, std::span<const LV> parents,
              bool perUnit);
  void slowMerge(LV newFrom, std::uint64_t length, const AuthorLess& authorLess,
                 std::vector<TextPatch>& patches) const;
  std::size_t opAt(LV lv) const;
  // Units [o, o + k) of `op` as their author saw them: where they apply, a check that they fit
  // a text of `length` units (DecodeError), and the patch when they apply as they are.
  static void checkPiece(const ListOp& op, std::uint64_t pos, LV k, std::uint64_t length);
  TextPatch piecePatch(const ListOp& op, std::uint64_t pos, LV o, LV k) const;

  ListGraph graph_;
  std::vector<ListOp> ops_;
  std::u16string content_;  // inserted units of every insert op, in op order
  std::vector<EventRun> events_;
  TextBuffer text_;
  std::vector<LV> version_;  // the events the text reflects (graph frontier when nothing pends)
  LV merged_ = 0;            // events below it are in the text (a run may grow past it)
  mutable Work work_;
  std::vector<LV> parentsScratch_;  // local edits' parents (reused: no allocation per edit)

  // Undo record of text changes since mark(): at `pos`, `inserted` units were inserted in
  // place of `removed` units, kept in undoContent_ from `removedAt`.
  struct TextUndo {
    std::uint32_t pos, inserted, removed;
    std::size_t removedAt;
  };
  // Applies a patch to text_, recording its undo when recording_ (space reserved by the caller).
  void applyPatch(const TextPatch& p) noexcept;
  void reserveUndo(std::size_t patches, std::size_t removedUnits);
  bool recording_ = false;
  std::vector<TextUndo> undo_;
  std::u16string undoContent_;
};

}  // namespace crdtdb::list
