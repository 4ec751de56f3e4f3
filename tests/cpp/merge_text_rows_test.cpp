// Text columns in rows (store/row_texts.cpp, merge/text_op.h) through Database: creation,
// local edits and their errors, concurrent merges, replacement by plain writes, undo and
// allocation failures, storage, snapshots, and a convergence fuzzer over random histories.
#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "core/errors.h"
#include "db/database.h"
#include "merge/list/text_buffer.h"
#include "merge/list/text_codec.h"
#include "merge/text_op.h"
#include "support/craft.h"
#include "support/error_of.h"
#include "support/every_allocation.h"
#include "support/store_sim.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op create(const std::string& col, const std::string& key = "k") {
  return Op{OpKind::TextCreate, "t", key, {{col, enc(nullptr)}}};
}
Op edit(const std::string& col, std::uint32_t pos, bool insert, const std::string& text,
        std::uint32_t len, const std::string& key) {
  ByteWriter w;
  writeLocalTextEdit(pos, insert, text, len, w);
  return Op{OpKind::TextEdit, "t", key, {{col, w.take()}}};
}
Op ins(const std::string& col, std::uint32_t pos, const std::string& text,
       const std::string& key = "k") {
  return edit(col, pos, true, text, 0, key);
}
Op del(const std::string& col, std::uint32_t pos, std::uint32_t len, const std::string& key = "k") {
  return edit(col, pos, false, "", len, key);
}
Json column(const Database& db, const std::string& col, const std::string& key = "k") {
  const auto r = rowJson(db, "t", key);
  return r && r->contains(col) ? (*r)[col] : Json();
}
void syncBoth(Database& a, Database& b) {
  syncFrom(a, b);
  syncFrom(b, a);
}
bool isText(const Database& db, const std::string& col, const std::string& key = "k") {
  const auto id = db.findRow("t", key);
  const auto c = db.nameIdOf(col);
  return id && c && db.rows().shownText(*id, *c) != nullptr;
}

}  // namespace

TEST_CASE("a text column starts empty or from its string and takes edits", "[text]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"s", "hello"}, {"n", 1}})});
  commitOps(db, {create("body")});
  REQUIRE(column(db, "body") == "");
  REQUIRE(isText(db, "body"));
  commitOps(db, {ins("body", 0, "wrld")});
  commitOps(db, {ins("body", 1, "o")});
  commitOps(db, {ins("body", 0, "hi ")});
  REQUIRE(column(db, "body") == "hi world");
  commitOps(db, {del("body", 0, 3)});
  REQUIRE(column(db, "body") == "world");
  // A string column's text starts as the string; positions count UTF-16 units.
  commitOps(db, {create("s")});
  REQUIRE(column(db, "s") == "hello");
  commitOps(db, {ins("s", 5, " \xF0\x9F\x98\x80!")});  // U+1F600: two units
  commitOps(db, {del("s", 6, 2)});
  REQUIRE(column(db, "s") == "hello !");
  REQUIRE(conflictsJson(db, "t", "k") == Json::object());
  db.checkInvariants();
}

TEST_CASE("a write to another column of the row does not encode its text again", "[text][work]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"n", 0}})});
  commitOps(db, {create("body")});
  commitOps(db, {ins("body", 0, std::string(1000, 'x'))});
  const std::uint64_t before = db.rows().textCellsRefreshed();
  for (int i = 1; i <= 50; ++i) commitOps(db, {updateOp("t", "k", {{"n", i}})});
  REQUIRE(db.rows().textCellsRefreshed() == before);
  REQUIRE(column(db, "body") == std::string(1000, 'x'));
  REQUIRE(column(db, "n") == 50);
  // An edit is spliced into the cell, not encoded whole; undoing it brings back the cell
  // with the text.
  const std::uint64_t spliced = db.rows().textCellsSpliced();
  commitOps(db, {ins("body", 3, "yz")});
  REQUIRE(db.rows().textCellsRefreshed() == before);
  REQUIRE(db.rows().textCellsSpliced() == spliced + 1);
  REQUIRE(db.undoLast());
  commitOps(db, {updateOp("t", "k", {{"n", 51}})});
  REQUIRE(column(db, "body") == std::string(1000, 'x'));
  commitOps(db, {ins("body", 0, "a")});
  REQUIRE(column(db, "body") == "a" + std::string(1000, 'x'));
}

