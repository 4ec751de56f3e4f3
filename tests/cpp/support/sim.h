// A simulated network of replicas for convergence fuzzing (in the style of Yjs' testHelper):
// seeded random local transactions, messages delivered in random order with duplicates,
// replicas going offline (losing live messages) and catching up by version exchange. With
// `compacting`, replicas also fold their history at random (all of it, or down to a small
// budget), so peers that lack folded events catch up from snapshots.
#pragma once

#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/errors.h"
#include "db/database.h"
#include "oplog/frame.h"
#include "store/key_codec.h"
#include "support/oracle.h"
#include "support/values.h"

namespace crdtdb::testing {

inline const std::vector<std::string> kTables = {"t0", "t1"};

// Every visible row of every table.
inline std::map<RowKey, RowValues> rowsOf(const Database& db) {
  std::map<RowKey, RowValues> out;
  for (RowId id = 0; id < db.rows().slotCount(); ++id) {
    if (!db.rows().live(id)) continue;
    const Row& r = db.rows().row(id);
    if (!r.visible()) continue;
    RowValues& row = out[{std::string(db.name(r.table)), r.key}];
    db.forEachColumn(id, [&](NameId col, ValueRef v) {
      row.emplace(std::string(db.name(col)), Bytes(v.begin(), v.end()));
    });
  }
  return out;
}

inline std::map<RowKey, RowConflicts> conflictsOf(const Database& db) {
  std::map<RowKey, RowConflicts> out;
  for (const auto& [rk, row] : rowsOf(db)) {
    RowConflicts c = conflictsOf(db, rk.first, rk.second);
    if (!c.empty()) out[rk] = c;
  }
  return out;
}

inline const std::vector<IndexDef> kIndexes = {
    {"byC0", "t0", {"c0"}}, {"byC0C1", "t1", {"c0", "c1"}}, {"byC4", "t1", {"c4"}}};

// Every index's full contents in order, per index name. Each entry must point at the row
// whose key ends it (entries are index key ‖ encoded row key).
inline std::map<std::string, std::vector<std::string>> indexContents(const Database& db) {
  std::map<std::string, std::vector<std::string>> out;
  KeyRange all;
  auto collect = [&](const std::string& table, const std::string& index) {
    std::vector<std::string>& list = out[index.empty() ? "primary:" + table : index];
    for (const QueryHit& h : db.query(table, index, all, {})) {
      std::string pk;
      appendStringKey(pk, db.rows().row(h.row).key);
      REQUIRE(db.rows().live(h.row));
      REQUIRE(db.name(db.rows().row(h.row).table) == table);
      REQUIRE(h.entry.size() >= pk.size());
      REQUIRE(h.entry.substr(h.entry.size() - pk.size()) == pk);
      list.emplace_back(h.entry);
    }
  };
  for (const auto& d : kIndexes) collect(d.table, d.name);
  for (const auto& t : kTables) collect(t, "");
  return out;
}

inline void requireSameState(const Database& a, const Database& b) {
  REQUIRE(indexContents(a) == indexContents(b));
  REQUIRE(rowsOf(a) == rowsOf(b));
  REQUIRE(conflictsOf(a) == conflictsOf(b));
  REQUIRE(a.version() == b.version());
  REQUIRE(a.encodeState() == b.encodeState());
}

inline void requireMatchesOracle(const Database& db) {
  if (db.opLog().folded() > 0) return;  // its history is partly folded away: peers check it
  const Bytes history = allChanges(db);
  OracleRows o = oracleFromHistory(history);
  const auto rows = rowsOf(db);
  if (rows != o.rows) {
    // Both sides, and the history of each row they disagree on.
    std::set<RowKey> differ;
    for (const auto* m : {&rows, static_cast<const decltype(rows)*>(&o.rows)}) {
      for (const auto& [rk, row] : *m) {
        auto mine = rows.find(rk);
        auto theirs = o.rows.find(rk);
        if (mine == rows.end() || theirs == o.rows.end() || mine->second != theirs->second)
          differ.insert(rk);
      }
    }
    auto text = [](const auto& m) {
      std::string t;
      for (const auto& [rk, row] : m) {
        t += rk.first + "/" + rk.second + ":";
        for (const auto& [col, v] : row) t += " " + col + "=" + toJson(v);
        t += "\n";
      }
      return t;
    };
    std::string events;
    const auto evs = oracleEvents(history);
    for (std::size_t i = 0; i < evs.size(); ++i) {
      const auto& e = evs[i];
      if (differ.count({e.op.table, e.op.key}) == 0) continue;
      events += std::to_string(i) + " " + e.op.table + "/" + e.op.key + " " + e.peer + ":" +
                std::to_string(e.seq) + " kind " + std::to_string(int(e.op.kind)) + " parents";
      for (auto p : e.parents) events += " " + std::to_string(p);
      for (const auto& [c, v] : e.op.columns) events += " " + c + "=" + toJson(v);
      events += "\n";
    }
    INFO("replica:\n" << text(rows) << "oracle:\n" << text(o.rows) << "events:\n" << events);
    REQUIRE(rows == o.rows);
  }
  REQUIRE(conflictsOf(db) == o.conflicts);
  // Every visible row is in its table's primary order, once.
  for (const auto& t : kTables) {
    std::size_t n = 0;
    for (const auto& [rk, row] : o.rows) n += rk.first == t ? 1 : 0;
    REQUIRE(db.count(t, "", KeyRange{}) == n);
  }
  // Indexes hold exactly the oracle rows' entries: rebuild them in a fresh replica from the
  // oracle rows and compare.
  Database fresh("oracle-index");
  std::vector<Op> ops;
  for (const auto& [rk, row] : o.rows) {
    Op op{OpKind::SetRow, rk.first, rk.second, {}};
    std::vector<Op> adds;
    for (const auto& [col, v] : row) {
      if (v[0] != 0x08) {
        op.columns.emplace_back(col, v);
        continue;
      }
      // A set: built by its adds (the empty one by an add and a remove).
      const Json elements = dec(v);
      if (elements.empty()) {
        adds.push_back({OpKind::AddToSet, rk.first, rk.second, {{col, enc(0)}}});
        adds.push_back({OpKind::RemoveFromSet, rk.first, rk.second, {{col, enc(0)}}});
      }
      for (const Json& e : elements)
        adds.push_back({OpKind::AddToSet, rk.first, rk.second, {{col, enc(e)}}});
    }
    ops.push_back(std::move(op));
    for (Op& a : adds) ops.push_back(std::move(a));
  }
  fresh.declareIndexes(kIndexes);
  if (!ops.empty()) commitOps(fresh, ops, false);
  REQUIRE(indexContents(db) == indexContents(fresh));
}

class Sim {
 public:
  Sim(std::uint64_t seed, int replicas, bool compacting = false, bool withSets = false,
      bool withCounters = false)
      : rng_(seed),
        inbox_(replicas),
        online_(replicas, true),
        compacting_(compacting),
        withSets_(withSets),
        withCounters_(withCounters) {
    for (int i = 0; i < replicas; ++i) {
      // Peer ids whose byte order differs from creation order exercise the tie-break.
      dbs_.push_back(std::make_unique<Database>("peer-" + std::string(1, char('e' - i))));
      dbs_.back()->declareIndexes(kIndexes);
    }
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }

