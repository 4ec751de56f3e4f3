// The boundary's binary shapes (bindings/convert.h): what JS sends (ops, ranges, queries,
// index definitions) decodes to engine types or Error(Type); what the engine answers (change
// records, query results, staged rows, conflicts) has the documented layout.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>

#include "convert.h"
#include "core/errors.h"
#include "db/database.h"
#include "merge/text_op.h"
#include "store/key_codec.h"
#include "support/error_of.h"
#include "support/history.h"
#include "support/ranges.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;
using boundary::OpBatch;

namespace {

// Writes a JSON value loosely: object keys in the JSON's own (insertion or given) order.
void writeLoose(ByteWriter& w, const Json& j) {
  if (j.is_object()) {
    writeObjectHeader(w, j.size());
    for (auto it = j.begin(); it != j.end(); ++it) {
      writeKey(w, it.key());
      writeLoose(w, it.value());
    }
  } else if (j.is_array()) {
    writeArrayHeader(w, j.size());
    for (const Json& e : j) writeLoose(w, e);
  } else {
    writeJson(w, j);
  }
}

struct JsOp {
  std::uint8_t kind;
  std::string table, key;
  std::vector<std::pair<std::string, Bytes>> cols;  // as sent: any order, loose values
};

// A name as the JS side sends one it has no id for: varint 0, then the string.
void nameString(ByteWriter& w, const std::string& name) {
  w.varint(0);
  w.string(name);
}

Bytes opsBytes(const std::vector<JsOp>& ops) {
  ByteWriter w;
  w.varint(ops.size());
  for (const JsOp& op : ops) {
    w.u8(op.kind);
    nameString(w, op.table);
    w.string(op.key);
    if (op.kind == 3) continue;
    w.varint(op.cols.size());
    for (const auto& [name, value] : op.cols) {
      nameString(w, name);
      w.raw(value);
    }
  }
  return w.take();
}

Bytes loose(const Json& j) {
  ByteWriter w;
  writeLoose(w, j);
  return w.take();
}

std::vector<Op> decoded(const Bytes& in, const Database& db) {
  OpBatch batch;
  boundary::decodeOps(in, batch, db);
  std::vector<Op> out;
  for (const OpRef& r : batch.ops) out.push_back(ownedOf(r));
  return out;
}

using testing::errorOf;

Bytes f64(double d) {
  Bytes b(8);
  std::memcpy(b.data(), &d, 8);
  return b;
}

Bytes queryBytes(const std::string& table, const std::string& index, const Bytes& range,
                 double limit, double offset, std::uint8_t flags, const std::string& cursor) {
  ByteWriter w;
  w.string(table);
  w.string(index);
  w.raw(range);
  w.raw(f64(limit));
  w.raw(f64(offset));
  w.u8(flags);
  w.string(cursor);
  return w.take();
}

Bytes take(ByteReader& r, std::size_t n) {
  const ByteSpan s = r.raw(n);
  return Bytes(s.begin(), s.end());
}

bool inside(ByteSpan part, const Bytes& whole) {
  const std::less_equal<const std::uint8_t*> le;
  return le(whole.data(), part.data()) &&
         le(part.data() + part.size(), whole.data() + whole.size());
}

Bytes rowArg(const std::string& table, const std::string& key) {
  ByteWriter w;
  w.string(table);
  w.string(key);
  return w.take();
}

}  // namespace

