// Decoder robustness: hostile bytes never corrupt a replica.
//
// Valid messages come from a seeded multi-replica history. Each is mutated deterministically
// (bit flips, byte overwrites, insertions, truncation, splicing, appended garbage, random
// bytes), both as raw bytes (mostly stopped by the frame's checksum) and inside the frame with
// the length and CRC fixed up (which reaches the payload validators and the merge), and
// applied to a replica that holds state and a causally-early transaction. Every outcome must
// be clean:
//  - DecodeError or Error(PendingOverflow), with encodeState(), version(), heldEvents() and the
//    full history unchanged; or
//  - success, after which checkInvariants() passes, undoLast() restores the replica exactly
//    and applying again gives the same result, the history rebuilds an identical replica,
//    re-applying the same bytes changes nothing, and a local commit still works and emits a
//    decodable message.
// The same bytes go to changesSince as a version: DecodeError exactly when decodeVersion
// rejects them, else a decodable answer.
// Every file in tests/cpp/data/crashers/ (inputs that once broke the engine) and in
// fuzz/corpus/apply_changes/ (the libFuzzer seed corpus) is replayed the same way.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../../fuzz/fuzz_world.h"
#include "core/bytes.h"
#include "core/errors.h"
#include "db/database.h"
#include "merge/text_op.h"
#include "oplog/frame.h"
#include "oplog/version_codec.h"
#include "support/history.h"
#include "support/values.h"

using namespace crdtdb;
using namespace crdtdb::testing;
using crdtdb::fuzzing::makeFuzzBase;
using crdtdb::fuzzing::makeFuzzEmpty;

namespace {

using Factory = std::function<std::unique_ptr<Database>()>;

// std::mt19937_64's output is fixed by the standard, so plain modulo keeps every case the
// same natively and under WASM (the distributions differ between standard libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(gen_() % n); }
  bool chance(int percent) { return pick(100) < static_cast<std::size_t>(percent); }
  std::uint8_t byte() { return static_cast<std::uint8_t>(gen_()); }
  Bytes bytes(std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = byte();
    return b;
  }

 private:
  std::mt19937_64 gen_;
};