namespace {

std::u16string units(std::string_view utf8) {
  std::u16string out;
  list::decodeWtf8(utf8, out);
  return out;
}

// The change set's splice of `col` (if it sent one) turns `before` into the row's new string.
void checkSplice(const Database& db, const ChangeSet& cs, const std::string& col,
                 const std::u16string& before, const std::string& after) {
  const NameId c = *db.nameIdOf(col);
  int found = 0;
  for (const RowDelta& d : cs.rows) {
    for (const RowDelta::StringSplice& s : d.splices) {
      if (s.column != c) continue;
      ++found;
      REQUIRE(s.splice.pos + s.splice.removed <= before.size());
      const std::u16string made = before.substr(0, s.splice.pos) +
                                  units(after.substr(s.splice.from, s.splice.to - s.splice.from)) +
                                  before.substr(s.splice.pos + s.splice.removed);
      REQUIRE(made == units(after));
    }
  }
  REQUIRE(found == 1);
}

}  // namespace

TEST_CASE("an edit goes into its text's cell as a splice, counted in UTF-16 units",
          "[text][work]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"n", 0}})});
  commitOps(db, {create("body")});
  // 2-, 3- and 4-byte sequences (the last two units) and ASCII: 5 units, 10 bytes a block.
  std::string block =
      "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
      "a";
  std::string text;
  for (int i = 0; i < 100; ++i) text += block;
  commitOps(db, {ins("body", 0, text)});
  std::u16string model = units(text);
  const std::uint64_t refreshed = db.rows().textCellsRefreshed();
  const std::uint64_t spliced = db.rows().textCellsSpliced();
  std::mt19937_64 rng(7);
  int edits = 0;
  for (int i = 0; i < 400; ++i) {
    // A position that does not split a pair, anywhere (the anchor moves both ways).
    std::uint32_t pos = static_cast<std::uint32_t>(rng() % (model.size() + 1));
    if (pos > 0 && pos < model.size() && list::isLowSurrogate(model[pos])) --pos;
    const std::u16string before = model;
    ChangeSet cs;
    if (rng() % 3 != 0 || model.size() < 10) {
      const std::string what = rng() % 2 ? "xy" : "\xE2\x82\xAC\xF0\x9F\x98\x80";
      cs = commitOps(db, {ins("body", pos, what)});
      model.insert(pos, units(what));
    } else {
      std::uint32_t end = std::min<std::uint32_t>(static_cast<std::uint32_t>(model.size()),
                                                  pos + 1 + static_cast<std::uint32_t>(rng() % 4));
      if (end < model.size() && list::isLowSurrogate(model[end])) ++end;
      if (end == pos) continue;
      cs = commitOps(db, {del("body", pos, end - pos)});
      model.erase(pos, end - pos);
    }
    ++edits;
    const std::string shown = column(db, "body").get<std::string>();
    REQUIRE(units(shown) == model);
    checkSplice(db, cs, "body", before, shown);
  }
  db.checkInvariants();
  REQUIRE(db.rows().textCellsRefreshed() == refreshed);
  REQUIRE(db.rows().textCellsSpliced() == spliced + static_cast<std::uint64_t>(edits));
  // Beside a U+FFFD (which may stand for a lone surrogate an edit pairs up) the text is
  // encoded whole.
  commitOps(db, {ins("body", 0, "\xEF\xBF\xBD")});
  REQUIRE(db.rows().textCellsRefreshed() == refreshed);
  commitOps(db, {ins("body", 1, "z")});
  REQUIRE(db.rows().textCellsRefreshed() == refreshed + 1);
  REQUIRE(column(db, "body").get<std::string>().substr(0, 4) == "\xEF\xBF\xBDz");
  // An edit undone is not spliced in by the next call that touches the row: neither one of
  // a call that failed after it nor one of a call undone.
  commitOps(db, {ins("body", 4, "q")});
  const std::string kept = column(db, "body").get<std::string>();
  REQUIRE_THROWS_AS(
      commitOps(db, {ins("body", 5, "FAILED"), Op{OpKind::AddToSet, "t", "k", {{"body", enc(1)}}}}),
      Error);
  commitOps(db, {updateOp("t", "k", {{"n", 1}})});
  REQUIRE(column(db, "body") == kept);
  commitOps(db, {ins("body", 5, "UNDONE")});
  REQUIRE(db.undoLast());
  commitOps(db, {updateOp("t", "k", {{"n", 2}})});
  REQUIRE(column(db, "body") == kept);
  db.checkInvariants();
}