TEST_CASE("decodeOps: ops round-trip with columns sorted and values canonical", "[bindings]") {
  // {"b":1,"a":{"z":[1,0],"y":2.5}} sent with keys in that order.
  const Bytes value = {tag::kObject,
                       2,
                       1,
                       'b',
                       0xc1,
                       1,
                       'a',
                       tag::kObject,
                       2,
                       1,
                       'z',
                       tag::kArray,
                       2,
                       0xc1,
                       0xc0,
                       1,
                       'y',
                       tag::kDouble,
                       0,
                       0,
                       0,
                       0,
                       0,
                       0,
                       4,
                       0x40};
  const std::vector<JsOp> ops = {
      {1, "users", "u1", {{"name", enc("Ann")}, {"age", enc(30)}, {"obj", value}}},
      {2, "users", "u1", {{"age", enc(31)}}},
      {3, "users", "u2", {}},
      {1, "t", "\xc3\xa9", {}},
  };
  Database db("p");
  const std::vector<Op> got = decoded(opsBytes(ops), db);
  REQUIRE(got.size() == 4);
  const Json obj = Json::parse(R"({"a":{"y":2.5,"z":[1,0]},"b":1})");
  REQUIRE(got[0] == setOp("users", "u1", {{"name", "Ann"}, {"age", 30}, {"obj", obj}}));
  REQUIRE(got[0].columns[2].second == enc(obj));  // keys sorted at every level
  REQUIRE(got[1] == updateOp("users", "u1", {{"age", 31}}));
  REQUIRE(got[2] == deleteOp("users", "u2"));
  REQUIRE(got[3] == Op{OpKind::SetRow, "t", "\xc3\xa9", {}});
  // Canonical values are used in place; only values with objects are re-encoded.
  OpBatch batch;
  const Bytes in = opsBytes(ops);
  boundary::decodeOps(in, batch, db);
  REQUIRE(batch.ops[0].columns[0].name == "age");
  REQUIRE(inside(batch.ops[0].columns[0].value, in));
  REQUIRE(batch.ops[0].columns[2].name == "obj");
  REQUIRE(inside(batch.ops[0].columns[2].value, batch.canonical));
  // The decoded batch commits as is.
  db.commit(batch.ops);
  REQUIRE(rowJson(db, "users", "u1") == Json({{"name", "Ann"}, {"age", 31}, {"obj", obj}}));
  REQUIRE(rowJson(db, "t", "\xc3\xa9") == Json::object());
  // No ops at all.
  REQUIRE(decoded(Bytes{0}, db).empty());
}

TEST_CASE("decodeOps: names the JS side learned are sent as ids", "[bindings]") {
  Database db("p");
  commitOps(db, {setOp("users", "u1", {{"age", 1}, {"name", "Ann"}})});
  const NameId users = 1, age = 2;  // NameId 0 is reserved; names are interned in use order
  REQUIRE(db.name(users) == "users");
  REQUIRE(db.name(age) == "age");
  ByteWriter w;
  w.varint(2);
  w.u8(2);  // update users/u1: age = 2, city = "x" (a name not known yet)
  w.varint(users);
  w.string("u1");
  w.varint(2);
  w.varint(age);
  writeJson(w, 2);
  nameString(w, "city");
  writeJson(w, "x");
  w.u8(3);  // delete users/u9
  w.varint(users);
  w.string("u9");
  OpBatch batch;
  boundary::decodeOps(w.bytes(), batch, db);
  REQUIRE(batch.ops.size() == 2);
  REQUIRE(batch.ops[0].table == "users");
  REQUIRE(batch.ops[0].tableId == users);
  REQUIRE(batch.ops[0].columns.size() == 2);
  REQUIRE(batch.ops[0].columns[0].name == "age");
  REQUIRE(batch.ops[0].columns[0].id == age);
  REQUIRE(batch.ops[0].columns[1].name == "city");
  REQUIRE(batch.ops[0].columns[1].id == 0);
  REQUIRE(batch.ops[1].tableId == users);
  db.commit(batch.ops);
  REQUIRE(rowJson(db, "users", "u1") == Json({{"age", 2}, {"name", "Ann"}, {"city", "x"}}));
  // An id the replica never gave out is malformed.
  ByteWriter bad;
  bad.varint(1);
  bad.u8(3);
  bad.varint(db.nameCount());
  bad.string("k");
  REQUIRE(errorOf([&] { decoded(bad.bytes(), db); }) == ErrorCode::Type);
  // The same name as an id and as a string is one column named twice.
  ByteWriter twice;
  twice.varint(1);
  twice.u8(1);
  twice.varint(users);
  twice.string("u2");
  twice.varint(2);
  twice.varint(age);
  writeJson(twice, 1);
  nameString(twice, "age");
  writeJson(twice, 2);
  REQUIRE(errorOf([&] { decoded(twice.bytes(), db); }) == ErrorCode::Type);
}

