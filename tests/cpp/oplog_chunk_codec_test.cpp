// The chunked history encoding (oplog/chunk_codec.h): round trips through ChunkWriter and the
// decoder, run grouping, sizes, slicing, and every rule of the canonical form refused.
#include <catch2/catch.hpp>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/errors.h"
#include "merge/text_op.h"
#include "oplog/chunk_codec.h"
#include "oplog/frame.h"
#include "support/history.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

Op update(std::string key, std::string col, const Json& v) {
  return updateOp("users", std::move(key), Json{{std::move(col), v}});
}

// A chunk written byte by byte, for encodings ChunkWriter would never produce. This is the
// one place these tests spell out the layout of oplog/chunk_codec.h:
//   tables (peers, names, row keys), txn count, then per txn its head, [seq], [parents],
//   [op count], and ops: head (kind | table << 2), key index, [column count, (name, value)*].
struct RawChunk {
  std::vector<std::string> peers, names, keys;
  std::uint64_t txnCount = 1;
  ByteWriter body;

  void head(std::uint64_t peer, bool linear, bool continues, bool single) {
    body.varint((linear ? txnflag::kLinear : 0) | (continues ? txnflag::kContinues : 0) |
                (single ? txnflag::kSingle : 0) | (peer << txnflag::kBits));
  }
  void parents(std::initializer_list<std::pair<std::uint64_t, std::uint64_t>> ps) {
    body.varint(ps.size());
    for (auto [p, s] : ps) {
      body.varint(p);
      body.varint(s);
    }
  }
  void op(OpKind kind, std::uint64_t table, std::uint64_t key,
          std::initializer_list<std::pair<std::uint64_t, Bytes>> cols = {}) {
    body.varint(static_cast<std::uint64_t>(kind) | (table << 2));
    body.varint(key);
    if (kind == OpKind::DeleteRow) return;
    body.varint(cols.size());
    for (const auto& [name, value] : cols) {
      body.varint(name);
      body.raw(value);
    }
  }
  // A text edit in the full form (ext 6): one column, its value the named form.
  void textEdit(std::uint64_t table, std::uint64_t key, std::uint64_t column, const Bytes& named) {
    body.varint(table << 2);  // extended
    body.varint(6);
    body.varint(key);
    body.varint(1);
    body.varint(column);
    body.raw(named);
  }
  void writeChunk(ByteWriter& w) const {
    for (const auto* table : {&peers, &names, &keys}) {
      w.varint(table->size());
      for (const std::string& s : *table) w.string(s);
    }
    w.varint(txnCount);
    w.raw(body.bytes());
  }
  Bytes payload() const {
    ByteWriter w;
    w.varint(1);
    writeChunk(w);
    return w.take();
  }
  Bytes message() const { return encodeFrame(FrameKind::Changes, payload()); }
};

// A valid one-transaction chunk: peer "p" writes users/k c = 1 at seq 0.
RawChunk validRaw() {
  RawChunk c;
  c.peers = {"p"};
  c.names = {"users", "c"};
  c.keys = {"k"};
  c.head(0, false, false, true);
  c.body.varint(0);  // seq
  c.parents({});
  c.op(OpKind::SetRow, 0, 0, {{1, enc(1)}});
  return c;
}

void accepts(const RawChunk& c) {
  const Bytes p = c.payload();
  INFO(hexOf(p));
  REQUIRE_NOTHROW(decodeChangesPayload(p));
}

void rejects(const std::string& what, const Bytes& payload) {
  INFO(what << ": " << hexOf(payload));
  REQUIRE_THROWS_AS(decodeChangesPayload(payload), DecodeError);
}

void rejects(const std::string& what, const RawChunk& c) { rejects(what, c.payload()); }

std::vector<TxnRunView> runsOf(const Bytes& message) {
  return decodeChangesPayload(decodeFrame(message, FrameKind::Changes)).runs;
}

}  // namespace

TEST_CASE("changes round-trip, including linear runs and multi-parent merges", "[oplog]") {
  const std::vector<TxnRecord> txns = {
      {"p1", 0, {}, {setOp("users", "u1", {{"age", 30}, {"name", "Ann"}})}},
      {"p1", 1, {{"p1", 0}}, {update("u1", "age", 31), deleteOp("users", "u2")}},
      {"p2", 0, {{"p1", 0}}, {update("u1", "name", "Bo")}},
      {"p2", 1, {{"p1", 2}, {"p2", 0}}, {update("u1", "age", 1.5)}},
      {"p1", 3, {{"p1", 2}}, {setOp("other", "u1", {{"deep", {{"a", {1, 2, {{"b", nullptr}}}}}}})}},
      {"p1", 4, {{"p1", 3}}, {update("u1", "age", 32)}},
  };
  const Bytes bytes = encodeTxns(txns);
  REQUIRE(decodeMessage(bytes) == txns);
  // Several chunks, each with its own tables.
  const std::vector<Chunk> chunks = {{txns[0], txns[1]}, {txns[2]}, {txns[3], txns[4], txns[5]}};
  const Bytes multi = encodeMessage(chunks);
  REQUIRE(decodeChunks(multi) == chunks);
  REQUIRE(decodeMessage(multi) == txns);
  // An empty message has no chunks.
  REQUIRE(decodeMessage(encodeMessage({})).empty());
}

