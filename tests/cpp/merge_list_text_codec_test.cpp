// Text histories as bytes (snapshots, storage): a column encoded on one replica and decoded on
// another (different LVs) equals the original and the FugueMax oracle; decoding into a column
// that holds part of the history joins them; malformed bytes are DecodeErrors that change
// nothing.
#include <catch2/catch.hpp>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "merge/list/text_codec.h"
#include "support/error_of.h"
#include "support/text_world.h"

using namespace crdtdb;
using namespace crdtdb::testing::text;

namespace {

Bytes encodeOf(const Replica& r) {
  ByteWriter w;
  list::encodeText(
      r.col,
      [&](LV lv) {
        const Stamp s = r.graph.stampOf(lv);
        return list::EventName{s.peer, s.seq};
      },
      w);
  return w.take();
}

// Reads `bytes` (peer indexes of `from`) into `to`'s graph terms.
void decodeFor(const Replica& from, Replica& to, ByteSpan bytes, list::DecodedText& out) {
  ByteReader r(bytes);
  list::decodeText(
      r,
      [&](std::uint32_t peer, Seq seq) -> LV {
        if (peer >= from.peers.size()) throw DecodeError("unknown peer");
        const auto p = to.peers.find(from.peers.name(peer));
        const auto lv = p ? to.graph.lvOf(*p, seq) : std::nullopt;
        if (!lv) throw DecodeError("unknown event");
        return *lv;
      },
      out);
  if (!r.atEnd()) throw DecodeError("trailing bytes");
}

// Parents of event `lv` in `col`: the latest of its column events in the event's past.
std::vector<LV> parentsIn(Replica& r, const list::TextColumn& col, LV lv) {
  const VV vv = r.graph.vvOfParents(r.graph.parentsOf(lv));
  return col.parentsFor([&](LV x) {
    const Stamp s = r.graph.stampOf(x);
    return s.seq < r.graph.vvGet(vv, s.peer);
  });
}

// How addDecoded sees `r`'s graph, with `fresh` saying which events the column lacks.
list::DecodedGraph graphOf(Replica& r, std::function<bool(LV)> fresh) {
  return {std::move(fresh),
          [&r](const list::TextColumn& col, LV lv) { return parentsIn(r, col, lv); },
          [&r](LV lv) { return r.graph.followsPrevious(lv); }};
}

// `to` takes the events of `from` it lacks into its graph only (as a snapshot's graph join
// does before its rows), and returns which it lacked.
std::vector<bool> graphOnly(const World& w, const Replica& from, Replica& to) {
  std::vector<bool> lacked(w.events.size(), false);
  for (int e : from.order) {
    if (e < static_cast<int>(to.has.size()) && to.has[e]) continue;
    const LV lv = to.graph.append(to.peers.intern(w.events[e].peer), w.seq[e],
                                  to.parentLvs(w.events[e].parents), 1);
    lacked[e] = true;
    to.record(e, lv, w.events[e].parents);
  }
  return lacked;
}

// Random replicas of one column; returns the world with every replica fully merged or not.
void play(std::uint64_t seed, World& w, std::vector<Replica>& reps, int steps) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < reps.size(); ++i) {
    reps[i].name = std::string("peer-") + static_cast<char>('a' + (i * 5 + seed) % 26);
  }
  for (int step = 0; step < steps; ++step) {
    Replica& r = reps[rng() % reps.size()];
    if (rng() % 4 == 0) {
      const Replica& from = reps[rng() % reps.size()];
      if (&from != &r) merge(w, from, r, rng() % (from.order.size() + 1), rng);
    } else {
      localEdit(w, r, rng);
    }
  }
}

}  // namespace

TEST_CASE("text codec: WTF-8 carries every unit sequence and only the canonical form") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::u16string units;
    for (std::size_t n = rng() % 12; n-- > 0;) {
      const int kind = static_cast<int>(rng() % 6);
      if (kind == 0) units.push_back(static_cast<char16_t>(0xd800 + rng() % 0x800));  // lone
      if (kind == 1) units += u"\U0001F600";
      if (kind == 2) units.push_back(static_cast<char16_t>(0x80 + rng() % 0x780));
      if (kind >= 3) units.push_back(static_cast<char16_t>(rng() % 0x10000));
    }
    std::string bytes;
    list::appendWtf8(units, bytes);
    std::u16string back;
    list::decodeWtf8(bytes, back);
    REQUIRE(back == units);
  }
  auto rejects = [](std::string bytes) {
    std::u16string out;
    return testing::errorOf([&] { list::decodeWtf8(bytes, out); }) == ErrorCode::Decode;
  };
  CHECK(rejects("\xc0\x80"));                  // overlong NUL
  CHECK(rejects("\xe0\x80\x80"));              // overlong
  CHECK(rejects("\xed\xa0\xbd\xed\xb8\x80"));  // a pair as two surrogates
  CHECK(rejects("\x80"));                      // stray continuation
  CHECK(rejects("\xf0\x9f\x98"));              // truncated
  CHECK(rejects("\xf4\x90\x80\x80"));          // past U+10FFFF
  CHECK(rejects("\xff"));
  std::u16string lone;
  list::decodeWtf8("\xed\xa0\xbd", lone);  // a lone high surrogate is fine
  CHECK(lone == u"\xd83d");
}

