// Decoder robustness: hostile bytes never corrupt a replica.
//
// Valid messages come from a seeded multi-replica history. Each is mutated deterministically
// (bit flips, byte overwrites, truncation, splicing, appended garbage, random bytes), both as
// raw bytes (mostly stopped by the frame's checksum) and inside the frame with the length and
// CRC fixed up (which reaches the payload validators and the merge), and applied to a replica
// that holds state and a causally-early transaction. Every outcome must be clean:
//  - DecodeError or Error(PendingOverflow), with encodeState(), version(), heldEvents() and the
//    full history unchanged; or
//  - success, after which checkInvariants() passes, a local commit still works and emits a
//    decodable message, the history rebuilds an identical replica, and re-applying the same
//    bytes changes nothing.
// The same bytes go to changesSince as a version: DecodeError, or a decodable answer.
// Every file in tests/cpp/data/crashers/ (inputs that once broke the engine) and in
// fuzz/corpus/apply_changes/ (the libFuzzer seed corpus) is replayed the same way.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/errors.h"
#include "db/database.h"
#include "oplog/changes_codec.h"
#include "oplog/frame.h"
#include "oplog/version_codec.h"

using namespace crdtdb;

namespace {

using Columns = std::vector<std::pair<std::string, Value>>;

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

Op makeOp(OpKind kind, std::string table, std::string key, Columns cols = {}) {
  std::sort(cols.begin(), cols.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  return Op{kind, std::move(table), std::move(key), std::move(cols)};
}
Op setRow(std::string t, std::string k, Columns c) {
  return makeOp(OpKind::SetRow, std::move(t), std::move(k), std::move(c));
}
Op updateRow(std::string t, std::string k, Columns c) {
  return makeOp(OpKind::UpdateRow, std::move(t), std::move(k), std::move(c));
}
Op deleteRow(std::string t, std::string k) {
  return makeOp(OpKind::DeleteRow, std::move(t), std::move(k));
}

// The replica fuzz/apply_changes_fuzzer.cpp fuzzes (its makeWorld().a): crashers found there
// only reproduce against the same state, so keep the two equal.
Database makeFuzzBase() {
  Database a("fz-a", DatabaseOptions{1024});
  Database b("fz-b");
  Database c("fz-c");
  a.commit({setRow("t0", "k0", {{"c0", 1}, {"c1", "x"}})});
  a.commit({setRow("t0", "k1", {{"c0", true}}), updateRow("t0", "k0", {{"c1", "y"}})});
  b.commit({setRow("t0", "k0", {{"c0", 2}}), setRow("t1", "k0", {{"c2", Value::array({1, 2.5})}})});
  b.applyChanges(a.changesSince(b.version()));
  b.commit({updateRow("t0", "k0", {{"c2", nullptr}})});
  a.applyChanges(b.changesSince(a.version()));
  b.commit({updateRow("t0", "k1", {{"c0", false}})});
  c.applyChanges(a.changesSince({}));
  c.commit({deleteRow("t0", "k1")});
  a.applyChanges(c.commit({setRow("t1", "k1", {{"c0", Value::object({{"n", 1}})}})}).encoded);
  a.commit({deleteRow("t1", "k0")});
  return a;
}

// prefix + n; `"k" + std::to_string(n)` trips GCC 12's false -Wrestrict at -O3 (PR 105329).
std::string numbered(const char* prefix, std::size_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

Value randomValue(Rng& rng) {
  switch (rng.pick(8)) {
    case 0:
      return Value(static_cast<int>(rng.pick(2000)) - 1000);
    case 1:
      return Value(numbered("s", rng.pick(5)));
    case 2:
      return Value(rng.chance(50));
    case 3:
      return Value(nullptr);
    case 4:
      return Value(static_cast<double>(rng.pick(1000)) / 8.0 + 0.0625);
    case 5:
      return Value("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    case 6:
      return Value::array({static_cast<int>(rng.pick(3)), Value::object({{"n", "v"}})});
    default:
      return Value::object({{"a", Value::array()}, {"b", -1.5e300}});
  }
}

Op randomOp(Rng& rng) {
  std::string table = rng.chance(70) ? "t0" : "t1";
  std::string key = numbered("k", rng.pick(4));
  std::size_t kind = rng.pick(10);
  if (kind >= 8) return deleteRow(table, key);
  Columns cols;
  std::size_t mask = 1 + rng.pick(15);
  for (int c = 0; c < 4; ++c) {
    if (mask & (std::size_t{1} << c)) cols.emplace_back(numbered("c", c), randomValue(rng));
  }
  return kind < 4 ? setRow(table, key, cols) : updateRow(table, key, cols);
}

// A seeded history over three replicas with partial syncs, and messages taken from it.
struct Corpus {
  Database target{"rep-target"};  // holds state and one causally-early transaction
  std::vector<Bytes> changes;     // valid Changes messages
  std::vector<Bytes> versions;    // valid Version messages
  Bytes small;                    // the smallest single-transaction message
};

Corpus makeCorpus(std::uint64_t seed) {
  Rng rng(seed);
  Corpus out;
  // Ids whose byte order differs from creation order exercise the tie-break.
  std::vector<Database> reps;
  for (const char* id : {"rep-c", "rep-b", "rep-a"}) reps.emplace_back(id);
  for (int step = 0; step < 60; ++step) {
    Database& r = reps[rng.pick(reps.size())];
    if (rng.chance(60)) {
      std::vector<Op> ops;
      std::size_t n = rng.chance(70) ? 1 : 2 + rng.pick(3);
      for (std::size_t i = 0; i < n; ++i) ops.push_back(randomOp(rng));
      try {
        Bytes encoded = r.commit(ops).encoded;
        if (!encoded.empty()) out.changes.push_back(std::move(encoded));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::NotFound) throw;  // update of an absent row: fine
      }
    } else {
      const Database& from = reps[rng.pick(reps.size())];
      if (&from != &r) r.applyChanges(from.changesSince(r.version()));
    }
  }
  out.target = reps[0];
  for (const Database& r : reps) {
    out.changes.push_back(r.changesSince({}));
    out.changes.push_back(r.changesSince(out.target.version()));
    out.versions.push_back(r.version());
  }
  // A transaction the target receives before its predecessor, so it is held.
  Database early("rep-early");
  early.applyChanges(reps[1].changesSince({}));
  out.changes.push_back(early.commit({setRow("t1", "k9", {{"c0", 7}})}).encoded);
  out.changes.push_back(early.commit({updateRow("t1", "k9", {{"c1", "z"}})}).encoded);
  out.target.applyChanges(out.changes.back());
  out.changes.push_back(encodeChanges({}));
  out.versions.push_back(encodeVersion({}));
  out.small = out.changes.front();
  for (const Bytes& m : out.changes) {
    if (decodeChanges(m).size() == 1 && m.size() < out.small.size()) out.small = m;
  }
  return out;
}

struct Snapshot {
  Bytes state, version, history;
  std::size_t held;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const Database& db) {
  return {db.encodeState(), db.version(), db.changesSince({}), db.heldEvents()};
}

std::string hex(ByteSpan b) {
  static const char* digits = "0123456789abcdef";
  constexpr std::size_t kMax = 256;
  std::string s;
  for (std::size_t i = 0; i < b.size() && i < kMax; ++i) {
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  if (b.size() > kMax) s += "... (" + std::to_string(b.size()) + " bytes)";
  return s;
}

struct Tally {
  int rejected = 0, overflowed = 0, accepted = 0, cases = 0;
  std::vector<std::string> problems;
};

// Applies `msg` to a copy of `target`; returns what is wrong with the outcome ("" if clean).
std::string applyProblem(const Database& target, ByteSpan msg, Tally& tally) {
  Database db = target;
  const Snapshot before = snapshot(db);
  ApplyResult res;
  try {
    res = db.applyChanges(msg);
  } catch (const DecodeError&) {
    ++tally.rejected;
    return snapshot(db) == before ? "" : "DecodeError left the replica changed";
  } catch (const Error& e) {
    if (e.code() != ErrorCode::PendingOverflow) {
      return std::string("applyChanges threw ") + errorCodeName(e.code()) + ": " + e.what();
    }
    ++tally.overflowed;
    return snapshot(db) == before ? "" : "PendingOverflow left the replica changed";
  } catch (const std::exception& e) {
    return std::string("applyChanges threw a non-engine exception: ") + e.what();
  }
  ++tally.accepted;
  try {
    db.checkInvariants();
    if (res.pending != db.heldEvents()) return "ApplyResult.pending differs from heldEvents()";
    Database local = db;
    decodeChanges(local.commit({setRow("t0", "local", {{"c0", 1}})}).encoded);
    Database fresh("rep-fresh");
    fresh.applyChanges(db.changesSince({}));
    fresh.checkInvariants();
    if (fresh.encodeState() != db.encodeState() || fresh.version() != db.version()) {
      return "a replica rebuilt from the accepted history differs";
    }
    const Snapshot after = snapshot(db);
    ApplyResult again = db.applyChanges(msg);
    if (again.applied != 0 || !(snapshot(db) == after)) return "re-applying the bytes changed it";
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
    decodeChanges(target.changesSince(msg));
    return valid || msg.empty() ? "" : "changesSince accepted bytes decodeVersion rejects";
  } catch (const DecodeError& e) {
    return valid ? std::string("changesSince rejected a valid version: ") + e.what() : "";
  } catch (const std::exception& e) {
    return std::string("changesSince threw a non-decode exception: ") + e.what();
  }
}

void check(const Database& target, const std::string& what, ByteSpan msg, Tally& tally) {
  ++tally.cases;
  std::string p = applyProblem(target, msg, tally);
  if (p.empty()) p = versionProblem(target, msg);
  // Keep the first few: one broken validator tends to fail thousands of cases alike.
  if (!p.empty() && tally.problems.size() < 5) {
    tally.problems.push_back(what + ": " + p + "\n  bytes: " + hex(msg));
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

std::vector<std::filesystem::path> filesIn(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TxnRecord txn(std::string peer, Seq seq, Lamport lamport, std::vector<EventRef> parents,
              std::vector<Op> ops) {
  TxnRecord t;
  t.peer = std::move(peer);
  t.seq = seq;
  t.lamport = lamport;
  t.parents = std::move(parents);
  t.ops = std::move(ops);
  return t;
}

}  // namespace

TEST_CASE("bit flips at every position leave a replica intact or consistent", "[decoder]") {
  const Corpus c = makeCorpus(11);
  Tally tally;
  const Bytes& msg = c.small;
  INFO("message: " << hex(msg));
  for (std::size_t bit = 0; bit < msg.size() * 8; ++bit) {
    Bytes m = msg;
    m[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    check(c.target, describe("raw flip", bit), m, tally);
  }
  const Bytes payload = payloadOf(msg, FrameKind::Changes);
  for (std::size_t bit = 0; bit < payload.size() * 8; ++bit) {
    Bytes m = reframed(msg, FrameKind::Changes,
                       [&](Bytes& p) { p[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8)); });
    check(c.target, describe("payload flip", bit), m, tally);
  }
  for (const Bytes& v : c.versions) {
    for (std::size_t bit = 0; bit < v.size() * 8; ++bit) {
      Bytes m = v;
      m[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      check(c.target, describe("version flip", bit), m, tally);
    }
  }
  requireClean(tally);
  // Raw flips mostly die at the checksum; re-framed ones must get past it.
  REQUIRE(tally.rejected > 0);
  REQUIRE(tally.accepted > 0);
}

TEST_CASE("truncation at every length is rejected cleanly", "[decoder]") {
  const Corpus c = makeCorpus(12);
  Tally tally;
  const Bytes& big =
      *std::max_element(c.changes.begin(), c.changes.end(),
                        [](const Bytes& a, const Bytes& b) { return a.size() < b.size(); });
  for (std::size_t len = 0; len < big.size(); ++len) {
    Bytes m(big.begin(), big.begin() + static_cast<std::ptrdiff_t>(len));
    check(c.target, describe("truncate", len), m, tally);
  }
  const Bytes payload = payloadOf(big, FrameKind::Changes);
  for (std::size_t len = 0; len < payload.size(); ++len) {
    Bytes m = reframed(big, FrameKind::Changes, [&](Bytes& p) { p.resize(len); });
    check(c.target, describe("payload truncate", len), m, tally);
  }
  requireClean(tally);
  // Only the whole message decodes; a shorter payload never parses (txn count comes first,
  // and every transaction has at least one op).
  REQUIRE(tally.accepted == 0);
}

TEST_CASE("random overwrites, splices, garbage and noise are handled cleanly", "[decoder]") {
  const Corpus c = makeCorpus(13);
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
    check(c.target, describe("overwrite", i), m, tally);
    Bytes r = reframed(src, FrameKind::Changes, [&](Bytes& p) {
      for (std::size_t k = 0; k < n && !p.empty(); ++k) p[rng.pick(p.size())] = rng.byte();
    });
    check(c.target, describe("payload overwrite", i), r, tally);
  }
  for (std::size_t i = 0; i < 200; ++i) {  // prefix of one message + suffix of another
    const Bytes& a = all[rng.pick(all.size())];
    const Bytes& b = all[rng.pick(all.size())];
    std::size_t cutA = rng.pick(a.size() + 1), cutB = rng.pick(b.size() + 1);
    Bytes m(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(cutA));
    m.insert(m.end(), b.begin() + static_cast<std::ptrdiff_t>(cutB), b.end());
    check(c.target, describe("splice", cutA, cutB), m, tally);
    const Bytes& pa = anyChanges();
    const Bytes pb = payloadOf(anyChanges(), FrameKind::Changes);
    Bytes r = reframed(pa, FrameKind::Changes, [&](Bytes& p) {
      p.resize(rng.pick(p.size() + 1));
      p.insert(p.end(), pb.begin() + static_cast<std::ptrdiff_t>(rng.pick(pb.size() + 1)),
               pb.end());
    });
    check(c.target, describe("payload splice", i), r, tally);
  }
  for (std::size_t i = 0; i < 100; ++i) {  // appended garbage
    const Bytes& src = all[rng.pick(all.size())];
    Bytes tail = rng.bytes(1 + rng.pick(16));
    Bytes m = src;
    m.insert(m.end(), tail.begin(), tail.end());
    check(c.target, describe("append", i), m, tally);
    Bytes r = reframed(anyChanges(), FrameKind::Changes,
                       [&](Bytes& p) { p.insert(p.end(), tail.begin(), tail.end()); });
    check(c.target, describe("payload append", i), r, tally);
  }
  const Bytes header = {'C', 'R', 'D', 'B', kFormatVersion};
  for (std::size_t i = 0; i < 300; ++i) {  // noise, bare and behind a plausible header
    Bytes noise = rng.bytes(rng.pick(64));
    check(c.target, describe("noise", i), noise, tally);
    Bytes h = header;
    h.insert(h.end(), noise.begin(), noise.end());
    check(c.target, describe("header + noise", i), h, tally);
    check(c.target, describe("framed noise", i), encodeFrame(FrameKind::Changes, noise), tally);
    check(c.target, describe("framed version noise", i), encodeFrame(FrameKind::Version, noise),
          tally);
  }
  for (const Bytes& m : all) check(c.target, "unmutated", m, tally);
  requireClean(tally);
  REQUIRE(tally.rejected > 0);
  REQUIRE(tally.accepted > 0);
}

TEST_CASE("CRC-valid but semantically broken messages are rejected cleanly", "[decoder]") {
  const Database base = makeFuzzBase();  // knows fz-a:0..3, fz-b:0..2; holds fz-c:1
  const Snapshot before = snapshot(base);
  const Op op = setRow("t0", "k0", {{"c0", 1}});
  auto requireRejected = [&](const std::string& what, const Bytes& msg) {
    INFO(what << ": " << hex(msg));
    Database db = base;
    REQUIRE_THROWS_AS(db.applyChanges(msg), DecodeError);
    REQUIRE(snapshot(db) == before);
  };

  // Encoded by the real encoder from records no replica would produce. Apart from the broken
  // part each is valid (a root transaction has Lamport time 1, others their parents' max + 1),
  // so each case fails only if its own validator is missing.
  requireRejected("Lamport not above a known parent's",
                  encodeChanges({txn("fz-x", 0, 1, {{"fz-a", 3}}, {op})}));
  requireRejected("a root transaction whose Lamport time is not 1",
                  encodeChanges({txn("fz-x", 0, 50, {}, {op})}));
  requireRejected(
      "Lamport not above a parent earlier in the message",
      encodeChanges({txn("fz-x", 0, 1, {}, {op}), txn("fz-y", 0, 1, {{"fz-x", 0}}, {op})}));
  requireRejected("a later transaction of the message is broken",
                  encodeChanges({txn("fz-x", 0, 1, {}, {op}), txn("fz-x", 1, 2, {}, {})}));
  requireRejected("parent is not an earlier event of the same peer",
                  encodeChanges({txn("fz-x", 3, 50, {{"fz-x", 3}}, {op})}));
  requireRejected("parents out of order",
                  encodeChanges({txn("fz-x", 0, 2, {{"fz-b", 0}, {"fz-a", 0}}, {op})}));
  requireRejected("duplicate parents",
                  encodeChanges({txn("fz-x", 0, 2, {{"fz-a", 0}, {"fz-a", 0}}, {op})}));
  requireRejected("Lamport time 0", encodeChanges({txn("fz-x", 0, 0, {}, {op})}));
  requireRejected("seq past 2^53", encodeChanges({txn("fz-x", Seq{1} << 53, 1, {}, {op})}));
  requireRejected("unknown op kind",
                  encodeChanges({txn("fz-x", 0, 1, {}, {Op{OpKind{9}, "t0", "k0", {}}})}));
  requireRejected("empty table name",
                  encodeChanges({txn("fz-x", 0, 1, {}, {Op{OpKind::DeleteRow, "", "k0", {}}})}));
  requireRejected("empty row key",
                  encodeChanges({txn("fz-x", 0, 1, {}, {Op{OpKind::DeleteRow, "t0", "", {}}})}));
  requireRejected("key not UTF-8",
                  encodeChanges({txn("fz-x", 0, 1, {}, {deleteRow("t0", "k\xff")})}));
  requireRejected("empty peer id", encodeChanges({txn("", 0, 1, {}, {op})}));
  requireRejected("columns out of order",
                  encodeChanges({txn("fz-x", 0, 1, {},
                                     {Op{OpKind::SetRow, "t0", "k0", {{"c1", 1}, {"c0", 2}}}})}));
  requireRejected("duplicate columns",
                  encodeChanges({txn("fz-x", 0, 1, {},
                                     {Op{OpKind::SetRow, "t0", "k0", {{"c0", 1}, {"c0", 2}}}})}));

  // Payload edits behind a valid checksum. The payload of a one-op message from fz-x:
  //   [1]"fz-x"  [2]"t0""c0"  [1 txn] [peer 0] ...   (bytes 0-5, 6-12, 13, 14)
  const Bytes good = encodeChanges({txn("fz-x", 0, 1, {}, {op})});
  {
    Database db = base;
    REQUIRE(db.applyChanges(good).applied == 1);  // the unedited message is fine
  }
  const Bytes payload = payloadOf(good, FrameKind::Changes);
  auto edited = [&](auto&& f) { return reframed(good, FrameKind::Changes, f); };
  requireRejected("trailing byte", edited([](Bytes& p) { p.push_back(0); }));
  requireRejected("transaction count too high", edited([&](Bytes& p) {
                    REQUIRE(p[13] == 1);
                    p[13] = 2;
                  }));
  requireRejected("transaction count zero with a transaction following",
                  edited([&](Bytes& p) { p[13] = 0; }));
  requireRejected("peer index out of range", edited([&](Bytes& p) {
                    REQUIRE(p[14] == 0);
                    p[14] = 1;
                  }));
  requireRejected("overlong varint", edited([&](Bytes& p) {
                    p[14] = 0x80;  // peer index 0 as two bytes
                    p.insert(p.begin() + 15, 0x00);
                  }));
  requireRejected("duplicate peer id in the table", edited([&](Bytes& p) {
                    // peers: [1]"fz-x" -> [2]"fz-x""fz-x"
                    p[0] = 2;
                    p.insert(p.begin() + 6, {4, 'f', 'z', '-', 'x'});
                  }));
  requireRejected("peer id not UTF-8", edited([&](Bytes& p) { p[2] = 0xc0; }));
  requireRejected("string length past the end", edited([&](Bytes& p) { p[1] = 0x7f; }));
  requireRejected("wrong frame kind", encodeFrame(FrameKind::Version, payload));
  requireRejected("row-state frame", encodeFrame(FrameKind::RowState, payload));
  {
    Bytes wrongVersion = good;
    wrongVersion[4] = kFormatVersion + 1;
    requireRejected("unknown format version", wrongVersion);
  }

  // Version bytes with the same problems are refused by changesSince.
  auto versionRejected = [&](const std::string& what, const Bytes& v) {
    INFO(what);
    REQUIRE_THROWS_AS(base.changesSince(v), DecodeError);
  };
  versionRejected("zero entry",
                  encodeFrame(FrameKind::Version, Bytes{1, 4, 'f', 'z', '-', 'a', 0}));
  versionRejected("entries out of order", encodeVersion({{"fz-b", 1}, {"fz-a", 1}}));
  versionRejected("duplicate entries", encodeVersion({{"fz-a", 1}, {"fz-a", 2}}));
  versionRejected("empty peer id", encodeVersion({{"", 1}}));
  versionRejected("a Changes message", good);
}

TEST_CASE("stored crashers and the fuzz seed corpus replay cleanly", "[decoder]") {
  const std::filesystem::path data(CRDTDB_TEST_DATA_DIR);
  const std::filesystem::path corpus =
      data / ".." / ".." / ".." / "fuzz" / "corpus" / "apply_changes";
  // The fuzzer applies every input to its base replica and to an empty one.
  const Database base = makeFuzzBase();
  const Database empty("fz-empty", DatabaseOptions{64});
  REQUIRE(base.heldEvents() == 1);

  std::vector<std::filesystem::path> files = filesIn(data / "crashers");
  std::size_t crashers = files.size();
  std::vector<std::filesystem::path> seeds = filesIn(corpus);
  REQUIRE(!seeds.empty());
  files.insert(files.end(), seeds.begin(), seeds.end());
  Tally tally;
  for (const auto& f : files) {
    Bytes msg = readFile(f);
    check(base, f.filename().string() + " (fuzz base replica)", msg, tally);
    check(empty, f.filename().string() + " (empty replica)", msg, tally);
  }
  INFO(crashers << " crashers, " << seeds.size() << " corpus files");
  requireClean(tally);
}

TEST_CASE("the held buffer is bounded and recovers once the predecessor arrives", "[decoder]") {
  Database src("bound-src");
  std::vector<Bytes> msgs;
  for (int i = 0; i < 40; ++i) {
    msgs.push_back(
        src.commit({setRow("t0", numbered("k", i % 5), {{"c0", i}, {"c1", numbered("value ", i)}})})
            .encoded);
  }
  Database sink("bound-sink", DatabaseOptions{400});
  sink.commit({setRow("t1", "own", {{"c0", true}})});

  // Everything after the first is causally early: held until the bound would be exceeded.
  std::vector<std::size_t> refused;
  for (std::size_t i = 1; i < msgs.size(); ++i) {
    const Snapshot before = snapshot(sink);
    try {
      ApplyResult r = sink.applyChanges(msgs[i]);
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
  sink.checkInvariants();

  // The missing predecessor releases everything held; the refused ones are then in order.
  ApplyResult r = sink.applyChanges(msgs[0]);
  REQUIRE(r.applied == msgs.size() - refused.size());
  REQUIRE(sink.heldEvents() == 0);
  for (std::size_t i : refused) REQUIRE(sink.applyChanges(msgs[i]).applied == 1);
  sink.checkInvariants();

  Database mirror("bound-mirror");
  mirror.applyChanges(sink.changesSince({}));
  src.applyChanges(sink.changesSince(src.version()));
  REQUIRE(src.encodeState() == sink.encodeState());
  REQUIRE(src.version() == sink.version());
  REQUIRE(mirror.encodeState() == sink.encodeState());

  // The bound is on held bytes only: a message larger than it applies when in order.
  Database small("bound-small", DatabaseOptions{64});
  Bytes whole = src.changesSince({});
  REQUIRE(whole.size() > 64);
  REQUIRE(small.applyChanges(whole).pending == 0);
  REQUIRE(small.encodeState() == src.encodeState());
}