TEST_CASE("a peer's consecutive linear transactions form one run", "[oplog]") {
  const Op op = update("k", "c", 1);
  const Op op2 = deleteOp("users", "j");
  std::vector<TxnRecord> txns = {
      {"a", 0, {}, {op}},         {"a", 1, {{"a", 0}}, {op, op2}},
      {"a", 3, {{"a", 2}}, {op}}, {"b", 0, {{"a", 3}}, {op}},
      {"a", 4, {{"a", 3}}, {op}}, {"a", 5, {{"a", 4}, {"b", 0}}, {op}},
      {"a", 6, {{"a", 5}}, {op}},
  };
  std::vector<TxnRunView> runs = runsOf(encodeTxns(txns));
  // a:0..3 (three txns; a:0 is a root), b:0, a:4 (continues, but after b's run: a new run),
  // a:5 with two parents starts a run that a:6 extends.
  REQUIRE(runs.size() == 4);
  REQUIRE(runs[0].seq == 0);
  REQUIRE(runs[0].events == 4);
  REQUIRE(runs[0].txnCount == 3);
  REQUIRE_FALSE(runs[0].linear);
  REQUIRE(runs[0].parentCount == 0);
  REQUIRE(runs[1].seq == 0);
  REQUIRE(runs[1].events == 1);
  REQUIRE(runs[1].parentCount == 1);
  REQUIRE(runs[2].seq == 4);
  REQUIRE(runs[2].events == 1);
  REQUIRE(runs[2].linear);
  REQUIRE(runs[3].seq == 5);
  REQUIRE(runs[3].events == 2);
  REQUIRE(runs[3].txnCount == 2);
  REQUIRE(runs[3].parentCount == 2);
  REQUIRE_FALSE(runs[3].linear);
  REQUIRE(runs[0].peer == runs[2].peer);
  REQUIRE(runs[0].peer != runs[1].peer);
  REQUIRE(runs[0].end <= runs[1].begin);
}

TEST_CASE("a single-column update is small", "[oplog]") {
  const std::string peer = "0123456789abcdef";
  const Bytes one = encodeTxns({{peer, 41, {{peer, 40}}, {update("user_1", "age", 31)}}});
  // frame 14 + peer 18 + names 11 + key 8 + counts 3 + header 2 + op 5: most of it the ids.
  REQUIRE(one.size() < 64);
  // Each further transaction of the same peer in the chunk adds a few bytes only: a head byte
  // (linear, continues, single) and the op, whose key and names are table indexes.
  std::vector<TxnRecord> many;
  for (Seq s = 0; s < 100; ++s) {
    std::vector<std::pair<std::string, Seq>> parents;
    if (s > 0) parents.emplace_back(peer, s - 1);
    many.push_back({peer, s, parents, {update("user_1", "age", 31)}});
  }
  const Bytes batch = encodeTxns(many);
  REQUIRE(batch.size() < one.size() + 99 * 7);
  REQUIRE(runsOf(batch).size() == 1);
}