  Json randomValue() {
    switch (pick(6)) {
      case 0:
        return pick(5);
      case 1:
        return "s" + std::to_string(pick(4));
      case 2:
        return pick(2) == 0;
      case 3:
        return nullptr;
      case 4:
        return pick(1000) / 8.0 + 0.5;
      default:
        return Json::array({pick(3), Json::object({{"n", pick(3)}})});
    }
  }

  // Set elements: keys of each kind and values that are not keys.
  Json randomElement() {
    static const std::vector<Json> kElements = {
        0, 2, 1.5, "a", "b", Json::array({1}), true, nullptr, Json::object({{"x", 1}})};
    return kElements[static_cast<std::size_t>(pick(static_cast<int>(kElements.size())))];
  }

  Op randomOp() {
    Op op;
    op.table = kTables[pick(2)];
    op.key = "k" + std::to_string(pick(4));
    const int sets = withSets_ ? 4 : 0;
    const int kind = pick(10 + sets + (withCounters_ ? 4 : 0));
    op.kind = kind < 4            ? OpKind::SetRow
              : kind < 8          ? OpKind::UpdateRow
              : kind < 10         ? OpKind::DeleteRow
              : kind >= 10 + sets ? OpKind::Increment
              : kind < 13         ? OpKind::AddToSet
                                  : OpKind::RemoveFromSet;
    if (op.kind == OpKind::Increment) {
      // c2 is also written plainly (numbers and other types: type clashes); c4 only by row
      // sets and deletes, and indexed in t1. Rare huge deltas make totals wrap.
      static const std::vector<std::int64_t> kDeltas = {1, 1, 2, -1, 5, 0, -7};
      const std::int64_t delta =
          chance(3) ? (std::int64_t{1} << 53) - 1 : kDeltas[static_cast<std::size_t>(pick(7))];
      op.columns.emplace_back(chance(50) ? "c2" : "c4", enc(delta));
      return op;
    }
    if (isSetOp(op.kind)) {
      // c0 is indexed alone in t0 (an entry per element) and with c1 in t1.
      op.columns.emplace_back(chance(50) ? "c0" : "c3", enc(randomElement()));
      return op;
    }
    if (op.kind != OpKind::DeleteRow) {
      // With sets, plain writes leave c3 to the set ops (c0 gets both: type clashes).
      int mask = withSets_ ? pick(7) + 1 : pick(15) + 1;
      for (int c = 0; c < 4; ++c) {
        if (mask & (1 << c)) op.columns.emplace_back("c" + std::to_string(c), enc(randomValue()));
      }
    }
    return op;
  }

