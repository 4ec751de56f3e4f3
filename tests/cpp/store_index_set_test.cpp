#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <random>

#include "core/errors.h"
#include "db/database.h"
#include "store/index_set.h"
#include "store/key_codec.h"
#include "support/error_of.h"
#include "support/idb_order.h"
#include "support/ranges.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op setRow(const std::string& key, const Json& row) { return setOp("users", key, row); }

std::vector<std::string> query(const Database& db, const std::string& index, const Json& range,
                               const QueryOptions& o = {}) {
  return keysOf(db, db.query("users", index, rangeOf(range), o));
}

// The naive model: filter every row, sort by (key, row key) in IndexedDB order.
std::optional<Json> indexKey(const IndexDef& d, const Json& row) {
  Json k = Json::array();
  for (const auto& c : d.keys) {
    if (!row.contains(c)) return std::nullopt;
    k.push_back(row[c]);
  }
  Json key = d.keys.size() == 1 ? k[0] : k;
  std::function<bool(const Json&)> valid = [&](const Json& v) {
    if (v.is_number() || v.is_string()) return true;
    if (!v.is_array()) return false;
    for (const auto& e : v) {
      if (!valid(e)) return false;
    }
    return true;
  };
  if (!valid(key)) return std::nullopt;
  return key;
}

bool inRange(const Json& key, const Json& r) {
  const std::string t = r["type"];
  auto cmp = [&](const char* f) { return idbCompare(key, r[f]); };
  if (t == "all") return true;
  if (t == "equals") return cmp("value") == 0;
  if (t == "above") return cmp("value") > 0;
  if (t == "aboveOrEqual") return cmp("value") >= 0;
  if (t == "below") return cmp("value") < 0;
  if (t == "belowOrEqual") return cmp("value") <= 0;
  if (t == "between") {
    int lo = cmp("lower"), hi = cmp("upper");
    bool incL = r.value("includeLower", true), incU = r.value("includeUpper", false);
    return (incL ? lo >= 0 : lo > 0) && (incU ? hi <= 0 : hi < 0);
  }
  if (t == "startsWith") {
    const Json& p = r["prefix"];
    if (p.is_string()) {
      return key.is_string() && key.get<std::string>().rfind(p.get<std::string>(), 0) == 0;
    }
    if (!key.is_array() || key.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (idbCompare(key[i], p[i]) != 0) return false;
    }
    return true;
  }
  if (t == "anyOf") {
    for (const auto& v : r["values"]) {
      if (idbCompare(key, v) == 0) return true;
    }
    return false;
  }
  return false;
}

std::vector<std::string> modelQuery(const std::map<std::string, Json>& rows, const IndexDef* d,
                                    const Json& r, const QueryOptions& o) {
  std::vector<std::pair<Json, std::string>> hits;
  for (const auto& [k, row] : rows) {
    std::optional<Json> key = d ? indexKey(*d, row) : std::optional<Json>(Json(k));
    if (key && inRange(*key, r)) hits.emplace_back(*key, k);
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    int c = idbCompare(a.first, b.first);
    return c != 0 ? c < 0 : idbCompare(Json(a.second), Json(b.second)) < 0;
  });
  if (o.reverse) std::reverse(hits.begin(), hits.end());
  std::vector<std::string> out;
  for (std::size_t i = o.offset; i < hits.size() && out.size() < o.limit; ++i) {
    out.push_back(hits[i].second);
  }
  return out;
}

Json randomCell(std::mt19937_64& rng) {
  switch (rng() % 7) {
    case 0:
      return static_cast<int>(rng() % 6);
    case 1:
      return std::string(1, static_cast<char>('a' + rng() % 4));
    case 2:
      return std::string("b") + static_cast<char>('a' + rng() % 3);
    case 3:
      return true;
    case 4:
      return Json::array({static_cast<int>(rng() % 3), "x"});
    case 5:
      return -0.5 * static_cast<double>(rng() % 3);
    default:
      return nullptr;
  }
}