// prefix + n; `"k" + std::to_string(n)` trips GCC 12's false -Wrestrict at -O3 (PR 105329).
std::string numbered(const char* prefix, std::size_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

Json randomValue(Rng& rng) {
  switch (rng.pick(8)) {
    case 0:
      return static_cast<int>(rng.pick(2000)) - 1000;
    case 1:
      return numbered("s", rng.pick(5));
    case 2:
      return rng.chance(50);
    case 3:
      return nullptr;
    case 4:
      return static_cast<double>(rng.pick(1000)) / 8.0 + 0.0625;
    case 5:
      return "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    case 6:
      return Json::array({static_cast<int>(rng.pick(3)), Json::object({{"n", "v"}})});
    default:
      return Json::object({{"a", Json::array()}, {"b", -1.5e300}});
  }
}

Op randomOp(Rng& rng) {
  std::string table = rng.chance(70) ? "t0" : "t1";
  std::string key = numbered("k", rng.pick(4));
  std::size_t kind = rng.pick(18);
  if (kind >= 14) {  // text: a create, or edits (a txn's and a run's later ones are relative)
    if (kind == 14) return Op{OpKind::TextCreate, table, key, {{"tx", enc(nullptr)}}};
    ByteWriter w;
    const auto pos = static_cast<std::uint32_t>(rng.pick(4));
    if (kind == 15) {
      writeLocalTextEdit(pos, false, "", 1, w);
    } else {
      writeLocalTextEdit(pos, true, kind == 16 ? "ab" : "\xc3\xa9\xf0\x9f\x98\x80", 0, w);
    }
    return Op{OpKind::TextEdit, table, key, {{"tx", w.take()}}};
  }
  if (kind >= 12) {  // increments of a column plain writes also write (claims follow writes)
    return Op{OpKind::Increment, table, key, {{"c1", enc(static_cast<int>(rng.pick(9)) - 4)}}};
  }
  if (kind >= 10) {  // set ops (extended op kinds) on a column plain writes leave alone
    return Op{kind == 10 ? OpKind::AddToSet : OpKind::RemoveFromSet,
              table,
              key,
              {{"s", enc(randomValue(rng))}}};
  }
  if (kind >= 8) return deleteOp(table, key);
  Json cols = Json::object();
  std::size_t mask = 1 + rng.pick(15);
  for (int c = 0; c < 4; ++c) {
    if (mask & (std::size_t{1} << c)) cols[numbered("c", c)] = randomValue(rng);
  }
  return kind < 4 ? setOp(table, key, cols) : updateOp(table, key, cols);
}

// How many text edits of a valid Changes message are in the relative form.
std::size_t relativeEditsIn(ByteSpan message) {
  const ByteSpan payload = decodeFrame(message, FrameKind::Changes);
  const DecodedChanges dc = decodeChangesPayload(payload);
  std::size_t n = 0;
  for (const TxnRunView& run : dc.runs) {
    TxnCursor cur(payload, run.begin, run.end);
    Seq prevEnd = run.seq;
    for (std::uint32_t k = 0; k < run.txnCount; ++k) {
      const TxnHeader h = cur.header(prevEnd);
      prevEnd = h.seq + h.opCount;
      for (std::uint32_t i = 0; i < h.opCount; ++i) {
        cur.skipOp();
        n += cur.lastOpRelative() ? 1 : 0;
      }
    }
  }
  return n;
}

// A seeded history over three replicas with partial syncs, and messages taken from it.
struct Corpus {
  Factory target;               // holds state and one causally-early transaction
  std::vector<Bytes> changes;   // valid Changes messages
  std::vector<Bytes> versions;  // valid Version messages
  Bytes small;                  // the smallest single-transaction message
};

Corpus makeCorpus(std::uint64_t seed) {
  Rng rng(seed);
  Corpus out;
  // Ids whose byte order differs from creation order exercise the tie-break.
  std::vector<std::unique_ptr<Database>> reps;
  for (const char* id : {"rep-c", "rep-b", "rep-a"}) reps.push_back(std::make_unique<Database>(id));
  for (int step = 0; step < 60; ++step) {
    Database& r = *reps[rng.pick(reps.size())];
    if (rng.chance(60)) {
      std::vector<Op> ops;
      std::size_t n = rng.chance(70) ? 1 : 2 + rng.pick(3);
      for (std::size_t i = 0; i < n; ++i) ops.push_back(randomOp(rng));
      try {
        Bytes encoded = commitOps(r, ops).update;
        if (!encoded.empty()) out.changes.push_back(std::move(encoded));
      } catch (const Error& e) {
        // An update of an absent row, an increment of a column holding a non-number, a text
        // edit out of range: fine.
        if (e.code() != ErrorCode::NotFound && e.code() != ErrorCode::Type &&
            e.code() != ErrorCode::Range) {
          throw;
        }
      }
    } else {
      const Database& from = *reps[rng.pick(reps.size())];
      if (&from != &r) syncFrom(r, from);
    }
  }
  // Typing into a text (keystroke runs: the relative form), concurrently on two replicas.
  auto typed = [](std::uint32_t pos, const char* s) {
    ByteWriter w;
    writeLocalTextEdit(pos, true, s, 0, w);
    return Op{OpKind::TextEdit, "t1", "typed", {{"tx", w.take()}}};
  };
  commitOps(*reps[2], {setOp("t1", "typed", {{"c0", 1}}),
                       Op{OpKind::TextCreate, "t1", "typed", {{"tx", enc(nullptr)}}}});
  syncFrom(*reps[1], *reps[2]);
  for (std::uint32_t i = 0; i < 4; ++i) {
    out.changes.push_back(commitOps(*reps[2], {typed(i, "x")}).update);
    commitOps(*reps[1], {typed(0, "\xc3\xa9")});
  }
  out.changes.push_back(commitOps(*reps[2], {typed(4, "y"), typed(5, "z")}).update);
  syncFrom(*reps[0], *reps[2]);
  syncFrom(*reps[0], *reps[1]);
  // The target is rep-c as it is now (rebuilt from its history: replicas cannot be copied)
  // plus a transaction it receives before its predecessor, so it is held.
  const Bytes targetHistory = allChanges(*reps[0]);
  const Bytes targetVersion = reps[0]->version();
  for (const auto& r : reps) {
    out.changes.push_back(allChanges(*r));
    out.changes.push_back(changesSinceVersion(*r, targetVersion));
    out.versions.push_back(r->version());
  }
  Database early("rep-early");
  early.applyChanges(allChanges(*reps[1]));
  out.changes.push_back(commitOps(early, {setOp("t1", "k9", {{"c0", 7}})}).update);
  out.changes.push_back(commitOps(early, {updateOp("t1", "k9", {{"c1", "z"}})}).update);
  const Bytes held = out.changes.back();
  out.target = [targetHistory, held] {
    auto db = std::make_unique<Database>("rep-c");
    db->applyChanges(targetHistory);
    db->applyChanges(held);
    return db;
  };
  out.changes.push_back(encodeTxns({}));
  out.versions.push_back(encodeVersion({}));
  out.small = out.changes.front();
  for (const Bytes& m : out.changes) {
    if (decodeMessage(m).size() == 1 && m.size() < out.small.size()) out.small = m;
  }
  // The mutations reach the relative text edit form (oplog/chunk_codec.h) only if it is here.
  std::size_t relative = 0;
  for (const Bytes& m : out.changes) relative += relativeEditsIn(m);
  REQUIRE(relative > 0);
  return out;
}

struct Snapshot {
  Bytes state, version, history;
  std::size_t held;
  LV events;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const Database& db) {
  return {db.encodeState(), db.version(), allChanges(db), db.heldEvents(), db.eventCount()};
}

struct Tally {
  int rejected = 0, overflowed = 0, accepted = 0, cases = 0;
  std::vector<std::string> problems;
};

// A replica to apply inputs to: reused while inputs are rejected (which must change nothing),
// rebuilt after an input was accepted.
class Target {
 public:
  explicit Target(Factory make) : make_(std::move(make)) { reset(); }
  Database& db() { return *db_; }
  const Snapshot& before() const { return before_; }
  void reset() {
    db_ = make_();
    before_ = snapshot(*db_);
  }

 private:
  Factory make_;
  std::unique_ptr<Database> db_;
  Snapshot before_;
};

// Applies `msg` to the target; returns what is wrong with the outcome ("" if clean).
std::string applyProblem(Target& target, ByteSpan msg, Tally& tally) {
  Database& db = target.db();
  ChangeSet res;
  try {
    res = db.applyChanges(msg);
  } catch (const DecodeError&) {
    ++tally.rejected;
    return snapshot(db) == target.before() ? "" : "DecodeError left the replica changed";
  } catch (const Error& e) {
    if (e.code() != ErrorCode::PendingOverflow) {
      return std::string("applyChanges threw ") + errorCodeName(e.code()) + ": " + e.what();
    }
    ++tally.overflowed;
    return snapshot(db) == target.before() ? "" : "PendingOverflow left the replica changed";
  } catch (const std::exception& e) {
    return std::string("applyChanges threw a non-engine exception: ") + e.what();
  }
  ++tally.accepted;
  struct Reset {
    Target& t;
    ~Reset() { t.reset(); }
  } reset{target};
  try {
    db.checkInvariants();
    if (res.pending != db.heldEvents()) return "ChangeSet.pending differs from heldEvents()";
    const Snapshot after = snapshot(db);
    db.undoLast();
    if (!(snapshot(db) == target.before())) return "undoLast did not restore the replica";
    ChangeSet redo = db.applyChanges(msg);
    if (redo.applied != res.applied || !(snapshot(db) == after)) {
      return "applying again after undoLast gave another result";
    }
    Database fresh("rep-fresh");
    fresh.applyChanges(allChanges(db));
    fresh.checkInvariants();
    if (fresh.encodeState() != db.encodeState() || fresh.version() != db.version()) {
      return "a replica rebuilt from the accepted history differs";
    }
    ChangeSet again = db.applyChanges(msg);
    if (again.applied != 0 || !(snapshot(db) == after)) return "re-applying the bytes changed it";
    decodeMessage(commitOps(db, {setOp("t0", "local", {{"c0", 1}})}).update);
    db.checkInvariants();
  } catch (const std::exception& e) {
    return std::string("after an accepted message: ") + e.what();
  }
  return "";
}

// changesSince(msg): DecodeError exactly when decodeVersion rejects, else a decodable answer.
std::string versionProblem(const Database& target, ByteSpan msg) {
  bool valid = true;
  try {
    decodeVersion(msg);
  } catch (const DecodeError&) {
    valid = false;
  }
  try {
    decodeMessage(target.changesSince(&msg));
    return valid ? "" : "changesSince accepted bytes decodeVersion rejects";
  } catch (const DecodeError& e) {
    return valid ? std::string("changesSince rejected a valid version: ") + e.what() : "";
  } catch (const std::exception& e) {
    return std::string("changesSince threw a non-decode exception: ") + e.what();
  }
}

void check(Target& target, const std::string& what, ByteSpan msg, Tally& tally) {
  ++tally.cases;
  std::string p = versionProblem(target.db(), msg);
  if (p.empty()) p = applyProblem(target, msg, tally);
  // Keep the first few: one broken validator tends to fail thousands of cases alike.
  if (!p.empty() && tally.problems.size() < 5) {
    tally.problems.push_back(what + ": " + p + "\n  bytes: " + hexOf(msg));
  }
}

void requireClean(const Tally& tally) {
  for (const auto& p : tally.problems) FAIL_CHECK(p);
  REQUIRE(tally.problems.empty());
}

// Mutates the payload inside the frame, then re-frames it with a correct length and CRC.
template <typename F>
Bytes reframed(const Bytes& msg, FrameKind kind, F&& mutate) {
  ByteSpan p = decodeFrame(msg, kind);
  Bytes payload(p.begin(), p.end());
  mutate(payload);
  return encodeFrame(kind, payload);
}

Bytes payloadOf(const Bytes& msg, FrameKind kind) {
  ByteSpan p = decodeFrame(msg, kind);
  return Bytes(p.begin(), p.end());
}

std::string describe(const char* what, std::size_t i, std::size_t j = 0) {
  std::ostringstream s;
  s << what << " " << i << "/" << j;
  return s.str();
}

Bytes readFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::filesystem::path> binFilesIn(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".bin") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::filesystem::path kData(CRDTDB_TEST_DATA_DIR);

}  // namespace

