// Persistence: the storage records a replica hands out (Database::takeStorage) and reopening
// from them (Database::load). A reopened replica must be indistinguishable from the one that
// wrote the storage; storage's derived stores (materialized rows, index entries) must match
// the engine's state; opening must decode row state, not history.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "core/errors.h"
#include "db/database.h"
#include "support/alloc_hooks.h"
#include "support/error_of.h"
#include "support/history.h"
#include "support/store_sim.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

const std::vector<IndexDef> kDefs = {{"byX", "users", {"x"}},
                                     {"byYZ", "users", {"y", "z"}},
                                     {"byTag", "posts", {"tag"}},
                                     {"byN", "users", {"n"}}};

std::uint64_t envOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::vector<std::string> queryKeys(const Database& db, const std::string& table,
                                   const std::string& index) {
  return keysOf(db, db.query(table, index, KeyRange{}, QueryOptions{}));
}

// Everything a user (or a peer) can observe of a replica, plus storage's derived stores.
void requireSame(const Database& a, const Database& b, const std::vector<Bytes>& versions) {
  REQUIRE(a.encodeState() == b.encodeState());
  REQUIRE(a.version() == b.version());
  REQUIRE(allChanges(a) == allChanges(b));
  for (const Bytes& v : versions) REQUIRE(changesSinceVersion(a, v) == changesSinceVersion(b, v));
  for (const auto& [table, index] : std::vector<std::pair<std::string, std::string>>{
           {"users", ""}, {"posts", ""}, {"users", "byX"}, {"users", "byYZ"}, {"posts", "byTag"}}) {
    REQUIRE(queryKeys(a, table, index) == queryKeys(b, table, index));
  }
  a.checkInvariants();
  b.checkInvariants();
}

void requireStorageMatches(const Database& db, const StoreSim& s) {
  REQUIRE(s.indexes == expectedIndexEntries(db));
  std::size_t visible = 0;
  for (const std::string table : {"users", "posts"}) {
    for (const std::string& key : queryKeys(db, table, "")) {
      ++visible;
      auto it = s.materialized.find({table, key});
      REQUIRE(it != s.materialized.end());
      REQUIRE(dec(it->second) == *rowJson(db, table, key));
    }
  }
  REQUIRE(s.materialized.size() == visible);
}

Json randomValue(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return static_cast<int>(rng() % 7);
    case 1:
      return std::string(1, static_cast<char>('a' + rng() % 5));
    case 2:
      return Json::array({static_cast<int>(rng() % 3), "k"});
    case 3:
      return nullptr;
    case 4:
      return std::string(rng() % 3 == 0 ? 3000 : 20, static_cast<char>('p' + rng() % 4));
    default:
      return 0.5 * static_cast<double>(rng() % 9);
  }
}

Op randomOp(std::mt19937_64& rng) {
  const std::string table = rng() % 4 == 0 ? "posts" : "users";
  const std::string key = "k" + std::to_string(rng() % 12);
  Json row = Json::object();
  for (const char* col : {"x", "y", "z", "tag", "w"}) {
    if (rng() % 2) row[col] = randomValue(rng);
  }
  switch (rng() % 9) {
    case 7:
    case 8:  // increments: users' "n" (indexed) only by increments and row writes, "x" also plain
      return Op{OpKind::Increment,
                table,
                key,
                {{rng() % 2 ? "n" : "x", enc(static_cast<int>(rng() % 11) - 5)}}};
    case 5:
    case 6:  // set ops: posts' "tag" is indexed (an entry per element), and written plain too
      return Op{rng() % 2 ? OpKind::AddToSet : OpKind::RemoveFromSet,
                table,
                key,
                {{table == "posts" ? "tag" : "s", enc(randomValue(rng))}}};
    case 0:
      return deleteOp(table, key);
    case 1:
    case 2:
      return updateOp(table, key, row.empty() ? Json{{"x", 1}} : row);
    default:
      return setOp(table, key, row);
  }
}

struct Replica {
  std::string peer;
  StoreSim store;
  std::unique_ptr<Database> db;
};

}  // namespace

