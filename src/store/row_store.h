// All rows of all tables and the merge of operations into them.
//
// Rows live in a deque indexed by RowId (stable: the JS side caches rows by it) with a free
// list; an open-addressing table finds a row by (table, key). A row whose state becomes empty
// (no token, no column) is freed at the next commit point, so deleted rows cost nothing.
//
// Journal: every change to a row that existed before the current call is recorded (cells
// inserted, erased or replaced, with the old cell moved into the journal; losers added or
// removed, with their map and set nodes), rows created in the call are recorded once. So
// rollback(mark) restores the store exactly without allocating, and the journal since the
// mark tells what changed (changedColumns), which the change record and the indexes need.
//
// Invariants (checkInvariants): cells sorted token first, then by column name bytes, one per
// column; a cell flags losers iff its column has a non-empty ConflictSet whose every entry
// loses to the cell; the lookup table holds exactly the live rows.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/interner.h"
#include "core/reserve.h"
#include "core/splice.h"
#include "graph/causal_graph.h"
#include "merge/add_wins_set.h"
#include "merge/counter.h"
#include "merge/list/text_codec.h"
#include "merge/list/text_column.h"
#include "merge/row_state.h"
#include "merge/text_op.h"
#include "oplog/op.h"

namespace crdtdb {

using RowId = std::uint32_t;

struct Row {
  std::string key;
  NameId table = 0;
  std::uint32_t created = 0;    // epoch of the call that created it
  std::uint32_t touched = 0;    // epoch of the last call that changed it
  std::uint32_t setsDirty = 0;  // epoch of the last call that changed its sets (settleSets)
  std::vector<Cell> cells;
  bool visible() const { return !cells.empty() && cells[0].column() == kTokenColumn; }
  bool empty() const { return cells.empty(); }
};

// What the event being applied has observed.
struct Observer {
  bool all = true;      // the event has seen everything here (every local one does)
  bool remote = false;  // an event from another replica (its bad positions are DecodeErrors)
  const CausalGraph* graph = nullptr;
  VV vv;            // the parents' version vector of the event's run
  LV runStart = 0;  // the event's run: earlier events of it are the same peer's chain
  LV self = 0;
  std::uint64_t* checks = nullptr;  // work counter (tests pin merge costs with it)
  // A state join (RowStore::join): `seen` (next seq per PeerIdx) says what the other replica
  // has seen; a write it still holds (`keep`: its LVs in the column at hand, sorted) was not
  // removed there.
  const std::vector<Seq>* seen = nullptr;
  const std::vector<LV>* keep = nullptr;
  bool observed(LV w) const {
    if (checks) ++*checks;
    if (seen) {
      if (std::binary_search(keep->begin(), keep->end(), w)) return false;
      const Stamp s = graph->stampOf(w);
      return s.peer < seen->size() && s.seq < (*seen)[s.peer];
    }
    if (all || (w >= runStart && w < self)) return true;
    Stamp s = graph->stampOf(w);
    return s.seq < graph->vvGet(vv, s.peer);
  }
};

// One column write of an operation, names resolved.
struct ColumnWrite {
  NameId column;
  std::string_view name;
  ValueRef value;
};

class RowStore {
 public:
  RowStore(const Interner& names, const Interner& peers, const CausalGraph& graph,
           std::uint64_t seed);

  std::optional<RowId> find(NameId table, std::string_view key) const;
  const Row& row(RowId id) const { return rows_[id]; }
  std::size_t slotCount() const { return rows_.size(); }
  bool live(RowId id) const { return id < rows_.size() && !rows_[id].key.empty(); }
  // Finds the row or creates an empty one (journaled).
  RowId findOrCreate(NameId table, std::string_view key, bool* created = nullptr);