TEST_CASE("the canonical form: one encoding per history", "[oplog]") {
  accepts(validRaw());
  {
    RawChunk c = validRaw();  // p:0 then p:1 with explicit parents [(p, 0)]
    c.txnCount = 2;
    c.head(0, false, true, true);
    c.parents({{0, 0}});
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("explicit parents equal to the linear case", c);
  }
  {
    RawChunk c = validRaw();  // p:1 linear, its seq spelled out although it continues p:0
    c.txnCount = 2;
    c.head(0, true, false, true);
    c.body.varint(1);
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("explicit seq equal to the continues case", c);
  }
  {
    RawChunk c = validRaw();
    c.txnCount = 2;
    c.head(0, true, true, true);
    c.op(OpKind::DeleteRow, 0, 0);
    accepts(c);  // the canonical spelling of the same
  }
  {
    RawChunk c = validRaw();  // one op without the single flag
    c.body = ByteWriter();
    c.head(0, false, false, false);
    c.body.varint(0);
    c.parents({});
    c.body.varint(1);
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("an op count of 1 without the single flag", c);
  }
  {
    RawChunk c = validRaw();  // zero ops
    c.body = ByteWriter();
    c.head(0, false, false, false);
    c.body.varint(0);
    c.parents({});
    c.body.varint(0);
    rejects("a transaction without operations", c);
  }
  {
    RawChunk c = validRaw();  // head 0x04 spelled in two bytes
    c.body = ByteWriter();
    c.body.u8(0x84);
    c.body.u8(0x00);
    c.body.varint(0);
    c.parents({});
    c.op(OpKind::SetRow, 0, 0, {{1, enc(1)}});
    rejects("a non-minimal varint", c);
  }
  {
    RawChunk c;  // two parents out of order, then duplicated
    c.peers = {"a", "b", "c"};
    c.names = {"t"};
    c.keys = {"k"};
    c.txnCount = 1;
    c.head(2, false, false, true);
    c.body.varint(0);
    c.parents({{1, 0}, {0, 0}});
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("parents not sorted by peer id", c);
    RawChunk d = c;
    d.body = ByteWriter();
    d.head(2, false, false, true);
    d.body.varint(0);
    d.parents({{0, 0}, {0, 0}});
    d.op(OpKind::DeleteRow, 0, 0);
    rejects("duplicate parents", d);
    RawChunk e = c;  // sorted by peer id bytes, not by table index
    e.peers = {"b", "a", "c"};
    accepts(e);
  }
  {
    RawChunk c = validRaw();  // columns out of order
    c.names = {"users", "a", "b"};
    c.body = ByteWriter();
    c.head(0, false, false, true);
    c.body.varint(0);
    c.parents({});
    c.op(OpKind::SetRow, 0, 0, {{2, enc(1)}, {1, enc(2)}});
    rejects("columns out of order", c);
    RawChunk d = c;
    d.body = ByteWriter();
    d.head(0, false, false, true);
    d.body.varint(0);
    d.parents({});
    d.op(OpKind::SetRow, 0, 0, {{1, enc(1)}, {1, enc(2)}});
    rejects("a column named twice", d);
  }
  auto withValue = [](const Bytes& value) {
    RawChunk c = validRaw();
    c.body = ByteWriter();
    c.head(0, false, false, true);
    c.body.varint(0);
    c.parents({});
    c.op(OpKind::SetRow, 0, 0, {{1, value}});
    return c;
  };
  accepts(withValue(enc({{"a", 1}, {"b", 2}})));
  rejects("object keys out of order", withValue({tag::kObject, 2, 1, 'b', 0, 1, 'a', 0}));
  rejects("a short string with the long tag", withValue({tag::kString, 1, 'x'}));
  rejects("a small integer with the long tag", withValue({tag::kInt, 2}));
  rejects("a truncated value", withValue({0x45, 'a'}));
}

