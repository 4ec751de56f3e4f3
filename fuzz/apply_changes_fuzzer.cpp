// libFuzzer target for the wire decoders: Database::applyChanges and Database::changesSince
// on arbitrary bytes.
//
// Every input is applied to a copy of a replica that already holds state (commits of its own,
// a second and third replica's merged transactions, one causally-early transaction held), so
// inputs merge into real state and can release the held event, and to an empty replica with
// a tiny pending bound. The input must either
//  - be rejected with DecodeError or Error(PendingOverflow), leaving the replica byte-identical
//    (encodeState, version, heldEvents, full history), or
//  - succeed, after which: checkInvariants() passes; a local commit still works and peers can
//    decode what it emits; the replica's full history re-encodes, decodes and rebuilds an
//    identical replica; nothing is missing against version(); and applying the input again
//    changes nothing (idempotence).
// The same bytes are also given to changesSince as a version summary: DecodeError exactly
// when decodeVersion rejects them, else a decodable message holding exactly the events the
// version lacks.
// Anything else (another exception, a sanitizer report, a failed check) aborts.
//
// Every message carries a CRC-32, so byte-level mutations almost never get past decodeFrame.
// A custom mutator therefore mutates the payload inside the frame and re-frames it with a
// fresh length and checksum (mostly), so coverage reaches the payload validators and the
// merge; now and then it mutates the raw bytes or the frame kind, to keep the frame checks
// covered.
//
// Seed corpus: `apply_changes_fuzzer --write-seeds=DIR` writes valid messages (see
// writeSeeds) and exits; the committed copy is fuzz/corpus/apply_changes/.
// Crashers go to tests/cpp/data/crashers/; tests/cpp/decoder_mutation_test.cpp replays them
// against the same base replica (makeFuzzBase there mirrors the one here: keep them equal).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "db/database.h"
#include "oplog/changes_codec.h"
#include "oplog/frame.h"
#include "oplog/version_codec.h"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t maxSize);