  // Applies one operation (event `lv`) to row `id`. `columns` sorted by name bytes; a set op's
  // one column carries the element. Values passed scanValue and their op's checks already
  // (decoded messages; the engine's own local forms): a text edit is not validated again.
  // `edit`: a TextEdit's value already parsed (else it is parsed here). `events` > 1: the
  // edit is a run of typed characters, one UTF-16 unit each, events lv, lv + 1, ... each
  // made on the text the previous left (`edit` inserts them all at its position).
  void apply(RowId id, OpKind kind, std::span<const ColumnWrite> columns, LV lv,
             const Observer& obs, const TextEditValue* edit = nullptr, std::uint32_t events = 1);

  // One write of another replica's state of a row, in this replica's terms.
  struct JoinWrite {
    NameId column;
    std::string_view name;
    LV lv;
    ValueRef value;
  };
  // The state-based join of row `id` with another replica's state of it (`theirs`, every
  // live write: winners and losers): drops each write of ours they have seen but no longer
  // hold, and adds each of theirs we have not seen. seenByThem / seenByUs: next seq per
  // PeerIdx (absent: 0), seenByUs as it was before their events joined the graph. Journaled.
  // One dot of another replica's state of a set column (an element's add not yet removed).
  struct JoinDot {
    NameId column;
    ValueRef element;
    LV lv;
  };
  // One peer's entry of another replica's state of a counter column.
  struct JoinCounter {
    NameId column;
    PeerIdx peer;
    CounterEntry entry;
  };
  void join(RowId id, std::span<const JoinWrite> theirs, std::span<const JoinDot> theirDots,
            std::span<const JoinCounter> theirCounters, const std::vector<Seq>& seenByThem,
            const std::vector<Seq>& seenByUs, std::uint64_t* checks);

  // A row's counter states, in column id order: adjacent in counters_ (keys are row ‖ column).
  template <typename It>
  struct Range {
    It first, last;
    It begin() const { return first; }
    It end() const { return last; }
  };
  using CounterRange = Range<std::map<std::uint64_t, CounterState>::const_iterator>;
  CounterRange countersOf(RowId id) const {
    // (Row ids stay below 2^32 - 1: id + 1 does not wrap.)
    return {counters_.lower_bound(loserKey(id, 0)), counters_.lower_bound(loserKey(id + 1ull, 0))};
  }
  // The counter entries of a row. f(NameId column, PeerIdx peer, const CounterEntry&)
  template <typename F>
  void forEachCounter(RowId id, F&& f) const {
    for (const auto& counter : countersOf(id)) {
      for (const auto& entry : counter.second.peers)
        f(columnOf(counter.first), entry.first, entry.second);
    }
  }
  // Whether the row holds any state: cells, or counter entries (kept after a delete).
  bool holdsState(RowId id) const {
    const auto counters = countersOf(id);
    return !rows_[id].empty() || counters.begin() != counters.end();
  }
  // Whether a counter column of the row (any, when `columns` is null) has live increments.
  bool hasLiveCounter(RowId id, const std::vector<NameId>* columns) const;
  // The claims a plain write that has seen everything removes: per counter column with live
  // increments (all of the row's when `columns` is null, else those it lists), its claims
  // value (merge/counter.h), in column name order.
  std::vector<std::pair<NameId, Bytes>> claimsOf(RowId id,
                                                 const std::vector<NameId>* columns) const;
  // A cell's value as its write wrote it (what storage and snapshots hold): a set's bare
  // marker, a counter's plain write without the increments, a text's empty string.
  ValueRef storedValue(RowId id, const Cell& c) const;