TEST_CASE("decodeOps: malformed input is Error(Type)", "[bindings]") {
  Database db("p");
  auto type = [&](const Bytes& in) {
    INFO(hexOf(in));
    REQUIRE(errorOf([&] { decoded(in, db); }) == ErrorCode::Type);
  };
  type(opsBytes({{0, "t", "k", {}}}));  // unknown kind
  type(opsBytes({{6, "t", "k", {}}}));
  type(opsBytes({{4, "t", "k", {}}}));  // a set op names exactly one column
  type(opsBytes({{5, "t", "k", {{"a", enc(1)}, {"b", enc(2)}}}}));
  REQUIRE(decoded(opsBytes({{4, "t", "k", {{"a", enc(1)}}}}), db).size() == 1);
  type(opsBytes({{1, "t", "k", {{"a", enc(1)}, {"a", enc(2)}}}}));  // a column named twice
  REQUIRE(
      decoded(opsBytes({{1, "t", "k", {{"a", loose(Json::parse(R"({"x":1})"))}}}}), db).size() ==
      1);
  type(
      opsBytes({{1, "t", "k", {{"a", Bytes{tag::kObject, 2, 1, 'x', 0, 1, 'x', 1}}}}}));  // dup key
  type(opsBytes(
      {{1, "t", "k", {{"a", Bytes{tag::kDouble, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f}}}}}));  // NaN
  type(opsBytes({{1, "t", "k", {{"a", Bytes{9}}}}}));                 // unknown value tag
  type(opsBytes({{1, "t", "k", {{"a", Bytes{0x42, 0xc3, 0x28}}}}}));  // invalid UTF-8
  type(opsBytes({{1, "t\xff", "k", {}}}));                            // table name not UTF-8
  type(opsBytes({{1, "t", std::string(kMaxKeyBytes + 1, 'k'), {}}}));
  type(opsBytes({{1, "t", "k", {{std::string(kMaxNameBytes + 1, 'c'), enc(1)}}}}));
  Bytes trailing = opsBytes({{3, "t", "k", {}}});
  trailing.push_back(0);
  type(trailing);
  Bytes tooMany = opsBytes({{3, "t", "k", {}}});
  tooMany[0] = 2;
  type(tooMany);
  const Bytes good = opsBytes({{1, "t", "k", {{"a", enc(Json::parse(R"({"x":[1,"s"]})"))}}}});
  for (std::size_t len = 0; len < good.size(); ++len) {
    type(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len)));
  }
  REQUIRE(decoded(good, db).size() == 1);
  // Ops the engine refuses are refused by commit, not by the decoder: an empty key.
  OpBatch batch;
  const Bytes emptyKey = opsBytes({{1, "t", "", {}}});
  boundary::decodeOps(emptyKey, batch, db);
  REQUIRE(errorOf([&] { db.commit(batch.ops); }) == ErrorCode::Type);
}