TEST_CASE("text edits out of range, on other types or rows change nothing", "[text]") {
  Database db("a");
  commitOps(db, {setOp("t", "k", {{"n", 1}, {"s", "x"}})});
  commitOps(db, {create("body"), ins("body", 0,
                                     "a\xF0\x9F\x98\x80"
                                     "b")});  // "a😀b": 4 units
  const Bytes state = db.encodeState(), version = db.version();
  const std::size_t events = db.eventCount();
  REQUIRE(errorOf([&] { commitOps(db, {ins("body", 5, "x")}); }) == ErrorCode::Range);
  REQUIRE(errorOf([&] { commitOps(db, {ins("body", 2, "x")}); }) == ErrorCode::Range);  // a pair
  REQUIRE(errorOf([&] { commitOps(db, {del("body", 1, 1)}); }) == ErrorCode::Range);
  REQUIRE(errorOf([&] { commitOps(db, {del("body", 3, 2)}); }) == ErrorCode::Range);
  REQUIRE(errorOf([&] { commitOps(db, {ins("s", 0, "x")}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {ins("missing", 0, "x")}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {create("n")}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {create("body")}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] { commitOps(db, {create("x", "nope")}); }) == ErrorCode::NotFound);
  REQUIRE(errorOf([&] { commitOps(db, {ins("body", 0, "")}); }) == ErrorCode::Type);
  REQUIRE(errorOf([&] {
            commitOps(db, {Op{OpKind::Increment, "t", "k", {{"body", enc(1)}}}});
          }) == ErrorCode::Type);
  REQUIRE(errorOf([&] {
            commitOps(db, {Op{OpKind::AddToSet, "t", "k", {{"body", enc(1)}}}});
          }) == ErrorCode::Type);
  // A transaction with a bad edit keeps none of it.
  REQUIRE(
      errorOf([&] {
        commitOps(db, {updateOp("t", "k", {{"n", 2}}), ins("body", 0, "ok"), ins("body", 9, "x")});
      }) == ErrorCode::Range);
  // Text ops commit at once: a staged transaction refuses them.
  std::vector<ColumnRef> cols;
  const Op op = ins("body", 0, "x");
  const OpRef ref = refOf(op, cols);
  REQUIRE(errorOf([&] { db.stage({&ref, 1}); }) == ErrorCode::Type);
  // A staged increment or set op on the text names the text, not the string it shows.
  for (const OpKind kind : {OpKind::Increment, OpKind::AddToSet}) {
    const Op bad{kind, "t", "k", {{"body", enc(1)}}};
    const OpRef badRef = refOf(bad, cols);
    try {
      db.stage({&badRef, 1});
      FAIL("staged");
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::Type);
      REQUIRE(std::string(e.what()).find("holds a text") != std::string::npos);
    }
  }
  // Once the transaction replaces the column, it holds what was written.
  const Op plain = updateOp("t", "k", {{"body", 5}});
  const Op inc{OpKind::Increment, "t", "k", {{"body", enc(1)}}};
  std::vector<ColumnRef> cols2;
  const OpRef plainRef = refOf(plain, cols), incRef = refOf(inc, cols2);
  db.stage({&plainRef, 1});
  db.stage({&incRef, 1});
  db.rollbackStaged();
  REQUIRE(db.encodeState() == state);
  REQUIRE(db.version() == version);
  REQUIRE(db.eventCount() == events);
  REQUIRE(column(db, "body") ==
          "a\xF0\x9F\x98\x80"
          "b");
  db.checkInvariants();
}

TEST_CASE("concurrent edits of one text merge and a plain write replaces the text it saw",
          "[text]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"title", "x"}}), create("body"), ins("body", 0, "Hello")});
  syncFrom(b, a);
  commitOps(a, {ins("body", 5, " world")});
  commitOps(b, {ins("body", 0, ">> "), del("body", 4, 2)});  // ">> Hlo"
  syncBoth(a, b);
  REQUIRE(column(a, "body") == ">> Hlo world");
  REQUIRE(a.encodeState() == b.encodeState());
  // b replaces the text; a's concurrent edit of it is lost with it.
  commitOps(b, {updateOp("t", "k", {{"body", "plain"}})});
  commitOps(a, {ins("body", 0, "!")});
  syncBoth(a, b);
  REQUIRE(column(a, "body") == "plain");
  REQUIRE(column(b, "body") == "plain");
  REQUIRE(!isText(a, "body"));
  REQUIRE(a.encodeState() == b.encodeState());
  // Two concurrent creations: one wins by LWW, and the winner's edits show.
  commitOps(a, {create("body")});
  commitOps(b, {create("body")});
  commitOps(a, {ins("body", 0, "A")});
  commitOps(b, {ins("body", 0, "B")});
  syncBoth(a, b);
  REQUIRE(a.encodeState() == b.encodeState());
  REQUIRE(column(a, "body") == column(b, "body"));
  REQUIRE((column(a, "body") == "Aplain" || column(a, "body") == "Bplain"));
  REQUIRE(conflictsJson(a, "t", "k") == Json::object());  // a losing text is no value
  a.checkInvariants();
  b.checkInvariants();
}

