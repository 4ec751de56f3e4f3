#include "sync/causal_buffer.h"

#include <algorithm>

#include "core/errors.h"
#include "core/hash.h"
#include "core/reserve.h"

namespace crdtdb {

namespace {
std::uint64_t contentHash(ByteSpan b, std::uint64_t seed) {
  return hashBytes(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), seed);
}
}  // namespace

std::optional<CausalBuffer::Id> CausalBuffer::holds(ByteSpan chunk, std::uint64_t* compared) const {
  auto [lo, hi] = byContent_.equal_range(contentHash(chunk, seed_));
  for (auto it = lo; it != hi; ++it) {  // more than one only on a hash collision
    if (compared) ++*compared;
    const Bytes& held = held_.at(it->second).chunk;
    if (std::equal(held.begin(), held.end(), chunk.begin(), chunk.end())) return it->second;
  }
  return std::nullopt;
}

CausalBuffer::ContentIt CausalBuffer::contentEntry(Id id, const Bytes& chunk) const {
  auto [it, hi] = byContent_.equal_range(contentHash(chunk, seed_));
  while (it != hi && it->second != id) ++it;
  return it == hi ? byContent_.end() : it;
}

void CausalBuffer::hold(HeldRun run, PeerIdx waitPeer, Seq waitSeq) {
  const std::size_t mem = run.memory();
  if (bytes_ + mem > maxBytes_) {
    throw Error(ErrorCode::PendingOverflow,
                "held causally-early changes would take " + std::to_string(bytes_ + mem) +
                    " bytes of memory, over the bound of " + std::to_string(maxBytes_));
  }
  reserveMore(journal_, 2);
  const Id id = next_++;
  const std::uint64_t key = contentHash(run.chunk, seed_);
  const Seq events = run.end - run.seq;
  const auto it = held_.emplace(id, std::move(run)).first;
  try {
    byContent_.emplace(key, id);
  } catch (...) {
    held_.erase(it);
    throw;
  }
  journal_.push_back(Undo{Undo::Held, id, 0, {}, {}, {}, {}});
  bytes_ += mem;
  events_ += events;
  wait(id, waitPeer, waitSeq);
}

void CausalBuffer::wait(Id id, PeerIdx waitPeer, Seq waitSeq) {
  reserveMore(journal_, 1);
  Waiters& w = waiting_[waitPeer];
  auto it = w.emplace(waitSeq, id);
  journal_.push_back(Undo{Undo::WaitAdded, id, waitPeer, it, {}, {}, {}});
}

std::vector<CausalBuffer::Id> CausalBuffer::release(PeerIdx peer, Seq next) {
  std::vector<Id> out;
  auto wit = waiting_.find(peer);
  if (wit == waiting_.end()) return out;
  Waiters& w = wit->second;
  const auto end = w.lower_bound(next);
  std::size_t n = 0;
  for (auto it = w.begin(); it != end; ++it) ++n;
  if (n == 0) return out;
  out.reserve(n);
  reserveMore(journal_, n);
  while (!w.empty() && w.begin()->first < next) {
    out.push_back(w.begin()->second);
    journal_.push_back(Undo{Undo::WaitReleased, 0, peer, {}, w.extract(w.begin()), {}, {}});
  }
  return out;
}

void CausalBuffer::drop(Id id) {
  reserveMore(journal_, 1);
  auto node = held_.extract(id);
  const HeldRun& r = node.mapped();
  auto startNode = byContent_.extract(contentEntry(id, r.chunk));
  bytes_ -= r.memory();
  events_ -= r.end - r.seq;
  journal_.push_back(Undo{Undo::Dropped, id, 0, {}, {}, std::move(node), std::move(startNode)});
}

void CausalBuffer::rollback(const Mark& m) noexcept {
  while (journal_.size() > m.journal) {
    Undo& u = journal_.back();
    switch (u.kind) {
      case Undo::Held: {
        const HeldRun& r = held_.at(u.id);
        if (auto it = contentEntry(u.id, r.chunk); it != byContent_.end()) byContent_.erase(it);
        held_.erase(u.id);
        break;
      }
      case Undo::Dropped:
        held_.insert(std::move(u.runNode));
        byContent_.insert(std::move(u.startNode));
        break;
      case Undo::WaitAdded:
        waiting_.at(u.peer).erase(u.added);
        break;
      case Undo::WaitReleased: {
        // Back at the front of its equal range: releases took them from the front, and undoing
        // them in reverse order this way restores the order they were held in.
        Waiters& w = waiting_.at(u.peer);
        const auto at = w.lower_bound(u.waitNode.key());
        w.insert(at, std::move(u.waitNode));
        break;
      }
    }
    journal_.pop_back();
  }
  bytes_ = m.bytes;
  events_ = m.events;
  next_ = m.next;
}

}  // namespace crdtdb