TEST_CASE("a replica reopened from storage equals the one that wrote it", "[store]") {
  const std::uint64_t first = envOr("CRDTDB_STORE_FIRST", 1);
  const std::uint64_t seeds = envOr("CRDTDB_STORE_SEEDS", 12);
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    INFO("seed " << seed << " (replay: CRDTDB_STORE_FIRST=" << seed << " CRDTDB_STORE_SEEDS=1)");
    std::mt19937_64 rng(seed);
    std::vector<Replica> reps(3);
    for (std::size_t i = 0; i < reps.size(); ++i) {
      reps[i].peer = std::string(1, static_cast<char>('a' + i));
      reps[i].db = std::make_unique<Database>(reps[i].peer);
      reps[i].db->declareIndexes(kDefs);
      reps[i].db->trackStorage(true);
    }
    for (int step = 0; step < 400; ++step) {
      Replica& r = reps[rng() % reps.size()];
      const unsigned what = rng() % 20;
      if (what < 10) {
        std::vector<Op> ops;
        const std::size_t n = 1 + rng() % 3;
        for (std::size_t i = 0; i < n; ++i) ops.push_back(randomOp(rng));
        try {
          commitOps(*r.db, ops);
        } catch (const Error& e) {
          // An update of an absent row, or a set op or increment on a column of another type.
          REQUIRE((e.code() == ErrorCode::NotFound || e.code() == ErrorCode::Type));
        }
      } else if (what < 14) {
        const Replica& from = reps[rng() % reps.size()];
        if (rng() % 3 == 0) {
          r.db->applyChanges(allChanges(*from.db));  // duplicates are fine
        } else {
          syncFrom(*r.db, *from.db);
        }
      } else if (what < 18) {
        r.store.take(*r.db);
      } else {
        r.store.take(*r.db);
        requireStorageMatches(*r.db, r.store);
        // Whole, or rows in batches as IndexedDB hands them over: the same replica.
        const std::size_t batch = rng() % 2 ? 0 : 1 + rng() % 4;
        auto reopened = r.store.open(r.peer, kDefs, true, batch);
        std::vector<Bytes> versions;
        for (const Replica& o : reps) versions.push_back(o.db->version());
        requireSame(*r.db, *reopened, versions);
        r.db = std::move(reopened);  // and go on with the reopened one
      }
    }
    // In the end every replica converges, through storage as well (own events leave once
    // durable).
    for (Replica& r : reps) r.store.take(*r.db);
    for (Replica& r : reps) {
      for (const Replica& o : reps) syncFrom(*r.db, *o.db);
    }
    for (Replica& r : reps) {
      r.store.take(*r.db);
      requireStorageMatches(*r.db, r.store);
      auto reopened = r.store.open(r.peer, kDefs);
      REQUIRE(reopened->encodeState() == reps[0].db->encodeState());
      requireSame(*r.db, *reopened, {reps[0].db->version()});
    }
  }
}

TEST_CASE("loading in steps keeps its order: history, rows, finish", "[store]") {
  Database db("a");
  db.trackStorage(true);
  commitOps(db, {setOp("users", "k", {{"x", 1}}), setOp("users", "k2", {{"x", 2}})});
  StoreSim store;
  store.take(db);
  const std::vector<ByteSpan> none;
  auto codeOf = testing::errorOf;
  Database fresh("b");
  CHECK(codeOf([&] { fresh.loadRows(none, nullptr); }) == ErrorCode::Internal);
  CHECK(codeOf([&] { fresh.finishLoad(); }) == ErrorCode::Internal);
  fresh.loadHistory(none);
  CHECK(codeOf([&] { fresh.loadHistory(none); }) == ErrorCode::Internal);
  fresh.finishLoad();
  CHECK(codeOf([&] { fresh.loadRows(none, nullptr); }) == ErrorCode::Internal);
  // Batches of one row each give the replica a whole load gives.
  auto whole = store.open("b", kDefs, true, 0);
  auto stepped = store.open("b", kDefs, true, 1);
  REQUIRE(stepped->encodeState() == whole->encodeState());
  REQUIRE(stepped->version() == whole->version());
}

