// Memory for any message is a small constant times its size: the peak of bytes in use while
// a fresh replica applies it (state it keeps included), over the message's size, for shapes
// an attacker would pick — and an honest history. The constant asserted here is for this
// native 64-bit build (pointers, std::string and container headers are about twice their WASM
// size); the M1 benchmark reports the WASM figures. Causally early transactions are bounded
// apart from this: what they hold counts toward maxPendingBytes (memory, not encoded size).
#include <catch2/catch.hpp>
#include <functional>
#include <iostream>
#include <string>

#include "core/errors.h"
#include "db/database.h"
#include "support/alloc_hooks.h"
#include "support/craft.h"

using namespace crdtdb;
using namespace crdtdb::testing;

namespace {

constexpr double kMaxPeakPerByte = 32.0;

double peakRatio(const Bytes& message, std::size_t maxPendingBytes = std::size_t{1} << 30) {
  Database db("target", DatabaseOptions{maxPendingBytes, 1});
  const std::size_t base = bytesInUse();
  resetPeak();
  db.applyChanges(message);
  const double ratio =
      static_cast<double>(peakBytes() - base) / static_cast<double>(message.size());
  return ratio;
}

Bytes message(const std::function<void(ChunkWriter&)>& fill) {
  ChunkWriter w;
  fill(w);
  ByteWriter out;
  std::size_t f = beginFrame(out, FrameKind::Changes);
  out.varint(1);
  w.writeTo(out);
  finishFrame(out, f);
  return out.take();
}

std::string key(int i) {
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string k;
  do {
    k.push_back(digits[i % 36]);
    i /= 36;
  } while (i > 0);
  return k;
}

}  // namespace

TEST_CASE("peak memory while applying a message is a small constant times its size",
          "[db][memory]") {
  SECTION("an array of a million nulls") {
    ByteWriter v;
    writeArrayHeader(v, 1000000);
    for (int i = 0; i < 1000000; ++i) writeNull(v);
    const Bytes value = v.take();
    Bytes m = message([&](ChunkWriter& w) {
      w.beginTxn(w.peer("p"), 0, false, {}, 1);
      w.op(OpKind::SetRow, w.name("t"), "k");
      w.columnCount(1);
      w.column(w.name("c"), value);
    });
    const double r = peakRatio(m);
    std::cerr << "memory: a million nulls: " << r << "x\n";
    REQUIRE(r <= kMaxPeakPerByte);
  }
  SECTION("many tiny rows") {
    Bytes m = message([](ChunkWriter& w) {
      const std::uint32_t p = w.peer("p"), t = w.name("t"), c = w.name("c");
      for (int i = 0; i < 100000; ++i) {
        w.beginTxn(p, static_cast<Seq>(i), i > 0, std::vector<ParentRef>{}, 1);
        w.op(OpKind::SetRow, t, key(i));
        w.columnCount(1);
        const std::uint8_t zero = 0xc0;
        w.column(c, ValueRef(&zero, 1));
      }
    });
    const double r = peakRatio(m);
    std::cerr << "memory: 100k tiny rows: " << r << "x\n";
    REQUIRE(r <= kMaxPeakPerByte);
  }
  SECTION("one row with many columns") {
    Bytes m = message([](ChunkWriter& w) {
      std::vector<std::uint32_t> names;
      for (int i = 0; i < 50000; ++i) names.push_back(w.name("c" + key(i)));
      std::sort(names.begin(), names.end(), [&](std::uint32_t a, std::uint32_t b) {
        return ("c" + key(static_cast<int>(a))) < ("c" + key(static_cast<int>(b)));
      });
      w.beginTxn(w.peer("p"), 0, false, {}, 1);
      w.op(OpKind::SetRow, w.name("t"), "k");
      w.columnCount(50000);
      std::vector<std::string> sorted;
      for (int i = 0; i < 50000; ++i) sorted.push_back("c" + key(i));
      std::sort(sorted.begin(), sorted.end());
      const std::uint8_t one = 0xc1;
      for (const auto& n : sorted) w.column(w.name(n), ValueRef(&one, 1));
    });
    const double r = peakRatio(m);
    std::cerr << "memory: 50k columns: " << r << "x\n";
    REQUIRE(r <= kMaxPeakPerByte);
  }
  SECTION("an honest history of inserts and updates") {
    Database src("src");
    for (int i = 0; i < 20000; ++i) {
      Op op{i < 2000 ? OpKind::SetRow : OpKind::UpdateRow,
            "rows",
            "row" + std::to_string(i % 2000),
            {}};
      for (int c = 0; c < (i < 2000 ? 8 : 1); ++c) {
        op.columns.emplace_back("c" + std::to_string(c),
                                c % 2 ? stringValue("s" + key(i * 7919)) : intValue(i * 31));
      }
      std::vector<ColumnRef> cols;
      OpRef ref = refOf(op, cols);
      src.commit(std::span<const OpRef>(&ref, 1));
    }
    const double r = peakRatio(src.changesSince(nullptr));
    std::cerr << "memory: honest history: " << r << "x\n";
    REQUIRE(r <= kMaxPeakPerByte);
  }
  SECTION("causally early transactions: the pending bound counts their memory") {
    Bytes m = message([](ChunkWriter& w) {
      const std::uint32_t p = w.peer("p"), t = w.name("t"), c = w.name("c");
      for (int i = 0; i < 20000; ++i) {
        // Every transaction waits for an earlier one that never comes in this message.
        w.beginTxn(p, static_cast<Seq>(2 * i + 1), true, std::vector<ParentRef>{}, 1);
        w.op(OpKind::SetRow, t, key(i));
        w.columnCount(1);
        const std::uint8_t zero = 0xc0;
        w.column(c, ValueRef(&zero, 1));
      }
    });
    const std::size_t bound = 1u << 20;
    Database db("target", DatabaseOptions{bound, 1});
    const Bytes before = db.encodeState();
    const std::size_t base = bytesInUse();
    resetPeak();
    REQUIRE_THROWS_MATCHES(db.applyChanges(m), Error, Catch::Predicate<Error>([](const Error& e) {
                             return e.code() == ErrorCode::PendingOverflow;
                           }));
    std::cerr << "memory: held transactions over the bound: peak "
              << static_cast<double>(peakBytes() - base) / static_cast<double>(m.size())
              << "x of the message, bound " << bound << " B\n";
    REQUIRE(peakBytes() - base <= bound + static_cast<std::size_t>(kMaxPeakPerByte) * m.size());
    REQUIRE(db.heldEvents() == 0);
    REQUIRE(db.encodeState() == before);
    // Within the bound, held memory is what the bound counts.
    Database roomy("target", DatabaseOptions{std::size_t{64} << 20, 1});
    roomy.applyChanges(m);
    REQUIRE(roomy.heldEvents() == 20000);
    REQUIRE(roomy.heldBytes() <= std::size_t{64} << 20);
  }
}

