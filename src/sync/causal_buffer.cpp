#include "sync/causal_buffer.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "core/errors.h"

namespace crdtdb {

namespace {

// Events made known while planning, before anything is applied.
struct ScratchKnown {
  const KnownEvents& base;
  std::unordered_map<std::string, Seq> next;
  // peer → runs of (first seq, end seq, first Lamport) added by the plan
  std::unordered_map<std::string, std::vector<std::tuple<Seq, Seq, Lamport>>> added;

  Seq nextSeq(const std::string& peer) {
    auto it = next.find(peer);
    if (it != next.end()) return it->second;
    Seq s = base.nextSeq(peer);
    next.emplace(peer, s);
    return s;
  }
  Lamport lamport(const EventRef& e) {
    auto it = added.find(e.peer);
    if (it != added.end() && !it->second.empty() && e.seq >= std::get<0>(it->second.front())) {
      // A peer's runs are added in ascending, contiguous seq order: binary search, so planning
      // a whole history stays O(n log n) (a linear scan here made it quadratic).
      const auto& runs = it->second;
      auto run = std::upper_bound(runs.begin(), runs.end(), e.seq,
                                  [](Seq s, const auto& r) { return s < std::get<0>(r); });
      const auto& [first, end, lamportStart] = *(run - 1);
      if (e.seq < end) return lamportStart + (e.seq - first);
    }
    return base.lamport(e);
  }
};

}  // namespace

CausalBuffer::Plan CausalBuffer::plan(std::vector<TxnRecord> incoming,
                                      const KnownEvents& known) const {
  Plan p;
  p.incoming = std::move(incoming);

  // Pool: held first (they arrived first), then incoming; one candidate per (peer, seq).
  struct Cand {
    const TxnRecord* txn;
    bool fromIncoming;
    std::size_t index;
  };
  // Several candidates may start at the same event (a held copy and a resent one); the first
  // to become ready wins and the others then count as duplicates. None is discarded up front:
  // a held copy that proves invalid must not hide a valid resend.
  std::vector<Cand> pool;
  for (std::size_t i = 0; i < held_.size(); ++i) pool.push_back({&held_[i], false, i});
  for (std::size_t i = 0; i < p.incoming.size(); ++i) pool.push_back({&p.incoming[i], true, i});

  ScratchKnown sk{known, {}, {}};
  enum class State { Waiting, Done };
  std::vector<State> state(pool.size(), State::Waiting);
  // waiters[peer] : (seq needed to be known, pool index)
  std::unordered_map<std::string, std::multimap<Seq, std::size_t>> waiters;
  std::deque<std::size_t> queue;
  for (std::size_t i = 0; i < pool.size(); ++i) queue.push_back(i);

  while (!queue.empty()) {
    std::size_t i = queue.front();
    queue.pop_front();
    const TxnRecord& t = *pool[i].txn;
    Seq next = sk.nextSeq(t.peer);
    if (t.endSeq() <= next) {  // everything already known: a duplicate
      state[i] = State::Done;
      continue;
    }
    if (t.seq > next) {
      waiters[t.peer].emplace(t.seq - 1, i);
      continue;
    }
    Seq skip = next - t.seq;
    Lamport firstLamport = t.lamport + skip;
    Lamport parentMax = 0;
    bool blocked = false;
    if (skip > 0) {
      parentMax = sk.lamport({t.peer, next - 1});
    } else {
      for (const auto& par : t.parents) {
        if (par.seq >= sk.nextSeq(par.peer)) {
          waiters[par.peer].emplace(par.seq, i);
          blocked = true;
          break;
        }
        parentMax = std::max(parentMax, sk.lamport(par));
      }
    }
    if (blocked) continue;
    state[i] = State::Done;
    // Exactly one above the parents', as every honest commit stamps it: a peer that could
    // jump the clock could push it to kMaxClock and block every later write everywhere.
    if (firstLamport != parentMax + 1) {
      if (pool[i].fromIncoming) {
        throw DecodeError("transaction " + t.peer + ":" + std::to_string(t.seq) +
                          " has a Lamport time that is not one above its parents'");
      }
      continue;  // a held transaction proved invalid: drop it
    }
    p.ready.push_back({&t, skip});
    sk.next[t.peer] = t.endSeq();
    sk.added[t.peer].emplace_back(next, t.endSeq(), firstLamport);
    auto w = waiters.find(t.peer);
    if (w != waiters.end()) {
      auto end = w->second.lower_bound(t.endSeq());
      for (auto it = w->second.begin(); it != end; ++it) queue.push_back(it->second);
      w->second.erase(w->second.begin(), end);
    }
  }

  std::map<EventRef, bool> heldStarts;  // one held copy per start: held before incoming
  for (std::size_t i = 0; i < pool.size(); ++i) {
    if (state[i] == State::Done) continue;
    const TxnRecord& t = *pool[i].txn;
    // Events of it that became known through another transaction are not held twice.
    Seq next = sk.nextSeq(t.peer);
    if (t.endSeq() <= next) continue;
    if (!heldStarts.emplace(EventRef{t.peer, t.seq}, true).second) continue;
    (pool[i].fromIncoming ? p.holdIncoming : p.keepHeld).push_back(pool[i].index);
    p.heldBytes += t.encodedSize;
    p.heldEvents += t.ops.size();
  }
  if (p.heldBytes > maxBytes_) {
    throw Error(ErrorCode::PendingOverflow,
                "held causally-early changes would take " + std::to_string(p.heldBytes) +
                    " bytes, over the bound of " + std::to_string(maxBytes_));
  }
  return p;
}

void CausalBuffer::commit(Plan&& p) {
  std::vector<TxnRecord> held;
  held.reserve(p.keepHeld.size() + p.holdIncoming.size());
  for (std::size_t i : p.keepHeld) held.push_back(std::move(held_[i]));
  for (std::size_t i : p.holdIncoming) held.push_back(std::move(p.incoming[i]));
  held_ = std::move(held);
  heldBytes_ = p.heldBytes;
  heldEvents_ = p.heldEvents;
}

}  // namespace crdtdb
