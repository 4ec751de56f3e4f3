#include "merge/list/tracker.h"

#include <algorithm>
#include <limits>

#include "core/errors.h"

namespace crdtdb::list {

namespace {
[[noreturn]] void broken(const char* what) {
  throw Error(ErrorCode::Internal, std::string("list tracker: ") + what);
}
}  // namespace

Tracker::Tracker(std::function<bool(ItemId, ItemId)> authorLess, TrackerWork* work)
    : authorLess_(std::move(authorLess)), work_(work) {
  Node* n = make(kUnderwater, kPlaceholderLen, kNoItem, kNoItem, 1, false);
  byId_.emplace(n->id, n);
  insertBefore(n, nullptr);
}

Tracker::Node* Tracker::make(ItemId id, std::uint64_t len, ItemId originLeft, ItemId originRight,
                             std::uint32_t state, bool everDeleted) {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 17;
  rng_ ^= rng_ << 5;
  nodes_.push_back(Node{id, len, originLeft, originRight, state, everDeleted, rng_});
  return &nodes_.back();
}

void Tracker::pull(Node* n) {
  n->sumLen = n->len;
  n->sumPrep = prepOf(n);
  n->sumEff = effOf(n);
  for (const Node* c : {n->l, n->r}) {
    if (c != nullptr) {
      n->sumLen += c->sumLen;
      n->sumPrep += c->sumPrep;
      n->sumEff += c->sumEff;
    }
  }
}

void Tracker::fixUp(Node* n) {
  for (; n != nullptr; n = n->p) pull(n);
}

void Tracker::rotateUp(Node* n) {
  Node* p = n->p;
  Node* g = p->p;
  if (p->l == n) {
    p->l = n->r;
    if (n->r != nullptr) n->r->p = p;
    n->r = p;
  } else {
    p->r = n->l;
    if (n->l != nullptr) n->l->p = p;
    n->l = p;
  }
  p->p = n;
  n->p = g;
  if (g == nullptr) {
    root_ = n;
  } else if (g->l == p) {
    g->l = n;
  } else {
    g->r = n;
  }
  pull(p);
  pull(n);
}

void Tracker::insertBefore(Node* n, Node* before) {
  if (root_ == nullptr) {
    root_ = n;
    pull(n);
    return;
  }
  Node* at = nullptr;
  if (before == nullptr) {
    at = root_;
    while (at->r != nullptr) at = at->r;
    at->r = n;
  } else if (before->l == nullptr) {
    at = before;
    at->l = n;
  } else {
    at = before->l;
    while (at->r != nullptr) at = at->r;
    at->r = n;
  }
  n->p = at;
  pull(n);
  fixUp(at);
  while (n->p != nullptr && n->p->prio < n->prio) rotateUp(n);
}

Tracker::Node* Tracker::first() const {
  Node* n = root_;
  while (n != nullptr && n->l != nullptr) n = n->l;
  return n;
}

Tracker::Node* Tracker::next(Node* n) {
  if (n->r != nullptr) {
    n = n->r;
    while (n->l != nullptr) n = n->l;
    return n;
  }
  while (n->p != nullptr && n->p->r == n) n = n->p;
  return n->p;
}

std::uint64_t Tracker::before(const Node* n, int kind) const {
  auto sum = [kind](const Node* x) -> std::uint64_t {
    if (x == nullptr) return 0;
    return kind == 0 ? x->sumLen : kind == 1 ? x->sumPrep : x->sumEff;
  };
  auto own = [kind](const Node* x) -> std::uint64_t {
    return kind == 0 ? x->len : kind == 1 ? prepOf(x) : effOf(x);
  };
  std::uint64_t acc = sum(n->l);
  for (const Node* x = n; x->p != nullptr; x = x->p) {
    if (x == x->p->r) acc += sum(x->p->l) + own(x->p);
  }
  return acc;
}

std::pair<Tracker::Node*, std::uint64_t> Tracker::atPrepare(std::uint64_t pos) const {
  Node* x = root_;
  while (x != nullptr) {
    const std::uint64_t left = x->l != nullptr ? x->l->sumPrep : 0;
    if (pos < left) {
      x = x->l;
      continue;
    }
    pos -= left;
    const std::uint64_t own = prepOf(x);
    if (pos < own) return {x, pos};
    pos -= own;
    x = x->r;
  }
  broken("position past the end");
}

std::pair<Tracker::Node*, std::uint64_t> Tracker::atId(ItemId id) const {
  auto it = byId_.upper_bound(id);
  if (it == byId_.begin()) broken("unknown item");
  --it;
  Node* n = it->second;
  if (id >= n->id + n->len) broken("unknown item");
  return {n, id - n->id};
}

std::uint64_t Tracker::rank(ItemId id) const {
  auto [n, off] = atId(id);
  return before(n, 0) + off;
}

Tracker::Node* Tracker::split(Node* n, std::uint64_t at) {
  Node* m = make(n->id + at, n->len - at, n->id + at - 1, n->originRight, n->state, n->everDeleted);
  byId_.emplace(m->id, m);
  Node* after = next(n);
  n->len = at;
  fixUp(n);
  insertBefore(m, after);
  return m;
}

void Tracker::shiftState(ItemId id, std::uint64_t len, int dir, bool deletes) {
  while (len > 0) {
    auto [n, off] = atId(id);
    if (off > 0) n = split(n, off);
    if (n->len > len) split(n, len);
    if (deletes) {
      if (dir < 0 && n->state < 2) broken("retreat of a delete that is not applied");
      n->state = static_cast<std::uint32_t>(static_cast<int>(n->state) + dir);
    } else {
      if (n->state != (dir < 0 ? 1u : 0u)) broken("retreat or advance out of order");
      n->state = dir < 0 ? 0 : 1;
    }
    fixUp(n);
    ++work_->toggled;
    id += n->len;
    len -= n->len;
  }
}

std::uint64_t Tracker::insert(ItemId id, std::uint64_t len, std::uint64_t pos) {
  ++work_->inserted;
  ItemId originLeft = kNoItem;
  Node* cursor = nullptr;  // the first span after the left origin
  if (pos == 0) {
    cursor = first();
  } else {
    auto [left, off] = atPrepare(pos - 1);
    originLeft = left->id + off;
    if (off + 1 < left->len) {
      // The next unit is in the same span, hence visible: it is the right origin and no
      // concurrent insert lies between them.
      Node* right = split(left, off + 1);
      Node* n = make(id, len, originLeft, right->id, 1, false);
      byId_.emplace(id, n);
      insertBefore(n, right);
      return before(n, 2);
    }
    cursor = next(left);
  }
  // The right origin: the next unit the inserting event had seen (visible or deleted).
  Node* right = cursor;
  while (right != nullptr && right->state == 0) right = next(right);
  const ItemId originRight = right != nullptr ? right->id : kNoItem;

  // Between them lie only inserts concurrent with this one: order them (FugueMax, in the
  // form of Yjs's integration with the YjsMod rule).
  auto rankLeft = [&](ItemId o) { return o == kNoItem ? 0 : rank(o) + 1; };
  auto rankRight = [&](ItemId o) {
    return o == kNoItem ? std::numeric_limits<std::uint64_t>::max() : rank(o) + 1;
  };
  Node* dest = cursor;
  if (cursor != right) {
    const std::uint64_t leftRank = rankLeft(originLeft), rightRank = rankRight(originRight);
    bool scanning = false;
    for (Node* o = cursor;; o = next(o)) {
      if (!scanning) dest = o;
      if (o == right) break;
      ++work_->scanned;
      const std::uint64_t oLeft = rankLeft(o->originLeft);
      if (oLeft < leftRank) break;
      if (oLeft == leftRank) {
        const std::uint64_t oRight = rankRight(o->originRight);
        if (oRight < rightRank) {
          scanning = true;
        } else if (oRight == rightRank) {
          if (authorLess_(id, o->id)) break;
          scanning = false;
        } else {
          scanning = false;
        }
      }
    }
  }
  Node* n = make(id, len, originLeft, originRight, 1, false);
  byId_.emplace(id, n);
  insertBefore(n, dest);
  return before(n, 2);
}

void Tracker::remove(LV lv, std::uint64_t pos, std::uint64_t len, bool forward,
                     std::vector<std::pair<std::uint64_t, std::uint64_t>>* removed) {
  std::uint64_t done = 0;
  ++work_->inserted;
  while (done < len) {
    auto [n, off] = atPrepare(pos);  // pos stays: removed units leave the prepare state
    if (off > 0) n = split(n, off);
    const std::uint64_t k = std::min(len - done, n->len);
    if (n->len > k) split(n, k);
    const LV first = static_cast<LV>(forward ? lv + done : lv + (len - done - k));
    deletes_.emplace(first, DeleteEntry{static_cast<LV>(k), n->id, !forward});
    n->state = 2;
    const bool wasVisible = !n->everDeleted;
    n->everDeleted = true;
    fixUp(n);
    if (wasVisible && removed != nullptr) removed->emplace_back(before(n, 2), k);
    done += k;
  }
}

void Tracker::toggle(LVRange r, int dir) {
  // Retreat walks down (a delete goes before the insert it removed), advance walks up.
  LV lo = r.start, hi = r.end;
  while (lo < hi) {
    const LV probe = dir < 0 ? hi - 1 : lo;
    LV a = 0, b = 0;  // the piece [a, b) handled in this step
    auto dit = deletes_.upper_bound(probe);
    if (dit != deletes_.begin() && probe < std::prev(dit)->first + std::prev(dit)->second.len) {
      --dit;
      const LV d = dit->first;
      const DeleteEntry& e = dit->second;
      a = std::max(lo, d);
      b = std::min(hi, d + e.len);
      const LV o = a - d, k = b - a;
      const ItemId target = e.reversed ? e.target + (e.len - o - k) : e.target + o;
      shiftState(target, k, dir, true);
    } else {
      const Node* n = atId(probe).first;
      if (dir < 0) {
        a = std::max<ItemId>(lo, n->id);
        b = hi;
      } else {
        a = lo;
        b = static_cast<LV>(std::min<ItemId>(hi, n->id + n->len));
      }
      shiftState(a, b - a, dir, false);
    }
    if (dir < 0) {
      hi = a;
    } else {
      lo = b;
    }
  }
}

std::uint64_t Tracker::prepareSize() const { return root_ != nullptr ? root_->sumPrep : 0; }

void Tracker::checkInvariants() const {
  std::uint64_t units = 0;
  // Iterative post-order check of sums and links.
  std::vector<std::pair<const Node*, bool>> work{{root_, false}};
  while (!work.empty()) {
    auto [n, done] = work.back();
    work.pop_back();
    if (n == nullptr) continue;
    if (!done) {
      work.push_back({n, true});
      for (const Node* c : {n->l, n->r}) {
        if (c != nullptr && c->p != n) broken("parent link");
        if (c != nullptr && c->prio > n->prio) broken("heap order");
        work.push_back({c, false});
      }
      continue;
    }
    std::uint64_t len = n->len, prep = prepOf(n), eff = effOf(n);
    for (const Node* c : {n->l, n->r}) {
      if (c != nullptr) {
        len += c->sumLen;
        prep += c->sumPrep;
        eff += c->sumEff;
      }
    }
    if (len != n->sumLen || prep != n->sumPrep || eff != n->sumEff) broken("subtree sums");
    units += n->len;
  }
  if (root_ != nullptr && units != root_->sumLen) broken("unit count");
  for (const auto& [id, n] : byId_) {
    if (n->id != id) broken("id index");
  }
}

}  // namespace crdtdb::list
