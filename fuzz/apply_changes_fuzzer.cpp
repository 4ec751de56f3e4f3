// libFuzzer target for the wire decoders: Database::applyChanges and Database::changesSince
// on arbitrary bytes.
//
// Every input is applied to a replica that already holds state (commits of its own, a second
// and third replica's merged transactions, one causally-early transaction held: see
// fuzz_world.h), so inputs merge into real state and can release the held event, and to an
// empty replica with a tiny pending bound. Both are built afresh for every input, so a crash
// reproduces from its input alone. The input must either
//  - be rejected with DecodeError or Error(PendingOverflow), leaving the replica byte-identical
//    (encodeState, version, heldEvents, full history, event count), or
//  - succeed, after which: checkInvariants() passes; undoLast() restores the replica exactly
//    and applying the input again gives the same replica; the replica's full history decodes
//    and rebuilds an identical replica; nothing is missing against version(); applying the
//    input again changes nothing (idempotence); and a local commit still works and peers can
//    decode what it emits.
// The same bytes are also given to changesSince as a version summary: DecodeError exactly
// when decodeVersion rejects them, else a decodable message holding exactly the transactions
// with events the version lacks.
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
// against the same base replica (fuzz_world.h).
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
#include "fuzz_world.h"
#include "merge/text_op.h"
#include "oplog/frame.h"
#include "oplog/version_codec.h"
#include "support/history.h"
#include "support/values.h"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t maxSize);

namespace {

using namespace crdtdb;
using namespace crdtdb::testing;
using namespace crdtdb::fuzzing;

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
  return {db.encodeState(), db.version(), db.changesSince(nullptr), db.heldEvents(),
          db.eventCount()};
}

// Whatever was accepted can be served again: the history rebuilds an identical replica.
void checkRebuild(const Database& db) {
  const Bytes history = db.changesSince(nullptr);
  try {
    decodeMessage(history);
  } catch (const DecodeError& e) {
    fail(std::string("accepted history does not decode: ") + e.what());
  }
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
void checkAccepted(Database& db, const Snapshot& before, const ChangeSet& res, ByteSpan input) {
  db.checkInvariants();
  if (res.pending != db.heldEvents()) fail("ChangeSet.pending differs from heldEvents()");
  const Snapshot after = snapshot(db);

  db.undoLast();
  if (!(snapshot(db) == before)) fail("undoLast did not restore the replica");
  const ChangeSet redo = db.applyChanges(input);
  if (redo.applied != res.applied || !(snapshot(db) == after)) {
    fail("applying the input again after undoLast gave another result");
  }

  checkRebuild(db);
  const Bytes version = db.version();
  const ByteSpan vs(version);
  if (!decodeMessage(db.changesSince(&vs)).empty()) fail("changesSince(version()) is not empty");

  const ChangeSet again = db.applyChanges(input);
  if (again.applied != 0 || !again.rows.empty()) fail("re-applying the input applied events");
  if (!(snapshot(db) == after)) fail("re-applying the input changed the replica");

  // The replica still commits, and peers accept what it sends.
  decodeMessage(commitOps(db, {setOp("t0", "fz-local", {{"c0", 1}})}).update);
  db.checkInvariants();
}

void fuzzApply(std::unique_ptr<Database> db, ByteSpan input) {
  const Snapshot before = snapshot(*db);
  ChangeSet res;
  try {
    res = db->applyChanges(input);
  } catch (const DecodeError&) {
    if (!(snapshot(*db) == before)) fail("DecodeError left the replica changed");
    return;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::PendingOverflow) {
      fail(std::string("applyChanges threw ") + errorCodeName(e.code()) + ": " + e.what());
    }
    if (!(snapshot(*db) == before)) fail("PendingOverflow left the replica changed");
    return;
  }
  try {
    checkAccepted(*db, before, res, input);
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
    out = base.changesSince(&input);
  } catch (const DecodeError& e) {
    if (valid) fail(std::string("changesSince rejected a valid version: ") + e.what());
    return;
  }
  if (!valid) fail("changesSince accepted bytes decodeVersion rejects");
  std::map<std::string, Seq> theirs(vv.begin(), vv.end());
  std::vector<TxnRecord> all, got;
  try {
    all = decodeMessage(base.changesSince(nullptr));
    got = decodeMessage(out);
  } catch (const DecodeError& e) {
    fail(std::string("changesSince output does not decode: ") + e.what());
  }
  std::vector<TxnRecord> expected;  // transactions with events the version lacks, in order
  for (const TxnRecord& t : all) {
    if (t.seq + t.ops.size() > theirs[t.peer]) expected.push_back(t);
  }
  if (got != expected) fail("changesSince did not send exactly the transactions the version lacks");
}

// ---- seed corpus ------------------------------------------------------------------------

void writeSeeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::map<std::string, Bytes> seeds;
  FuzzWorld w = makeWorld();
  Database& a = *w.a;
  Database& b = *w.b;
  Database& c = *w.c;

  seeds["update_single_column"] = w.bUndelivered;
  seeds["release_held_predecessor"] = w.cFirst;
  seeds["peer_c_since_base"] = changesSinceVersion(c, a.version());

  Database d("fz-d");
  d.applyChanges(allChanges(a));
  seeds["multi_op_txn"] =
      commitOps(d, {setOp("t0", "k2",
                          {{"c0", -7},
                           {"c1", "\xc3\xa9t\xc3\xa9"},
                           {"c2", 0.125},
                           {"c3", Json::array({nullptr, true, Json::object({{"z", "q"}})})}}),
                    updateOp("t0", "k0", {{"c0", std::int64_t{9007199254740992}}, {"c3", ""}}),
                    deleteOp("t0", "k1"),
                    setOp("t1", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", {{"c0", Json::object()}})})
          .update;

  // A merged replica with every peer's events and concurrent writes on top.
  Database m("fz-m");
  for (const Database* src : std::initializer_list<const Database*>{&a, &b, &c, &d}) {
    syncFrom(m, *src);
  }
  commitOps(d, {updateOp("t0", "k0", {{"c1", "d"}})});
  commitOps(b, {setOp("t0", "k0", {{"c1", "b"}})});
  commitOps(m, {updateOp("t0", "k0", {{"c1", "m"}}), setOp("t1", "k9", {{"c0", -1.5e300}})});
  syncFrom(m, d);
  syncFrom(m, b);
  commitOps(m, {deleteOp("t0", "k0")});
  seeds["history_multi_peer"] = allChanges(m);
  seeds["history_since_base"] = changesSinceVersion(m, a.version());
  seeds["history_of_base"] = allChanges(a);

  Database e("fz-e");
  e.applyChanges(allChanges(m));
  commitOps(e, {setOp("t2", "k0", {{"c0", 1}})});
  seeds["causally_early"] = commitOps(e, {updateOp("t2", "k0", {{"c0", 2}})}).update;

  // Typing into a text (oplog/chunk_codec.h: a run's first edit indexed, the rest relative;
  // two-unit and multi-character inserts, Backspace, a Delete run), with a second writer's
  // concurrent edits between the runs.
  {
    auto edit = [](std::uint32_t pos, const char* insert, std::uint32_t len) {
      ByteWriter w;
      writeLocalTextEdit(pos, *insert != 0, insert, len, w);
      return Op{OpKind::TextEdit, "t0", "k3", {{"c4", w.take()}}};
    };
    Database t("fz-t"), u("fz-u");
    t.applyChanges(allChanges(a));
    commitOps(t, {setOp("t0", "k3", {{"c0", 1}}),
                  Op{OpKind::TextCreate, "t0", "k3", {{"c4", enc(nullptr)}}}});
    u.applyChanges(allChanges(t));
    const char* typed[] = {"h", "e", "\xf0\x9f\x98\x80", "l", "lo"};
    std::uint32_t at = 0;
    for (const char* s : typed) {
      commitOps(t, {edit(at, s, 0)});
      at += std::string_view(s).size() == 4 ? 2 : static_cast<std::uint32_t>(std::strlen(s));
    }
    commitOps(u, {edit(0, "\xc3\xa9", 0)});
    commitOps(u, {edit(1, "!", 0)});
    commitOps(t, {edit(at - 1, "", 1)});  // Backspace
    commitOps(t, {edit(at - 2, "", 1)});
    commitOps(t, {edit(0, "", 1)});  // Delete, twice
    commitOps(t, {edit(0, "", 1)});
    syncFrom(t, u);
    commitOps(t, {edit(0, "ab", 0), edit(1, "", 1), edit(1, "cd", 0)});
    seeds["typed_text"] = changesSinceVersion(t, a.version());
  }

  // Two chunks in one message: b's and c's histories side by side.
  {
    ByteWriter out;
    const std::size_t f = beginFrame(out, FrameKind::Changes);
    out.varint(2);
    const Bytes hb = allChanges(b), hc = allChanges(c);
    for (const Bytes* h : {&hb, &hc}) {
      const ByteSpan p = decodeFrame(*h, FrameKind::Changes);
      ByteReader r(p);
      if (r.varint() != 1) fail("expected a one-chunk history");
      out.raw(r.rest());
    }
    finishFrame(out, f);
    seeds["two_chunks"] = out.take();
  }

  seeds["changes_empty"] = encodeTxns({});
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

constexpr std::size_t kFrameOverhead = kFrameHeaderBytes + 4;  // header, CRC

// Finds the kind byte and the payload of something shaped like a frame (checksum ignored).
bool splitFrame(const std::uint8_t* d, std::size_t n, std::uint8_t& kind, ByteSpan& payload) {
  if (n < kFrameOverhead || std::memcmp(d, "CRDB", 4) != 0) return false;
  kind = d[5];
  std::uint64_t len = 0;
  for (int i = 0; i < 4; ++i) len |= std::uint64_t{d[6 + i]} << (8 * i);
  if (len > n - kFrameOverhead) return false;
  payload = ByteSpan(d + kFrameHeaderBytes, static_cast<std::size_t>(len));
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
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::unique_ptr<Database> readOnlyBase = makeFuzzBase();
  const ByteSpan input(data, size);
  fuzzApply(makeFuzzBase(), input);
  fuzzApply(makeFuzzEmpty(), input);
  fuzzChangesSince(*readOnlyBase, input);
  return 0;
}