TEST_CASE("an edit that saw everything merges after the concurrent edits of its message",
          "[text]") {
  // bob's first edit is concurrent with alice's "X"; his second saw both. alice gets them in
  // one message: the second applies on top of the first's pending merge, not at once.
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {}), create("body"), ins("body", 0, "abc")});
  syncFrom(b, a);
  commitOps(a, {ins("body", 3, "X")});
  commitOps(b, {ins("body", 0, "1")});
  syncFrom(b, a);
  commitOps(b, {ins("body", 0, "2")});
  syncFrom(a, b);
  REQUIRE(column(a, "body") == "21abcX");
  REQUIRE(a.encodeState() == b.encodeState());
  a.checkInvariants();
}

TEST_CASE("a keystroke moves the bytes after it in its cell, not the whole text", "[text][work]") {
  Database db("a");
  db.declareIndexes({{"byBody", "t", {"body"}}, {"byN", "t", {"n"}}});
  commitOps(db, {setOp("t", "k", {{"n", 0}})});
  commitOps(db, {create("body")});
  const std::string start(100000, 'x');
  commitOps(db, {ins("body", 0, start)});
  std::u16string model = units(start);
  const std::uint64_t moved = db.rows().textCellBytesMoved();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    // Typing near the end, now and then a delete or a word pasted: at most 16 bytes moved
    // behind the edit.
    const auto size = static_cast<std::uint32_t>(model.size());
    const std::uint32_t pos = size - static_cast<std::uint32_t>(rng() % 16);
    const std::u16string before = model;
    ChangeSet cs;
    if (i % 7 == 6) {
      cs = commitOps(db, {del("body", pos - 1, 1)});
      model.erase(pos - 1, 1);
    } else {
      const std::string what =
          i % 50 == 49 ? "pasted" : std::string(1, static_cast<char>('a' + i % 26));
      cs = commitOps(db, {ins("body", pos, what)});
      model.insert(pos, units(what));
    }
    if (i % 100 == 0) {
      checkSplice(db, cs, "body", before, column(db, "body").get<std::string>());
      db.checkInvariants();  // the index holds the new string, not the old one
    }
  }
  REQUIRE(units(column(db, "body").get<std::string>()) == model);
  db.checkInvariants();
  // Copied whole once (into a block with room to grow), then ~17 bytes a keystroke; a copy of
  // the text per keystroke would be 2000 x 100 kB.
  REQUIRE(db.rows().textCellBytesMoved() - moved < 2 * 110000 + 2000 * 32);
  // Another column's write leaves the text's cell alone; undo of a keystroke restores it.
  commitOps(db, {updateOp("t", "k", {{"n", 1}})});
  const Json shown = column(db, "body");
  commitOps(db, {ins("body", 5, "undone")});
  REQUIRE(db.undoLast());
  REQUIRE(column(db, "body") == shown);
  db.checkInvariants();
  commitOps(db, {ins("body", 5, "kept")});
  REQUIRE(column(db, "body").get<std::string>().substr(0, 9) == "xxxxxkept");
}

TEST_CASE("a typed run arrives as one text edit, alone or beside concurrent typing",
          "[text][work]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {{"n", 0}})});
  commitOps(a, {create("body")});
  commitOps(a, {ins("body", 0, "start ")});
  syncFrom(b, a);
  // Alice types 300 characters (BMP, some multi-byte), a word pasted, a backspace, more.
  std::string typedA;
  auto type = [](Database& db, std::uint32_t at, const std::vector<std::string>& chars, int n) {
    std::string made;
    for (int i = 0; i < n; ++i) {
      const std::string& c = chars[static_cast<std::size_t>(i) % chars.size()];
      commitOps(db, {ins("body", at + static_cast<std::uint32_t>(i), c)});
      made += c;
    }
    return made;
  };
  typedA = type(a, 6, {"\xC3\xA9", "\xE2\x82\xAC", "e"}, 300);  // 2-, 3- and 1-byte units
  commitOps(a, {ins("body", 306, "pasted")});
  commitOps(a, {del("body", 311, 1)});
  type(a, 311, {"x", "y", "z"}, 100);
  // Bob types concurrently at the start: his run merges with hers (the remote path).
  type(b, 0, {"a", "b"}, 200);
  const std::uint64_t before = b.rows().textEditsApplied();
  syncFrom(b, a);
  // Alice's 402 edits arrive as 4 (two typed runs, the paste, the delete).
  REQUIRE(b.rows().textEditsApplied() - before == 4);
  const std::uint64_t beforeA = a.rows().textEditsApplied();
  syncFrom(a, b);
  REQUIRE(a.rows().textEditsApplied() - beforeA == 1);
  REQUIRE(column(a, "body") == column(b, "body"));
  REQUIRE(a.encodeState() == b.encodeState());
  const std::string body = column(a, "body").get<std::string>();
  REQUIRE(body.size() == 6 + 200 + 600 + 5 + 100);
  REQUIRE(body.find(typedA) != std::string::npos);
  // A fresh replica loads the whole history with one edit per run, to the same state.
  Database c("carol");
  syncFrom(c, a);
  REQUIRE(c.rows().textEditsApplied() <= 7);
  REQUIRE(c.encodeState() == a.encodeState());
  // The history each holds still types on: edits after the merge land where they should.
  commitOps(c, {ins("body", 0, ">")});
  syncFrom(a, c);
  REQUIRE(column(a, "body").get<std::string>() == ">" + body);
  a.checkInvariants();
  b.checkInvariants();
  c.checkInvariants();
}

