// Compaction and snapshots: folding history away (compact, the history budget), the snapshot
// a peer that lacks folded events receives instead (writeSnapshot), and merging one
// (applySnapshot): the state-based join the row CRDT defines (RowStore::join).
//
// Snapshot payload := varint n, n bytes   an events record of kind "folded" (oplog/op_log.h):
//                                         the causal graph of every event the rows reflect
//                     varint nRows, nRows × (varint n, n bytes RowStore::encodeRowState),
//                                         every row with state, by (table, key)
// It is decoded and validated whole into a scratch replica (Database::load) before the
// receiver changes anything.
#include <algorithm>
#include <memory>

#include "core/errors.h"
#include "core/sort.h"
#include "db/database.h"
#include "merge/list/text_codec.h"
#include "oplog/frame.h"

namespace crdtdb {

void Database::keepHistoryBudget() {
  if (historyMaxBytes_ == 0 || oplog_.foldedThisCall() ||
      oplog_.approxBytes() <= historyMaxBytes_) {
    return;
  }
  // Down to half the budget, so a replica at its budget does not fold at every call.
  oplog_.fold(oplog_.foldPointFor(historyMaxBytes_ / 2));
}

void Database::writeSnapshot(ByteWriter& out) const {
  const std::size_t frame = beginFrame(out, FrameKind::Snapshot);
  const Bytes graph = OpLog::foldedRecord(graph_, peers_, graph_.size());
  out.varint(graph.size());
  out.raw(graph);
  std::vector<RowId> ids;
  for (RowId id = 0; id < rows_.slotCount(); ++id) {
    if (rows_.live(id) && rows_.holdsState(id)) ids.push_back(id);
  }
  sortRange(ids.begin(), ids.end(), [&](RowId a, RowId b) {
    const Row &x = rows_.row(a), &y = rows_.row(b);
    if (x.table != y.table) return names_.name(x.table) < names_.name(y.table);
    return x.key < y.key;
  });
  out.varint(ids.size());
  for (RowId id : ids) {
    ByteWriter w;
    rows_.encodeRowState(id, w);
    out.varint(w.size());
    out.raw(w.bytes());
  }
  finishFrame(out, frame);
}

std::unique_ptr<Database> Database::decodeSnapshot(ByteSpan payload) const {
  ByteReader r(payload);
  const ByteSpan graph =
      r.raw(static_cast<std::size_t>(r.varintBelow(r.remaining() + 1, "snapshot graph length")));
  const std::uint64_t n = r.varintBelow(r.remaining() + 1, "snapshot row count");
  std::vector<ByteSpan> rows;
  rows.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    rows.push_back(
        r.raw(static_cast<std::size_t>(r.varintBelow(r.remaining() + 1, "snapshot row length"))));
  }
  if (!r.atEnd()) throw DecodeError("snapshot has trailing bytes");
  auto s = std::make_unique<Database>(peerId_, DatabaseOptions{0, hashSeed_, 0});
  const ByteSpan records[] = {graph};
  s->load(records, rows);
  // Only a folded record holds a graph and no operations.
  if (s->oplog_.folded() != s->graph_.size()) {
    throw DecodeError("snapshot without its causal graph");
  }
  return s;
}