TEST_CASE("changes decoding rejects structural violations", "[oplog]") {
  {
    RawChunk c = validRaw();
    c.peers = {"p", "p"};
    rejects("duplicate peer ids", c);
    c.peers = {""};
    rejects("an empty peer id", c);
    c.peers = {std::string(kMaxPeerIdBytes + 1, 'p')};
    rejects("a peer id too long", c);
    c.peers = {"\xff"};
    rejects("a peer id not UTF-8", c);
  }
  {
    RawChunk c = validRaw();
    c.names = {"users", "users"};
    rejects("duplicate names", c);
    c.names = {"", "c"};
    rejects("an empty table name", c);
    RawChunk d = validRaw();
    d.keys = {"k", "k"};
    rejects("duplicate row keys", d);
    // Duplicates far apart in a long table, under any seed of the duplicate check.
    d.keys.clear();
    for (int i = 0; i < 1000; ++i) d.keys.push_back("k" + std::to_string(i));
    d.keys.push_back("k0");
    rejects("duplicate row keys far apart", d);
    REQUIRE_THROWS_AS(decodeChangesPayload(d.payload(), 12345), DecodeError);
    d.keys.pop_back();
    REQUIRE_NOTHROW(decodeChangesPayload(d.payload(), 12345));
    d.keys = {""};
    rejects("an empty row key", d);
    d.keys = {"k\xc3"};
    rejects("a row key not UTF-8", d);
  }
  {
    RawChunk c = validRaw();
    c.txnCount = 0;
    rejects("transactions past the count (trailing bytes)", c);
    RawChunk d = validRaw();
    d.body = ByteWriter();
    d.txnCount = 0;
    rejects("a chunk without transactions", d);
    RawChunk e = validRaw();
    e.txnCount = 2;
    rejects("fewer transactions than counted", e);
  }
  auto single = [](std::uint64_t peerIdx, std::uint64_t table, std::uint64_t key,
                   std::uint64_t column, OpKind kind = OpKind::SetRow) {
    RawChunk c = validRaw();
    c.body = ByteWriter();
    c.head(peerIdx, false, false, true);
    c.body.varint(0);
    c.parents({});
    if (kind == OpKind::SetRow) {
      c.op(kind, table, key, {{column, enc(1)}});
    } else {
      c.op(kind, table, key);
    }
    return c;
  };
  accepts(single(0, 0, 0, 1));
  rejects("peer index out of range", single(1, 0, 0, 1));
  rejects("table index out of range", single(0, 2, 0, 1));
  rejects("row key index out of range", single(0, 0, 1, 1));
  rejects("column name index out of range", single(0, 0, 0, 2));
  rejects("unknown op kind", single(0, 0, 0, 1, OpKind{0}));
  {
    RawChunk c = validRaw();  // linear at seq 0
    c.body = ByteWriter();
    c.head(0, true, false, true);
    c.body.varint(0);
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("a linear transaction at seq 0", c);
  }
  {
    RawChunk c = validRaw();  // continues with nothing before
    c.body = ByteWriter();
    c.head(0, true, true, true);
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("continues at the start of a chunk", c);
  }
  {
    RawChunk c = validRaw();  // seq 5 without parents
    c.body = ByteWriter();
    c.head(0, false, false, true);
    c.body.varint(5);
    c.parents({});
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("seq > 0 without parents", c);
  }
  {
    RawChunk c = validRaw();  // p:5 names p:7 as its parent
    c.peers = {"p", "q"};
    c.body = ByteWriter();
    c.head(0, false, false, true);
    c.body.varint(5);
    c.parents({{0, 7}, {1, 0}});
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("a parent that is not an earlier event of the same peer", c);
  }
  {
    RawChunk c = validRaw();  // p:0 then p:0 again
    c.txnCount = 2;
    c.head(0, false, false, true);
    c.body.varint(0);
    c.parents({});
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("a peer's transactions going back", c);
  }
  {
    RawChunk c = validRaw();  // seq at 2^53
    c.body = ByteWriter();
    c.head(0, false, false, true);
    c.body.varint(kMaxClock);
    c.parents({{0, kMaxClock - 1}});
    c.op(OpKind::DeleteRow, 0, 0);
    rejects("seq out of range", c);
    RawChunk d = validRaw();  // the second op's seq would be 2^53
    d.body = ByteWriter();
    d.head(0, false, false, false);
    d.body.varint(kMaxClock - 1);
    d.parents({{0, kMaxClock - 2}});
    d.body.varint(2);
    d.op(OpKind::DeleteRow, 0, 0);
    d.op(OpKind::DeleteRow, 0, 0);
    rejects("seq + op count past 2^53", d);
  }
  {
    Bytes p = validRaw().payload();
    p.push_back(0);
    rejects("a trailing byte", p);
    Bytes two = validRaw().payload();
    two[0] = 2;
    rejects("a chunk count past the chunks", two);
    rejects("an empty payload", Bytes{});
    REQUIRE(decodeChangesPayload(Bytes{0}).runs.empty());  // no chunks at all: fine
  }
}

TEST_CASE("sliceChunk keeps chosen transactions and stays canonical", "[oplog]") {
  const Op op = update("k", "c", 1);
  const std::vector<TxnRecord> txns = {
      {"a", 0, {}, {op}},         {"a", 1, {{"a", 0}}, {op, op}},       {"b", 0, {{"a", 2}}, {op}},
      {"a", 3, {{"a", 2}}, {op}}, {"b", 1, {{"a", 3}, {"b", 0}}, {op}},
  };
  const Bytes msg = encodeTxns(txns);
  const ByteSpan payload = decodeFrame(msg, FrameKind::Changes);
  ByteReader r(payload);
  r.varint();  // chunk count
  const ByteSpan chunk = r.rest();
  auto slice = [&](const std::function<bool(std::string_view, Seq, Seq)>& keep) {
    ByteWriter out;
    out.varint(1);
    const std::size_t kept = sliceChunk(chunk, keep, out);
    return std::make_pair(kept, encodeFrame(FrameKind::Changes, out.bytes()));
  };
  // Everything: the same chunk.
  auto [all, allMsg] = slice([](std::string_view, Seq, Seq) { return true; });
  REQUIRE(all == 5);
  REQUIRE(allMsg == msg);
  // Only a's transactions from seq 1 on: a:1 no longer continues anything in the slice.
  auto [some, someMsg] =
      slice([](std::string_view p, Seq, Seq end) { return p == "a" && end > 1; });
  REQUIRE(some == 2);
  REQUIRE(decodeMessage(someMsg) == std::vector<TxnRecord>{txns[1], txns[3]});
  // By end seq, as changesSince does: whatever the holder of {a: 3, b: 1} lacks.
  auto [lack, lackMsg] =
      slice([](std::string_view p, Seq, Seq end) { return end > (p == "a" ? 3u : 1u); });
  REQUIRE(lack == 2);
  REQUIRE(decodeMessage(lackMsg) == std::vector<TxnRecord>{txns[3], txns[4]});
  // Nothing: nothing written.
  ByteWriter none;
  REQUIRE(sliceChunk(
              chunk, [](std::string_view, Seq, Seq) { return false; }, none) == 0);
  REQUIRE(none.size() == 0);
}

