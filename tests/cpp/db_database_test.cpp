#include <catch2/catch.hpp>

#include "core/errors.h"
#include "db/database.h"
#include "oplog/changes_codec.h"

using namespace crdtdb;

namespace {

Op set(std::string key, Value row) {
  Op op{OpKind::SetRow, "users", std::move(key), {}};
  for (auto it = row.begin(); it != row.end(); ++it) op.columns.emplace_back(it.key(), it.value());
  return op;
}
Op update(std::string key, std::string col, Value v) {
  return Op{OpKind::UpdateRow, "users", std::move(key), {{std::move(col), std::move(v)}}};
}
Op del(std::string key) { return Op{OpKind::DeleteRow, "users", std::move(key), {}}; }

void sync(Database& to, const Database& from) { to.applyChanges(from.changesSince(to.version())); }

}  // namespace

TEST_CASE("local commits apply at once and report changed rows", "[db]") {
  Database db("a");
  auto r = db.commit({set("u1", {{"name", "Ann"}, {"age", 30}}), update("u1", "age", 31)});
  REQUIRE(r.changes.size() == 1);
  REQUIRE(r.changes[0].row == Value({{"name", "Ann"}, {"age", 31}}));
  REQUIRE(db.row("users", "u1") == Value({{"name", "Ann"}, {"age", 31}}));
  REQUIRE(db.eventCount() == 2);
  REQUIRE(decodeChanges(r.encoded).size() == 1);  // one transaction, two events
  REQUIRE(decodeChanges(r.encoded)[0].ops.size() == 2);
  auto d = db.commit({del("u1")});
  REQUIRE(d.changes.size() == 1);
  REQUIRE_FALSE(d.changes[0].row.has_value());
  db.checkInvariants();
}

TEST_CASE("a failing transaction changes nothing", "[db]") {
  Database db("a");
  db.commit({set("u1", {{"x", 1}})});
  Bytes state = db.encodeState(), version = db.version();
  try {
    db.commit({update("u1", "x", 2), update("nope", "x", 1)});
    FAIL("update of a missing row accepted");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::NotFound);
    REQUIRE(std::string(e.what()).find("nope") != std::string::npos);
  }
  REQUIRE_THROWS_AS(db.commit({set("", {{"x", 1}})}), Error);
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  // An update after a delete in the same transaction sees the delete.
  REQUIRE_THROWS_AS(db.commit({del("u1"), update("u1", "x", 3)}), Error);
  REQUIRE(db.row("users", "u1") == Value({{"x", 1}}));
  // Deleting a row that never existed records nothing.
  REQUIRE(db.commit({del("ghost")}).encoded.empty());
  REQUIRE(db.version() == version);
}

TEST_CASE("opFromJson validates and names what is wrong", "[db]") {
  using nlohmann::json;
  REQUIRE(opFromJson(json::parse(R"({"op":"set","table":"t","key":"k","row":{"a":1.0}})"))
              .columns[0]
              .second.is_number_integer());
  auto message = [](const char* text) {
    try {
      opFromJson(json::parse(text));
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::Type);
      return std::string(e.what());
    }
    FAIL("accepted " << text);
    return std::string();
  };
  REQUIRE(message(R"({"op":"set","table":"t","key":"","row":{}})").find("key") !=
          std::string::npos);
  REQUIRE(message(R"({"op":"set","table":"t","key":"k","row":[1]})").find("row") !=
          std::string::npos);
  REQUIRE(message(R"({"op":"merge","table":"t","key":"k"})").find("merge") != std::string::npos);
  REQUIRE(message(R"({"op":"update","table":"t","key":"k"})").find("patch") != std::string::npos);
}