  // One random local transaction on replica r; broadcast if online.
  void localTxn(int r) {
    std::vector<Op> ops;
    int n = chance(70) ? 1 : 1 + pick(4);
    for (int i = 0; i < n; ++i) ops.push_back(randomOp());
    Database& db = *dbs_[r];
    const Bytes state = db.encodeState(), version = db.version();
    ChangeSet res;
    try {
      res = commitOps(db, ops, true);
    } catch (const crdtdb::Error& e) {
      // Absent rows, and set ops on columns that hold a plain value.
      REQUIRE((e.code() == ErrorCode::NotFound ||
               ((withSets_ || withCounters_) && e.code() == ErrorCode::Type)));
      REQUIRE(db.encodeState() == state);  // a rejected transaction changes nothing
      REQUIRE(db.version() == version);
      return;
    }
    if (res.update.empty()) {
      REQUIRE(res.applied == 0);  // only deletes of absent rows: nothing recorded
      REQUIRE(db.version() == version);
      return;
    }
    REQUIRE(res.applied == eventCountOf(decodeMessage(res.update)));
    ++stats_.commits;
    if (!online_[r]) return;  // the live message is lost; a later sync recovers it
    for (int o = 0; o < size(); ++o) {
      if (o != r) inbox_[o].push_back(res.update);
    }
  }

  // Deliver one random queued message to replica r, maybe keeping a duplicate.
  void deliver(int r) {
    if (!online_[r] || inbox_[r].empty()) return;
    std::size_t i = static_cast<std::size_t>(pick(static_cast<int>(inbox_[r].size())));
    Bytes msg = inbox_[r][i];
    if (!chance(15)) inbox_[r].erase(inbox_[r].begin() + static_cast<std::ptrdiff_t>(i));
    const bool wantUpdate = chance(50);
    ChangeSet res = dbs_[r]->applyChanges(msg, wantUpdate);
    REQUIRE(res.pending == dbs_[r]->heldEvents());
    if (isSnapshot(msg)) ++stats_.snapshots;
    if (wantUpdate && res.applied > 0) {
      if (isSnapshot(res.update)) {
        // A snapshot's events are in no log: it travels on as a snapshot of the result.
        REQUIRE(dbs_[r]->opLog().folded() > 0);
        for (int o = 0; o < size(); ++o) {
          if (o != r && online_[o]) inbox_[o].push_back(res.update);
        }
      } else {
        // The update holds exactly the events this call applied (released held ones included).
        REQUIRE(eventCountOf(decodeMessage(res.update)) == res.applied);
      }
    } else {
      REQUIRE(res.update.empty());
    }
    if (res.pending > 0) ++stats_.heldDeliveries;
    if (res.applied == 0) ++stats_.duplicateDeliveries;
  }