TEST_CASE("validValueSize measures one encoded value", "[oplog]") {
  for (const Json& v :
       {Json(nullptr), Json(5), Json(500), Json(0.5), Json("s"), Json(std::string(70, 'x')),
        Json::array(), Json::object(), Json::parse(R"({"a":[1,{"b":[[],{}]}],"c":"d"})")}) {
    Bytes b = enc(v);
    const std::size_t size = b.size();
    b.insert(b.end(), {0x01, 0x02, 0x03});
    REQUIRE(validValueSize(b) == size);
  }
}

// Under the per-peer chain rule a redundant parent is an ancestor of another parent: accepting
// one would give a history several byte strings (and replicas would re-send the extra parent).
TEST_CASE("redundant explicit parents are not the canonical encoding", "[oplog]") {
  auto w = [](const std::string& key, int v) { return setOp("t", key, {{"v", v}}); };
  const TxnRecord a0{"a", 0, {}, {w("x", 0)}}, a1{"a", 1, {{"a", 0}}, {w("x", 1)}};
  const TxnRecord b0{"b", 0, {{"a", 1}}, {w("y", 2)}};
  auto refused = [](const std::vector<TxnRecord>& txns) {
    REQUIRE_THROWS_AS(decodeChangesPayload(decodeFrame(encodeTxns(txns), FrameKind::Changes)),
                      DecodeError);
  };
  REQUIRE_NOTHROW(decodeChangesPayload(decodeFrame(encodeTxns({a0, a1, b0}), FrameKind::Changes)));
  SECTION("two parents of one peer") {
    refused({a0, a1, {"b", 0, {{"a", 0}, {"a", 1}}, {w("y", 2)}}});
  }
  SECTION("an own-peer parent other than seq - 1") {
    // a:2 names a:0 and b:0; b:0 has a:1 in its past.
    refused({a0, a1, b0, {"a", 2, {{"a", 0}, {"b", 0}}, {w("x", 3)}}});
    REQUIRE_NOTHROW(decodeChangesPayload(decodeFrame(
        encodeTxns({a0, a1, b0, {"a", 2, {{"b", 0}}, {w("x", 3)}}}), FrameKind::Changes)));
  }
}

namespace {

// The named form of a text edit (merge/text_op.h) of the text `creator` made at `seq`.
Bytes namedEdit(std::string_view creator, Seq seq, std::uint32_t pos, std::string_view insert,
                std::uint32_t len = 0) {
  TextEditValue e;
  e.pos = pos;
  e.insert = !insert.empty();
  e.content = insert;
  e.len = len;
  ByteWriter w;
  writeTextEdit(creator, seq, e, w);
  return w.take();
}
Op textOp(const std::string& key, const std::string& col, Bytes value) {
  return Op{OpKind::TextEdit, "docs", key, {{col, std::move(value)}}};
}
std::vector<std::pair<std::string, Seq>> after(const std::string& peer, Seq seq) {
  if (seq == 0) return {};
  return {{peer, seq - 1}};
}

}  // namespace

TEST_CASE("a run's text edits after its first are relative: a keystroke costs a few bytes",
          "[oplog][text]") {
  const std::string creator(40, 'c');  // a long peer id: the full form repeats it
  std::vector<TxnRecord> txns;
  Seq seq = 0;
  auto add = [&](std::vector<Op> ops) {
    txns.push_back({"a", seq, after("a", seq), std::move(ops)});
    ++seq;
  };
  std::uint32_t pos = 0;
  for (int i = 0; i < 150; ++i) {
    // Typing forwards, a Backspace now and then, a jump back, a two-unit character.
    if (i % 17 == 16) {
      add({textOp("d", "body", namedEdit(creator, 7, pos - 1, "", 1))});
      --pos;
    } else if (i % 40 == 39) {
      pos /= 2;
      add({textOp("d", "body", namedEdit(creator, 7, pos, "x"))});
      ++pos;
    } else {
      add({textOp("d", "body",
                  namedEdit(creator, 7, pos, i % 23 == 0 ? "\xF0\x9F\x98\x80" : "e"))});
      pos += i % 23 == 0 ? 2 : 1;
    }
  }
  const Bytes bytes = encodeTxns(txns);
  REQUIRE(decodeMessage(bytes) == txns);  // read back in full
  REQUIRE(runsOf(bytes).size() == 1);
  // One chunk per keystroke (nothing to be relative to) is the full form each time.
  std::vector<Chunk> alone;
  for (const TxnRecord& t : txns) alone.push_back({t});
  const Bytes full = encodeMessage(alone);
  REQUIRE(decodeMessage(full) == txns);
  REQUIRE(full.size() > txns.size() * 45);
  REQUIRE(bytes.size() < 200 + txns.size() * 6);

  // Another text (creator, seq, column or row) in the run is written in full; so is an edit
  // after another peer's transaction; ops of other kinds between keep the context.
  const std::vector<TxnRecord> mixed = {
      {"a", 0, {}, {textOp("d", "body", namedEdit(creator, 7, 0, "ab"))}},
      {"a",
       1,
       {{"a", 0}},
       {update("k", "c", 1), textOp("d", "body", namedEdit(creator, 7, 2, "c"))}},
      {"a", 3, {{"a", 2}}, {textOp("d", "body", namedEdit(creator, 8, 2, "c"))}},
      {"a", 4, {{"a", 3}}, {textOp("d", "title", namedEdit(creator, 8, 0, "t"))}},
      {"a", 5, {{"a", 4}}, {textOp("e", "title", namedEdit(creator, 8, 1, "", 1))}},
      {"a", 6, {{"a", 5}}, {textOp("e", "title", namedEdit("b", 8, 1, "u"))}},
      {"b", 0, {{"a", 6}}, {textOp("e", "title", namedEdit("b", 8, 2, "v"))}},
      {"a", 7, {{"a", 6}}, {textOp("e", "title", namedEdit("b", 8, 3, "w"))}},
      {"a", 8, {{"a", 7}, {"b", 0}}, {textOp("e", "title", namedEdit("b", 8, 4, "y"))}},
  };
  REQUIRE(decodeMessage(encodeTxns(mixed)) == mixed);
}

