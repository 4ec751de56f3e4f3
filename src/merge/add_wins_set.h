// Add-wins (observed-remove) set columns.
//
// A set column is a column whose winning write is a set marker: every addToSet is such a
// write (so the set and a concurrent plain write compete like any two writes; a removeFromSet
// is not a write, so removing from a missing column changes nothing), and the elements live
// beside the row as dots. A dot is the add event of an element not yet
// removed: removeFromSet removes the dots of its element that it has observed, a plain write of
// the column (set, update, delete of the row) removes every dot of the column it has observed,
// and an add removes the observed dots of its own element before adding its own (they are
// redundant: whatever observes the new one observes them). An element is in the set while it
// has a dot, so an add concurrent with a remove wins. A peer's adds form a chain, so an element
// keeps at most one dot per peer.
//
// The column's winning cell holds the read value (tag kSet: the elements in set order); losers
// and stored cells hold the empty marker, and the read value is rebuilt from the dots.
// Set order: elements that are IndexedDB keys first, in key order, then the others by their
// canonical JSON text (bytewise).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/bytes.h"
#include "core/ids.h"
#include "core/value.h"

namespace crdtdb {

struct SetElement {
  Bytes value;                 // canonical encoding
  std::map<PeerIdx, LV> dots;  // per peer, its latest add not yet removed
};

struct SetState {
  std::map<std::string, SetElement> elements;  // by setOrderKey
  std::uint32_t savedEpoch = 0;                // RowStore: call that last saved it for undo
};

// The empty set marker: what a set write carries and stored cells hold.
inline constexpr std::uint8_t kEmptySetBytes[2] = {tag::kSet, 0};
inline ValueRef emptySetValue() { return {kEmptySetBytes, 2}; }

// A key that sorts elements in set order (and is unique per element).
std::string setOrderKey(ValueRef element);
// Appends the read value of `state` (tag kSet, its elements in order).
void writeSetValue(const SetState& state, ByteWriter& out);
// The read value `set` (tag kSet) with `element` added (add) or removed, appended to `out`.
void writeSetValueWith(ValueRef set, ValueRef element, bool add, ByteWriter& out);
// Name of a value's type for errors ("a string", "an array", ...).
const char* typeNameOf(ValueRef v);

}  // namespace crdtdb
