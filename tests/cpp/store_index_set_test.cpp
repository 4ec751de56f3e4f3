#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "core/errors.h"
#include "db/database.h"
#include "store/key_codec.h"
#include "support/idb_order.h"

using namespace crdtdb;
using crdtdb::testing::idbCompare;

namespace {

Value range(const char* json) { return Value::parse(json); }

Op setRow(const std::string& key, Value row) {
  Op op{OpKind::SetRow, "users", key, {}};
  for (auto it = row.begin(); it != row.end(); ++it) op.columns.emplace_back(it.key(), it.value());
  return op;
}

// The naive model: filter every row, sort by (key, row key) in IndexedDB order.
struct ModelQuery {
  std::vector<std::string> keys;
};

std::optional<Value> indexKey(const IndexDef& d, const Value& row) {
  Value k = Value::array();
  for (const auto& c : d.keys) {
    if (!row.contains(c)) return std::nullopt;
    k.push_back(row[c]);
  }
  Value key = d.keys.size() == 1 ? k[0] : k;
  std::function<bool(const Value&)> valid = [&](const Value& v) {
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

bool inRange(const Value& key, const Value& r) {
  std::string t = r["type"];
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
    const Value& p = r["prefix"];
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

std::vector<std::string> modelQuery(const std::map<std::string, Value>& rows, const IndexDef* d,
                                    const Value& r, const QueryOptions& o) {
  std::vector<std::pair<Value, std::string>> hits;
  for (const auto& [k, row] : rows) {
    std::optional<Value> key = d ? indexKey(*d, row) : std::optional<Value>(Value(k));
    if (key && inRange(*key, r)) hits.emplace_back(*key, k);
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    int c = idbCompare(a.first, b.first);
    return c != 0 ? c < 0 : idbCompare(Value(a.second), Value(b.second)) < 0;
  });
  if (o.reverse) std::reverse(hits.begin(), hits.end());
  std::vector<std::string> out;
  for (std::size_t i = o.offset; i < hits.size() && out.size() < o.limit; ++i) {
    out.push_back(hits[i].second);
  }
  return out;
}

Value randomCell(std::mt19937_64& rng) {
  switch (rng() % 7) {
    case 0:
      return Value(static_cast<int>(rng() % 6));
    case 1:
      return Value(std::string(1, static_cast<char>('a' + rng() % 4)));
    case 2:
      return Value(std::string("b") + static_cast<char>('a' + rng() % 3));
    case 3:
      return Value(true);
    case 4:
      return Value::array({static_cast<int>(rng() % 3), "x"});
    case 5:
      return Value(-0.5 * static_cast<double>(rng() % 3));
    default:
      return Value(nullptr);
  }
}

Value randomRange(std::mt19937_64& rng, bool compound) {
  auto cell = [&]() {
    return compound && rng() % 2 ? Value::array({randomCell(rng)}) : randomCell(rng);
  };
  auto key = [&]() {
    for (;;) {
      Value v = cell();
      if (encodeKey(v)) return v;
    }
  };
  switch (rng() % 8) {
    case 0:
      return range(R"({"type":"all"})");
    case 1:
      return Value{{"type", "equals"}, {"value", key()}};
    case 2:
      return Value{{"type", rng() % 2 ? "above" : "aboveOrEqual"}, {"value", key()}};
    case 3:
      return Value{{"type", rng() % 2 ? "below" : "belowOrEqual"}, {"value", key()}};
    case 4:
      return Value{{"type", "between"},
                   {"lower", key()},
                   {"upper", key()},
                   {"includeLower", rng() % 2 == 0},
                   {"includeUpper", rng() % 2 == 0}};
    case 5:
      return Value{{"type", "startsWith"}, {"prefix", std::string(rng() % 2, 'b')}};
    case 6:
      return Value{{"type", "startsWith"}, {"prefix", Value::array({key()})}};
    default:
      return Value{{"type", "anyOf"}, {"values", Value::array({key(), key(), key()})}};
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
    std::map<std::string, Value> model;
    for (int step = 0; step < 300; ++step) {
      std::string key = "u" + std::to_string(rng() % 40);
      if (rng() % 5 == 0) {
        db.commit({Op{OpKind::DeleteRow, "users", key, {}}});
        model.erase(key);
      } else {
        Value row = Value::object();
        if (rng() % 6) row["age"] = randomCell(rng);
        if (rng() % 6) row["first"] = randomCell(rng);
        if (rng() % 6) row["last"] = randomCell(rng);
        db.commit({setRow(key, row)});
        model[key] = row;
      }
      if (step == 150) db.declareIndexes(defs);  // ...and one added to existing rows
    }
    db.checkInvariants();
    for (int q = 0; q < 200; ++q) {
      int which = static_cast<int>(rng() % 3);
      const IndexDef* d = which == 2 ? nullptr : &defs[static_cast<std::size_t>(which)];
      Value r = randomRange(rng, which == 1);
      QueryOptions o;
      o.reverse = rng() % 2;
      o.offset = rng() % 3 == 0 ? rng() % 5 : 0;
      o.limit = rng() % 2 ? 1 + rng() % 6 : SIZE_MAX;
      INFO("index " << (d ? d->name : "primary") << " range " << r.dump() << " reverse "
                    << o.reverse << " offset " << o.offset << " limit " << o.limit);
      KeyRange kr = KeyRange::fromJson(r);
      auto want = modelQuery(model, d, r, o);
      REQUIRE(db.query("users", d ? d->name : "", kr, o) == want);
      REQUIRE(db.count("users", d ? d->name : "", kr) ==
              modelQuery(model, d, r, QueryOptions{}).size());
    }
  }
}

TEST_CASE("staged transactions are visible only to staged reads", "[store]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  db.commit({setRow("a", {{"age", 30}}), setRow("b", {{"age", 40}})});
  KeyRange all = KeyRange::fromJson(range(R"({"type":"all"})"));
  db.stage({setRow("c", {{"age", 35}}), Op{OpKind::DeleteRow, "users", "a", {}},
            Op{OpKind::UpdateRow, "users", "b", {{"age", 20}}}});
  REQUIRE(db.query("users", "byAge", all, {}) == std::vector<std::string>{"a", "b"});
  REQUIRE(db.query("users", "byAge", all, {}, true) == std::vector<std::string>{"b", "c"});
  REQUIRE(db.count("users", "", all, true) == 2);
  REQUIRE(db.stagedRow("users", "b") == Value({{"age", 20}}));
  REQUIRE(db.row("users", "b") == Value({{"age", 40}}));
  REQUIRE_THROWS_AS(db.stage({Op{OpKind::UpdateRow, "users", "a", {{"age", 1}}}}), Error);
  REQUIRE(db.stagedCount() == 3);  // the failed stage call added nothing
  db.rollbackStaged();
  REQUIRE(db.query("users", "byAge", all, {}, true) == std::vector<std::string>{"a", "b"});
  db.stage({setRow("c", {{"age", 35}})});
  auto r = db.commitStaged();
  REQUIRE(r.changes.size() == 1);
  REQUIRE(db.query("users", "byAge", all, {}) == std::vector<std::string>{"a", "c", "b"});
}

TEST_CASE("unknown indexes and bad ranges are typed errors", "[store]") {
  Database db("p");
  KeyRange all = KeyRange::fromJson(range(R"({"type":"all"})"));
  try {
    db.query("users", "nope", all, {});
    FAIL("unknown index accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::UnknownIndex);
  }
  REQUIRE_THROWS_AS(KeyRange::fromJson(range(R"({"type":"equals","value":true})")), Error);
  REQUIRE_THROWS_AS(KeyRange::fromJson(range(R"({"type":"nearby","value":1})")), Error);
  REQUIRE_THROWS_AS(db.declareIndexes({{"x", "t", {}}}), Error);
  REQUIRE_THROWS_AS(db.declareIndexes({{"x", "t", {"a"}}, {"x", "t", {"b"}}}), Error);
  // Reversed bounds are an empty range, as in Dexie.
  db.commit({setRow("a", {{"age", 1}})});
  REQUIRE(db.count("users", "",
                   KeyRange::fromJson(range(R"({"type":"between","lower":"z","upper":"a"})"))) ==
          0);
}

TEST_CASE("keyset paging continues after the last entry despite writes", "[store]") {
  Database db("p");
  db.declareIndexes({{"byAge", "users", {"age"}}});
  for (int i = 0; i < 10; ++i) db.commit({setRow("u" + std::to_string(i), {{"age", i % 3}})});
  KeyRange all = KeyRange::fromJson(range(R"({"type":"all"})"));
  for (bool reverse : {false, true}) {
    INFO("reverse " << reverse);
    std::vector<std::string> seen;
    QueryOptions o;
    o.limit = 3;
    o.reverse = reverse;
    std::string last;
    for (int page = 0; page < 10; ++page) {
      auto keys = db.query("users", "byAge", all, o, false, &last);
      if (keys.empty()) break;
      seen.insert(seen.end(), keys.begin(), keys.end());
      o.after = last;
      // A write between pages before the cursor must not shift later rows out of reach.
      if (page == 0) db.commit({Op{OpKind::DeleteRow, "users", seen.front(), {}}});
    }
    std::vector<std::string> expected = db.query("users", "byAge", all, {});
    if (reverse) std::reverse(expected.begin(), expected.end());
    // Everything still present is visited exactly once, after the deleted first row.
    REQUIRE(seen.size() == expected.size() + 1);
    REQUIRE(std::vector<std::string>(seen.begin() + 1, seen.end()) == expected);
    db.commit({setRow(seen.front(), {{"age", 0}})});  // restore for the next direction
  }
}