TEST_CASE("relative text edits: the decoder checks their context and ranges", "[oplog][text]") {
  // p:0 inserts "ab" at 0 in the text c:5 (users/k column "c"), then p:1 is `rel`.
  auto chunk = [](const std::function<void(ByteWriter&)>& rel, bool otherPeerBetween = false,
                  bool firstRelative = false) {
    RawChunk c;
    c.peers = {"p", "q"};
    c.names = {"users", "c"};
    c.keys = {"k"};
    c.txnCount = otherPeerBetween ? 3 : 2;
    c.head(0, false, false, true);
    c.body.varint(0);  // seq
    c.parents({});
    if (firstRelative) {
      rel(c.body);
    } else {
      c.textEdit(0, 0, 1, namedEdit("q", 5, 0, "ab"));
    }
    if (otherPeerBetween) {
      c.head(1, false, false, true);
      c.body.varint(0);
      c.parents({{0, 0}});
      c.op(OpKind::DeleteRow, 0, 0);
    }
    c.head(0, true, true, true);
    rel(c.body);
    return c;
  };
  // The body of a relative edit: x = zigzag(delta) << 2 | mode, then the mode's payload.
  auto relative = [](std::int64_t delta, std::uint64_t mode,
                     const std::function<void(ByteWriter&)>& payload) {
    return [=](ByteWriter& b) {
      b.varint(0);
      b.varint(7);
      const auto z =
          (static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63);
      b.varint(z << 2 | mode);
      payload(b);
    };
  };
  auto nothing = [](ByteWriter&) {};
  auto bytes = [](std::string_view s) {
    return [=](ByteWriter& b) {
      b.raw(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
    };
  };
  auto string = [](std::string_view s) { return [=](ByteWriter& b) { b.string(s); }; };
  auto number = [](std::uint64_t n) { return [=](ByteWriter& b) { b.varint(n); }; };
  auto readBack = [&](const std::function<void(ByteWriter&)>& rel) {
    const auto txns = decodeMessage(chunk(rel).message());
    REQUIRE(txns.size() == 2);
    return txns[1].ops[0].columns[0].second;
  };
  // Each mode, after "ab" inserted at 0 (the cursor is 2).
  REQUIRE(readBack(relative(-2, 0, number(2))) == namedEdit("q", 5, 0, "", 2));
  REQUIRE(readBack(relative(-1, 1, nothing)) == namedEdit("q", 5, 1, "", 1));
  REQUIRE(readBack(relative(0, 2, string("c\xc3\xa9"))) == namedEdit("q", 5, 2, "c\xc3\xa9"));
  REQUIRE(readBack(relative(-1, 3, bytes("\xf0\x9f\x98\x80"))) ==
          namedEdit("q", 5, 1, "\xf0\x9f\x98\x80"));
  REQUIRE(readBack(relative(0, 3, bytes("c"))) == namedEdit("q", 5, 2, "c"));
  const auto c = relative(0, 3, bytes("c"));
  rejects("a relative edit first in its run", chunk(c, false, true));
  rejects("a relative edit after another peer's transaction", chunk(c, true));
  rejects("a relative edit with a table index", chunk([](ByteWriter& b) {
            b.varint(4);
            b.varint(7);
            b.varint(3);
            b.u8('c');
          }));
  rejects("an empty relative insert", chunk(relative(0, 2, string(""))));
  rejects("one character written as a string", chunk(relative(0, 2, string("c"))));
  rejects("a delete of one written with its length", chunk(relative(0, 0, number(1))));
  rejects("a relative delete of nothing", chunk(relative(0, 0, number(0))));
  rejects("a relative position before the start", chunk(relative(-3, 3, bytes("c"))));
  rejects("a relative position past the limit",
          chunk(relative(static_cast<std::int64_t>(kMaxEvents), 3, bytes("c"))));
  rejects("a relative insert that is not UTF-8", chunk(relative(0, 2, string("c\xff"))));
  rejects("a character with no lead byte", chunk(relative(0, 3, bytes("\x80"))));
  rejects("a character cut short", chunk(relative(0, 3, bytes("\xf0\x9f"))));
  rejects("a character that is not UTF-8", chunk(relative(0, 3, bytes("\xc3\x41"))));
  rejects("an unknown extended kind", chunk([](ByteWriter& b) {
            b.varint(0);
            b.varint(9);
          }));

  // The indexed form (ext 8): table, key, column, creator and seq by index, then x = pos << 2
  // | mode and the payload. (Peer 1 is "q", which created the text at seq 5.)
  auto indexed = [](std::uint64_t table, std::uint64_t key, std::uint64_t column,
                    std::uint64_t creator, std::uint64_t seq, std::uint64_t x,
                    std::string_view payload) {
    return [=](ByteWriter& b) {
      b.varint(table << 2);
      b.varint(8);
      b.varint(key);
      b.varint(column);
      b.varint(creator);
      b.varint(seq);
      b.varint(x);
      b.raw(ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
    };
  };
  REQUIRE(readBack(indexed(0, 0, 1, 1, 5, 1 << 2 | 3, "c")) == namedEdit("q", 5, 1, "c"));
  REQUIRE(readBack(indexed(0, 0, 1, 0, 9, 2 << 2 | 1, "")) == namedEdit("p", 9, 2, "", 1));
  // An indexed edit sets the context of the relative ones after it (in the next txn here).
  {
    RawChunk r = chunk(indexed(0, 0, 1, 1, 5, 2 << 2 | 3, "c"));
    r.txnCount = 3;
    r.head(0, true, true, true);
    relative(-1, 3, bytes("d"))(r.body);
    const auto txns = decodeMessage(r.message());
    REQUIRE(txns.size() == 3);
    REQUIRE(txns[2].ops[0].columns[0].second == namedEdit("q", 5, 2, "d"));
  }
  rejects("an indexed edit's table out of range", chunk(indexed(2, 0, 1, 1, 5, 3, "c")));
  rejects("an indexed edit's key out of range", chunk(indexed(0, 1, 1, 1, 5, 3, "c")));
  rejects("an indexed edit's column out of range", chunk(indexed(0, 0, 2, 1, 5, 3, "c")));
  rejects("an indexed edit's creator out of range", chunk(indexed(0, 0, 1, 2, 5, 3, "c")));
  rejects("an indexed edit's creator seq out of range",
          chunk(indexed(0, 0, 1, 1, kMaxClock, 3, "c")));
  rejects("an indexed edit's position out of range",
          chunk(indexed(0, 0, 1, 1, 5, (std::uint64_t{kMaxEvents} + 1) << 2 | 3, "c")));
  rejects("an indexed insert of one character as a string",
          chunk(indexed(0, 0, 1, 1, 5, 2, "\x01c")));
  rejects("an indexed delete of one with its length", chunk(indexed(0, 0, 1, 1, 5, 0, "\x01")));
}

TEST_CASE("a relative insert is held to the full form's string size limit", "[oplog][text]") {
  // Accepted here, it would be written in full by a later writer (a slice, another replica's
  // log) and refused there: the history could no longer be sent.
  RawChunk c;
  c.peers = {"p"};
  c.names = {"users", "c"};
  c.keys = {"k"};
  c.txnCount = 2;
  c.head(0, false, false, true);
  c.body.varint(0);  // seq
  c.parents({});
  c.textEdit(0, 0, 1, namedEdit("p", 0, 0, "ab"));
  c.head(0, true, true, true);
  c.body.varint(0);
  c.body.varint(7);
  c.body.varint(2);  // insert at the cursor, a string follows
  const std::size_t n = kMaxStringBytes + 1;
  c.body.varint(n);
  Bytes payload = c.payload();
  payload.resize(payload.size() + n, 'a');  // (the chunk ends the payload)
  REQUIRE_THROWS_AS(decodeChangesPayload(payload), DecodeError);
}

TEST_CASE("sliceChunk writes in full a relative text edit whose context it drops",
          "[oplog][text]") {
  const std::vector<TxnRecord> txns = {
      {"a", 0, {}, {textOp("d", "body", namedEdit("a", 0, 0, "x"))}},
      {"a", 1, {{"a", 0}}, {textOp("d", "body", namedEdit("a", 0, 1, "y"))}},
      {"a", 2, {{"a", 1}}, {update("k", "c", 2)}},
      {"a", 3, {{"a", 2}}, {textOp("d", "body", namedEdit("a", 0, 2, "z"))}},
      {"b", 0, {{"a", 3}}, {update("k", "c", 3)}},
      {"a", 4, {{"a", 3}}, {textOp("d", "body", namedEdit("a", 0, 3, "w"))}},
      {"a", 5, {{"a", 4}}, {textOp("d", "body", namedEdit("a", 0, 4, "v"))}},
  };
  const Bytes msg = encodeTxns(txns);
  const ByteSpan payload = decodeFrame(msg, FrameKind::Changes);
  ByteReader r(payload);
  r.varint();
  const ByteSpan chunk = r.rest();
  auto slice = [&](const std::function<bool(std::string_view, Seq, Seq)>& keep) {
    ByteWriter out;
    out.varint(1);
    sliceChunk(chunk, keep, out);
    return decodeMessage(encodeFrame(FrameKind::Changes, out.bytes()));
  };
  auto from = [&](std::size_t i) { return std::vector<TxnRecord>(txns.begin() + i, txns.end()); };
  // Every suffix of a's history (b's txn kept): each reads back as it was written.
  for (Seq s = 0; s <= 5; ++s) {
    INFO("a from " << s);
    std::vector<TxnRecord> want;
    for (const TxnRecord& t : txns) {
      if (t.peer == "b" || t.seq >= s) want.push_back(t);
    }
    REQUIRE(slice([&](std::string_view p, Seq, Seq end) { return p == "b" || end > s; }) == want);
  }
  // Without b's txn, a:4 joins a:3's run in the slice.
  REQUIRE(slice([](std::string_view p, Seq, Seq) { return p == "a"; }) ==
          std::vector<TxnRecord>{txns[0], txns[1], txns[2], txns[3], txns[5], txns[6]});
  REQUIRE(slice([](std::string_view, Seq, Seq) { return true; }) == from(0));
}

TEST_CASE("a rolled-back text edit leaves the writer's run context as it was", "[oplog][text]") {
  ChunkWriter w;
  const std::uint32_t p = w.peer("a"), table = w.name("docs"), key = w.key("d"),
                      col = w.name("body");
  w.beginTxn(p, 0, false, {}, 1);
  w.textEdit(table, key, col, namedEdit("a", 0, 0, "ab"));
  const ChunkWriter::Mark m = w.mark();
  w.beginTxn(p, 1, true, {}, 1);
  w.textEdit(table, key, col, namedEdit("a", 0, 2, "cd"));  // cursor 4
  w.rollback(m);
  w.beginTxn(p, 1, true, {}, 1);
  w.textEdit(table, key, col, namedEdit("a", 0, 2, "x"));  // relative to cursor 2
  ByteWriter out;
  out.varint(1);
  w.writeTo(out);
  const auto txns = decodeMessage(encodeFrame(FrameKind::Changes, out.bytes()));
  REQUIRE(txns.size() == 2);
  REQUIRE(txns[1].ops[0] == textOp("d", "body", namedEdit("a", 0, 2, "x")));
}

TEST_CASE("a keystroke sent alone names its author once", "[oplog][text]") {
  // The text's creator is the author: the edit names it by the chunk's peer index.
  const std::string peer(36, 'a');
  ChunkWriter w;
  w.beginTxn(w.peer(peer), 40, true, {}, 1);
  w.textEdit(w.name("docs"), w.key("d"), w.name("body"), namedEdit(peer, 3, 17, "x"));
  ByteWriter out;
  out.varint(1);
  w.writeTo(out);
  const Bytes msg = encodeFrame(FrameKind::Changes, out.bytes());
  const std::string text(msg.begin(), msg.end());
  REQUIRE(text.find(peer) != std::string::npos);
  REQUIRE(text.find(peer, text.find(peer) + 1) == std::string::npos);
  REQUIRE(decodeMessage(msg)[0].ops[0] == textOp("d", "body", namedEdit(peer, 3, 17, "x")));
  // Another creator, not in the table of a one-call chunk: the full form (its id inside).
  ChunkWriter v;
  v.beginTxn(v.peer(peer), 40, true, {}, 1);
  v.textEdit(v.name("docs"), v.key("d"), v.name("body"), namedEdit("carol", 3, 17, "x"));
  ByteWriter out2;
  out2.varint(1);
  v.writeTo(out2);
  const Bytes msg2 = encodeFrame(FrameKind::Changes, out2.bytes());
  REQUIRE(decodeMessage(msg2)[0].ops[0] == textOp("d", "body", namedEdit("carol", 3, 17, "x")));
}