TEST_CASE("two replicas converge on concurrent writes", "[db]") {
  Database a("alice"), b("bob");
  a.commit({set("u1", {{"x", 0}, {"y", 0}})});
  sync(b, a);
  a.commit({update("u1", "x", "a")});
  b.commit({update("u1", "x", "b")});
  b.commit({update("u1", "y", "b")});
  sync(a, b);
  sync(b, a);
  REQUIRE(a.row("users", "u1") == b.row("users", "u1"));
  REQUIRE(a.encodeState() == b.encodeState());
  REQUIRE(a.version() == b.version());
  // Both x writes have Lamport 2; "bob" > "alice" decides.
  REQUIRE(a.row("users", "u1") == Value({{"x", "b"}, {"y", "b"}}));
  REQUIRE(a.conflicts("users", "u1") == Value({{"x", {"a"}}}));
  REQUIRE(b.conflicts("users", "u1") == a.conflicts("users", "u1"));
  // A later local write has seen both and wins everywhere.
  a.commit({update("u1", "x", "final")});
  sync(b, a);
  REQUIRE(b.row("users", "u1") == Value({{"x", "final"}, {"y", "b"}}));
  REQUIRE(b.conflicts("users", "u1") == Value::object());
  a.checkInvariants();
  b.checkInvariants();
}

TEST_CASE("set concurrent with delete wins; update concurrent with delete is lost", "[db]") {
  Database a("alice"), b("bob");
  a.commit({set("s", {{"v", 1}}), set("u", {{"v", 1}})});
  sync(b, a);
  a.commit({del("s"), del("u")});
  b.commit({set("s", {{"v", 2}}), update("u", "v", 2)});
  sync(a, b);
  sync(b, a);
  for (Database* db : {&a, &b}) {
    REQUIRE(db->row("users", "s") == Value({{"v", 2}}));
    REQUIRE_FALSE(db->row("users", "u").has_value());
  }
}

TEST_CASE("delivery is idempotent and order-independent; gaps are held", "[db]") {
  Database a("alice"), b("bob");
  std::vector<Bytes> msgs;
  msgs.push_back(a.commit({set("u1", {{"n", 1}})}).encoded);
  msgs.push_back(a.commit({update("u1", "n", 2)}).encoded);
  msgs.push_back(a.commit({update("u1", "n", 3)}).encoded);

  auto r = b.applyChanges(msgs[2]);
  REQUIRE(r.applied == 0);
  REQUIRE(r.pending == 1);
  REQUIRE_FALSE(b.row("users", "u1").has_value());
  r = b.applyChanges(msgs[1]);
  REQUIRE(r.applied == 0);
  REQUIRE(r.pending == 2);
  r = b.applyChanges(msgs[0]);
  REQUIRE(r.applied == 3);
  REQUIRE(r.pending == 0);
  REQUIRE(r.changes.size() == 1);
  REQUIRE(b.row("users", "u1") == Value({{"n", 3}}));
  Bytes state = b.encodeState();
  for (const auto& m : msgs) REQUIRE(b.applyChanges(m).applied == 0);
  REQUIRE(b.applyChanges(a.changesSince({})).applied == 0);
  REQUIRE(b.encodeState() == state);
  REQUIRE(b.version() == a.version());
  b.checkInvariants();
}

TEST_CASE("changesSince sends exactly what the other side lacks", "[db]") {
  Database a("alice"), b("bob");
  a.commit({set("u1", {{"n", 1}})});
  sync(b, a);
  Bytes v = b.version();
  a.commit({update("u1", "n", 2)});
  a.commit({update("u1", "n", 3)});
  auto txns = decodeChanges(a.changesSince(v));
  REQUIRE(txns.size() == 2);
  REQUIRE(txns[0].seq == 1);
  REQUIRE(decodeChanges(a.changesSince(a.version())).empty());
  REQUIRE_THROWS_AS(a.changesSince(Bytes{1, 2, 3}), DecodeError);
  // A Lamport clock that has seen remote events orders later local writes after them.
  b.commit({update("u1", "n", 10)});
  sync(a, b);
  sync(b, a);
  REQUIRE(a.row("users", "u1") == b.row("users", "u1"));
}

TEST_CASE("malformed input leaves the replica untouched", "[db]") {
  Database a("alice"), b("bob");
  b.commit({set("mine", {{"x", 1}})});
  Bytes msg = a.commit({set("u1", {{"n", 1}})}).encoded;
  Bytes state = b.encodeState(), version = b.version();
  for (std::size_t len = 0; len < msg.size(); ++len) {
    Bytes cut(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(len));
    REQUIRE_THROWS_AS(b.applyChanges(cut), DecodeError);
  }
  REQUIRE(b.encodeState() == state);
  REQUIRE(b.version() == version);
}