Json randomRange(std::mt19937_64& rng, bool compound) {
  auto cell = [&]() {
    return compound && rng() % 2 ? Json::array({randomCell(rng)}) : randomCell(rng);
  };
  auto key = [&]() {
    for (;;) {
      Json v = cell();
      if (keyOf(v)) return v;
    }
  };
  switch (rng() % 8) {
    case 0:
      return {{"type", "all"}};
    case 1:
      return {{"type", "equals"}, {"value", key()}};
    case 2:
      return {{"type", rng() % 2 ? "above" : "aboveOrEqual"}, {"value", key()}};
    case 3:
      return {{"type", rng() % 2 ? "below" : "belowOrEqual"}, {"value", key()}};
    case 4:
      return {{"type", "between"},
              {"lower", key()},
              {"upper", key()},
              {"includeLower", rng() % 2 == 0},
              {"includeUpper", rng() % 2 == 0}};
    case 5:
      return {{"type", "startsWith"}, {"prefix", std::string(rng() % 2, 'b')}};
    case 6:
      return {{"type", "startsWith"}, {"prefix", Json::array({key()})}};
    default:
      return {{"type", "anyOf"}, {"values", Json::array({key(), key(), key()})}};
  }
}

}  // namespace

TEST_CASE("index queries match a naive sort-and-filter model", "[store]") {
  const std::vector<IndexDef> defs = {{"byAge", "users", {"age"}},
                                      {"byName", "users", {"first", "last"}}};
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    Database db("p");
    db.declareIndexes({defs[0]});  // declared before the rows exist...
    std::map<std::string, Json> model;
    for (int step = 0; step < 300; ++step) {
      std::string key = "u" + std::to_string(rng() % 40);
      if (rng() % 5 == 0) {
        commitOps(db, {deleteOp("users", key)});
        model.erase(key);
      } else {
        Json row = Json::object();
        if (rng() % 6) row["age"] = randomCell(rng);
        if (rng() % 6) row["first"] = randomCell(rng);
        if (rng() % 6) row["last"] = randomCell(rng);
        commitOps(db, {setRow(key, row)});
        model[key] = row;
      }
      if (step == 150) db.declareIndexes(defs);  // ...and one added to existing rows
    }
    db.checkInvariants();
    for (int q = 0; q < 200; ++q) {
      int which = static_cast<int>(rng() % 3);
      const IndexDef* d = which == 2 ? nullptr : &defs[static_cast<std::size_t>(which)];
      Json r = randomRange(rng, which == 1);
      QueryOptions o;
      o.reverse = rng() % 2;
      o.offset = rng() % 3 == 0 ? rng() % 5 : 0;
      o.limit = rng() % 2 ? 1 + rng() % 6 : SIZE_MAX;
      INFO("index " << (d ? d->name : "primary") << " range " << r.dump() << " reverse "
                    << o.reverse << " offset " << o.offset << " limit " << o.limit);
      const std::string index = d ? d->name : "";
      REQUIRE(query(db, index, r, o) == modelQuery(model, d, r, o));
      REQUIRE(db.count("users", index, rangeOf(r)) ==
              modelQuery(model, d, r, QueryOptions{}).size());
      // A staged read with nothing staged is the committed read.
      std::vector<std::string> staged;
      for (const StagedHit& h : db.queryStaged("users", index, rangeOf(r), o)) {
        REQUIRE_FALSE(h.staged);
        staged.push_back(h.key);
      }
      REQUIRE(staged == modelQuery(model, d, r, o));
    }
  }
}

