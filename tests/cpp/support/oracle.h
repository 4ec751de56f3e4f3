// A deliberately naive reference for the row semantics: it takes a replica's whole history (a
// Changes message), lists every event, derives its Lamport time from its parents (every event
// is max(parents' Lamport) + 1; a root is 1), computes every event's full ancestor set, and
// evaluates the rules literally:
//  - a SetRow token survives unless a SetRow or DeleteRow of the row has it in its past;
//  - a column write survives unless a SetRow, a DeleteRow, or an UpdateRow naming that
//    column has it in its past;
//  - a row is visible iff a token survives; each column shows its greatest surviving write
//    by (Lamport, peer id bytes, seq); the rest are its conflicts, best first;
//  - AddToSet writes its column like an UpdateRow naming it (a set write); RemoveFromSet
//    writes nothing; an add of element e survives unless a SetRow, a DeleteRow, an UpdateRow
//    naming the column or a RemoveFromSet of e in that column has it in its past; when a set
//    write shows, the column reads as the elements with a surviving add, IndexedDB keys first
//    in key order (support/idb_order.h), then the others by JSON text; set writes are never
//    conflicts;
//  - Increment writes nothing (nor does the engine's CounterReset, which the oracle ignores:
//    it derives what a reset says from the history); an increment survives unless a SetRow, a
//    DeleteRow or an UpdateRow naming its column has it in its past; a column whose winning
//    write is a number shows it plus the surviving increments (int64, wrapping; integers exact
//    up to 2^53, then the nearest double); a column with no surviving write but a surviving
//    increment shows their sum; another winning value hides them.
// No shared code with src/merge (nor src/graph): only the message decoder is the engine's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/history.h"
#include "support/idb_order.h"
#include "support/values.h"

namespace crdtdb::testing {

using RowKey = std::pair<std::string, std::string>;  // (table, key)

struct OracleRows {
  std::map<RowKey, RowValues> rows;          // visible rows
  std::map<RowKey, RowConflicts> conflicts;  // rows with at least one conflicted column
};

struct OracleEvent {
  std::string peer;
  Seq seq;
  Lamport lamport;
  std::vector<std::size_t> parents;
  Op op;
};

// Every event of a history, parents before children (as changesSince emits them); each
// event's Lamport time derived from its parents.
inline std::vector<OracleEvent> oracleEvents(ByteSpan history) {
  std::vector<OracleEvent> evs;
  std::map<std::pair<std::string, Seq>, std::size_t> index;
  for (const TxnRecord& t : decodeMessage(history)) {
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
      OracleEvent e{t.peer, t.seq + i, 0, {}, t.ops[i]};
      if (i == 0) {
        for (const auto& p : t.parents) e.parents.push_back(index.at(p));
      } else {
        e.parents.push_back(evs.size() - 1);
      }
      Lamport max = 0;
      for (std::size_t p : e.parents) max = std::max(max, evs[p].lamport);
      e.lamport = max + 1;
      index[{t.peer, t.seq + i}] = evs.size();
      evs.push_back(std::move(e));
    }
  }
  return evs;
}

inline bool oracleIsKey(const Json& j) {
  if (j.is_number() || j.is_string()) return true;
  if (!j.is_array()) return false;
  for (const Json& e : j) {
    if (!oracleIsKey(e)) return false;
  }
  return true;
}

