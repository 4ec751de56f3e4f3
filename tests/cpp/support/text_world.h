// Simulated replicas of one text column for tests: a shared world of edits, replicas with
// their own causal graphs, random local edits (surrogate pairs included) and partial merges,
// and the FugueMax oracle's text for what a replica holds.
#pragma once

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/interner.h"
#include "graph/causal_graph.h"
#include "merge/list/text_column.h"
#include "support/fugue_oracle.h"

namespace crdtdb::testing::text {

// One edit run in the shared history, or (len 0) an event of some other row: the column's
// graph is a projection of the replica's.
struct World {
  std::vector<TextEvent> events;
  std::vector<Seq> seq;  // first seq of each event
};

struct Replica {
  std::string name;
  CausalGraph graph;
  Interner peers;
  list::TextColumn col;
  std::vector<bool> has;
  std::map<int, LV> lastLv;  // world event -> its LV here
  std::vector<int> order;    // world events in local order
  std::vector<int> frontier;
  std::vector<list::TextPatch> patches;
  std::u16string mirror;  // the text rebuilt from patches alone (what an editor binding sees)

  list::TextColumn::AuthorLess authorLess() {
    return [this](LV a, LV b) {
      return peers.name(graph.stampOf(a).peer) < peers.name(graph.stampOf(b).peer);
    };
  }
  void applyPatches() {
    for (const list::TextPatch& p : patches) {
      mirror.erase(p.pos, p.removed);
      mirror.insert(p.pos, p.inserted);
    }
    patches.clear();
  }
  std::vector<LV> parentLvs(const std::vector<int>& events) const {
    std::vector<LV> out;
    for (int e : events) out.push_back(lastLv.at(e));
    std::sort(out.begin(), out.end());
    return out;
  }
  void record(int e, LV lv, const std::vector<int>& parents) {
    has.resize(std::max(has.size(), static_cast<std::size_t>(e) + 1), false);
    has[e] = true;
    lastLv[e] = lv;
    order.push_back(e);
    std::erase_if(frontier, [&](int f) {
      return std::find(parents.begin(), parents.end(), f) != parents.end();
    });
    frontier.push_back(e);
  }
};

inline bool splitsPair(const std::u16string& s, std::size_t pos) {
  return pos > 0 && pos < s.size() && s[pos - 1] >= 0xd800 && s[pos - 1] <= 0xdbff &&
         s[pos] >= 0xdc00 && s[pos] <= 0xdfff;
}

inline void localEdit(World& w, Replica& r, std::mt19937_64& rng) {
  const std::u16string text = r.col.text().str();
  TextEvent ev{r.name, r.frontier, true, true, 0, 0, {}};
  const int kind = static_cast<int>(rng() % 10);
  if (kind < 6 || text.empty()) {
    std::uint32_t pos = static_cast<std::uint32_t>(rng() % (text.size() + 1));
    if (splitsPair(text, pos)) ++pos;
    if (rng() % 5 == 0) {
      ev.text = u"\U0001F600";
    } else {
      for (std::size_t i = 0, n = 1 + rng() % 3; i < n; ++i) ev.text.push_back(u'a' + rng() % 26);
    }
    ev.pos = pos;
    ev.len = static_cast<std::uint32_t>(ev.text.size());
  } else if (kind < 9) {
    std::uint32_t pos = static_cast<std::uint32_t>(rng() % text.size());
    if (splitsPair(text, pos)) --pos;
    std::uint32_t end = std::min<std::uint32_t>(static_cast<std::uint32_t>(text.size()),
                                                pos + 1 + static_cast<std::uint32_t>(rng() % 3));
    if (splitsPair(text, end)) ++end;
    ev.insert = false;
    ev.forward = rng() % 2 == 0;
    ev.pos = pos;
    ev.len = end - pos;
  } else {
    ev.insert = false;  // another row's event
    ev.len = 0;
  }
  const int e = static_cast<int>(w.events.size());
  const PeerIdx self = r.peers.intern(r.name);
  const Seq seq = r.graph.nextSeq(self);
  const LV lv = r.graph.append(self, seq, r.parentLvs(ev.parents), 1);
  if (ev.len > 0 && ev.insert) r.col.localInsert(lv, ev.pos, ev.text, &r.patches);
  if (ev.len > 0 && !ev.insert) {
    // A delete run made of single Backspaces or Deletes, like a user's keystrokes: exercises
    // the run-length encoding of both directions.
    r.col.localDelete(lv, ev.pos, ev.len, &r.patches);
  }
  w.events.push_back(ev);
  w.seq.push_back(seq);
  r.record(e, lv, ev.parents);
  r.applyPatches();
}

// Sends `to` the first `count` events of `from`'s order that it lacks.
inline void merge(const World& w, const Replica& from, Replica& to, std::size_t count,
                  std::mt19937_64& rng, bool randomFlushes = true) {
  for (std::size_t i = 0; i < count && i < from.order.size(); ++i) {
    const int e = from.order[i];
    if (e < static_cast<int>(to.has.size()) && to.has[e]) continue;
    const TextEvent& ev = w.events[e];
    const PeerIdx peer = to.peers.intern(ev.peer);
    const std::vector<LV> parents = to.parentLvs(ev.parents);
    const LV lv = to.graph.append(peer, w.seq[e], parents, 1);
    if (ev.len > 0) {
      const VV vv = to.graph.vvOfParents(parents);
      auto seen = [&](LV x) {
        const Stamp s = to.graph.stampOf(x);
        return s.seq < to.graph.vvGet(vv, s.peer);
      };
      const std::vector<LV> cparents = to.col.parentsFor(seen);
      to.col.addRemote(lv, {ev.insert, ev.pos, ev.len, ev.text}, cparents);
      if (randomFlushes && rng() % 3 == 0) {
        to.col.flush(to.authorLess(), &to.patches);
        to.applyPatches();
      }
    }
    to.record(e, lv, ev.parents);
  }
  to.col.flush(to.authorLess(), &to.patches);
  to.applyPatches();
}

inline std::u16string oracleFor(const World& w, const Replica& r) {
  std::vector<bool> chosen(w.events.size(), false);
  for (std::size_t i = 0; i < r.has.size(); ++i) chosen[i] = r.has[i];
  return FugueOracle::replay(w.events, chosen);
}

inline std::string show(const std::u16string& s) {
  std::string out;
  for (char16_t c : s) out += c < 128 ? static_cast<char>(c) : '?';
  return out;
}

}  // namespace crdtdb::testing::text