TEST_CASE("below, above and between: which bounds are included", "[store]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  for (int age = 1; age <= 5; ++age)
    commitOps(db, {setRow("u" + std::to_string(age), {{"age", age}})});
  commitOps(db, {setRow("u3b", {{"age", 3}})});  // two rows at the bound
  using V = std::vector<std::string>;
  REQUIRE(query(db, "byAge", {{"type", "below"}, {"value", 3}}) == V{"u1", "u2"});
  REQUIRE(query(db, "byAge", {{"type", "belowOrEqual"}, {"value", 3}}) ==
          V{"u1", "u2", "u3", "u3b"});
  REQUIRE(query(db, "byAge", {{"type", "above"}, {"value", 3}}) == V{"u4", "u5"});
  REQUIRE(query(db, "byAge", {{"type", "aboveOrEqual"}, {"value", 3}}) ==
          V{"u3", "u3b", "u4", "u5"});
  REQUIRE(query(db, "byAge", {{"type", "equals"}, {"value", 3}}) == V{"u3", "u3b"});
  // between: the upper bound is excluded unless includeUpper; the lower included by default.
  REQUIRE(query(db, "byAge", {{"type", "between"}, {"lower", 2}, {"upper", 4}}) ==
          V{"u2", "u3", "u3b"});
  REQUIRE(query(db, "byAge",
                {{"type", "between"}, {"lower", 2}, {"upper", 4}, {"includeUpper", true}}) ==
          V{"u2", "u3", "u3b", "u4"});
  REQUIRE(query(db, "byAge",
                {{"type", "between"}, {"lower", 2}, {"upper", 4}, {"includeLower", false}}) ==
          V{"u3", "u3b"});
  REQUIRE(query(db, "byAge",
                {{"type", "between"}, {"lower", 3}, {"upper", 3}, {"includeUpper", true}}) ==
          V{"u3", "u3b"});
  REQUIRE(query(db, "byAge", {{"type", "between"}, {"lower", 3}, {"upper", 3}}).empty());
  // Reversed bounds are an empty range, as in Dexie.
  REQUIRE(query(db, "byAge", {{"type", "between"}, {"lower", 4}, {"upper", 2}}).empty());
  REQUIRE(db.count("users", "byAge", rangeOf({{"type", "between"}, {"lower", 4}, {"upper", 2}})) ==
          0);
  // The same on the primary order (row keys) and backwards.
  REQUIRE(query(db, "", {{"type", "below"}, {"value", "u3"}}) == V{"u1", "u2"});
  REQUIRE(query(db, "", {{"type", "above"}, {"value", "u3"}}) == V{"u3b", "u4", "u5"});
  REQUIRE(query(db, "", {{"type", "belowOrEqual"}, {"value", "u3"}}) == V{"u1", "u2", "u3"});
  QueryOptions rev;
  rev.reverse = true;
  REQUIRE(query(db, "byAge", {{"type", "below"}, {"value", 3}}, rev) == V{"u2", "u1"});
  REQUIRE(query(db, "byAge", {{"type", "between"}, {"lower", 2}, {"upper", 4}}, rev) ==
          V{"u3b", "u3", "u2"});
  // Fractions next to the bounds.
  commitOps(db, {setRow("f", {{"age", 2.999}}), setRow("g", {{"age", 3.001}})});
  REQUIRE(query(db, "byAge", {{"type", "below"}, {"value", 3}}) == V{"u1", "u2", "f"});
  REQUIRE(query(db, "byAge", {{"type", "above"}, {"value", 3}}) == V{"g", "u4", "u5"});
}

TEST_CASE("compound indexes and startsWith", "[store]") {
  Database db("p");
  db.declareIndexes({{"byName", "users", {"first", "last"}}});
  commitOps(db, {setRow("a", {{"first", "kalle"}, {"last", "kula"}}),
                 setRow("b", {{"first", "kalle"}, {"last", "anka"}}),
                 setRow("c", {{"first", "kallex"}, {"last", "a"}}),
                 setRow("d", {{"first", "kalle"}}),  // no entry: a key column is missing
                 setRow("e", {{"first", "kalle"}, {"last", true}})});  // not a key
  using V = std::vector<std::string>;
  REQUIRE(query(db, "byName", {{"type", "all"}}) == V{"b", "a", "c"});
  REQUIRE(query(db, "byName", {{"type", "startsWith"}, {"prefix", Json::array({"kalle"})}}) ==
          V{"b", "a"});
  REQUIRE(query(db, "byName", {{"type", "equals"}, {"value", Json::array({"kalle", "kula"})}}) ==
          V{"a"});
  REQUIRE(query(db, "", {{"type", "startsWith"}, {"prefix", ""}}) == V{"a", "b", "c", "d", "e"});
  REQUIRE(
      query(db, "byName",
            {{"type", "anyOf"},
             {"values", Json::array({Json::array({"kallex", "a"}), Json::array({"kalle", "kula"}),
                                     Json::array({"kalle", "kula"})})}}) == V{"a", "c"});
}