  // Text columns (merge/text_op.h, merge/list/). A text is named by its creating write (the
  // TextCreate event): the column's cell with that LV, winner or loser. Its state lives
  // beside the row until no cell of the column is that write any more (confirm() drops it).
  // The winning cell holds the text's current string; losers and storage hold "".
  using TextKey = std::pair<std::uint64_t, LV>;  // (row ‖ column, creating event)
  const list::TextColumn* text(RowId id, NameId col, LV created) const {
    auto it = texts_.find({loserKey(id, col), created});
    return it == texts_.end() ? nullptr : &it->second.col;
  }
  // The text a column shows (its winning cell is a text write), or nullptr.
  const list::TextColumn* shownText(RowId id, NameId col, LV* created = nullptr) const;
  bool isTextWrite(RowId id, NameId col, LV lv) const {
    return !texts_.empty() && texts_.count({loserKey(id, col), lv}) != 0;
  }
  // f(NameId column, LV created, const list::TextColumn&) for each text of a row.
  template <typename F>
  void forEachText(RowId id, F&& f) const {
    for (auto it = texts_.lower_bound({loserKey(id, 0), 0});
         it != texts_.end() && (it->first.first >> 32) == id; ++it)
      f(columnOf(it->first.first), it->first.second, it->second.col);
  }
  // Installs a stored text (loadRow's caller, after the row): DecodeError when the row has no
  // cell of `col` written by `created`. Then refreshTextCells puts the shown texts in place.
  list::TextColumn& loadText(RowId id, NameId col, LV created);
  void refreshTextCells(RowId id);
  // A snapshot join (after join() of the row): another replica's history of the text
  // `created` of `col` (decoded in this replica's LVs). Edits we had not seen (seenByUs: next
  // seq per peer before the join) are added and merged; a text new here starts from it if the
  // join kept its write. Journaled; DecodeError for a history that does not merge.
  // `parentsOf(text, event)`: the event's latest column events in its past (parentsFor).
  using TextParents = std::function<std::vector<LV>(const list::TextColumn&, LV)>;
  // FugueMax's tie-break between concurrent inserts: their authors' peer ids.
  list::TextColumn::AuthorLess authorLess() const;
  void joinText(RowId id, NameId col, LV created, const list::DecodedText& theirs,
                const std::vector<Seq>& seenByUs, const TextParents& parentsOf);
  // Work counters: text cells whose read value was rebuilt whole, and those an edit was
  // spliced into in place.
  std::uint64_t textCellsRefreshed() const { return textCellsRefreshed_; }
  std::uint64_t textCellsSpliced() const { return textCellsSpliced_; }
  // Work counter: text edits applied to a text (a typed run counts once).
  std::uint64_t textEditsApplied() const { return textEditsApplied_; }
  // The splice this call's settleTexts made in the string of column `col` of row `id` (a text
  // edit put into its cell in place), when it turns `before` into `after`: the change set
  // then need not find it by comparing the two. Costs a search, and for the very cells the
  // splice replaced nothing more (else a comparison of the strings' kept bytes).
  std::optional<Splice> cellSplice(RowId id, NameId col, ValueRef before, ValueRef after) const;
  // The splice made in place in that cell this call (forEachChangedColumn's `splice`).
  std::optional<Splice> splicedInPlace(RowId id, NameId col) const;
  // Work counter: bytes written or moved in text cells (a keystroke in place moves the bytes
  // after it; a cell made again copies all of its text).
  std::uint64_t textCellBytesMoved() const { return textCellBytesMoved_; }

  // The dots of a row's set columns. f(NameId column, ValueRef element, LV dot)
  template <typename F>
  void forEachDot(RowId id, F&& f) const {
    for (const Cell& c : rows_[id].cells) {
      auto it = sets_.find(loserKey(id, c.column()));
      if (it == sets_.end()) continue;
      for (const auto& entry : it->second.elements) {
        for (const auto& dot : entry.second.dots)
          f(c.column(), ValueRef(entry.second.value), dot.second);
      }
    }
  }