TEST_CASE("decodeRange: every range type", "[bindings]") {
  const std::string k1 = *keyOf(1), k5 = *keyOf(5);
  KeyRange all = rangeOf({{"type", "all"}});
  REQUIRE(all.kind == KeyRange::Kind::All);
  KeyRange eq = rangeOf({{"type", "equals"}, {"value", 1}});
  REQUIRE(eq.kind == KeyRange::Kind::Bounds);
  REQUIRE(eq.lower == k1);
  REQUIRE(eq.upper == k1);
  REQUIRE_FALSE(eq.lowerOpen);
  REQUIRE_FALSE(eq.upperOpen);
  KeyRange above = rangeOf({{"type", "above"}, {"value", 1}});
  REQUIRE(above.lower == k1);
  REQUIRE(above.lowerOpen);
  REQUIRE_FALSE(above.upper.has_value());
  KeyRange aboveEq = rangeOf({{"type", "aboveOrEqual"}, {"value", 1}});
  REQUIRE_FALSE(aboveEq.lowerOpen);
  KeyRange below = rangeOf({{"type", "below"}, {"value", 5}});
  REQUIRE(below.upper == k5);
  REQUIRE(below.upperOpen);
  REQUIRE_FALSE(below.lower.has_value());
  REQUIRE_FALSE(rangeOf({{"type", "belowOrEqual"}, {"value", 5}}).upperOpen);
  KeyRange between = rangeOf({{"type", "between"}, {"lower", 1}, {"upper", 5}});
  REQUIRE(between.lower == k1);
  REQUIRE(between.upper == k5);
  REQUIRE_FALSE(between.lowerOpen);  // includeLower defaults to true
  REQUIRE(between.upperOpen);        // includeUpper defaults to false
  KeyRange open = rangeOf({{"type", "between"},
                           {"lower", 1},
                           {"upper", 5},
                           {"includeLower", false},
                           {"includeUpper", true}});
  REQUIRE(open.lowerOpen);
  REQUIRE_FALSE(open.upperOpen);
  KeyRange str = rangeOf({{"type", "startsWith"}, {"prefix", "ab"}});
  REQUIRE(str.kind == KeyRange::Kind::Prefix);
  REQUIRE(str.prefix == stringPrefixKey("ab"));
  KeyRange arr = rangeOf({{"type", "startsWith"}, {"prefix", Json::array({"a", 1})}});
  REQUIRE(arr.prefix == *arrayPrefixKey(enc(Json::array({"a", 1}))));
  KeyRange any = rangeOf({{"type", "anyOf"}, {"values", Json::array({5, "x", Json::array({1})})}});
  REQUIRE(any.kind == KeyRange::Kind::AnyOf);
  REQUIRE(any.values == std::vector<std::string>{k5, *keyOf("x"), *keyOf(Json::array({1}))});
  REQUIRE(rangeOf({{"type", "anyOf"}, {"values", Json::array()}}).values.empty());
  // -0 and 0 are one key; integral doubles are integers.
  REQUIRE(rangeOf({{"type", "equals"}, {"value", -0.0}}).lower == *keyOf(0));
}

TEST_CASE("decodeRange: non-keys and malformed ranges are Error(Type)", "[bindings]") {
  auto type = [](const Bytes& in) {
    INFO(hexOf(in));
    ByteReader r(in);
    REQUIRE(errorOf([&] { boundary::decodeRange(r); }) == ErrorCode::Type);
  };
  type(rangeBytes({{"type", "equals"}, {"value", true}}));
  type(rangeBytes({{"type", "equals"}, {"value", nullptr}}));
  type(rangeBytes({{"type", "above"}, {"value", {{"a", 1}}}}));
  type(rangeBytes({{"type", "below"}, {"value", Json::array({1, nullptr})}}));
  type(rangeBytes({{"type", "between"}, {"lower", 1}, {"upper", false}}));
  type(rangeBytes({{"type", "anyOf"}, {"values", Json::array({1, Json::object()})}}));
  type(rangeBytes({{"type", "startsWith"}, {"prefix", 5}}));
  type(rangeBytes({{"type", "startsWith"}, {"prefix", Json::array({true})}}));
  type(rangeBytes({{"type", "startsWith"}, {"prefix", Json::array({Json::object()})}}));
  type(rangeBytes({{"type", "nearby"}}));
  type(Bytes{1, 9});  // unknown value tag
  // Truncated ranges: DecodeError is an Error too, but the boundary reports malformed input.
  const Bytes good = rangeBytes({{"type", "between"}, {"lower", "a"}, {"upper", "b"}});
  for (std::size_t len = 0; len < good.size(); ++len) {
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    ByteReader r(cut);
    REQUIRE_THROWS_AS(boundary::decodeRange(r), Error);
  }
}