LV Database::joinSnapshot(const Database& s, std::vector<PeerIdx>& progress) {
  std::vector<Seq> seenByUs(peers_.size());
  for (PeerIdx p = 0; p < peers_.size(); ++p) seenByUs[p] = graph_.nextSeq(p);

  // The graph: the part of each of its runs this replica lacks, parents translated.
  LV added = 0;
  std::vector<PeerIdx> ours(s.peers_.size(), 0);
  for (PeerIdx q = 0; q < s.peers_.size(); ++q) ours[q] = peers_.intern(s.peers_.name(q));
  auto lvHere = [&](LV theirs) {
    const Stamp t = s.graph_.stampOf(theirs);
    auto lv = graph_.lvOf(ours[t.peer], t.seq);
    if (!lv) throw DecodeError("snapshot graph names a parent before it");
    return *lv;
  };
  for (const GraphRun& run : s.graph_.runs()) {
    const PeerIdx p = ours[run.peer];
    const Seq known = graph_.nextSeq(p), end = run.seq + (run.end - run.start);
    if (known >= end) continue;
    if (known < run.seq) throw DecodeError("snapshot graph skips events of a peer");
    std::vector<LV> parents;
    if (known > run.seq) {
      parents.push_back(*graph_.lvOf(p, known - 1));
    } else {
      for (LV q : s.graph_.parentsOfRun(run)) parents.push_back(lvHere(q));
      sortRange(parents.begin(), parents.end());
      parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
      // A peer's events must form a chain here too (a forked peer could break it).
      if (known > 0 && graph_.seenOf(parents, p) < known) {
        throw DecodeError("snapshot event " + std::string(peers_.name(p)) + ":" +
                          std::to_string(known) + " does not have its peer's previous event");
      }
    }
    const LV count = static_cast<LV>(end - known);
    if (count > kMaxEvents - graph_.size()) {
      throw DecodeError("the replica's event limit is reached");
    }
    if (graph_.maxLamport(parents) + count >= kMaxClock) {
      throw DecodeError("Lamport time out of range");
    }
    graph_.append(p, known, parents, count);
    added += count;
    progress.push_back(p);
  }
  if (added == 0) return 0;  // nothing new: its state is part of ours already

  // The rows: every row of the snapshot, then every other row of ours (the snapshot may have
  // seen writes of ours that it removed).
  std::vector<Seq> seenByThem(peers_.size(), 0);
  for (PeerIdx q = 0; q < s.peers_.size(); ++q) seenByThem[ours[q]] = s.graph_.nextSeq(q);
  const RowId before = static_cast<RowId>(rows_.slotCount());
  std::vector<bool> joined(before, false);
  std::vector<RowStore::JoinWrite> writes;
  std::vector<RowStore::JoinDot> dots;
  std::vector<RowStore::JoinCounter> counters;
  for (RowId sid = 0; sid < s.rows_.slotCount(); ++sid) {
    if (!s.rows_.live(sid) || !s.rows_.holdsState(sid)) continue;
    const Row& sr = s.rows_.row(sid);
    writes.clear();
    dots.clear();
    counters.clear();
    auto add = [&](NameId theirColumn, const Cell& c) {
      if (c.derived()) return;  // a counter's sum: its entries come below
      // Sets' elements come as dots and counters' increments as entries: writes carry what
      // they wrote.
      const ValueRef v = s.rows_.storedValue(sid, c);
      if (theirColumn == kTokenColumn) {
        writes.push_back({kTokenColumn, {}, lvHere(c.lv()), v});
      } else {
        const std::string_view name = s.names_.name(theirColumn);
        writes.push_back({internName(name), name, lvHere(c.lv()), v});
      }
    };
    for (const Cell& c : sr.cells) add(c.column(), c);
    s.rows_.forEachLoserCell(sid, add);
    s.rows_.forEachDot(sid, [&](NameId theirColumn, ValueRef element, LV lv) {
      dots.push_back({internName(s.names_.name(theirColumn)), element, lvHere(lv)});
    });
    s.rows_.forEachCounter(sid, [&](NameId theirColumn, PeerIdx peer, const CounterEntry& e) {
      counters.push_back({internName(s.names_.name(theirColumn)), ours[peer], e});
    });
    const RowId id = rows_.findOrCreate(internName(s.names_.name(sr.table)), sr.key);
    if (id < before) joined[id] = true;
    rows_.join(id, writes, dots, counters, seenByThem, seenByUs, &work_.observedChecks);
    // Texts: their histories, re-read in this replica's LVs, join ours.
    s.rows_.forEachText(sid, [&](NameId theirColumn, LV created, const list::TextColumn& t) {
      ByteWriter w;
      list::encodeText(
          t,
          [&](LV lv) {
            const Stamp st = s.graph_.stampOf(lv);
            return list::EventName{st.peer, st.seq};
          },
          w);
      ByteReader r(w.bytes());
      list::DecodedText theirs;
      list::decodeText(
          r, [&](std::uint32_t peer, Seq seq) { return lvHere(s.graph_.lvOf(peer, seq).value()); },
          theirs);
      rows_.joinText(id, internName(s.names_.name(theirColumn)), lvHere(created), theirs, seenByUs,
                     [&](const list::TextColumn& c, LV lv) { return textParents(c, lv); });
    });
  }
  for (RowId id = 0; id < before; ++id) {
    if (joined[id] || !rows_.live(id) || !rows_.holdsState(id)) continue;
    rows_.join(id, {}, {}, {}, seenByThem, seenByUs, &work_.observedChecks);
  }
  // Its events never entered the log: fold everything before them (and them).
  oplog_.fold(graph_.size());
  return added;
}

}  // namespace crdtdb
