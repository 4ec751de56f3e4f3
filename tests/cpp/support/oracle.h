// A deliberately naive reference for the row semantics: it takes a replica's whole history,
// computes every event's full ancestor set, and evaluates the api.md rules literally:
//  - a SetRow token survives unless a SetRow or DeleteRow of the row has it in its past;
//  - a column write survives unless a SetRow, a DeleteRow, or an UpdateRow naming that
//    column has it in its past;
//  - a row is visible iff a token survives; each column shows its greatest surviving write
//    by (Lamport, peer id, seq); the rest are its conflicts.
// No shared code with src/merge: it must agree with the engine on every fuzz step.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "db/database.h"
#include "oplog/changes_codec.h"

namespace crdtdb::testing {

struct OracleRows {
  std::map<std::pair<std::string, std::string>, Value> rows;       // visible rows
  std::map<std::pair<std::string, std::string>, Value> conflicts;  // non-empty only
};

inline OracleRows oracleFromHistory(const Bytes& allChanges) {
  struct Ev {
    std::string peer;
    Seq seq;
    Lamport lamport;
    std::vector<std::size_t> parents;
    Op op;
  };
  std::vector<Ev> evs;
  std::map<std::pair<std::string, Seq>, std::size_t> index;
  for (const TxnRecord& t : decodeChanges(allChanges)) {
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
      Ev e{t.peer, t.seq + i, t.lamport + i, {}, t.ops[i]};
      if (i == 0) {
        for (const auto& p : t.parents) e.parents.push_back(index.at({p.peer, p.seq}));
      } else {
        e.parents.push_back(evs.size() - 1);
      }
      index[{t.peer, t.seq + i}] = evs.size();
      evs.push_back(std::move(e));
    }
  }
  // anc[i][j]: event j is in the causal past of event i (strictly).
  std::vector<std::vector<bool>> anc(evs.size(), std::vector<bool>(evs.size(), false));
  for (std::size_t i = 0; i < evs.size(); ++i) {
    for (std::size_t p : evs[i].parents) {
      anc[i][p] = true;
      for (std::size_t j = 0; j < evs.size(); ++j) {
        if (anc[p][j]) anc[i][j] = true;
      }
    }
  }
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> byRow;
  for (std::size_t i = 0; i < evs.size(); ++i) byRow[{evs[i].op.table, evs[i].op.key}].push_back(i);

  auto greater = [&](std::size_t a, std::size_t b) {
    if (evs[a].lamport != evs[b].lamport) return evs[a].lamport > evs[b].lamport;
    if (evs[a].peer != evs[b].peer) return evs[a].peer > evs[b].peer;
    return evs[a].seq > evs[b].seq;
  };
  OracleRows out;
  for (const auto& [rk, list] : byRow) {
    bool visible = false;
    for (std::size_t t : list) {
      if (evs[t].op.kind != OpKind::SetRow) continue;
      bool removed = false;
      for (std::size_t x : list) {
        if (evs[x].op.kind != OpKind::UpdateRow && anc[x][t]) removed = true;
      }
      visible = visible || !removed;
    }
    if (!visible) continue;
    std::map<std::string, std::vector<std::pair<std::size_t, Value>>> alive;
    for (std::size_t w : list) {
      for (const auto& [col, val] : evs[w].op.columns) {
        bool removed = false;
        for (std::size_t x : list) {
          if (!anc[x][w]) continue;
          const Op& o = evs[x].op;
          bool names = false;
          for (const auto& c : o.columns) names = names || c.first == col;
          if (o.kind != OpKind::UpdateRow || names) removed = true;
        }
        if (!removed) alive[col].emplace_back(w, val);
      }
    }
    Value row = Value::object();
    Value conf = Value::object();
    for (auto& [col, writes] : alive) {
      std::sort(writes.begin(), writes.end(),
                [&](const auto& a, const auto& b) { return greater(a.first, b.first); });
      row[col] = writes[0].second;
      if (writes.size() > 1) {
        Value losers = Value::array();
        for (std::size_t i = 1; i < writes.size(); ++i) losers.push_back(writes[i].second);
        conf[col] = losers;
      }
    }
    out.rows[rk] = row;
    if (!conf.empty()) out.conflicts[rk] = conf;
  }
  return out;
}

}  // namespace crdtdb::testing