TEST_CASE("history past the open chunk is stored as sealed chunks and reloads", "[store]") {
  StoreSim s;
  auto db = std::make_unique<Database>("a");
  db->declareIndexes(kDefs);
  db->trackStorage(true);
  Database other("b");
  const std::string big(4000, 'v');
  for (int i = 0; i < 600; ++i) {
    commitOps(*db, {setOp("users", "k" + std::to_string(i % 50), {{"x", i}, {"w", big}})});
    if (i % 7 == 0) s.take(*db);
    if (i == 300) {
      commitOps(other, {setOp("users", "k1", {{"x", -1}}), setOp("posts", "p", {{"tag", "t"}})});
      syncFrom(*db, other);
    }
  }
  s.take(*db);
  REQUIRE(db->opLog().sealed().size() >= 3);
  // Sealed chunks are one record each; the open chunk a few segments.
  std::size_t sealedRecords = 0;
  for (const auto& [k, v] : s.events) sealedRecords += k.first == k.second && v[0] == 1;
  REQUIRE(sealedRecords == db->opLog().sealed().size());
  REQUIRE(s.events.size() <= db->opLog().sealed().size() + 48);
  auto re = s.open("a", kDefs);
  requireSame(*db, *re, {other.version()});
  requireStorageMatches(*re, s);
  // The reopened replica writes on, stores, and reopens again the same.
  for (int i = 0; i < 200; ++i) {
    commitOps(*re, {updateOp("users", "k" + std::to_string(i % 50), {{"y", i}})});
    if (i % 3 == 0) s.take(*re);
  }
  s.take(*re);
  auto again = s.open("a", kDefs);
  requireSame(*re, *again, {other.version(), db->version()});
  syncFrom(other, *again);
  REQUIRE(other.encodeState() == again->encodeState());
}

TEST_CASE("segments of the open chunk stay few however many writes", "[store]") {
  StoreSim s;
  Database db("a");
  db.trackStorage(true);
  commitOps(db, {setOp("users", "k", {{"x", -1}})}, false);
  for (int i = 0; i < 5000; ++i) {
    commitOps(db, {updateOp("users", "k", {{"x", i}})}, false);
    if (i == 0) continue;
    s.take(db);
    // At most 7 segments per size tier (base 8): O(log) records.
    REQUIRE(s.events.size() <= 7 * 6);
  }
  REQUIRE(db.opLog().sealed().empty());
  // Bytes written for history stay within a log factor of the history's size.
  ByteWriter all;
  db.changesSince(nullptr, all);
  // (one rewrite per tier, plus each record's header and graph summary)
  REQUIRE(s.bytesWritten < 12 * all.size());
  // A merge deletes the segments it replaces as one key range: far fewer delete requests
  // than writes (IndexedDB pays per request).
  REQUIRE(s.deleteRequests * 6 < s.writes);
  requireStorageMatches(db, s);
  REQUIRE(s.open("a", {})->encodeState() == db.encodeState());
}

TEST_CASE("opening decodes row state and the graph, not the history", "[store]") {
  // The same 40 rows after n and after 2n updates (history well past several chunks).
  auto decodedAfter = [](int updates) {
    StoreSim s;
    Database db("a");
    db.trackStorage(true);
    const std::string pad(300, 'x');
    for (int i = 0; i < updates; ++i) {
      commitOps(db, {setOp("users", "k" + std::to_string(i % 40), {{"x", i % 1000}, {"p", pad}})},
                false);
      if (i % 50 == 0) s.take(db);
    }
    s.take(db);
    auto re = s.open("a", {});
    REQUIRE(re->encodeState() == db.encodeState());
    std::size_t history = 0;
    for (const auto& [k, v] : s.events) history += v.size();
    return std::make_pair(re->work().loadDecodedBytes, history);
  };
  const auto [d1, h1] = decodedAfter(8000);
  const auto [d2, h2] = decodedAfter(16000);
  REQUIRE(h2 > h1 * 3 / 2);  // history doubled
  INFO("decoded " << d1 << " then " << d2 << " bytes; history " << h1 << " then " << h2);
  REQUIRE(d2 <= d1 + 1024);  // what open decodes did not grow with it
  REQUIRE(d2 < h2 / 50);
}

