// The replicas the decoder fuzzer works against, shared by fuzz/apply_changes_fuzzer.cpp and
// tests/cpp/decoder_mutation_test.cpp: a crasher found by the fuzzer only reproduces against
// the same base replica, so both build it here.
//
// fz-a holds state: commits of its own, fz-b's and fz-c's merged transactions, and one
// causally early transaction of fz-c held (its predecessor cFirst never delivered).
// Needs tests/cpp on the include path (support/values.h).
#pragma once

#include <memory>

#include "db/database.h"
#include "support/values.h"

namespace crdtdb::fuzzing {

inline constexpr std::size_t kBasePendingBytes = 1024;  // small enough for inputs to overflow
inline constexpr std::size_t kEmptyPendingBytes = 64;

struct FuzzWorld {
  std::unique_ptr<Database> a, b, c;
  Bytes bUndelivered;  // b:3, a single-column update a lacks
  Bytes cFirst;        // c:0, the predecessor of the transaction a holds
};

inline FuzzWorld makeWorld() {
  using namespace crdtdb::testing;
  FuzzWorld w;
  w.a = std::make_unique<Database>("fz-a", DatabaseOptions{kBasePendingBytes});
  w.b = std::make_unique<Database>("fz-b");
  w.c = std::make_unique<Database>("fz-c");
  Database &a = *w.a, &b = *w.b, &c = *w.c;
  commitOps(a, {setOp("t0", "k0", {{"c0", 1}, {"c1", "x"}})});
  commitOps(a, {setOp("t0", "k1", {{"c0", true}}), updateOp("t0", "k0", {{"c1", "y"}})});
  commitOps(b,
            {setOp("t0", "k0", {{"c0", 2}}), setOp("t1", "k0", {{"c2", Json::array({1, 2.5})}})});
  syncFrom(b, a);
  commitOps(b, {updateOp("t0", "k0", {{"c2", nullptr}})});
  syncFrom(a, b);
  w.bUndelivered = commitOps(b, {updateOp("t0", "k1", {{"c0", false}})}).update;
  c.applyChanges(allChanges(a));
  w.cFirst = commitOps(c, {deleteOp("t0", "k1")}).update;
  a.applyChanges(commitOps(c, {setOp("t1", "k1", {{"c0", {{"n", 1}}}})}).update);
  commitOps(a, {deleteOp("t1", "k0")});
  return w;
}

// The fuzzed replica: knows fz-a:0..3 and fz-b:0..2; holds fz-c:1 (waiting for fz-c:0).
inline std::unique_ptr<Database> makeFuzzBase() { return std::move(makeWorld().a); }

inline std::unique_ptr<Database> makeFuzzEmpty() {
  return std::make_unique<Database>("fz-empty", DatabaseOptions{kEmptyPendingBytes});
}

}  // namespace crdtdb::fuzzing