TEST_CASE("text codec: a history read back on another replica equals the original") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    World w;
    std::vector<Replica> reps(3);
    play(seed, w, reps, 120);
    for (Replica& r : reps) {
      INFO("seed " << seed << " replica " << r.name);
      const Bytes bytes = encodeOf(r);
      // Another replica whose graph holds the same events under other LVs.
      Replica other;
      other.name = "reader";
      graphOnly(w, r, other);
      list::DecodedText decoded;
      decodeFor(r, other, bytes, decoded);
      list::addDecoded(other.col, decoded, graphOf(other, [](LV) { return true; }),
                       other.authorLess());
      REQUIRE(show(other.col.text().str()) == show(r.col.text().str()));
      REQUIRE(other.col.text().str() == oracleFor(w, r));
      other.col.checkInvariants();
    }
  }
}

TEST_CASE("text codec: a history joins a column that holds part of it") {
  // The snapshot case: A holds some edits, B's history (a superset or concurrent) is decoded
  // into A's column; A must equal the oracle of everything it then holds.
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    World w;
    std::vector<Replica> reps(3);
    play(seed + 100, w, reps, 120);
    Replica& a = reps[0];
    const Replica& b = reps[1 + seed % 2];
    INFO("seed " << seed);
    const Bytes bytes = encodeOf(b);
    const std::vector<bool> lacked = graphOnly(w, b, a);
    std::vector<bool> freshLv(a.graph.size(), false);
    for (std::size_t e = 0; e < lacked.size(); ++e) {
      if (lacked[e]) freshLv[a.lastLv.at(static_cast<int>(e))] = true;
    }
    list::DecodedText decoded;
    decodeFor(b, a, bytes, decoded);
    list::addDecoded(a.col, decoded, graphOf(a, [&](LV lv) { return freshLv[lv]; }),
                     a.authorLess());
    REQUIRE(show(a.col.text().str()) == show(oracleFor(w, a)));
    a.col.checkInvariants();
  }
}

TEST_CASE("text codec: keystroke runs stay one run in the encoding") {
  Replica r;
  r.name = "typist";
  const PeerIdx self = r.peers.intern(r.name);
  for (int i = 0; i < 5000; ++i) {
    const LV lv = r.graph.append(self, r.graph.nextSeq(self), r.graph.frontier(), 1);
    r.col.localInsert(lv, static_cast<std::uint32_t>(i), u"x", nullptr);
  }
  for (int i = 0; i < 1000; ++i) {  // then Backspace, one unit at a time
    const LV lv = r.graph.append(self, r.graph.nextSeq(self), r.graph.frontier(), 1);
    r.col.localDelete(lv, static_cast<std::uint32_t>(4999 - i), 1, nullptr);
  }
  const Bytes bytes = encodeOf(r);
  // Two ops and one event run, plus the 5000 content bytes.
  CHECK(bytes.size() < 5000 + 32);
  CHECK(r.col.ops().size() == 2);
}

TEST_CASE("text codec: keystroke runs decode as runs, cut where the typist merged") {
  // Typist a types 10 keys, merges b's concurrent key, types 10 more and backspaces 5. The
  // reader holds the same events under other LVs (b's first). The history must decode to one
  // piece per op (not one per keystroke) and go into the reader's column as the same 4 ops.
  Replica r;
  r.name = "a";
  const PeerIdx a = r.peers.intern("a"), b = r.peers.intern("b");
  auto key = [&] { return r.graph.append(a, r.graph.nextSeq(a), r.graph.frontier(), 1); };
  for (std::uint32_t i = 0; i < 10; ++i) r.col.localInsert(key(), i, u"x", nullptr);
  const LV fromB = r.graph.append(b, 0, {}, 1);
  r.col.addRemote(fromB, {true, 0, 0, u"B"}, {});
  r.col.flush(r.authorLess(), nullptr);
  for (std::uint32_t i = 0; i < 10; ++i) r.col.localInsert(key(), 11 + i, u"y", nullptr);
  for (std::uint32_t i = 0; i < 5; ++i) r.col.localDelete(key(), 20 - i, 1, nullptr);
  REQUIRE(r.col.ops().size() == 4);

  Replica reader;
  reader.name = "reader";
  const PeerIdx rb = reader.peers.intern("b"), ra = reader.peers.intern("a");
  reader.graph.append(rb, 0, {}, 1);
  reader.graph.append(ra, 0, {}, 10);
  const std::vector<LV> both{0, 10};
  reader.graph.append(ra, 10, both, 15);
  list::DecodedText decoded;
  decodeFor(r, reader, encodeOf(r), decoded);
  CHECK(decoded.edits.size() == 4);
  list::addDecoded(reader.col, decoded, graphOf(reader, [](LV) { return true; }),
                   reader.authorLess());
  REQUIRE(reader.col.text().str() == r.col.text().str());
  CHECK(reader.col.ops().size() == 4);
  reader.col.checkInvariants();
}