TEST_CASE("a reused peer id continues its sequence after reopening", "[store]") {
  StoreSim s;
  Database db("a");
  db.trackStorage(true);
  commitOps(db, {setOp("users", "u", {{"x", 1}})});
  s.take(db);
  auto re = s.open("a", {});
  commitOps(*re, {updateOp("users", "u", {{"x", 2}})});
  s.take(*re);
  Database peer("b");
  peer.applyChanges(allChanges(*re));
  REQUIRE(rowJson(peer, "users", "u") == Json({{"x", 2}}));
  REQUIRE(peer.version() == re->version());
}

TEST_CASE("own events leave through changesSince only once storage made them durable", "[store]") {
  StoreSim s;
  Database a("a"), b("b"), c("c");
  a.trackStorage(true);
  commitOps(a, {setOp("users", "u1", {{"x", 1}})});
  s.take(a);
  commitOps(a, {setOp("users", "u2", {{"x", 2}})});  // not durable
  commitOps(b, {setOp("posts", "p", {{"tag", "t"}})});
  a.applyChanges(allChanges(b));                     // a remote event after it
  commitOps(a, {setOp("users", "u3", {{"x", 3}})});  // not durable either

  // Withheld from the whole history and from a version, remote events included.
  for (const Bytes& from : {Bytes{}, c.version()}) {
    Database fresh("d");
    fresh.applyChanges(from.empty() ? allChanges(a) : changesSinceVersion(a, from));
    REQUIRE(rowJson(fresh, "users", "u1"));
    REQUIRE(rowJson(fresh, "posts", "p"));
    REQUIRE_FALSE(rowJson(fresh, "users", "u2"));
    REQUIRE_FALSE(rowJson(fresh, "users", "u3"));
    REQUIRE(fresh.heldEvents() == 0);
  }
  // A take is not enough: the write must have landed.
  ByteWriter pending;
  a.takeStorage(pending);
  c.applyChanges(allChanges(a));
  REQUIRE_FALSE(rowJson(c, "users", "u2"));

  // The process dies before that write lands: the id is reused from storage with the same
  // seqs and other content, and every replica still converges.
  auto re = s.open("a", kDefs);
  commitOps(*re, {setOp("users", "u9", {{"x", 9}})});
  s.take(*re);
  re->applyChanges(allChanges(b));
  c.applyChanges(changesSinceVersion(*re, c.version()));
  re->applyChanges(allChanges(c));
  REQUIRE(c.encodeState() == re->encodeState());
  REQUIRE(c.version() == re->version());
  REQUIRE_FALSE(rowJson(c, "users", "u2"));
  REQUIRE(rowJson(c, "users", "u9") == Json({{"x", 9}}));

  // Untracked replicas withhold nothing.
  Database m("m");
  commitOps(m, {setOp("users", "u", {{"x", 1}})});
  Database n("n");
  n.applyChanges(allChanges(m));
  REQUIRE(rowJson(n, "users", "u"));
}