TEST_CASE("unknown indexes and bad ranges are typed errors", "[store]") {
  Database db("p");
  auto code = testing::errorOf;
  REQUIRE(code([&] { db.query("users", "nope", KeyRange{}, {}); }) == ErrorCode::UnknownIndex);
  REQUIRE(code([&] { db.count("users", "nope", KeyRange{}); }) == ErrorCode::UnknownIndex);
  REQUIRE(code([&] { db.queryStaged("users", "nope", KeyRange{}, {}); }) ==
          ErrorCode::UnknownIndex);
  REQUIRE(code([&] { rangeOf({{"type", "equals"}, {"value", true}}); }) == ErrorCode::Type);
  REQUIRE(code([&] { rangeOf({{"type", "above"}, {"value", {{"a", 1}}}}); }) == ErrorCode::Type);
  REQUIRE(code([&] {
            rangeOf({{"type", "anyOf"}, {"values", Json::array({1, nullptr})}});
          }) == ErrorCode::Type);
  REQUIRE(code([&] { rangeOf({{"type", "startsWith"}, {"prefix", 5}}); }) == ErrorCode::Type);
  REQUIRE(code([&] { rangeOf({{"type", "nearby"}, {"value", 1}}); }) == ErrorCode::Type);
  REQUIRE(code([&] { db.declareIndexes({{"x", "t", {}}}); }) == ErrorCode::Type);
  REQUIRE(code([&] { db.declareIndexes({{"", "t", {"a"}}}); }) == ErrorCode::Type);
  REQUIRE(code([&] { db.declareIndexes({{"x", "", {"a"}}}); }) == ErrorCode::Type);
  REQUIRE(code([&] {
            db.declareIndexes({{"x", "t", {"a"}}, {"x", "t", {"b"}}});
          }) == ErrorCode::Type);
  // A failed declaration keeps the old set.
  db.declareIndexes({{"byAge", "users", {"age"}}});
  commitOps(db, {setRow("a", {{"age", 1}})});
  REQUIRE_THROWS_AS(db.declareIndexes({{"byX", "users", {"x"}}, {"byX", "users", {"y"}}}), Error);
  REQUIRE(query(db, "byAge", {{"type", "all"}}) == std::vector<std::string>{"a"});
  // Dropping an index makes it unknown; redeclaring rebuilds it from the rows.
  db.declareIndexes({});
  REQUIRE(code([&] { db.query("users", "byAge", KeyRange{}, {}); }) == ErrorCode::UnknownIndex);
  db.declareIndexes({{"byAge", "users", {"age"}}});
  REQUIRE(query(db, "byAge", {{"type", "all"}}) == std::vector<std::string>{"a"});
  // A table without rows has an empty primary order.
  REQUIRE(db.query("nothing", "", KeyRange{}, {}).empty());
  REQUIRE(db.count("nothing", "", KeyRange{}) == 0);
}

TEST_CASE("keyset paging continues after the last entry despite writes", "[store]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  for (int i = 0; i < 10; ++i) commitOps(db, {setRow("u" + std::to_string(i), {{"age", i % 3}})});
  for (bool reverse : {false, true}) {
    INFO("reverse " << reverse);
    std::vector<std::string> seen;
    QueryOptions o;
    o.limit = 3;
    o.reverse = reverse;
    for (int page = 0; page < 10; ++page) {
      std::vector<QueryHit> hits = db.query("users", "byAge", KeyRange{}, o);
      if (hits.empty()) break;
      for (const std::string& k : keysOf(db, hits)) seen.push_back(k);
      o.after = std::string(hits.back().entry);
      // A write between pages before the cursor must not shift later rows out of reach.
      if (page == 0) commitOps(db, {deleteOp("users", seen.front())});
    }
    std::vector<std::string> expected = keysOf(db, db.query("users", "byAge", KeyRange{}, {}));
    if (reverse) std::reverse(expected.begin(), expected.end());
    // Everything still present is visited exactly once, after the deleted first row.
    REQUIRE(seen.size() == expected.size() + 1);
    REQUIRE(std::vector<std::string>(seen.begin() + 1, seen.end()) == expected);
    commitOps(db, {setRow(seen.front(), {{"age", 0}})});  // restore for the next direction
  }
}