TEST_CASE("decodeQuery: fields, limits, flags and cursor", "[bindings]") {
  const Bytes range = rangeBytes({{"type", "above"}, {"value", 3}});
  boundary::QuerySpec q =
      boundary::decodeQuery(queryBytes("users", "byAge", range, 10, 2, 1, "cur"));
  REQUIRE(q.table == "users");
  REQUIRE(q.index == "byAge");
  REQUIRE(q.range.lower == *keyOf(3));
  REQUIRE(q.range.lowerOpen);
  REQUIRE(q.opts.limit == 10);
  REQUIRE(q.opts.offset == 2);
  REQUIRE(q.opts.reverse);
  REQUIRE_FALSE(q.staged);
  REQUIRE(q.opts.after == std::string("cur"));
  REQUIRE_FALSE(q.wantCursor);
  REQUIRE(boundary::decodeQuery(queryBytes("t", "", range, 1, 0, 4, "")).wantCursor);
  q = boundary::decodeQuery(queryBytes("t", "", rangeBytes({{"type", "all"}}), -1, 0, 2, ""));
  REQUIRE(q.index.empty());
  REQUIRE(q.opts.limit == SIZE_MAX);
  REQUIRE_FALSE(q.opts.reverse);
  REQUIRE(q.staged);
  REQUIRE_FALSE(q.opts.after.has_value());
  q = boundary::decodeQuery(
      queryBytes("t", "", rangeBytes({{"type", "all"}}), 1e300, 1e300, 0, ""));
  REQUIRE(q.opts.limit == SIZE_MAX);
  REQUIRE(q.opts.offset == SIZE_MAX);
  q = boundary::decodeQuery(
      queryBytes("t", "", rangeBytes({{"type", "all"}}), std::nan(""), -5, 0, ""));
  REQUIRE(q.opts.offset == 0);
  auto type = [](const Bytes& in) {
    INFO(hexOf(in));
    REQUIRE(errorOf([&] { boundary::decodeQuery(in); }) == ErrorCode::Type);
  };
  Bytes trailing = queryBytes("t", "", range, 1, 0, 0, "");
  trailing.push_back(0);
  type(trailing);
  const Bytes good = queryBytes("t", "ix", range, 1, 0, 0, "c");
  for (std::size_t len = 0; len < good.size(); ++len) {
    type(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len)));
  }
  type(queryBytes("t", "ix", rangeBytes({{"type", "equals"}, {"value", true}}), 1, 0, 0, ""));
}

TEST_CASE("decodeIndexDefs: definitions round-trip", "[bindings]") {
  ByteWriter w;
  w.varint(2);
  w.string("byAge");
  w.string("users");
  w.varint(1);
  w.string("age");
  w.string("byName");
  w.string("users");
  w.varint(2);
  w.string("first");
  w.string("last");
  const std::vector<IndexDef> defs = boundary::decodeIndexDefs(w.bytes());
  REQUIRE(defs == std::vector<IndexDef>{{"byAge", "users", {"age"}},
                                        {"byName", "users", {"first", "last"}}});
  Bytes trailing = w.bytes();
  trailing.push_back(0);
  REQUIRE(errorOf([&] { boundary::decodeIndexDefs(trailing); }) == ErrorCode::Type);
  Bytes cut(w.bytes().begin(), w.bytes().end() - 1);
  REQUIRE(errorOf([&] { boundary::decodeIndexDefs(cut); }) == ErrorCode::Type);
}

