// A naive reference list CRDT for the text tests: FugueMax as a tree over the full history
// (Weidner & Kleppmann's formulation: each unit is a left or right child of another, right
// siblings in reverse order of their right origins, ties by author peer id), replayed unit by
// unit in a causal order. Every author's view is recomputed from its causal past, so nothing
// here shares code or shortcuts with the Eg-walker engine. O(units^2): for small histories.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace crdtdb::testing {

struct TextEvent {  // one edit run as its author made it
  std::string peer;
  std::vector<int> parents;  // indices of earlier events (the author's frontier)
  bool insert;
  bool forward;  // deletes: forward (each unit at pos) or backward (from the end)
  std::uint32_t pos;
  std::uint32_t len;
  std::u16string text;  // inserts
};

class FugueOracle {
 public:
  // The text after the events in `chosen` (a causally closed subset of `events`, which are in
  // a causal order).
  static std::u16string replay(const std::vector<TextEvent>& events,
                               const std::vector<bool>& chosen) {
    FugueOracle o;
    const std::size_t n = events.size();
    // past[e]: the events e's author had seen (exclusive of e).
    std::vector<std::vector<bool>> past(n, std::vector<bool>(n, false));
    for (std::size_t e = 0; e < n; ++e) {
      if (!chosen[e]) continue;
      for (int p : events[e].parents) {
        past[e][p] = true;
        for (std::size_t q = 0; q < n; ++q) past[e][q] = past[e][q] || past[p][q];
      }
      const TextEvent& ev = events[e];
      for (std::uint32_t i = 0; i < ev.len; ++i) {
        // The author's view: units inserted by seen events (or earlier in this run), not
        // deleted by seen events (or earlier in this run).
        auto known = [&](const Unit& u) {
          return past[e][u.event] || (u.event == static_cast<int>(e) && u.offset < i);
        };
        auto deleted = [&](const Unit& u) {
          for (auto [de, di] : u.deleters) {
            if (past[e][de] || (de == static_cast<int>(e) && di < i)) return true;
          }
          return false;
        };
        if (ev.insert) {
          o.insert(static_cast<int>(e), i, ev.peer, ev.text[i], ev.pos + i, known, deleted);
        } else {
          const std::uint32_t at = ev.forward ? ev.pos : ev.pos + ev.len - 1 - i;
          std::vector<int> vis = o.traverse(known, deleted, false);
          o.units_[vis.at(at)].deleters.push_back({static_cast<int>(e), i});
        }
      }
    }
    std::u16string out;
    auto all = [](const Unit&) { return true; };
    auto del = [&](const Unit& u) {
      for (auto [de, di] : u.deleters) {
        (void)di;
        if (chosen[de]) return true;
      }
      return false;
    };
    for (int u : o.traverse(all, del, false)) out.push_back(o.units_[u].ch);
    return out;
  }

 private:
  struct Unit {
    int event;
    std::uint32_t offset;
    std::string peer;
    char16_t ch;
    int parent;       // -1: the root
    bool right;       // a right child of parent
    int rightOrigin;  // right children: -1 the end of the list
    std::vector<int> leftChildren, rightChildren;
    std::vector<std::pair<int, std::uint32_t>> deleters;
  };
  using Pred = std::function<bool(const Unit&)>;

  // Units in list order (parent -1 is the root); with tombstones when `withDeleted`.
  std::vector<int> traverse(const Pred& known, const Pred& deleted, bool withDeleted) const {
    std::vector<int> out;
    std::function<void(int)> visit = [&](int u) {
      const std::vector<int>& lc = u < 0 ? rootLeft_ : units_[u].leftChildren;
      const std::vector<int>& rc = u < 0 ? rootRight_ : units_[u].rightChildren;
      for (int c : lc) {
        if (known(units_[c])) visit(c);
      }
      if (u >= 0 && (withDeleted || !deleted(units_[u]))) out.push_back(u);
      for (int c : rc) {
        if (known(units_[c])) visit(c);
      }
    };
    visit(-1);
    return out;
  }

  void insert(int event, std::uint32_t offset, const std::string& peer, char16_t ch,
              std::uint32_t pos, const Pred& known, const Pred& deleted) {
    const std::vector<int> visible = traverse(known, deleted, false);
    const int leftOrigin = pos == 0 ? -1 : visible.at(pos - 1);
    const std::vector<int>& lrc = leftOrigin < 0 ? rootRight_ : units_[leftOrigin].rightChildren;
    std::vector<int> knownRight;
    for (int c : lrc) {
      if (known(units_[c])) knownRight.push_back(c);
    }
    Unit u{event, offset, peer, ch, -1, true, -1, {}, {}, {}};
    if (knownRight.empty()) {
      // A right child of the left origin; its right origin is the next unit in the author's
      // list (tombstones included) after the left origin.
      u.parent = leftOrigin;
      u.right = true;
      const std::vector<int> all = traverse(known, deleted, true);
      if (leftOrigin < 0) {
        u.rightOrigin = all.empty() ? -1 : all.front();
      } else {
        auto it = std::find(all.begin(), all.end(), leftOrigin);
        u.rightOrigin = (it + 1) == all.end() ? -1 : *(it + 1);
      }
    } else {
      // A left child of the leftmost descendant of the first (known) right child.
      int d = knownRight.front();
      for (;;) {
        int next = -1;
        for (int c : units_[d].leftChildren) {
          if (known(units_[c])) {
            next = c;
            break;
          }
        }
        if (next < 0) break;
        d = next;
      }
      u.parent = d;
      u.right = false;
    }
    const int id = static_cast<int>(units_.size());
    // Order among the siblings in the full tree (every unit integrated so far).
    auto all = [](const Unit&) { return true; };
    auto none = [](const Unit&) { return false; };
    const std::vector<int> order = traverse(all, none, true);
    auto index = [&](int x) {
      if (x < 0) return static_cast<std::ptrdiff_t>(order.size());
      return std::find(order.begin(), order.end(), x) - order.begin();
    };
    std::vector<int>& sibs =
        u.parent < 0 ? (u.right ? rootRight_ : rootLeft_)
                     : (u.right ? units_[u.parent].rightChildren : units_[u.parent].leftChildren);
    std::size_t i = 0;
    for (; i < sibs.size(); ++i) {
      const Unit& s = units_[sibs[i]];
      bool after;
      if (u.right) {
        // Reverse order of right origins; same right origin: ascending peer id.
        const auto a = index(u.rightOrigin), b = index(s.rightOrigin);
        after = a < b || (a == b && u.peer > s.peer);
      } else {
        after = u.peer > s.peer;
      }
      if (!after) break;
    }
    units_.push_back(std::move(u));
    std::vector<int>& sibs2 =
        units_.back().parent < 0
            ? (units_.back().right ? rootRight_ : rootLeft_)
            : (units_.back().right ? units_[units_.back().parent].rightChildren
                                   : units_[units_.back().parent].leftChildren);
    sibs2.insert(sibs2.begin() + static_cast<std::ptrdiff_t>(i), id);
  }

  std::vector<Unit> units_;
  std::vector<int> rootLeft_, rootRight_;
};

}  // namespace crdtdb::testing