  // The winner cell of `column` in a row, or nullptr.
  const Cell* cell(const Row& r, std::string_view columnName) const;
  // Losing values of each column with concurrent losers, best first (text writes left out:
  // a losing text is no value anyone wrote).
  template <typename F>  // f(NameId column, ValueRef loser)
  void forEachLoser(RowId id, F&& f) const {
    for (const Cell& c : rows_[id].cells) {
      if (!c.hasLosers()) continue;
      const ConflictSet& cs = losers_.at(loserKey(id, c.column()));
      for (auto it = cs.order.rbegin(); it != cs.order.rend(); ++it) {
        const Cell& loser = cs.byPeer.at(it->peer);
        if (!isTextWrite(id, c.column(), loser.lv())) f(c.column(), loser.value());
      }
    }
  }
  template <typename F>  // f(NameId column, const Cell& loser) for every loser of a row
  void forEachLoserCell(RowId id, F&& f) const {
    for (const Cell& c : rows_[id].cells) {
      if (!c.hasLosers()) continue;
      for (const auto& entry : losers_.at(loserKey(id, c.column())).byPeer)
        f(c.column(), entry.second);
    }
  }
  template <typename F>  // f(RowId, const Row&) for every visible row of `table`
  void forEachVisible(NameId table, F&& f) const {
    for (RowId id = 0; id < rows_.size(); ++id) {
      if (!rows_[id].key.empty() && rows_[id].table == table && rows_[id].visible())
        f(id, rows_[id]);
    }
  }

  // Calls: begin() starts journaling a call (a new epoch); rows touched since are listed.
  struct Mark {
    std::size_t journal, created, touched, loserNodes, setNodes, cleared, savedSets, savedCounters,
        savedTexts, droppedTexts;
  };
  Mark begin();
  // Puts the read value of every set and counter the call changed into its cell: once per
  // call, not per op, so that a call's many ops on one set cost its size once. Call before
  // reading values (changes, indexes, storage) at the end of a call.
  void settleSets();
  void rollback(const Mark& m) noexcept;
  // Forgets the journal and frees rows left empty by the last call. Best effort: on an
  // allocation failure rows stay allocated (and empty), nothing else changes.
  void confirm() noexcept;
  std::uint32_t epoch() const { return epoch_; }
  const std::vector<RowId>& touchedRows() const { return touched_; }
  bool createdThisCall(RowId id) const { return rows_[id].created == epoch_; }

  // For rows touched since `m` that existed before the call: each changed column's value
  // before the call, in journal order. Calls f(RowId, NameId, const Cell* before, splice):
  // before is null when the column was absent, or when an edit was spliced into its text's
  // cell in place (splice != kNotSpliced: valueBeforeSplice(splice) makes the old value).
  static constexpr std::size_t kNotSpliced = SIZE_MAX;
  template <typename F>
  void forEachChangedColumn(const Mark& m, F&& f) const {
    for (std::size_t i = m.journal; i < journal_.size(); ++i) {
      const Undo& u = journal_[i];
      if (u.kind == Undo::CellInserted) f(u.row, u.column, nullptr, kNotSpliced);
      if (u.kind == Undo::CellErased || u.kind == Undo::CellReplaced)
        f(u.row, u.column, &u.cell, kNotSpliced);
      if (u.kind == Undo::TextSpliced) f(u.row, u.column, nullptr, i);
      if (u.kind == Undo::CellsCleared) {
        for (const Cell& c : cleared_[u.index]) f(u.row, c.column(), &c, kNotSpliced);
      }
    }
  }
  // The value a column had before the in-place splice journaled at `splice` (a copy: costs
  // the text's size; only an index or storage of the old value needs it). A splice is the
  // last change of its cell in a call (settleSets puts texts in place; sets and counters
  // then leave string cells alone).
  Bytes valueBeforeSplice(std::size_t splice) const;