  static bool isSnapshot(const Bytes& msg) { return frameKind(msg) == FrameKind::Snapshot; }

  void syncPair(int a, int b) {
    const Bytes v = dbs_[a]->version();
    const Bytes msg = changesSinceVersion(*dbs_[b], v);
    if (isSnapshot(msg)) ++stats_.snapshots;
    dbs_[a]->applyChanges(msg);
  }

  // Folds all of replica r's history, or down to a small budget; nothing visible changes.
  void compact(int r) {
    Database& db = *dbs_[r];
    const Bytes state = db.encodeState(), version = db.version();
    const auto index = indexContents(db);
    db.compact(chance(50) ? 0 : static_cast<std::size_t>(pick(3) * 300));
    REQUIRE(db.encodeState() == state);
    REQUIRE(db.version() == version);
    REQUIRE(indexContents(db) == index);
    ++stats_.compactions;
  }

  void fullSync() {
    for (int i = 0; i < size(); ++i) online_[i] = true;
    for (int round = 0; round < 2; ++round) {
      for (int a = 0; a < size(); ++a) {
        for (int b = 0; b < size(); ++b) {
          if (a != b) syncPair(a, b);
        }
      }
    }
    for (int i = 1; i < size(); ++i) requireSameState(*dbs_[0], *dbs_[i]);
    stats_.visibleRows += rowsOf(*dbs_[0]).size();
    stats_.conflictedRows += conflictsOf(*dbs_[0]).size();
    for (const auto& [rk, row] : rowsOf(*dbs_[0])) {
      for (const auto& [col, v] : row) {
        if (v[0] == 0x08) stats_.setElements += dec(v).size();
        if (col == "c4") ++stats_.counterCells;
      }
    }
    for (const auto& db : dbs_) REQUIRE(db->heldEvents() == 0);
    // A replica rebuilt from one replica's full history is identical too.
    Database fresh("peer-fresh");
    fresh.declareIndexes(kIndexes);
    fresh.applyChanges(allChanges(*dbs_[pick(size())]));
    fresh.checkInvariants();
    requireSameState(*dbs_[0], fresh);
  }

  void step() {
    int r = pick(size());
    int action = pick(100);
    if (compacting_ && chance(5)) {
      compact(r);
    } else if (action < 40) {
      localTxn(r);
    } else if (action < 85) {
      deliver(r);
    } else if (action < 92) {
      online_[r] = !online_[r];
      if (!online_[r]) inbox_[r].clear();  // offline: live traffic to it is lost
    } else {
      int b = pick(size());
      if (b != r && online_[r] && online_[b]) syncPair(r, b);
    }
    dbs_[r]->checkInvariants();
    lastTouched_ = r;
  }

  int size() const { return static_cast<int>(dbs_.size()); }
  Database& db(int i) { return *dbs_[i]; }
  int lastTouched() const { return lastTouched_; }
  // What the run exercised, so a test can prove the fuzzer reaches the interesting cases.
  struct Stats {
    int commits = 0;
    int heldDeliveries = 0;       // deliveries that left events waiting for predecessors
    int duplicateDeliveries = 0;  // deliveries that applied nothing new
    std::size_t visibleRows = 0;
    std::size_t conflictedRows = 0;
    int compactions = 0;
    int snapshots = 0;             // snapshot messages applied (deliveries and syncs)
    std::size_t setElements = 0;   // elements of set columns at full syncs
    std::size_t counterCells = 0;  // rows showing counter column c4 at full syncs
  };
  const Stats& stats() const { return stats_; }

 private:
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Database>> dbs_;
  std::vector<std::deque<Bytes>> inbox_;
  std::vector<bool> online_;
  int lastTouched_ = 0;
  bool compacting_;
  bool withSets_;
  bool withCounters_;
  Stats stats_;
};

}  // namespace crdtdb::testing