TEST_CASE("the change record lists new names, counts, rows and the update", "[bindings]") {
  Database db("p");
  std::uint32_t namesSent = 0;
  ChangeSet cs = commitOps(db, {setOp("users", "u1", {{"a", 1}, {"b", "x"}})}, true);
  ByteWriter out;
  boundary::writeChangeRecord(db, cs, namesSent, out);
  ByteReader r(out.bytes());
  const std::uint64_t nNames = r.varint();
  REQUIRE(nNames == db.nameCount());
  std::vector<std::string> names;
  for (std::uint64_t i = 0; i < nNames; ++i) {
    const ByteSpan name = r.raw(static_cast<std::size_t>(r.varint()));  // name 0 is not UTF-8
    names.emplace_back(reinterpret_cast<const char*>(name.data()), name.size());
  }
  REQUIRE(names[0] == "\xff");  // NameId 0: reserved for the row token, never a column
  REQUIRE(std::find(names.begin(), names.end(), "users") != names.end());
  REQUIRE(namesSent == db.nameCount());
  REQUIRE(r.varint() == 1);  // applied
  REQUIRE(r.varint() == 0);  // pending
  REQUIRE(r.varint() == 1);  // rows
  REQUIRE(r.varint() == *db.findRow("users", "u1"));
  REQUIRE(r.u8() == RowDelta::New);
  REQUIRE(names.at(r.varint()) == "users");
  REQUIRE(r.stringView(100, "key") == "u1");
  REQUIRE(r.varint() == 2);  // columns
  REQUIRE(names.at(r.varint()) == "a");
  {
    ValueScan s = scanValue(r);
    REQUIRE(s.size == 1);
  }
  REQUIRE(names.at(r.varint()) == "b");
  scanValue(r);
  REQUIRE(r.varint() == 0);  // subscriptions
  const std::uint64_t updateLen = r.varint();
  REQUIRE(updateLen == cs.update.size());
  const ByteSpan update = r.raw(updateLen);
  REQUIRE(Bytes(update.begin(), update.end()) == cs.update);
  REQUIRE(r.atEnd());
  // The next record lists only names new since.
  ChangeSet patch = commitOps(db, {updateOp("users", "u1", {{"a", 2}})}, false);
  ByteWriter out2;
  boundary::writeChangeRecord(db, patch, namesSent, out2);
  ByteReader r2(out2.bytes());
  REQUIRE(r2.varint() == 0);
  REQUIRE(r2.varint() == 1);
  REQUIRE(r2.varint() == 0);
  REQUIRE(r2.varint() == 1);
  r2.varint();
  REQUIRE(r2.u8() == RowDelta::Patch);
  REQUIRE(r2.varint() == 1);
  REQUIRE(names.at(r2.varint()) == "a");
  REQUIRE(take(r2, 1) == enc(2));
}

TEST_CASE("a long string changed by a short edit comes as a splice", "[bindings]") {
  Database db("alice");
  std::uint32_t namesSent = 0;
  const std::string head(300, 'x');
  commitOps(db, {setOp("t", "k", {{"s", head + "\xF0\x9F\x98\x80tail"}, {"n", 1}})});
  ByteWriter first;
  // (the first record carries the names)
  boundary::writeChangeRecord(db, commitOps(db, {updateOp("t", "k", {{"n", 2}})}, false), namesSent,
                              first);
  auto record = [&](const Op& op) {
    ByteWriter out;
    boundary::writeChangeRecord(db, commitOps(db, {op}, false), namesSent, out);
    return out.take();
  };
  // The emoji (2 units after 300) becomes "ab": one splice, and n in the same patch as a value.
  const Bytes rec = record(updateOp("t", "k", {{"s", head + "abtail"}, {"n", 3}}));
  ByteReader r(rec);
  REQUIRE(r.varint() == 0);  // names
  REQUIRE(r.varint() == 1);  // applied
  REQUIRE(r.varint() == 0);  // pending
  REQUIRE(r.varint() == 1);  // rows
  r.varint();
  REQUIRE(r.u8() == RowDelta::Patch);
  REQUIRE(r.varint() == 2);
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    const std::string name(db.name(static_cast<NameId>(r.varint())));
    seen.insert(name);
    if (name == "n") {
      REQUIRE(take(r, 1) == enc(3));
      continue;
    }
    REQUIRE(r.u8() == boundary::kSpliceTag);
    REQUIRE(r.varint() == 300);  // pos
    REQUIRE(r.varint() == 2);    // removed
    REQUIRE(r.stringView(100, "inserted") == "ab");
  }
  REQUIRE(seen == std::set<std::string>{"n", "s"});
  // A short string, or a long one mostly rewritten, comes whole.
  const Bytes whole = record(updateOp("t", "k", {{"s", std::string(300, 'y')}}));
  ByteReader w(whole);
  for (int i = 0; i < 5; ++i) w.varint();
  REQUIRE(w.u8() == RowDelta::Patch);
  REQUIRE(w.varint() == 1);
  w.varint();
  REQUIRE(w.u8() != boundary::kSpliceTag);
}