namespace {

using namespace crdtdb;
using Columns = std::vector<std::pair<std::string, Value>>;

constexpr std::size_t kBasePendingBytes = 1024;  // small enough for inputs to overflow it
constexpr std::size_t kEmptyPendingBytes = 64;

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

// The fuzzed replica "fz-a" plus the replicas and messages its seeds come from.
struct FuzzWorld {
  Database a{"fz-a", DatabaseOptions{kBasePendingBytes}};
  Database b{"fz-b"};
  Database c{"fz-c"};
  Bytes bUndelivered;  // b:3, a single-column update a lacks
  Bytes cFirst;        // c:0, the predecessor of the transaction a holds
};

// Mirrored by makeFuzzBase() in tests/cpp/decoder_mutation_test.cpp.
FuzzWorld makeWorld() {
  FuzzWorld w;
  w.a.commit({setRow("t0", "k0", {{"c0", 1}, {"c1", "x"}})});
  w.a.commit({setRow("t0", "k1", {{"c0", true}}), updateRow("t0", "k0", {{"c1", "y"}})});
  w.b.commit(
      {setRow("t0", "k0", {{"c0", 2}}), setRow("t1", "k0", {{"c2", Value::array({1, 2.5})}})});
  w.b.applyChanges(w.a.changesSince(w.b.version()));
  w.b.commit({updateRow("t0", "k0", {{"c2", nullptr}})});
  w.a.applyChanges(w.b.changesSince(w.a.version()));
  w.bUndelivered = w.b.commit({updateRow("t0", "k1", {{"c0", false}})}).encoded;
  w.c.applyChanges(w.a.changesSince({}));
  w.cFirst = w.c.commit({deleteRow("t0", "k1")}).encoded;
  w.a.applyChanges(w.c.commit({setRow("t1", "k1", {{"c0", Value::object({{"n", 1}})}})}).encoded);
  w.a.commit({deleteRow("t1", "k0")});
  return w;
}

const Database& fuzzBase() {
  static const Database base = makeWorld().a;
  return base;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "\n*** apply_changes_fuzzer: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

struct Snapshot {
  Bytes state, version, history;
  std::size_t held;
  LV events;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const Database& db) {
  return {db.encodeState(), db.version(), db.changesSince({}), db.heldEvents(), db.eventCount()};
}

// Whatever was accepted can be served again: the history rebuilds an identical replica.
void checkRebuild(const Database& db) {
  Bytes history = db.changesSince({});
  Database fresh("fz-fresh");
  try {
    fresh.applyChanges(history);
  } catch (const Error& e) {
    fail(std::string("accepted history does not re-apply: ") + e.what());
  }
  fresh.checkInvariants();
  if (fresh.encodeState() != db.encodeState()) fail("rebuilt replica's state differs");
  if (fresh.version() != db.version()) fail("rebuilt replica's version differs");
  if (fresh.heldEvents() != 0) fail("rebuilt replica holds events");
}

// Checks after a successful applyChanges of `input` to `db` (which returned `res`).
void checkAccepted(Database& db, const ApplyResult& res, ByteSpan input) {
  db.checkInvariants();
  if (res.pending != db.heldEvents()) fail("ApplyResult.pending differs from heldEvents()");

  // The replica still commits, and peers accept what it sends.
  Database local = db;
  decodeChanges(local.commit({setRow("t0", "fz-local", {{"c0", 1}})}).encoded);
  checkRebuild(db);

  if (!decodeChanges(db.changesSince(db.version())).empty()) {
    fail("changesSince(version()) is not empty");
  }

  Snapshot before = snapshot(db);
  ApplyResult again = db.applyChanges(input);
  if (again.applied != 0 || !again.changes.empty()) fail("re-applying the input applied events");
  if (!(snapshot(db) == before)) fail("re-applying the input changed the replica");
}

void fuzzApply(const Database& base, ByteSpan input) {
  Database db = base;
  Snapshot before = snapshot(db);
  ApplyResult res;
  try {
    res = db.applyChanges(input);
  } catch (const DecodeError&) {
    if (!(snapshot(db) == before)) fail("DecodeError left the replica changed");
    return;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::PendingOverflow) {
      fail(std::string("applyChanges threw ") + errorCodeName(e.code()) + ": " + e.what());
    }
    if (!(snapshot(db) == before)) fail("PendingOverflow left the replica changed");
    return;
  }
  try {
    checkAccepted(db, res, input);
  } catch (const Error& e) {
    fail(std::string("after an accepted input: ") + errorCodeName(e.code()) + ": " + e.what());
  }
}

void fuzzChangesSince(const Database& base, ByteSpan input) {
  VersionVector vv;
  bool valid = true;
  try {
    vv = decodeVersion(input);
  } catch (const DecodeError&) {
    valid = false;
  }
  Bytes out;
  try {
    out = base.changesSince(input);
  } catch (const DecodeError& e) {
    if (valid && !input.empty())
      fail(std::string("changesSince rejected a valid version: ") + e.what());
    return;
  }
  if (!valid && !input.empty()) fail("changesSince accepted bytes decodeVersion rejects");
  std::map<std::string, Seq> theirs(vv.begin(), vv.end());
  std::map<std::string, Seq> mine;
  try {
    VersionVector baseVv = decodeVersion(base.version());
    mine.insert(baseVv.begin(), baseVv.end());
  } catch (const DecodeError& e) {
    fail(std::string("version() does not decode: ") + e.what());
  }
  std::map<std::string, Seq> expected;  // events the version lacks, per peer
  for (const auto& [peer, next] : mine) {
    Seq known = std::min(next, theirs.count(peer) ? theirs[peer] : Seq{0});
    if (next > known) expected[peer] = next - known;
  }
  std::map<std::string, Seq> got;
  try {
    for (const TxnRecord& t : decodeChanges(out)) {
      Seq known = theirs.count(t.peer) ? theirs[t.peer] : 0;
      if (t.seq < known) fail("changesSince sent an event the version already has");
      got[t.peer] += t.ops.size();
    }
  } catch (const DecodeError& e) {
    fail(std::string("changesSince output does not decode: ") + e.what());
  }
  if (got != expected) fail("changesSince did not send exactly the missing events");
}

// ---- seed corpus ------------------------------------------------------------------------

void writeSeeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::map<std::string, Bytes> seeds;
  FuzzWorld w = makeWorld();
  const Database& a = w.a;

  seeds["update_single_column"] = w.bUndelivered;
  seeds["release_held_predecessor"] = w.cFirst;
  seeds["peer_c_since_base"] = w.c.changesSince(a.version());