  // Persistence (store/row_state_codec.cpp): one row's CRDT state with global event ids, so it
  // reads back the same into any replica whose graph holds those events.
  //   state := string table, string key, varint nPeers, nPeers × string peer id,
  //            varint nCells, nCells × cell (the row's order: token first, then by name)
  //            [varint nCounters, nCounters × counter] (absent in rows stored before them)
  //   cell  := u8 flags (1 token, 2 has losers, 4 has set dots), [!token] string column,
  //            varint peerIndex, varint seq, value,
  //            [losers] varint n >= 1, n × (varint peerIndex, varint seq, value), best first
  //            [dots] varint n >= 1, n × (value element, varint nDots >= 1,
  //                   nDots × (varint peerIndex, varint seq)), elements in set order
  //            [varint nTexts >= 1, nTexts × text] (nCounters may then be 0)
  //   counter := string column, varint n >= 1, n × (varint peerIndex, varint latest.next,
  //              zigzag latest.total, varint base.next, zigzag base.total)
  //   text    := string column, varint peerIndex, varint seq (its creating write, a cell of
  //              the column), its history (merge/list/text_codec.h; peers: the row's table)
  //   A set column's cells (winner and losers) store the empty set marker, a counter's winner
  //   its plain write's own value, a text write "": the read values are rebuilt. Derived cells
  //   are not stored.
  void encodeRowState(RowId id, ByteWriter& out) const;
  // Installs a stored row (outside any call; the caller confirms). `losers` pairs a column
  // of `cells` with its losers. DecodeError when the row exists already or the cells break
  // the row invariants.
  // `dots` pairs a column of `cells` with its set's dots.
  RowId loadRow(NameId table, std::string_view key, std::vector<Cell>&& cells,
                std::vector<std::pair<NameId, std::vector<Cell>>>&& losers,
                std::vector<std::pair<NameId, SetState>>&& dots = {},
                std::vector<std::pair<NameId, CounterState>>&& counters = {});

  // Canonical bytes of every non-empty row's CRDT state (peers by id, rows by table name and
  // key): identical across replicas that applied the same events.
  Bytes encodeState() const;
  std::size_t rowCount() const;  // visible rows
  std::size_t memoryBytes() const;
  // Work counter: set cells whose read value was rebuilt (tests pin set op costs with it).
  std::uint64_t setCellsRefreshed() const { return setCellsRefreshed_; }
  // Work counter: counter columns whose read value was recomputed.
  std::uint64_t counterCellsRefreshed() const { return counterCellsRefreshed_; }
  // Work counter: counter states claimsOf and hasLiveCounter looked at.
  std::uint64_t counterLookups() const { return counterLookups_; }
  void checkInvariants() const;

 private:
  struct Undo {
    enum Kind : std::uint8_t {
      CellInserted,
      CellErased,
      CellReplaced,
      LosersFlag,
      LoserAdded,
      LoserRemoved,
      SetCreated,
      SetErased,
      CellsCleared,  // a local set or delete: every cell of a row without losers, at once
      TextSpliced    // a text edit spliced into its growable cell in place (cell: the inverse)
    };
    Kind kind;
    RowId row;
    std::uint32_t index;  // cell index; LoserAdded: peer; LoserRemoved/SetErased: node slot
    NameId column;
    Cell cell;  // CellErased / CellReplaced: the old cell; TextSpliced: spliceUndo's bytes
  };
  // A TextSpliced record's bytes: u32 × 4 (string byte offset, inserted bytes, new and old
  // header size), then the old header and the removed bytes.
  static void undoSplice(Cell& c, ValueRef undo) noexcept;
  struct LoserNodes {
    std::map<PeerIdx, Cell>::node_type cell;
    std::set<WriteOrder>::node_type order;
  };
  static std::uint64_t loserKey(std::uint64_t id, NameId col) { return (id << 32) | col; }
  static NameId columnOf(std::uint64_t key) { return static_cast<NameId>(key & 0xffffffffu); }