TEST_CASE("undoLast and allocation failures restore texts exactly", "[text][atomicity]") {
  Database a("alice"), b("bob");
  commitOps(a, {setOp("t", "k", {}), create("body"), ins("body", 0, "abcdef")});
  syncFrom(b, a);
  commitOps(b, {del("body", 1, 2), ins("body", 0, "XY")});
  const Bytes fromB = b.changesSince(nullptr);
  commitOps(a, {ins("body", 6, "!")});
  const Bytes before = a.encodeState();
  a.applyChanges(fromB);
  REQUIRE(column(a, "body") == "XYadef!");
  REQUIRE(a.undoLast());
  REQUIRE(a.encodeState() == before);
  REQUIRE(column(a, "body") == "abcdef!");
  a.applyChanges(fromB);
  REQUIRE(column(a, "body") == "XYadef!");
  commitOps(a, {del("body", 0, 3)});
  REQUIRE(a.undoLast());
  REQUIRE(column(a, "body") == "XYadef!");
  a.checkInvariants();

  auto observe = [](const Database& db) { return std::make_pair(db.encodeState(), db.version()); };
  auto setup = [&] {
    auto db = std::make_unique<Database>("alice");
    commitOps(*db, {setOp("t", "k", {}), create("body"), ins("body", 0, "abcdef")});
    commitOps(*db, {ins("body", 6, "!")});
    return db;
  };
  atEveryAllocation(
      setup, [](Database& db) { commitOps(db, {ins("body", 3, "--")}); }, observe);
  atEveryAllocation(
      setup, [](Database& db) { commitOps(db, {del("body", 1, 4)}); }, observe);
  atEveryAllocation(
      setup, [&](Database& db) { db.applyChanges(fromB); }, observe);
  // A longer text spliced in place (its cell grown once), under an index that needs its
  // string before the edit.
  auto indexed = [&] {
    auto db = setup();
    db->declareIndexes({{"byBody", "t", {"body"}}});
    commitOps(*db, {ins("body", 0, std::string(300, 'y'))});
    commitOps(*db, {ins("body", 100, "z")});
    return db;
  };
  auto observeIndexed = [](const Database& db) {
    std::vector<std::uint32_t> rows;
    for (const QueryHit& h : db.query("t", "byBody", KeyRange{}, {})) rows.push_back(h.row);
    db.checkInvariants();
    return std::make_tuple(db.encodeState(), db.version(), rows);
  };
  atEveryAllocation(
      indexed, [](Database& db) { commitOps(db, {ins("body", 50, "ab")}); }, observeIndexed);
  atEveryAllocation(
      indexed, [](Database& db) { commitOps(db, {del("body", 10, 200)}); }, observeIndexed);
  // The same for a text of 8 bytes or less (held in a grown block all the same).
  auto indexedShort = [&] {
    auto db = setup();
    db->declareIndexes({{"byBody", "t", {"body"}}});
    return db;
  };
  atEveryAllocation(
      indexedShort, [](Database& db) { commitOps(db, {ins("body", 3, "-")}); }, observeIndexed);
}