  Database d("fz-d");
  d.applyChanges(a.changesSince({}));
  seeds["multi_op_txn"] =
      d.commit({setRow("t0", "k2",
                       {{"c0", -7},
                        {"c1", "\xc3\xa9t\xc3\xa9"},
                        {"c2", 0.125},
                        {"c3", Value::array({nullptr, true, Value::object({{"z", "q"}})})}}),
                updateRow("t0", "k0", {{"c0", std::int64_t{9007199254740992}}, {"c3", ""}}),
                deleteRow("t0", "k1"),
                setRow("t1", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", {{"c0", Value::object()}})})
          .encoded;

  // A merged replica with every peer's events and concurrent writes on top.
  Database m("fz-m");
  for (const Database* src : std::initializer_list<const Database*>{&a, &w.b, &w.c, &d})
    m.applyChanges(src->changesSince(m.version()));
  d.commit({updateRow("t0", "k0", {{"c1", "d"}})});
  w.b.commit({setRow("t0", "k0", {{"c1", "b"}})});
  m.commit({updateRow("t0", "k0", {{"c1", "m"}}), setRow("t1", "k9", {{"c0", -1.5e300}})});
  m.applyChanges(d.changesSince(m.version()));
  m.applyChanges(w.b.changesSince(m.version()));
  m.commit({deleteRow("t0", "k0")});
  seeds["history_multi_peer"] = m.changesSince({});
  seeds["history_since_base"] = m.changesSince(a.version());
  seeds["history_of_base"] = a.changesSince({});

  Database e("fz-e");
  e.applyChanges(m.changesSince({}));
  e.commit({setRow("t2", "k0", {{"c0", 1}})});
  seeds["causally_early"] = e.commit({updateRow("t2", "k0", {{"c0", 2}})}).encoded;

  seeds["changes_empty"] = encodeChanges({});
  seeds["version_base"] = a.version();
  seeds["version_merged"] = m.version();
  seeds["version_empty"] = encodeVersion({});

  for (const auto& [name, bytes] : seeds) {
    std::ofstream f(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    if (!f) fail("cannot write " + (dir / name).string());
  }
  std::fprintf(stderr, "wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
}

// ---- CRC-aware mutation ------------------------------------------------------------------

constexpr std::size_t kFrameOverhead = 4 + 1 + 1 + 10 + 4;  // magic, version, kind, len, CRC

// Finds the kind byte and the payload of something shaped like a frame (checksum ignored).
bool splitFrame(const std::uint8_t* d, std::size_t n, std::uint8_t& kind, ByteSpan& payload) {
  if (n < 7 || std::memcmp(d, "CRDB", 4) != 0) return false;
  kind = d[5];
  std::uint64_t len = 0;
  std::size_t pos = 6;
  for (int shift = 0;; shift += 7) {
    if (pos >= n || shift > 63) return false;
    std::uint8_t b = d[pos++];
    len |= std::uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) break;
  }
  if (len > n - pos) return false;
  payload = ByteSpan(d + pos, static_cast<std::size_t>(len));
  return true;
}

std::size_t emitFrame(std::uint8_t kind, ByteSpan payload, std::uint8_t* out, std::size_t maxSize) {
  Bytes framed = encodeFrame(static_cast<FrameKind>(kind), payload);
  if (framed.size() > maxSize) return 0;
  std::memcpy(out, framed.data(), framed.size());
  return framed.size();
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t maxSize, unsigned int seed) {
  std::uint8_t kind = static_cast<std::uint8_t>(FrameKind::Changes);
  ByteSpan payload;
  bool framed = splitFrame(data, size, kind, payload);
  if (seed % 16 == 0 || maxSize <= kFrameOverhead) return LLVMFuzzerMutate(data, size, maxSize);
  if (seed % 16 == 1) kind = static_cast<std::uint8_t>(1 + (seed >> 4) % 3);
  Bytes buf(maxSize - kFrameOverhead);
  std::size_t n = framed ? payload.size() : std::min(size, buf.size());
  std::memcpy(buf.data(), framed ? payload.data() : data, std::min(n, buf.size()));
  n = LLVMFuzzerMutate(buf.data(), std::min(n, buf.size()), buf.size());
  std::size_t out = emitFrame(kind, ByteSpan(buf.data(), n), data, maxSize);
  return out ? out : LLVMFuzzerMutate(data, size, maxSize);
}

// Splices two payloads (a prefix of one, a suffix of the other) into a valid frame.
extern "C" std::size_t LLVMFuzzerCustomCrossOver(const std::uint8_t* d1, std::size_t n1,
                                                 const std::uint8_t* d2, std::size_t n2,
                                                 std::uint8_t* out, std::size_t maxOut,
                                                 unsigned int seed) {
  std::uint8_t k1 = 1, k2 = 1;
  ByteSpan p1(d1, n1), p2(d2, n2);
  if (!splitFrame(d1, n1, k1, p1)) p1 = ByteSpan(d1, n1);
  if (!splitFrame(d2, n2, k2, p2)) p2 = ByteSpan(d2, n2);
  std::size_t cut1 = p1.empty() ? 0 : seed % (p1.size() + 1);
  std::size_t cut2 = p2.empty() ? 0 : (seed / 7919) % (p2.size() + 1);
  Bytes spliced(p1.begin(), p1.begin() + static_cast<std::ptrdiff_t>(cut1));
  spliced.insert(spliced.end(), p2.begin() + static_cast<std::ptrdiff_t>(cut2), p2.end());
  return emitFrame(k1, spliced, out, maxOut);
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // libFuzzer ignores flags starting with "--", so this mode needs no flag parsing of its own.
  for (int i = 1; i < *argc; ++i) {
    const char* arg = (*argv)[i];
    if (std::strncmp(arg, "--write-seeds=", 14) == 0) {
      writeSeeds(arg + 14);
      std::exit(0);
    }
  }
  fuzzBase();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteSpan input(data, size);
  fuzzApply(fuzzBase(), input);
  static const Database empty("fz-empty", DatabaseOptions{kEmptyPendingBytes});
  fuzzApply(empty, input);
  fuzzChangesSince(fuzzBase(), input);
  return 0;
}