// Chunk peer tables may list peers no run uses (the decoder accepts them): a message that
// applies nothing, such as a duplicate, must not grow the replica.
TEST_CASE("messages that apply nothing do not grow the replica", "[memory][sync]") {
  Database db("db");
  Crafter first;
  first.write("a", 0, {}, "t", "k", "v", intValue(1), OpKind::SetRow);
  REQUIRE(db.applyChanges(first.message()).applied == 1);
  auto duplicateWithUnusedPeers = [](int round) {
    ChunkWriter w;
    for (int i = 0; i < 2000; ++i)
      w.peer("unused-" + std::to_string(round) + "-" + std::to_string(i));
    w.beginTxn(w.peer("a"), 0, false, {}, 1);  // a:0 again
    w.op(OpKind::SetRow, w.name("t"), "k");
    w.columnCount(1);
    w.column(w.name("v"), intValue(1));
    ByteWriter out;
    const std::size_t f = beginFrame(out, FrameKind::Changes);
    out.varint(1);
    w.writeTo(out);
    finishFrame(out, f);
    return out.take();
  };
  db.applyChanges(duplicateWithUnusedPeers(-1));  // first-call growth of scratch tables
  db.applyChanges(first.message());
  const std::size_t before = bytesInUse();
  for (int round = 0; round < 20; ++round) {
    const ChangeSet r = db.applyChanges(duplicateWithUnusedPeers(round));
    REQUIRE(r.applied == 0);
    REQUIRE(r.pending == 0);
  }
  db.applyChanges(first.message());  // a commit point: the last call's undo data released
  const auto grown = static_cast<std::int64_t>(bytesInUse()) - static_cast<std::int64_t>(before);
  INFO("grew by " << grown << " bytes over 20 messages naming 40000 unused peers");
  REQUIRE(grown < 64 * 1024);
}