TEST_CASE("texts survive storage and reach other replicas through snapshots", "[text]") {
  Database a("alice"), b("bob");
  a.trackStorage(true);
  StoreSim store;
  commitOps(a, {setOp("t", "k", {{"n", 1}}), create("body"), ins("body", 0, "one two")});
  for (int i = 0; i < 50; ++i) commitOps(a, {ins("body", 7 + i, "x")});  // keystrokes
  store.take(a);
  syncFrom(b, a);
  commitOps(b, {ins("body", 3, ",")});
  commitOps(a, {del("body", 0, 4)});
  store.take(a);
  auto reopened = store.open("alice", {});
  REQUIRE(reopened->encodeState() == a.encodeState());
  REQUIRE(column(*reopened, "body") == column(a, "body"));
  reopened->checkInvariants();
  // The reopened replica merges b's concurrent edit like the original.
  syncFrom(*reopened, b);
  syncFrom(a, b);
  REQUIRE(column(*reopened, "body") == column(a, "body"));
  // a deleted "one " without seeing b's ",", which stays.
  REQUIRE(column(a, "body").get<std::string>().rfind(",two", 0) == 0);

  // Compaction keeps the text history: a snapshot brings it to a new replica, which then
  // merges an edit concurrent with old versions.
  commitOps(b, {ins("body", 0, "[b]")});  // concurrent with a's later edits
  commitOps(a, {ins("body", 0, "[a]")});
  a.compact();
  store.take(a);  // (a snapshot waits until every own event is durable)
  Database c("carol");
  c.applyChanges(a.changesSince(nullptr));
  REQUIRE(c.encodeState() == a.encodeState());
  syncFrom(c, b);
  syncFrom(a, b);
  REQUIRE(column(c, "body") == column(a, "body"));
  // b catches up from a snapshot that holds edits it lacks, while it has one a lacks.
  commitOps(b, {ins("body", 0, "b2 ")});
  commitOps(a, {del("body", 0, 3)});
  a.compact();
  store.take(a);
  syncFrom(b, a);
  syncFrom(a, b);
  REQUIRE(column(a, "body") == column(b, "body"));
  REQUIRE(a.encodeState() == b.encodeState());
  c.checkInvariants();
  b.checkInvariants();
}

TEST_CASE("a hostile edit that splits a surrogate pair reads as U+FFFD on every replica",
          "[text][decoder]") {
  Database a("alice");
  commitOps(a, {setOp("t", "k", {{"n", 1}})});  // alice:0
  commitOps(a, {create("body")});               // alice:1 creates the text
  commitOps(a, {ins("body", 0,
                    "a\xF0\x9F\x98\x80"
                    "b")});  // alice:2, "a😀b": 4 units
  // mallory deletes the pair's low half and inserts inside it: no honest replica sends
  // that (a local edit there is a RangeError), but a peer can.
  auto editValue = [](std::uint32_t pos, bool insert, std::string_view text, std::uint32_t len) {
    TextEditValue e;
    e.pos = pos;
    e.insert = insert;
    e.content = text;
    e.len = len;
    ByteWriter w;
    writeTextEdit("alice", 1, e, w);
    return w.take();
  };
  Crafter m;
  m.write("mallory", 0, {{"alice", 2}}, "t", "k", "body", editValue(2, false, "", 1),
          OpKind::TextEdit);
  m.write("mallory", 1, {{"mallory", 0}}, "t", "k", "body", editValue(1, true, "x", 0),
          OpKind::TextEdit);
  const Bytes fromMallory = m.message();

  // x takes it on the text it holds; y has a concurrent edit of its own first.
  Database x("xavier"), y("yolanda");
  x.trackStorage(true);
  StoreSim store;
  syncFrom(x, a);
  syncFrom(y, a);
  commitOps(y, {ins("body", 4, "c")});
  x.applyChanges(fromMallory);
  y.applyChanges(fromMallory);
  syncBoth(x, y);
  // The lone high surrogate shows as U+FFFD, one unit like the surrogate it stands for.
  const std::string shown = "x\xEF\xBF\xBD";
  REQUIRE(column(x, "body") == "a" + shown + "bc");
  REQUIRE(column(y, "body") == column(x, "body"));
  REQUIRE(x.encodeState() == y.encodeState());
  // An honest edit after the lone surrogate counts it as one unit.
  commitOps(x, {ins("body", 3, "!")});
  REQUIRE(column(x, "body") == "a" + shown + "!bc");
  // The row's string survives storage, snapshots and a new replica.
  store.take(x);
  auto reopened = store.open("xavier", {});
  REQUIRE(reopened->encodeState() == x.encodeState());
  x.compact();
  store.take(x);
  Database z("zoe");
  z.applyChanges(x.changesSince(nullptr));
  REQUIRE(column(z, "body") == column(x, "body"));
  syncBoth(y, z);
  REQUIRE(column(y, "body") == column(z, "body"));
  x.checkInvariants();
  y.checkInvariants();
  z.checkInvariants();
}