TEST_CASE("index entries point at their rows and follow every change", "[store]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  commitOps(db, {setRow("a", {{"age", 5}}), setRow("b", {{"age", 7}})});
  auto entries = [&](const std::string& index) {
    std::vector<std::pair<std::string, std::string>> out;  // (entry, key of its row)
    for (const QueryHit& h : db.query("users", index, KeyRange{}, {})) {
      out.emplace_back(std::string(h.entry), db.rows().row(h.row).key);
    }
    return out;
  };
  auto entry = [](const Json& age, const std::string& key) {
    std::string e = *keyOf(age);
    appendStringKey(e, key);
    return e;
  };
  using E = std::vector<std::pair<std::string, std::string>>;
  REQUIRE(entries("byAge") == E{{entry(5, "a"), "a"}, {entry(7, "b"), "b"}});
  commitOps(db, {updateOp("users", "a", {{"age", 9}})});
  REQUIRE(entries("byAge") == E{{entry(7, "b"), "b"}, {entry(9, "a"), "a"}});
  commitOps(db, {updateOp("users", "a", {{"age", "x"}, {"other", 1}})});
  REQUIRE(entries("byAge") == E{{entry(7, "b"), "b"}, {entry("x", "a"), "a"}});
  commitOps(db, {setRow("a", {{"other", 2}})});  // the indexed column is gone
  REQUIRE(entries("byAge") == E{{entry(7, "b"), "b"}});
  REQUIRE(entries("").size() == 2);
  commitOps(db, {deleteOp("users", "b")});
  REQUIRE(entries("byAge").empty());
  REQUIRE(entries("") == E{{*keyOf("a"), "a"}});
  // Remote changes maintain the indexes the same way.
  Database other("q");
  syncFrom(other, db);
  commitOps(other, {setRow("c", {{"age", 1}})});
  syncFrom(db, other);
  REQUIRE(entries("byAge") == E{{entry(1, "c"), "c"}});
  db.checkInvariants();
}

TEST_CASE("IndexSet tells every old and new entry and rolls back with the call", "[store]") {
  IndexSet set;
  std::vector<std::string> build;
  IndexSet::Declared next = set.prepare({{"byA", "t", {"a"}}}, build);
  REQUIRE(build == std::vector<std::string>{"byA"});
  set.install(std::move(next));
  REQUIRE(set.hasIndex("byA"));
  REQUIRE(set.tableOf("t", "byA") == "t");
  REQUIRE(set.tableOf("t", "") == "t");
  REQUIRE_THROWS_AS(set.tableOf("t", "nope"), Error);

  std::map<std::string, Bytes> cols = {{"a", enc(3)}};
  const ColumnLookup lookup = [&](std::string_view c) -> std::optional<ValueRef> {
    auto it = cols.find(std::string(c));
    if (it == cols.end()) return std::nullopt;
    return ValueRef(it->second);
  };
  std::vector<std::pair<std::string, std::string>> told;
  auto onEntry = [&](std::string_view index, std::string_view keyPart) {
    told.emplace_back(std::string(index), std::string(keyPart));
  };
  IndexSet::Mark m = set.begin();
  set.onRowChange(7, "t", "k", nullptr, &lookup, onEntry);
  REQUIRE(told ==
          std::vector<std::pair<std::string, std::string>>{{"", *keyOf("k")}, {"byA", *keyOf(3)}});
  REQUIRE(set.count("t", "byA", KeyRange{}) == 1);
  REQUIRE(set.query("t", "byA", KeyRange{}, {})[0].row == 7);
  set.rollback(m);
  REQUIRE(set.count("t", "byA", KeyRange{}) == 0);
  REQUIRE(set.count("t", "", KeyRange{}) == 0);

  set.begin();
  set.onRowChange(7, "t", "k", nullptr, &lookup, onEntry);
  set.confirm();
  // A change of the indexed value: the old and the new key part.
  const std::map<std::string, Bytes> old = cols;
  const ColumnLookup before = [&](std::string_view c) -> std::optional<ValueRef> {
    auto it = old.find(std::string(c));
    if (it == old.end()) return std::nullopt;
    return ValueRef(it->second);
  };
  cols["a"] = enc(4);
  told.clear();
  set.begin();
  set.onRowChange(7, "t", "k", &before, &lookup, onEntry);
  REQUIRE(told == std::vector<std::pair<std::string, std::string>>{
                      {"", *keyOf("k")}, {"byA", *keyOf(3)}, {"byA", *keyOf(4)}});
  set.confirm();
  REQUIRE(set.query("t", "byA", rangeOf({{"type", "equals"}, {"value", 4}}), {}).size() == 1);
  set.checkInvariants();
  // Redeclaring the same definition keeps its entries; a changed one is rebuilt.
  build.clear();
  next = set.prepare({{"byA", "t", {"a"}}, {"byB", "t", {"b"}}}, build);
  REQUIRE(build == std::vector<std::string>{"byB"});
  set.install(std::move(next));
  REQUIRE(set.count("t", "byA", KeyRange{}) == 1);
  REQUIRE(set.count("t", "byB", KeyRange{}) == 0);
}