TEST_CASE("text codec: a long keystroke run costs memory by its encoding, not its units") {
  // 17 bytes naming 4M one-unit delete events: one piece (it was 4M decoded edits).
  const LV n = LV{1} << 22;
  ByteWriter w;
  w.u8(0);
  w.varint(1);  // one op: delete forward n units at 0
  w.varint(n);
  w.u8(2);
  w.varint(0);
  w.varint(0);  // no content
  w.varint(1);  // one run: n keystrokes by peer 0 from seq 0
  w.varint(n);
  w.u8(1);
  w.varint(0);
  w.varint(0);
  ByteReader r(w.bytes());
  list::DecodedText decoded;
  list::decodeText(
      r, [](std::uint32_t, Seq seq) { return static_cast<LV>(seq); }, decoded);
  REQUIRE(decoded.edits.size() == 1);
  CHECK(decoded.edits[0].events() == n);
  // Merging it is refused (nothing was ever inserted), before anything is added.
  list::TextColumn col;
  REQUIRE(testing::errorOf([&] {
            list::addDecoded(col, decoded,
                             {[](LV) { return true; },
                              [](const list::TextColumn&, LV) { return std::vector<LV>{}; },
                              [](LV) { return true; }},
                             [](LV x, LV y) { return x < y; });
          }) == ErrorCode::Decode);
  CHECK(col.ops().empty());
}

TEST_CASE("text codec: a surrogate pair split across two insert ops round trips") {
  // One author inserts a lone high surrogate, deletes, then completes the pair: the content
  // of the two insert ops holds one pair across their boundary.
  Replica r;
  r.name = "typist";
  const PeerIdx self = r.peers.intern(r.name);
  auto next = [&] { return r.graph.append(self, r.graph.nextSeq(self), r.graph.frontier(), 1); };
  r.col.localInsert(next(), 0, u"ab\xd83d", nullptr);
  r.col.localDelete(next(), 0, 1, nullptr);
  r.col.localInsert(next(), 2, u"\xde00", nullptr);
  REQUIRE(r.col.text().str() == u"b\U0001F600");
  Replica other;
  other.name = "reader";
  for (LV lv = 0; lv < r.graph.size(); ++lv) {
    const Stamp s = r.graph.stampOf(lv);
    other.graph.append(other.peers.intern(r.name), s.seq, other.graph.frontier(), 1);
  }
  list::DecodedText decoded;
  decodeFor(r, other, encodeOf(r), decoded);
  list::addDecoded(other.col, decoded, graphOf(other, [](LV) { return true; }), other.authorLess());
  REQUIRE(other.col.text().str() == r.col.text().str());
}

TEST_CASE("text codec: malformed histories are DecodeErrors and leave the column as it was") {
  World w;
  std::vector<Replica> reps(3);
  play(5, w, reps, 150);
  Replica& src = reps[0];
  const Bytes valid = encodeOf(src);
  std::mt19937_64 rng(11);
  int decoded = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    Bytes bytes = valid;
    const int kind = static_cast<int>(rng() % 3);
    if (kind == 0) bytes.resize(rng() % bytes.size());
    if (kind == 1) bytes[rng() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    if (kind == 2) {
      for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
    }
    Replica reader;
    reader.name = "reader";
    // A column holding part of the history, which a failed join must leave unchanged.
    merge(w, reps[1], reader, reps[1].order.size() / 2, rng);
    const std::vector<bool> lacked = graphOnly(w, src, reader);
    std::vector<bool> fresh(reader.graph.size(), false);
    for (std::size_t e = 0; e < lacked.size(); ++e) {
      if (lacked[e]) fresh[reader.lastLv.at(static_cast<int>(e))] = true;
    }
    const std::u16string before = reader.col.text().str();
    const std::size_t ops = reader.col.ops().size();
    auto m = reader.col.mark();
    try {
      list::DecodedText d;
      decodeFor(src, reader, bytes, d);
      list::addDecoded(reader.col, d, graphOf(reader, [&](LV lv) { return fresh[lv]; }),
                       reader.authorLess());
      ++decoded;
      reader.col.checkInvariants();
    } catch (const DecodeError&) {
      ++rejected;
      reader.col.rollback(m);
      REQUIRE(reader.col.text().str() == before);
      REQUIRE(reader.col.ops().size() == ops);
      REQUIRE_FALSE(reader.col.pending());
      reader.col.checkInvariants();
    }
  }
  CHECK(rejected > 1000);
  CHECK(decoded > 0);
}