TEST_CASE("a local delete that joins two lone surrogates shows their pair", "[text][decoder]") {
  Database a("alice");
  commitOps(a, {setOp("t", "k", {{"n", 1}})});  // alice:0
  commitOps(a, {create("body")});               // alice:1 creates the text
  const std::string pad(300, '.');              // (long: the change set sends splices)
  commitOps(a, {ins("body", 0,
                    pad + "a\xF0\x9F\x98\x80"
                          "b")});  // alice:2
  // mallory inserts between the pair's halves, which no honest replica does.
  TextEditValue e;
  e.pos = 302;
  e.insert = true;
  e.content = "x";
  ByteWriter w;
  writeTextEdit("alice", 1, e, w);
  Crafter m;
  m.write("mallory", 0, {{"alice", 2}}, "t", "k", "body", w.take(), OpKind::TextEdit);
  a.applyChanges(m.message());
  const std::string lone = "\xEF\xBF\xBD";
  REQUIRE(column(a, "body") == pad + "a" + lone + "x" + lone + "b");
  // Deleting the x pairs the halves up again: the cell shows the pair, not two U+FFFD.
  const std::u16string before = units(column(a, "body").get<std::string>());
  const ChangeSet cs = commitOps(a, {del("body", 302, 1)});
  REQUIRE(column(a, "body") == pad +
                                   "a\xF0\x9F\x98\x80"
                                   "b");
  checkSplice(a, cs, "body", before, column(a, "body").get<std::string>());
  a.checkInvariants();
}

namespace {

// One random op of replica `db` on rows k0..k2, columns "body" (usually a text), "s", "n".
Op randomOp(const Database& db, std::mt19937_64& rng) {
  const std::string key = "k" + std::to_string(rng() % 3);
  const auto row = rowJson(db, "t", key);
  const int pick = static_cast<int>(rng() % 20);
  if (!row || pick == 0) {
    return setOp("t", key, {{"s", "v" + std::to_string(rng() % 9)}, {"body", "init"}});
  }
  if (pick == 1) return deleteOp("t", key);
  if (pick == 2) return updateOp("t", key, {{"body", "plain" + std::to_string(rng() % 9)}});
  if (pick == 3) return updateOp("t", key, {{"n", static_cast<int>(rng() % 100)}});
  if (!isText(db, "body", key)) {
    return row->contains("body") && (*row)["body"].is_string()
               ? create("body", key)
               : updateOp("t", key, {{"body", "s"}});
  }
  const std::string text = (*row)["body"].get<std::string>();
  // Positions that do not split the emoji (4 UTF-8 bytes, 2 units): count units by walking.
  std::vector<std::uint32_t> cuts{0};
  std::uint32_t u = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    const std::size_t n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    u += n == 4 ? 2 : 1;
    i += n;
    cuts.push_back(u);
  }
  if (pick < 14 || cuts.size() == 1) {
    const std::uint32_t at = cuts[rng() % cuts.size()];
    // Now and then a 4-, 2- or 3-byte sequence, or a real U+FFFD.
    static const char* const kWide[] = {"\xF0\x9F\x98\x80", "\xC3\xA9", "\xE2\x82\xAC",
                                        "\xEF\xBF\xBD"};
    const std::string what = rng() % 6 == 0 ? std::string(kWide[rng() % 4])
                                            : std::string(1 + rng() % 3, 'a' + rng() % 26);
    return ins("body", at, what, key);
  }
  const std::size_t i = rng() % (cuts.size() - 1);
  const std::size_t j = std::min<std::size_t>(cuts.size() - 1, i + 1 + rng() % 3);
  return del("body", cuts[i], cuts[j] - cuts[i], key);
}

// The "body" strings of rows k0..k2 (UTF-16), by key.
std::map<std::string, std::u16string> bodies(const Database& db) {
  std::map<std::string, std::u16string> out;
  for (const char* key : {"k0", "k1", "k2"}) {
    const Json v = column(db, "body", key);
    if (v.is_string()) out[key] = units(v.get<std::string>());
  }
  return out;
}

// Each splice of "body" in the change set turns the row's string before into its string now.
void checkSplices(const Database& db, const ChangeSet& cs,
                  const std::map<std::string, std::u16string>& before) {
  const auto body = db.nameIdOf("body");
  for (const RowDelta& d : cs.rows) {
    for (const RowDelta::StringSplice& s : d.splices) {
      if (!body || s.column != *body) continue;
      const std::string key = db.rows().row(d.row).key;
      REQUIRE(before.count(key) == 1);
      const std::u16string& b = before.at(key);
      const std::string after = column(db, "body", key).get<std::string>();
      REQUIRE(s.splice.pos + s.splice.removed <= b.size());
      REQUIRE(b.substr(0, s.splice.pos) +
                  units(after.substr(s.splice.from, s.splice.to - s.splice.from)) +
                  b.substr(s.splice.pos + s.splice.removed) ==
              units(after));
    }
  }
}

}  // namespace