  std::uint64_t hashOf(NameId table, std::string_view key) const;
  std::size_t slotOf(NameId table, std::string_view key) const;
  void growSlots();
  WriteOrder orderOf(LV lv) const;
  std::size_t findCell(const Row& r, NameId column, std::string_view name, bool& found) const;
  // Mutation primitives: each reserves, journals (for pre-existing rows) and mutates.
  void insertCell(RowId id, std::size_t idx, Cell c);
  void eraseCell(RowId id, std::size_t idx);
  void replaceCell(RowId id, std::size_t idx, Cell c);
  void setLosersFlag(RowId id, std::size_t idx, bool on);
  void addLoser(RowId id, NameId col, Cell c);
  Cell takeLoser(RowId id, NameId col, PeerIdx peer);
  void removeObservedAt(RowId id, std::size_t idx, const Observer& obs);
  bool clearIfSimple(RowId id);
  // Set columns (merge/add_wins_set.h). The state of (row, column), saved for undo at its
  // first change in a call (created if absent).
  SetState& changeSet(RowId id, NameId col);
  // Removes the dots of `col` the observer has seen (only `element`'s, when given).
  void removeObservedDots(RowId id, NameId col, const Observer& obs,
                          const std::string* element = nullptr);
  void addDot(RowId id, NameId col, ValueRef element, LV lv, const Observer& obs);
  // Puts the read value of a set-valued winner of `col` into its cell.
  void refreshSetCellAt(RowId id, std::size_t idx);
  void refreshSetCells(RowId id);
  void markSetsDirty(RowId id);
  // Counter columns (merge/counter.h), saved for undo like sets.
  CounterState& changeCounter(RowId id, NameId col);
  // `lv`: the claims op's event (a claim must name an event before it that it has seen).
  void applyClaims(RowId id, const ColumnWrite& w, LV lv, const Observer& obs);
  // Lists a counter column (or all of a row's) for settleSets to refresh.
  void markCounterDirty(RowId id, NameId col);
  void markCountersDirty(RowId id);
  // Puts a counter column's read value into its cell (a derived cell when no plain write).
  void refreshCounter(RowId id, NameId col, const CounterState& current);
  // Replaces the value of cell `idx` (keeping its flags) unless it holds `value` already.
  void replaceValue(RowId id, std::size_t idx, ValueRef value);
  // The same, always, with the value made of `parts` (which may be slices of the cell's own
  // value: the new cell is made before the old one leaves).
  void replaceValueBy(RowId id, std::size_t idx, std::span<const ValueRef> parts);
  // Text columns (store/row_texts.cpp). The state of a text, saved for undo at its first
  // change in a call (`create`: a new one, which must not exist).
  struct TextState;
  TextState& changeText(RowId id, NameId col, LV created, bool create);
  void applyTextCreate(RowId id, const ColumnWrite& w, LV lv, const Observer& obs);
  void applyTextEdit(RowId id, const ColumnWrite& w, LV lv, const Observer& obs,
                     const TextEditValue* parsed, std::uint32_t events);
  // Is write `lv` a cell of column `col` of row `id`, winner or loser (what keeps a text)?
  bool namesWrite(RowId id, NameId col, LV lv) const noexcept;
  // Merges pending remote edits and puts each touched row's shown text into its cell.
  void settleTexts();
  void write(RowId id, const ColumnWrite& w, LV lv, const Observer& obs, bool removeFirst);
  void touch(RowId id);
  void destroy(RowId id) noexcept;

  const Interner& names_;
  const Interner& peers_;
  const CausalGraph& graph_;
  std::uint64_t seed_;
  std::deque<Row> rows_;
  std::vector<RowId> free_;
  std::vector<std::uint32_t> slots_;  // RowId + 1, 0 = empty
  std::size_t live_ = 0;
  std::unordered_map<std::uint64_t, ConflictSet> losers_;
  std::unordered_map<std::uint64_t, SetState> sets_;  // by loserKey: set columns' dots
  std::map<std::uint64_t, CounterState> counters_;    // by loserKey (ordered: a row's are adjacent)
  struct TextState {
    list::TextColumn col;
    std::uint32_t savedEpoch = 0;
    // Changes since it was made (changeText counts each), and the count and value size its
    // shown cell was last written with (refreshTextCells): equal, the cell still shows it.
    std::uint64_t changes = 1;
    std::uint64_t shownChanges = 0;
    std::size_t shownBytes = 0;
    // The last edit applied in place (applyTextEdit's direct path), as change number
    // `edit.changes` (0: none usable): refreshTextCells splices it into a cell that showed the
    // text just before it, instead of encoding the whole text again.
    struct Edit {
      std::uint64_t changes = 0;
      std::uint32_t pos = 0, removed = 0;  // UTF-16 units
      std::string inserted;                // UTF-8 (well-formed)
    } edit;
    // A point of the shown cell's string where the last splice ended, (UTF-16 units, bytes):
    // the next edit is usually near it. (0, 0) is always one.
    std::uint64_t anchorUnits = 0;
    std::size_t anchorBytes = 0;