TEST_CASE("key ranges as half-open intervals of encoded keys", "[store]") {
  using I = std::vector<std::pair<std::string, std::optional<std::string>>>;
  REQUIRE(KeyRange{}.intervals() == I{{"", std::nullopt}});
  const std::string k3 = *keyOf(3), k5 = *keyOf(5);
  REQUIRE(rangeOf({{"type", "below"}, {"value", 3}}).intervals() == I{{"", k3}});
  REQUIRE(rangeOf({{"type", "belowOrEqual"}, {"value", 3}}).intervals() == I{{"", k3 + '\0'}});
  REQUIRE(rangeOf({{"type", "above"}, {"value", 3}}).intervals() == I{{k3 + '\0', std::nullopt}});
  REQUIRE(rangeOf({{"type", "between"}, {"lower", 3}, {"upper", 5}}).intervals() == I{{k3, k5}});
  REQUIRE(rangeOf({{"type", "between"}, {"lower", 5}, {"upper", 3}}).intervals().empty());
  REQUIRE(rangeOf({{"type", "equals"}, {"value", 3}}).intervals() == I{{k3, k3 + '\0'}});
  REQUIRE(rangeOf({{"type", "anyOf"}, {"values", Json::array({3, 5})}}).intervals() ==
          I{{k3, k3 + '\0'}, {k5, k5 + '\0'}});
  const I prefix = rangeOf({{"type", "startsWith"}, {"prefix", "ab"}}).intervals();
  REQUIRE(prefix.size() == 1);
  REQUIRE(prefix[0].first == stringPrefixKey("ab"));
  REQUIRE(prefix[0].second.has_value());
  REQUIRE(*keyOf("ab") < *prefix[0].second);
  REQUIRE(*keyOf("ab\xf4\x8f\xbf\xbf") < *prefix[0].second);
  REQUIRE(*keyOf("ac") >= *prefix[0].second);
}

// An index key over kMaxIndexKeyBytes is left out of the index, the same on every replica: a
// replica never refuses a valid message (or a local commit) because it declared an index.
TEST_CASE("a value too large for an index key is left out of the index, not refused", "[store]") {
  using V = std::vector<std::string>;
  const std::string huge(kMaxIndexKeyBytes + 1, 'x');
  Database a("a");
  a.declareIndexes({{"byName", "users", {"name"}}, {"byNameAge", "users", {"name", "age"}}});
  commitOps(a, {setRow("small", {{"name", "x"}, {"age", 1}})});
  commitOps(a, {setRow("big", {{"name", huge}, {"age", 2}})});  // accepted locally
  REQUIRE(query(a, "byName", {{"type", "all"}}) == V{"small"});
  REQUIRE(query(a, "byNameAge", {{"type", "all"}}) == V{"small"});
  REQUIRE(query(a, "", {{"type", "all"}}) == V{"big", "small"});
  a.checkInvariants();

  // A replica with the index accepts the history like one without.
  Database b("b"), c("c");
  b.declareIndexes({{"byName", "users", {"name"}}});
  const Bytes history = a.changesSince(nullptr);
  REQUIRE(b.applyChanges(history).applied == 2);
  REQUIRE(c.applyChanges(history).applied == 2);
  REQUIRE(b.encodeState() == c.encodeState());
  REQUIRE(query(b, "byName", {{"type", "all"}}) == V{"small"});
  // Made small again, the row enters the index.
  commitOps(a, {updateOp("users", "big", {{"name", "y"}})});
  REQUIRE(b.applyChanges(a.changesSince(nullptr)).applied == 1);
  REQUIRE(query(b, "byName", {{"type", "all"}}) == V{"small", "big"});
  b.checkInvariants();
}
