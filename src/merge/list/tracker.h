// The temporary CRDT state Eg-walker builds while it replays a concurrent region (see
// README.md): a sequence of items (inserted units, by the id of the event that inserted
// them) in FugueMax order, each with two states:
//  - the prepare state: as seen by the event being replayed (not inserted yet, inserted, or
//    deleted n times); retreat() and advance() move it between versions;
//  - the effect state: whether the item is in the document being produced (everDeleted).
// Prepare positions count items inserted and not deleted in the prepare state; effect
// positions count items not everDeleted, and are the positions in the real document.
//
// Content that existed before the region is one placeholder span of ids from kUnderwater on,
// inserted in both states (its length need not be known: positions never go past the text).
//
// Representation: a treap of spans (runs of consecutive ids with equal states, each unit's
// left origin the previous unit), augmented with the unit counts of the subtree in each
// state, with parent links; spans are also indexed by id, and delete events by the ids they
// removed. Every operation is O(log n) expected in the number of spans, apart from the scan
// over concurrent inserts at one position that FugueMax ordering needs.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "core/ids.h"

namespace crdtdb::list {

// Work done by trackers, for tests that pin the cost of history shapes and for profiling.
struct TrackerWork {
  std::uint64_t toggled = 0;   // spans moved by retreat / advance
  std::uint64_t scanned = 0;   // concurrent spans passed while ordering an insert
  std::uint64_t inserted = 0;  // insert and delete pieces applied
};

using ItemId = std::uint64_t;  // an LV, or kUnderwater + i for content older than the region
inline constexpr ItemId kUnderwater = ItemId{1} << 32;
inline constexpr ItemId kNoItem = ~ItemId{0};  // as an origin: the start or end of the list
// The placeholder's length: far beyond any text (one holds at most 2^32 units), so positions
// never reach its end.
inline constexpr std::uint64_t kPlaceholderLen = std::uint64_t{1} << 40;

class Tracker {
 public:
  // authorLess(a, b): the tie-break between concurrent inserts with the same origins
  // (FugueMax: ascending by author peer id).
  Tracker(std::function<bool(ItemId, ItemId)> authorLess, TrackerWork* work);
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Inserts units [id, id + len) at prepare position pos. Returns their effect position.
  std::uint64_t insert(ItemId id, std::uint64_t len, std::uint64_t pos);

  // Deletes the `len` units at prepare positions [pos, pos + len) by delete events
  // [lv, lv + len) (forward: the i-th event removes the i-th unit; backward: the last one).
  // Appends (effectPos, n) to `removed` (if given) for each piece that leaves the effect
  // state, in order. Callers validate the range beforehand (the placeholder hides the real
  // length).
  void remove(LV lv, std::uint64_t pos, std::uint64_t len, bool forward,
              std::vector<std::pair<std::uint64_t, std::uint64_t>>* removed);

  // Undoes / redoes events [r.start, r.end) in the prepare state. Each must have been
  // applied by insert() or remove() before.
  void retreat(LVRange r) { toggle(r, -1); }
  void advance(LVRange r) { toggle(r, +1); }

  // Units inserted and not deleted in the prepare state (the placeholder included).
  std::uint64_t prepareSize() const;
  // Units in the effect state (the placeholder included).
  std::uint64_t effectSize() const { return root_ != nullptr ? root_->sumEff : 0; }

  // Deep invariant check (tests): augmented sums, parent links, id index. O(n).
  void checkInvariants() const;

 private:
  struct Node {
    ItemId id;
    std::uint64_t len;
    ItemId originLeft, originRight;  // of the first unit; later units: the previous unit
    std::uint32_t state;             // 0 not inserted yet, 1 inserted, k > 1 deleted k-1 times
    bool everDeleted;
    std::uint32_t prio;
    Node *l = nullptr, *r = nullptr, *p = nullptr;
    std::uint64_t sumLen = 0, sumPrep = 0, sumEff = 0;  // of the subtree
  };
  struct DeleteEntry {
    LV len;
    ItemId target;  // the ids [target, target + len) it removed
    bool reversed;  // the first event removed the last of them
  };

  Node* make(ItemId id, std::uint64_t len, ItemId originLeft, ItemId originRight,
             std::uint32_t state, bool everDeleted);
  static std::uint64_t prepOf(const Node* n) { return n->state == 1 ? n->len : 0; }
  static std::uint64_t effOf(const Node* n) { return n->everDeleted ? 0 : n->len; }
  static void pull(Node* n);
  void fixUp(Node* n);
  void rotateUp(Node* n);
  void insertBefore(Node* n, Node* before);  // before == nullptr: at the end
  Node* first() const;
  static Node* next(Node* n);
  // Units of the given kind before node n (0: all units, 1: prepare, 2: effect).
  std::uint64_t before(const Node* n, int kind) const;
  // The node holding the pos-th prepare-visible unit and the unit's offset in it.
  std::pair<Node*, std::uint64_t> atPrepare(std::uint64_t pos) const;
  std::pair<Node*, std::uint64_t> atId(ItemId id) const;
  std::uint64_t rank(ItemId id) const;  // position among all units; kNoItem: the end
  // Splits n so that it ends after `at` units; returns the second half.
  Node* split(Node* n, std::uint64_t at);
  // Moves the prepare state of units [id, id + len) by `dir`: deleted once more or less
  // (`deletes`), or inserted / not inserted yet. Splits spans at the ends as needed.
  void shiftState(ItemId id, std::uint64_t len, int dir, bool deletes);
  void toggle(LVRange r, int dir);

  std::function<bool(ItemId, ItemId)> authorLess_;
  std::deque<Node> nodes_;
  Node* root_ = nullptr;
  std::map<ItemId, Node*> byId_;
  std::map<LV, DeleteEntry> deletes_;  // by the first delete event
  std::uint32_t rng_ = 0x9e3779b9u;
  TrackerWork* work_;
};

}  // namespace crdtdb::list