    // Its cell was just written: `bytes` long, (units, at) a point of its string. The edit
    // is used up (a long paste's bytes freed).
    void shown(std::size_t bytes, std::uint64_t units, std::size_t at) noexcept {
      forgetEdit();
      shownChanges = changes;
      shownBytes = bytes;
      anchorUnits = units;
      anchorBytes = at;
    }
    // No edit for a cell to take (one undone, or used up), and no point of the cell's string
    // known (after an undo it may hold an older string).
    void forgetEdit() noexcept {
      edit.changes = 0;
      clearScratch(edit.inserted);
      anchorUnits = 0;
      anchorBytes = 0;
    }
  };
  // The value a cell showing text `t` holds: its string, UTF-8.
  static void writeShownValue(const list::TextColumn& t, ByteWriter& out);
  // Puts st.edit into the cell at `idx` (which shows the text as it was before the edit) in
  // place. False, changing nothing, where a splice of the cell's UTF-8 could differ from the
  // encoding of the edited text (an edit beside or inside a surrogate pair or a U+FFFD).
  bool spliceTextCell(RowId id, std::size_t idx, NameId col, TextState& st);
  std::map<TextKey, TextState> texts_;  // ordered: a row's texts are adjacent
  // Undo of texts_: a mark of each text changed in the call (none: created in it).
  std::vector<std::pair<TextKey, std::optional<list::TextColumn::Mark>>> savedTexts_;
  std::vector<TextKey> pendingTexts_;  // texts with remote edits to merge (settleTexts)
  std::vector<std::map<TextKey, TextState>::node_type> droppedTexts_;  // by settleTexts, for undo
  std::uint64_t textCellsRefreshed_ = 0;
  std::uint64_t textCellsSpliced_ = 0;
  std::uint64_t textCellBytesMoved_ = 0;
  std::uint64_t textEditsApplied_ = 0;
  struct CellSplice {
    RowId row;
    NameId column;
    std::size_t beforeBytes;  // the string's size before
    Splice splice;
    // The cells' value blocks (heap values: a call keeps every block it replaced alive in its
    // journal, so the same address is the same bytes), else null.
    const std::uint8_t* beforeBlock;
    const std::uint8_t* afterBlock;
    bool inPlace;  // made in the same block (no old value kept: the journal can undo it)
    bool operator<(const CellSplice& o) const {
      return row != o.row ? row < o.row : column < o.column;
    }
  };
  std::vector<CellSplice> cellSplices_;  // this call's, sorted (settleTexts)

  std::uint32_t epoch_ = 0;
  std::vector<Undo> journal_;
  std::vector<RowId> created_;
  std::vector<RowId> touched_;
  std::vector<LoserNodes> loserNodes_;
  std::vector<std::unordered_map<std::uint64_t, ConflictSet>::node_type> setNodes_;
  std::vector<std::vector<Cell>> cleared_;  // CellsCleared rows' old cells
  std::vector<std::pair<std::uint64_t, std::optional<SetState>>> savedSets_;  // undo of sets_
  std::vector<std::pair<std::uint64_t, std::optional<CounterState>>> savedCounters_;
  std::vector<RowId> setRows_;      // rows whose sets this call changed (settleSets)
  std::vector<RowId> counterRows_;  // rows to refresh every counter of
  std::vector<std::pair<RowId, NameId>> counterColumns_;  // single counters to refresh
  std::uint64_t setCellsRefreshed_ = 0;
  std::uint64_t counterCellsRefreshed_ = 0;
  mutable std::uint64_t counterLookups_ = 0;
  std::vector<RowId> emptied_;  // rows left empty by the last call, freed by confirm()
};

}  // namespace crdtdb