TEST_CASE("query, staged row and conflicts answers", "[bindings]") {
  Database a("alice"), b("bob");
  a.declareIndexes({{"byAge", "users", {"age"}}});
  commitOps(a, {setOp("users", "u1", {{"age", 1}}), setOp("users", "u2", {{"age", 2}})});
  syncFrom(b, a);
  commitOps(a, {updateOp("users", "u1", {{"age", 10}})});
  commitOps(b, {updateOp("users", "u1", {{"age", 20}})});
  syncFrom(a, b);
  std::string cursor;
  {
    ByteWriter out;  // flag 4: with the cursor (the last entry) for the next page
    boundary::writeQuery(a,
                         boundary::decodeQuery(queryBytes(
                             "users", "byAge", rangeBytes({{"type", "all"}}), 1, 0, 4, "")),
                         out);
    ByteReader r(out.bytes());
    REQUIRE(r.varint() == 1);
    REQUIRE(r.varint() == *a.findRow("users", "u2"));
    const ByteSpan c = r.raw(static_cast<std::size_t>(r.varint()));  // binary: a key encoding
    cursor.assign(reinterpret_cast<const char*>(c.data()), c.size());
    std::string want = *keyOf(2);
    appendStringKey(want, "u2");
    REQUIRE(cursor == want);
    REQUIRE(r.atEnd());
  }
  {
    ByteWriter out;  // the next page, without a cursor
    boundary::writeQuery(a,
                         boundary::decodeQuery(queryBytes(
                             "users", "byAge", rangeBytes({{"type", "all"}}), 1, 0, 0, cursor)),
                         out);
    ByteReader r(out.bytes());
    REQUIRE(r.varint() == 1);
    REQUIRE(r.varint() == *a.findRow("users", "u1"));
    REQUIRE(r.atEnd());
  }
  {
    ByteWriter out;  // past the end: the cursor asked for stays where it was
    boundary::writeQuery(
        a,
        boundary::decodeQuery(queryBytes(
            "users", "byAge", rangeBytes({{"type", "above"}, {"value", 50}}), -1, 0, 4, cursor)),
        out);
    ByteReader r(out.bytes());
    REQUIRE(r.varint() == 0);
    REQUIRE(take(r, static_cast<std::size_t>(r.varint())) == Bytes(cursor.begin(), cursor.end()));
    REQUIRE(r.atEnd());
  }
  {
    ByteWriter out;  // conflicts of u1: column age, one loser (alice's 10 lost to bob's 20)
    boundary::writeConflicts(a, rowArg("users", "u1"), out);
    ByteReader r(out.bytes());
    REQUIRE(r.varint() == 1);
    REQUIRE(r.stringView(100, "name") == "age");
    REQUIRE(r.varint() == 1);
    REQUIRE(take(r, 1) == enc(10));
    REQUIRE(r.atEnd());
    ByteWriter none;
    boundary::writeConflicts(a, rowArg("users", "nobody"), none);
    REQUIRE(none.bytes() == Bytes{0});
  }
  {
    stageOps(a, {updateOp("users", "u2", {{"age", 3}}), setOp("users", "u9", {{"age", 0}})});
    ByteWriter out;
    boundary::writeStagedRow(a, rowArg("users", "u2"), out);
    ByteReader r(out.bytes());
    REQUIRE(r.u8() == 1);
    REQUIRE(r.varint() == 1);
    REQUIRE(r.stringView(100, "name") == "age");
    REQUIRE(take(r, 1) == enc(3));
    ByteWriter missing;
    boundary::writeStagedRow(a, rowArg("users", "nobody"), missing);
    REQUIRE(missing.bytes() == Bytes{0, 0});
    ByteWriter staged;  // staged query: u9 (staged only), u2 (staged), u1 (committed)
    boundary::writeQuery(a,
                         boundary::decodeQuery(queryBytes(
                             "users", "byAge", rangeBytes({{"type", "all"}}), -1, 0, 2, "")),
                         staged);
    ByteReader s(staged.bytes());
    REQUIRE(s.varint() == 3);
    REQUIRE(s.u8() == 1);
    REQUIRE(s.stringView(100, "key") == "u9");
    REQUIRE(s.varint() == 1);
    s.stringView(100, "name");
    scanValue(s);
    REQUIRE(s.u8() == 1);
    REQUIRE(s.stringView(100, "key") == "u2");
    REQUIRE(s.varint() == 1);
    s.stringView(100, "name");
    scanValue(s);
    REQUIRE(s.u8() == 0);
    REQUIRE(s.varint() == *a.findRow("users", "u1"));
    REQUIRE(s.atEnd());
    ByteWriter count;
    boundary::writeCount(
        a,
        boundary::decodeQuery(queryBytes("users", "", rangeBytes({{"type", "all"}}), -1, 0, 2, "")),
        count);
    REQUIRE(count.bytes() == Bytes{3});
    a.rollbackStaged();
  }
}