TEST_CASE("random text histories converge on every replica", "[text][convergence]") {
  const char* env = std::getenv("TEXT_ROWS_SEEDS");
  const int seeds = env ? std::atoi(env) : 30;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::vector<std::unique_ptr<Database>> reps;
    for (const char* name : {"ann", "bo", "cy", "dee"})
      reps.push_back(std::make_unique<Database>(name));
    std::vector<Bytes> sent;  // every message, redelivered at random (duplicates, any order)
    for (int step = 0; step < 200; ++step) {
      Database& db = *reps[rng() % reps.size()];
      const int act = static_cast<int>(rng() % 10);
      INFO("seed " << seed << " step " << step);
      if (act < 6) {
        const auto before = bodies(db);
        const ChangeSet cs = commitOps(db, {randomOp(db, rng)}, true);
        checkSplices(db, cs, before);
        if (!cs.update.empty()) sent.push_back(cs.update);
      } else if (act < 9 && !sent.empty()) {
        const auto before = bodies(db);
        // (May be held until its parents arrive.)
        checkSplices(db, db.applyChanges(sent[rng() % sent.size()]), before);
      } else if (act == 9) {
        Database& from = *reps[rng() % reps.size()];
        if (rng() % 3 == 0) from.compact();
        if (&from != &db) syncFrom(db, from);
      }
      db.checkInvariants();
    }
    INFO("seed " << seed << " (final sync)");
    for (int round = 0; round < 2; ++round) {
      for (auto& x : reps) {
        for (auto& y : reps) {
          if (x != y) syncFrom(*x, *y);
        }
      }
    }
    INFO("seed " << seed);
    for (auto& r : reps) {
      REQUIRE(r->encodeState() == reps[0]->encodeState());
      r->checkInvariants();
    }
  }
}

TEST_CASE("typed text costs a few bytes per keystroke in history and syncs from any point",
          "[text][oplog]") {
  const std::string peer(36, 'a');  // a UUID-sized peer id
  Database a(peer), b("bob");
  a.trackStorage(true);
  StoreSim store;
  commitOps(a, {setOp("t", "k", {{"n", 1}}), create("body")});
  const std::size_t before = a.changesSince(nullptr).size();
  std::string shown;
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const auto len = static_cast<std::uint32_t>(shown.size());
    if (i % 400 == 399) {
      // A failed call in the middle of a run: its edit leaves nothing behind.
      REQUIRE_THROWS(commitOps(a, {ins("body", len, "z"), del("body", len + 5, 1)}));
    } else if (len > 0 && rng() % 8 == 0) {
      commitOps(a, {del("body", len - 1, 1)});
      shown.pop_back();
    } else if (len > 0 && rng() % 50 == 0) {
      const std::uint32_t at = rng() % len;
      commitOps(a, {ins("body", at, "q")});
      shown.insert(at, "q");
    } else {
      const std::string ch(1, static_cast<char>('a' + rng() % 26));
      commitOps(a, {ins("body", len, ch)});
      shown += ch;
    }
    if (i % 500 == 0) store.take(a);
    if (i % 300 == 0) syncFrom(b, a);  // b takes the durable part from wherever it left off
  }
  REQUIRE(column(a, "body") == shown);
  // ~2000 keystrokes: relative edits of a few bytes each, not the peer id every time.
  const std::size_t history = a.changesSince(nullptr).size() - before;
  REQUIRE(history < 2000 * 6);
  store.take(a);  // (own events leave through changesSince once durable)
  syncFrom(b, a);
  REQUIRE(column(b, "body") == shown);
  REQUIRE(b.encodeState() == a.encodeState());
  Database c("carol");
  c.applyChanges(b.changesSince(nullptr));  // b's log: the same edits, relative again
  REQUIRE(column(c, "body") == shown);
  auto reopened = store.open(peer, {});
  REQUIRE(column(*reopened, "body") == shown);
  commitOps(*reopened, {ins("body", 0, ">")});  // the reopened log goes on from a full edit
  store.take(*reopened);
  syncFrom(c, *reopened);
  REQUIRE(column(c, "body") == ">" + shown);
  a.checkInvariants();
  b.checkInvariants();
  c.checkInvariants();
  reopened->checkInvariants();
}