TEST_CASE("corrupt storage fails to load with DecodeError, never worse", "[store][decode]") {
  StoreSim s;
  Database db("a");
  db.declareIndexes(kDefs);
  db.trackStorage(true);
  Database other("b");
  commitOps(other, {setOp("users", "k1", {{"x", 5}})});
  const std::string big(3000, 'q');
  for (int i = 0; i < 400; ++i) {
    commitOps(db, {setOp("users", "k" + std::to_string(i % 9), {{"x", i}, {"y", big}})});
    if (i == 100) syncFrom(db, other);
    if (i % 13 == 0) s.take(db);
  }
  commitOps(other, {updateOp("users", "k1", {{"x", 6}})});
  syncFrom(db, other);  // concurrent writes: losers in row state
  s.take(db);
  std::mt19937_64 rng(7);
  int failed = 0, loaded = 0;
  for (int round = 0; round < 300; ++round) {
    StoreSim bad = s;
    const bool rowsNotEvents = rng() % 2;
    Bytes* target;
    if (rowsNotEvents) {
      auto it = bad.crdtRows.begin();
      std::advance(it, static_cast<long>(rng() % bad.crdtRows.size()));
      target = &it->second;
    } else {
      auto it = bad.events.begin();
      std::advance(it, static_cast<long>(rng() % bad.events.size()));
      target = &it->second;
    }
    switch (rng() % 3) {
      case 0:
        target->resize(rng() % target->size());
        break;
      case 1:
        (*target)[rng() % target->size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      default:
        for (int i = 0; i < 4; ++i)
          (*target)[rng() % target->size()] = static_cast<std::uint8_t>(rng());
    }
    try {
      auto re = bad.open("a", kDefs);
      re->checkInvariants();
      // History is validated on first use.
      try {
        (void)allChanges(*re);
      } catch (const DecodeError&) {
      }
      ++loaded;
    } catch (const DecodeError&) {
      ++failed;
    }
  }
  REQUIRE(failed > 0);
  INFO(loaded << " corrupted copies loaded (a flipped value byte can stay valid)");
}

TEST_CASE("a call that fails partway leaves what storage must write unchanged",
          "[store][atomicity]") {
  // Two replicas built alike; one attempts a call that fails at its k-th allocation. Their
  // storage records must then be identical, and stay so after both make the call for real.
  auto build = [] {
    auto db = std::make_unique<Database>("a");
    db->declareIndexes(kDefs);
    db->trackStorage(true);
    for (int i = 0; i < 5; ++i) {
      commitOps(*db, {setOp("users", "k" + std::to_string(i), {{"x", i}, {"y", "v"}, {"z", i}})});
    }
    ByteWriter w;
    db->takeStorage(w);  // storage holds this much
    commitOps(*db, {updateOp("users", "k1", {{"x", 10}})});
    return db;
  };
  Database peer("b");
  commitOps(peer, {setOp("users", "k2", {{"x", -2}}), setOp("posts", "p", {{"tag", "t"}})});
  const Bytes message = allChanges(peer);
  // Built before any allocation is made to fail (only the engine call is disturbed).
  const std::vector<Op> ops = {updateOp("users", "k3", {{"x", 30}}), deleteOp("users", "k4"),
                               setOp("users", "k9", {{"x", 9}, {"y", 1}})};
  auto take = [](Database& db) {
    ByteWriter w;
    db.takeStorage(w);
    return w.take();
  };
  for (int call = 0; call < 2; ++call) {
    bool done = false;
    for (std::int64_t k = 0; !done; ++k) {
      auto a = build();
      auto b = build();
      auto attempt = [&](Database& db) {
        if (call == 0) {
          commitOps(db, ops);
        } else {
          db.applyChanges(message);
        }
      };
      failAllocation(k);
      try {
        attempt(*a);
        done = true;
      } catch (const std::bad_alloc&) {
      }
      failNone();
      if (done) break;
      INFO("call " << call << " failed at allocation " << k);
      REQUIRE(take(*a) == take(*b));  // nothing of the failed call is left to write
      attempt(*a);
      attempt(*b);
      REQUIRE(take(*a) == take(*b));
    }
  }
}

TEST_CASE("open-chunk segments that repeat a table entry are refused", "[store][decode]") {
  StoreSim s;
  Database db("a");
  db.trackStorage(true);
  for (int i = 0; i < 10; ++i) commitOps(db, {setOp("users", "a" + std::to_string(i), {{"x", i}})});
  s.take(db);
  commitOps(db, {setOp("users", "k2", {{"x", 2}})});
  s.take(db);  // a second, much smaller segment: stored beside the first
  REQUIRE(s.events.size() == 2);
  // Rewrite the second segment so that it introduces "a0" (already in the first) again.
  Bytes& seg = std::prev(s.events.end())->second;
  const std::string from = "k2";
  auto it = std::search(seg.begin(), seg.end(), from.begin(), from.end());
  REQUIRE(it != seg.end());
  *it = 'a';
  *(it + 1) = '0';
  REQUIRE_THROWS_AS(s.open("a", {}), DecodeError);
}