// A set column's value: tag 0x08, the elements in set order.
inline Bytes oracleSetValue(std::vector<Json> elements) {
  std::sort(elements.begin(), elements.end(), [](const Json& a, const Json& b) {
    const bool ka = oracleIsKey(a), kb = oracleIsKey(b);
    if (ka != kb) return ka;
    if (ka) return idbCompare(a, b) < 0;
    return toJson(enc(a)) < toJson(enc(b));
  });
  Bytes out{0x08, static_cast<std::uint8_t>(elements.size())};  // (tests keep sets < 128)
  for (const Json& e : elements) {
    const Bytes b = enc(e);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// A counter column's value: `raw` (a number; nullptr: none) plus `sum`.
inline Bytes oracleCounterValue(const Bytes* raw, std::int64_t sum) {
  constexpr std::int64_t kSafe = std::int64_t{1} << 53;
  const Json base = raw ? dec(*raw) : Json(0);
  if (base.is_number_float()) return enc(base.get<double>() + static_cast<double>(sum));
  const auto total = static_cast<std::int64_t>(
      static_cast<std::uint64_t>(base.get<std::int64_t>()) + static_cast<std::uint64_t>(sum));
  if (total >= -kSafe && total <= kSafe) return enc(total);
  return enc(static_cast<double>(total));
}

inline OracleRows oracleFromHistory(ByteSpan history) {
  const std::vector<OracleEvent> evs = oracleEvents(history);
  const std::size_t n = evs.size(), words = (n + 63) / 64;
  // anc[i]: bit j set when event j is in the causal past of event i (strictly).
  std::vector<std::vector<std::uint64_t>> anc(n, std::vector<std::uint64_t>(words, 0));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t p : evs[i].parents) {
      anc[i][p / 64] |= std::uint64_t{1} << (p % 64);
      for (std::size_t w = 0; w < words; ++w) anc[i][w] |= anc[p][w];
    }
  }
  auto sees = [&](std::size_t x, std::size_t j) { return (anc[x][j / 64] >> (j % 64)) & 1; };

  std::map<RowKey, std::vector<std::size_t>> byRow;
  for (std::size_t i = 0; i < n; ++i) byRow[{evs[i].op.table, evs[i].op.key}].push_back(i);

  auto greater = [&](std::size_t a, std::size_t b) {
    if (evs[a].lamport != evs[b].lamport) return evs[a].lamport > evs[b].lamport;
    if (evs[a].peer != evs[b].peer) return evs[a].peer > evs[b].peer;
    return evs[a].seq > evs[b].seq;
  };
  OracleRows out;
  for (const auto& byRowEntry : byRow) {
    const RowKey& rk = byRowEntry.first;
    const std::vector<std::size_t>& list = byRowEntry.second;  // (clang 14: no captured bindings)
    bool visible = false;
    auto wholeRow = [&](std::size_t x) {
      return evs[x].op.kind == OpKind::SetRow || evs[x].op.kind == OpKind::DeleteRow;
    };
    for (std::size_t t : list) {
      if (evs[t].op.kind != OpKind::SetRow) continue;
      bool removed = false;
      for (std::size_t x : list) {
        if (wholeRow(x) && sees(x, t)) removed = true;
      }
      visible = visible || !removed;
    }
    if (!visible) continue;
    std::map<std::string, std::vector<std::pair<std::size_t, Bytes>>> alive;
    for (std::size_t w : list) {
      const OpKind k = evs[w].op.kind;
      if (k == OpKind::RemoveFromSet || k == OpKind::Increment || k == OpKind::CounterReset) {
        continue;  // not writes
      }
      for (const auto& [col, val] : evs[w].op.columns) {
        bool removed = false;
        for (std::size_t x : list) {
          if (!sees(x, w)) continue;
          const Op& o = evs[x].op;
          bool names = false;
          for (const auto& c : o.columns) names = names || c.first == col;
          const bool writes = o.kind == OpKind::UpdateRow || o.kind == OpKind::AddToSet;
          if (wholeRow(x) || (names && writes)) removed = true;
        }
        if (!removed) alive[col].emplace_back(w, val);
      }
    }
    auto isSetWrite = [&](std::size_t w) { return evs[w].op.kind == OpKind::AddToSet; };
    // Whether an op that has `a` in its past removes it: a row set or delete, an update
    // naming `col`, or an op of `col` that `also` says removes it.
    auto removed = [&](std::size_t a, const std::string& col, auto&& also) {
      for (std::size_t x : list) {
        if (!sees(x, a)) continue;
        const Op& o = evs[x].op;
        if (wholeRow(x)) return true;
        for (const auto& c : o.columns) {
          if (c.first == col && (o.kind == OpKind::UpdateRow || also(o, c.second))) return true;
        }
      }
      return false;
    };
    // The elements of a set column: adds no remover has in its past.
    auto elementsOf = [&](const std::string& col) {
      std::vector<Json> out;
      for (std::size_t a : list) {
        const Op& add = evs[a].op;
        if (add.kind != OpKind::AddToSet || add.columns[0].first != col) continue;
        const Bytes& e = add.columns[0].second;
        const bool gone = removed(a, col, [&](const Op& o, const Bytes& v) {
          return o.kind == OpKind::RemoveFromSet && v == e;
        });
        const Json j = dec(e);
        if (!gone && std::find(out.begin(), out.end(), j) == out.end()) out.push_back(j);
      }
      return out;
    };
    // The surviving increments per column, summed.
    std::map<std::string, std::int64_t> sums;
    for (std::size_t a : list) {
      const Op& inc = evs[a].op;
      if (inc.kind != OpKind::Increment) continue;
      const std::string& col = inc.columns[0].first;
      if (removed(a, col, [](const Op&, const Bytes&) { return false; })) continue;
      const auto delta = dec(inc.columns[0].second).get<std::int64_t>();
      sums[col] = static_cast<std::int64_t>(static_cast<std::uint64_t>(sums[col]) +
                                            static_cast<std::uint64_t>(delta));
    }
    RowValues row;
    RowConflicts conf;
    for (const auto& [col, sum] : sums) {
      if (alive.count(col) == 0) row[col] = oracleCounterValue(nullptr, sum);
    }
    for (auto& [col, writes] : alive) {
      std::sort(writes.begin(), writes.end(),
                [&](const auto& a, const auto& b) { return greater(a.first, b.first); });
      row[col] = isSetWrite(writes[0].first) ? oracleSetValue(elementsOf(col)) : writes[0].second;
      if (sums.count(col) && dec(row[col]).is_number()) {
        row[col] = oracleCounterValue(&row[col], sums[col]);
      }
      for (std::size_t i = 1; i < writes.size(); ++i) {
        if (!isSetWrite(writes[i].first)) conf[col].push_back(writes[i].second);
      }
    }
    out.rows[rk] = row;
    if (!conf.empty()) out.conflicts[rk] = conf;
  }
  return out;
}

}  // namespace crdtdb::testing