TEST_CASE("bit flips at every position leave a replica intact or consistent", "[decoder]") {
  const Corpus c = makeCorpus(11);
  Target target(c.target);
  Tally tally;
  const Bytes& msg = c.small;
  INFO("message: " << hexOf(msg));
  for (std::size_t bit = 0; bit < msg.size() * 8; ++bit) {
    Bytes m = msg;
    m[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    check(target, describe("raw flip", bit), m, tally);
  }
  const Bytes payload = payloadOf(msg, FrameKind::Changes);
  for (std::size_t bit = 0; bit < payload.size() * 8; ++bit) {
    Bytes m = reframed(msg, FrameKind::Changes,
                       [&](Bytes& p) { p[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8)); });
    check(target, describe("payload flip", bit), m, tally);
  }
  for (const Bytes& v : c.versions) {
    for (std::size_t bit = 0; bit < v.size() * 8; ++bit) {
      Bytes m = v;
      m[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      check(target, describe("version flip", bit), m, tally);
      if (v.size() > kFrameHeaderBytes + 4) {
        Bytes r = reframed(v, FrameKind::Version, [&](Bytes& p) {
          p[(bit / 8) % p.size()] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        });
        check(target, describe("version payload flip", bit), r, tally);
      }
    }
  }
  requireClean(tally);
  // Raw flips mostly die at the checksum; re-framed ones must get past it.
  REQUIRE(tally.rejected > 0);
  REQUIRE(tally.accepted > 0);
}

TEST_CASE("truncation at every length is rejected cleanly", "[decoder]") {
  const Corpus c = makeCorpus(12);
  Target target(c.target);
  Tally tally;
  const Bytes& big =
      *std::max_element(c.changes.begin(), c.changes.end(),
                        [](const Bytes& a, const Bytes& b) { return a.size() < b.size(); });
  for (std::size_t len = 0; len < big.size(); ++len) {
    Bytes m(big.begin(), big.begin() + static_cast<std::ptrdiff_t>(len));
    check(target, describe("truncate", len), m, tally);
  }
  const Bytes payload = payloadOf(big, FrameKind::Changes);
  for (std::size_t len = 0; len < payload.size(); ++len) {
    Bytes m = reframed(big, FrameKind::Changes, [&](Bytes& p) { p.resize(len); });
    check(target, describe("payload truncate", len), m, tally);
  }
  requireClean(tally);
  // Only the whole message decodes; a shorter payload never parses (the chunk and
  // transaction counts come first, and every transaction has at least one op).
  REQUIRE(tally.accepted == 0);
}

TEST_CASE("random overwrites, insertions, splices, garbage and noise are handled cleanly",
          "[decoder]") {
  const Corpus c = makeCorpus(13);
  Target target(c.target);
  Rng rng(1313);
  Tally tally;
  std::vector<Bytes> all = c.changes;
  all.insert(all.end(), c.versions.begin(), c.versions.end());
  auto anyChanges = [&]() -> const Bytes& { return c.changes[rng.pick(c.changes.size())]; };

  for (std::size_t i = 0; i < 300; ++i) {  // overwrite 1-4 bytes
    const Bytes& src = anyChanges();
    std::size_t n = 1 + rng.pick(4);
    Bytes m = src;
    for (std::size_t k = 0; k < n; ++k) m[rng.pick(m.size())] = rng.byte();
    check(target, describe("overwrite", i), m, tally);
    Bytes r = reframed(src, FrameKind::Changes, [&](Bytes& p) {
      for (std::size_t k = 0; k < n && !p.empty(); ++k) p[rng.pick(p.size())] = rng.byte();
    });
    check(target, describe("payload overwrite", i), r, tally);
  }
  for (std::size_t i = 0; i < 200; ++i) {  // insert or delete 1-3 bytes inside the payload
    Bytes r = reframed(anyChanges(), FrameKind::Changes, [&](Bytes& p) {
      const std::size_t n = 1 + rng.pick(3);
      const std::size_t at = rng.pick(p.size() + 1);
      if (rng.chance(50)) {
        Bytes ins = rng.bytes(n);
        p.insert(p.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
      } else if (at < p.size()) {
        p.erase(p.begin() + static_cast<std::ptrdiff_t>(at),
                p.begin() + static_cast<std::ptrdiff_t>(std::min(p.size(), at + n)));
      }
    });
    check(target, describe("payload insert/delete", i), r, tally);
  }
  for (std::size_t i = 0; i < 200; ++i) {  // prefix of one message + suffix of another
    const Bytes& a = all[rng.pick(all.size())];
    const Bytes& b = all[rng.pick(all.size())];
    std::size_t cutA = rng.pick(a.size() + 1), cutB = rng.pick(b.size() + 1);
    Bytes m(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(cutA));
    m.insert(m.end(), b.begin() + static_cast<std::ptrdiff_t>(cutB), b.end());
    check(target, describe("splice", cutA, cutB), m, tally);
    const Bytes& pa = anyChanges();
    const Bytes pb = payloadOf(anyChanges(), FrameKind::Changes);
    Bytes r = reframed(pa, FrameKind::Changes, [&](Bytes& p) {
      p.resize(rng.pick(p.size() + 1));
      p.insert(p.end(), pb.begin() + static_cast<std::ptrdiff_t>(rng.pick(pb.size() + 1)),
               pb.end());
    });
    check(target, describe("payload splice", i), r, tally);
  }
  for (std::size_t i = 0; i < 100; ++i) {  // appended garbage
    const Bytes& src = all[rng.pick(all.size())];
    Bytes tail = rng.bytes(1 + rng.pick(16));
    Bytes m = src;
    m.insert(m.end(), tail.begin(), tail.end());
    check(target, describe("append", i), m, tally);
    Bytes r = reframed(anyChanges(), FrameKind::Changes,
                       [&](Bytes& p) { p.insert(p.end(), tail.begin(), tail.end()); });
    check(target, describe("payload append", i), r, tally);
  }
  const Bytes header = {'C', 'R', 'D', 'B', kFormatVersion};
  for (std::size_t i = 0; i < 300; ++i) {  // noise, bare and behind a plausible header
    Bytes noise = rng.bytes(rng.pick(64));
    check(target, describe("noise", i), noise, tally);
    Bytes h = header;
    h.insert(h.end(), noise.begin(), noise.end());
    check(target, describe("header + noise", i), h, tally);
    check(target, describe("framed noise", i), encodeFrame(FrameKind::Changes, noise), tally);
    check(target, describe("framed version noise", i), encodeFrame(FrameKind::Version, noise),
          tally);
  }
  for (const Bytes& m : all) check(target, "unmutated", m, tally);
  requireClean(tally);
  REQUIRE(tally.rejected > 0);
  REQUIRE(tally.accepted > 0);
}

TEST_CASE("CRC-valid but semantically broken messages are rejected cleanly", "[decoder]") {
  // The fuzz base knows fz-a:0..3 and fz-b:0..2 and holds fz-c:1.
  const std::unique_ptr<Database> base = makeFuzzBase();
  const Snapshot before = snapshot(*base);
  const Op op = setOp("t0", "k0", {{"c0", 1}});
  auto requireRejected = [&](const std::string& what, const Bytes& msg) {
    INFO(what << ": " << hexOf(msg));
    REQUIRE_THROWS_AS(base->applyChanges(msg), DecodeError);
    REQUIRE(snapshot(*base) == before);
  };

  // Encoded by the test encoder from records no replica would produce. Apart from the broken
  // part each is valid, so each case fails only if its own validator is missing.
  requireRejected("a transaction that skips its peer's previous event (the chain rule)",
                  encodeTxns({{"fz-b", 3, {{"fz-a", 0}}, {op}}}));
  requireRejected("the chain rule, with the skipped event earlier in the message",
                  encodeTxns({{"fz-x", 0, {}, {op}}, {"fz-x", 1, {{"fz-a", 3}}, {op}}}));
  requireRejected("a later transaction of the message is broken",
                  encodeTxns({{"fz-x", 0, {}, {op}}, {"fz-x", 2, {}, {op}}}));
  requireRejected("seq > 0 without parents", encodeTxns({{"fz-x", 3, {}, {op}}}));
  requireRejected("parent is not an earlier event of the same peer",
                  encodeTxns({{"fz-x", 3, {{"fz-x", 3}}, {op}}}));
  requireRejected("parents out of order",
                  encodeTxns({{"fz-x", 0, {{"fz-b", 0}, {"fz-a", 0}}, {op}}}));
  requireRejected("duplicate parents", encodeTxns({{"fz-x", 0, {{"fz-a", 0}, {"fz-a", 0}}, {op}}}));
  requireRejected("seq past 2^53",
                  encodeTxns({{"fz-x", Seq{1} << 53, {{"fz-x", (Seq{1} << 53) - 1}}, {op}}}));
  requireRejected("unknown op kind",
                  encodeTxns({{"fz-x", 0, {}, {Op{OpKind{0}, "t0", "k0", {}}}}}));
  requireRejected("empty table name", encodeTxns({{"fz-x", 0, {}, {deleteOp("", "k0")}}}));
  requireRejected("empty row key", encodeTxns({{"fz-x", 0, {}, {deleteOp("t0", "")}}}));
  requireRejected("key not UTF-8", encodeTxns({{"fz-x", 0, {}, {deleteOp("t0", "k\xff")}}}));
  requireRejected("empty peer id", encodeTxns({{"", 0, {}, {op}}}));
  requireRejected("peer id not UTF-8", encodeTxns({{"fz-\xc0", 0, {}, {op}}}));
  requireRejected(
      "columns out of order",
      encodeTxns(
          {{"fz-x", 0, {}, {Op{OpKind::SetRow, "t0", "k0", {{"c1", enc(1)}, {"c0", enc(2)}}}}}}));
  requireRejected(
      "duplicate columns",
      encodeTxns(
          {{"fz-x", 0, {}, {Op{OpKind::SetRow, "t0", "k0", {{"c0", enc(1)}, {"c0", enc(2)}}}}}}));
  requireRejected("a value with unsorted object keys",
                  encodeTxns({{"fz-x",
                               0,
                               {},
                               {Op{OpKind::SetRow,
                                   "t0",
                                   "k0",
                                   {{"c0", Bytes{tag::kObject, 2, 1, 'b', 0, 1, 'a', 0}}}}}}}));
  requireRejected("a transaction without operations", encodeTxns({{"fz-x", 0, {}, {}}}));

  // Payload edits behind a valid checksum. The payload of a one-op message from fz-x:
  //   [0] 1 chunk  [1] 1 peer, [2..6] "fz-x"  [7] 2 names, [8..10] "t0", [11..13] "c0"
  //   [14] 1 key, [15..17] "k0"  [18] 1 txn  [19] head (single | peer 0)  [20] seq 0
  //   [21] 0 parents  [22] op head (set | table 0)  [23] key 0  [24] 1 column ...
  const Bytes good = encodeTxns({{"fz-x", 0, {}, {op}}});
  {
    const std::unique_ptr<Database> db = makeFuzzBase();
    REQUIRE(db->applyChanges(good).applied == 1);  // the unedited message is fine
  }
  const Bytes payload = payloadOf(good, FrameKind::Changes);
  REQUIRE(payload.size() == 27);
  auto edited = [&](auto&& f) { return reframed(good, FrameKind::Changes, f); };
  requireRejected("trailing byte", edited([](Bytes& p) { p.push_back(0); }));
  requireRejected("chunk count too high", edited([](Bytes& p) {
                    REQUIRE(p[0] == 1);
                    p[0] = 2;
                  }));
  requireRejected("transaction count too high", edited([](Bytes& p) {
                    REQUIRE(p[18] == 1);
                    p[18] = 2;
                  }));
  requireRejected("transaction count zero with a transaction following",
                  edited([](Bytes& p) { p[18] = 0; }));
  requireRejected("peer index out of range", edited([](Bytes& p) {
                    REQUIRE(p[19] == txnflag::kSingle);
                    p[19] = txnflag::kSingle | (1 << txnflag::kBits);
                  }));
  requireRejected("overlong varint", edited([](Bytes& p) {
                    p[19] = 0x80 | txnflag::kSingle;  // the head as two bytes
                    p.insert(p.begin() + 20, 0x00);
                  }));
  requireRejected("explicit parents where linear would do", edited([](Bytes& p) {
                    // fz-x:0 then fz-x:1 with parents [(fz-x, 0)] spelled out
                    p[18] = 2;
                    const Bytes second = {txnflag::kSingle | txnflag::kContinues, 1, 0, 0, 0x03, 0};
                    p.insert(p.end(), second.begin(), second.end());
                  }));
  requireRejected("explicit seq where continues would do", edited([](Bytes& p) {
                    p[18] = 2;
                    const Bytes second = {txnflag::kSingle | txnflag::kLinear, 1, 0x03, 0};
                    p.insert(p.end(), second.begin(), second.end());
                  }));
  requireRejected("duplicate peer id in the table", edited([](Bytes& p) {
                    // peers: [1]"fz-x" -> [2]"fz-x""fz-x"
                    p[1] = 2;
                    p.insert(p.begin() + 7, {4, 'f', 'z', '-', 'x'});
                  }));
  requireRejected("peer id not UTF-8 (in place)", edited([](Bytes& p) { p[3] = 0xc0; }));
  requireRejected("string length past the end", edited([](Bytes& p) { p[2] = 0x7f; }));
  requireRejected("a small integer with the long tag", edited([](Bytes& p) {
                    REQUIRE(p[26] == 0xc1);
                    p[26] = tag::kInt;
                    p.push_back(2);
                  }));
  requireRejected("a short string with the long tag", edited([](Bytes& p) {
                    p[26] = tag::kString;
                    p.push_back(1);
                    p.push_back('x');
                  }));
  requireRejected("wrong frame kind", encodeFrame(FrameKind::Version, payload));
  requireRejected("row-state frame", encodeFrame(FrameKind::RowState, payload));
  for (std::uint8_t version : {std::uint8_t{1}, std::uint8_t{kFormatVersion + 1}}) {
    Bytes other = good;
    other[4] = version;
    requireRejected("format version " + std::to_string(version), other);
  }
  {
    // Sanity of the edits above: the same second transactions spelled canonically apply.
    const std::unique_ptr<Database> db = makeFuzzBase();
    const Bytes linear = edited([](Bytes& p) {
      p[18] = 2;
      const Bytes second = {txnflag::kSingle | txnflag::kLinear | txnflag::kContinues, 0x03, 0};
      p.insert(p.end(), second.begin(), second.end());
    });
    REQUIRE(db->applyChanges(linear).applied == 2);
  }

  // Version bytes with the same problems are refused by changesSince.
  auto versionRejected = [&](const std::string& what, const Bytes& v) {
    INFO(what);
    REQUIRE_THROWS_AS(changesSinceVersion(*base, v), DecodeError);
  };
  versionRejected("zero entry",
                  encodeFrame(FrameKind::Version, Bytes{1, 4, 'f', 'z', '-', 'a', 0}));
  versionRejected("entries out of order", encodeVersion({{"fz-b", 1}, {"fz-a", 1}}));
  versionRejected("duplicate entries", encodeVersion({{"fz-a", 1}, {"fz-a", 2}}));
  versionRejected("empty peer id", encodeVersion({{"", 1}}));
  versionRejected("a Changes message", good);
  versionRejected("no bytes", Bytes{});
}

TEST_CASE("format-1 messages are refused as an unsupported format version", "[decoder]") {
  const std::vector<std::filesystem::path> v1 = binFilesIn(kData / "crashers" / "format1");
  REQUIRE_FALSE(v1.empty());
  for (const auto& f : v1) {
    INFO(f.filename().string());
    const Bytes msg = readFile(f);
    REQUIRE(msg.size() > 5);
    REQUIRE(msg[4] == 1);
    const std::unique_ptr<Database> db = makeFuzzBase();
    const Snapshot before = snapshot(*db);
    try {
      db->applyChanges(msg);
      FAIL("a format-1 message was accepted");
    } catch (const DecodeError& e) {
      REQUIRE(std::string(e.what()).find("unsupported format version 1") != std::string::npos);
    }
    REQUIRE(snapshot(*db) == before);
  }
}

TEST_CASE("stored crashers and the fuzz seed corpus replay cleanly", "[decoder]") {
  const std::filesystem::path corpus =
      kData / ".." / ".." / ".." / "fuzz" / "corpus" / "apply_changes";
  // The fuzzer applies every input to its base replica and to an empty one.
  Target base(makeFuzzBase);
  Target empty(makeFuzzEmpty);
  REQUIRE(base.db().heldEvents() == 1);

  std::vector<std::filesystem::path> files = binFilesIn(kData / "crashers");
  for (const auto& f : binFilesIn(kData / "crashers" / "format1")) files.push_back(f);
  const std::size_t crashers = files.size();
  const std::vector<std::filesystem::path> seeds = binFilesIn(corpus);
  REQUIRE(!seeds.empty());
  files.insert(files.end(), seeds.begin(), seeds.end());
  Tally tally;
  for (const auto& f : files) {
    const Bytes msg = readFile(f);
    check(base, f.filename().string() + " (fuzz base replica)", msg, tally);
    check(empty, f.filename().string() + " (empty replica)", msg, tally);
  }
  INFO(crashers << " crashers, " << seeds.size() << " corpus files");
  requireClean(tally);
  REQUIRE(tally.accepted > 0);  // the seeds are valid messages
}

// Regenerates the hand-made crashers (after a format change), with
//   crdtdb_tests "[.write-crashers]"
// Fuzzer-found crashers are files libFuzzer wrote; they are copied in, not generated.
TEST_CASE("write the hand-made crashers", "[.write-crashers]") {
  const Op op = setOp("t0", "k0", {{"c0", 1}});
  const TxnRecord x0{"x", 0, {}, {op}}, y0{"y", 0, {}, {op}};
  const TxnRecord invalid{"x", 1, {{"y", 0}}, {op}};  // x:1 whose past lacks x:0
  const TxnRecord valid{"x", 1, {{"x", 0}}, {setOp("t0", "k0", {{"c0", 2}})}};
  const std::map<std::string, Bytes> files = {
      {"seq_at_clock_limit_is_held.bin",
       encodeTxns({x0, {"x", kMaxClock - 1, {{"x", kMaxClock - 2}}, {op}}})},
      {"held_invalid_run_accepted_then_refused.bin", encodeMessage({{invalid}, {x0}, {y0}})},
      {"held_invalid_run_shadows_valid_copy.bin", encodeMessage({{invalid}, {valid}, {x0}, {y0}})},
  };
  for (const auto& [name, bytes] : files) {
    const std::filesystem::path path = kData / "crashers" / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    REQUIRE(f.good());
  }
}

TEST_CASE("the held buffer is bounded and recovers once the predecessor arrives", "[decoder]") {
  Database src("bound-src");
  std::vector<Bytes> msgs;
  for (int i = 0; i < 40; ++i) {
    msgs.push_back(
        commitOps(src,
                  {setOp("t0", numbered("k", static_cast<std::size_t>(i % 5)),
                         {{"c0", i}, {"c1", numbered("value ", static_cast<std::size_t>(i))}})})
            .update);
  }
  Database sink("bound-sink", DatabaseOptions{400});
  commitOps(sink, {setOp("t1", "own", {{"c0", true}})});

  // Everything after the first is causally early: held until the bound would be exceeded.
  std::vector<std::size_t> refused;
  for (std::size_t i = 1; i < msgs.size(); ++i) {
    const Snapshot before = snapshot(sink);
    try {
      ChangeSet r = sink.applyChanges(msgs[i]);
      REQUIRE(r.applied == 0);
      REQUIRE(r.pending == sink.heldEvents());
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::PendingOverflow);
      REQUIRE(snapshot(sink) == before);
      refused.push_back(i);
    }
  }
  REQUIRE(!refused.empty());
  REQUIRE(refused.front() > 1);  // some were held first
  REQUIRE(sink.heldEvents() == msgs.size() - 1 - refused.size());
  REQUIRE(sink.heldBytes() <= 400);
  sink.checkInvariants();

  // The missing predecessor releases everything held; the refused ones are then in order.
  ChangeSet r = sink.applyChanges(msgs[0]);
  REQUIRE(r.applied == msgs.size() - refused.size());
  REQUIRE(sink.heldEvents() == 0);
  for (std::size_t i : refused) REQUIRE(sink.applyChanges(msgs[i]).applied == 1);
  sink.checkInvariants();

  Database mirror("bound-mirror");
  mirror.applyChanges(allChanges(sink));
  syncFrom(src, sink);
  REQUIRE(src.encodeState() == sink.encodeState());
  REQUIRE(src.version() == sink.version());
  REQUIRE(mirror.encodeState() == sink.encodeState());

  // The bound is on held memory only: a message larger than it applies when in order.
  Database small("bound-small", DatabaseOptions{64});
  const Bytes whole = allChanges(src);
  REQUIRE(whole.size() > 64);
  REQUIRE(small.applyChanges(whole).pending == 0);
  REQUIRE(small.encodeState() == src.encodeState());
}