TEST_CASE("text ops cross the boundary and text state answers", "[bindings][text]") {
  Database db("p");
  auto type = [&](const Bytes& in) {
    INFO(hexOf(in));
    REQUIRE(errorOf([&] { decoded(in, db); }) == ErrorCode::Type);
  };
  auto textState = [&](const std::string& table, const std::string& key, const std::string& col) {
    ByteWriter in, out;
    in.string(table);
    in.string(key);
    in.string(col);
    boundary::writeTextState(db, in.bytes(), out);
    REQUIRE(out.bytes().size() == 1);
    return out.bytes()[0] == 1;
  };
  auto edit = [](std::uint32_t pos, const std::string& ins, std::uint32_t len) {
    ByteWriter w;
    writeLocalTextEdit(pos, !ins.empty(), ins, len, w);
    return w.take();
  };
  type(opsBytes({{7, "t", "k", {{"c", enc(1)}}}}));  // counter resets are the engine's own
  type(opsBytes({{8, "t", "k", {}}}));               // a text op names exactly one column
  type(opsBytes({{9, "t", "k", {{"a", edit(0, "x", 0)}, {"b", edit(0, "x", 0)}}}}));
  type(opsBytes({{10, "t", "k", {{"a", enc(nullptr)}}}}));

  commitOps(db, {setOp("docs", "d", {{"title", "t"}})});
  REQUIRE_FALSE(textState("docs", "d", "body"));
  auto commit = [&](const Bytes& in) {
    OpBatch batch;
    boundary::decodeOps(in, batch, db);
    db.commit(batch.ops);
  };
  commit(opsBytes({{8, "docs", "d", {{"body", enc(nullptr)}}}}));
  REQUIRE(textState("docs", "d", "body"));
  REQUIRE_FALSE(textState("docs", "d", "title"));
  REQUIRE_FALSE(textState("docs", "e", "body"));
  REQUIRE_FALSE(textState("other", "d", "body"));
  REQUIRE_FALSE(textState("docs", "d", "never named"));
  commit(opsBytes({{9, "docs", "d", {{"body", edit(0, "hi", 0)}}}}));
  commit(opsBytes({{9, "docs", "d", {{"body", edit(0, "", 1)}}}}));
  REQUIRE(*rowJson(db, "docs", "d") == Json::parse(R"({"title":"t","body":"i"})"));
  // Out of range: RangeError, nothing changes.
  const Bytes before = db.version();
  REQUIRE(errorOf([&] {
            commit(opsBytes({{9, "docs", "d", {{"body", edit(5, "x", 0)}}}}));
          }) == ErrorCode::Range);
  REQUIRE(db.version() == before);
  // A plain write replaces the text; a deleted row shows none.
  commitOps(db, {updateOp("docs", "d", {{"body", 1}})});
  REQUIRE_FALSE(textState("docs", "d", "body"));
  commit(opsBytes({{8, "docs", "d", {{"title", enc(nullptr)}}}}));
  REQUIRE(textState("docs", "d", "title"));
  commitOps(db, {deleteOp("docs", "d")});
  REQUIRE_FALSE(textState("docs", "d", "title"));
}
