// libFuzzer target for the storage decoders: Database::load on arbitrary stored state (the
// crdtdb_load input framing: varint nEvents, records, varint nRows, records; see
// bindings/convert.h). Storage is our own, but a damaged disk, a bug in an older version or a
// hand-edited database must give DecodeError, never a crash or a broken replica.
//
// The input must either be rejected with DecodeError (the framing, a record, or history that
// does not match its graph summary), or load into a replica that passes checkInvariants(),
// answers changesSince (DecodeError allowed: history is validated on first use), commits a
// write, and hands storage a record.
//
// Seed corpus: `load_fuzzer --write-seeds=DIR` writes valid stored states (committed copy:
// fuzz/corpus/load/).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "../bindings/convert.h"
#include "core/errors.h"
#include "db/database.h"
#include "support/store_sim.h"
#include "support/values.h"

namespace {

using namespace crdtdb;
using namespace crdtdb::testing;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "\n*** load_fuzzer: %s\n", what.c_str());
  std::abort();
}

const std::vector<IndexDef> kDefs = {{"byX", "t", {"x"}}, {"byXY", "t", {"x", "y"}}};

Bytes framed(const StoreSim& s) {
  ByteWriter w;
  w.varint(s.events.size());
  for (const auto& [k, v] : s.events) {
    w.varint(v.size());
    w.raw(v);
  }
  w.varint(s.crdtRows.size());
  for (const auto& [k, v] : s.crdtRows) {
    w.varint(v.size());
    w.raw(v);
  }
  return w.take();
}

void writeSeeds(const std::string& dir) {
  std::filesystem::create_directories(dir);
  int n = 0;
  for (int variant = 0; variant < 4; ++variant) {
    StoreSim s;
    Database db("a");
    db.declareIndexes(kDefs);
    db.trackStorage(true);
    Database other("b");
    commitOps(other, {setOp("t", "k1", {{"x", 1}}), setOp("u", "z", {{"q", "w"}})});
    for (int i = 0; i < 20 + variant * 30; ++i) {
      commitOps(db, {setOp("t", "k" + std::to_string(i % 6),
                           {{"x", i % 4}, {"y", std::string(variant * 40, 'v')}})});
      if (i == 7) syncFrom(db, other);
      if (i % (variant + 2) == 0) s.take(db);
    }
    commitOps(other, {updateOp("t", "k1", {{"x", 9}})});
    syncFrom(db, other);
    s.take(db);
    const Bytes b = framed(s);
    std::ofstream(dir + "/seed-" + std::to_string(n++), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp((*argv)[i], "--write-seeds=", 14) == 0) {
      writeSeeds((*argv)[i] + 14);
      std::exit(0);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boundary::StoredState st;
  try {
    st = boundary::decodeStoredState(ByteSpan(data, size));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Type) fail(std::string("framing: unexpected error ") + e.what());
    return 0;
  }
  Database db("a");
  try {
    db.load(st.events, st.rows);
  } catch (const DecodeError&) {
    return 0;
  } catch (const std::exception& e) {
    fail(std::string("load threw something other than DecodeError: ") + e.what());
  }
  try {
    db.declareIndexes(kDefs);
    db.trackStorage(true);
    db.checkInvariants();
  } catch (const std::exception& e) {
    fail(std::string("a loaded replica is broken: ") + e.what());
  }
  try {
    (void)db.changesSince(nullptr);
  } catch (const DecodeError&) {
  } catch (const std::exception& e) {
    fail(std::string("changesSince threw something other than DecodeError: ") + e.what());
  }
  try {
    commitOps(db, {setOp("t", "fresh", {{"x", 1}})});
    ByteWriter w;
    db.takeStorage(w);
    db.checkInvariants();
  } catch (const Error& e) {
    // A clock or event limit reached by the loaded history refuses writes cleanly.
    if (e.code() != ErrorCode::Internal) fail(std::string("commit after load: ") + e.what());
  }
  return 0;
}
