// Native engine figures: the encoded size of typical changes (one single-column update, a
// 10,000-row insert batch of one transaction with 8 columns per row, a peer's 1,000
// consecutive single-update transactions as changesSince sends them), and the time to load a
// 100,000-transaction history into an empty replica. Sizes are deterministic; times are for
// spotting complexity regressions (build/release for meaningful numbers).
//   build/native/crdtdb_bench_engine
// An R1-shaped history (bench/r1-rows.mjs: 10,000 rows x 8 columns inserted one per
// transaction, 100,000 single-cell updates, 1,000 deletes, then two replicas making 50,000
// concurrent updates each, merged both ways) for profiling the full load natively:
//   build/release/crdtdb_bench_engine --write-r1 /tmp/r1.bin
//   valgrind --tool=callgrind --toggle-collect='crdtdb::Database::applyChanges*'
//       build/release/crdtdb_bench_engine --load /tmp/r1.bin
#include <malloc.h>  // mallinfo2: the heap the loaded replica keeps (glibc; native only)

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/value.h"
#include "db/database.h"

using namespace crdtdb;

namespace {

Bytes intValue(std::int64_t i) {
  ByteWriter w;
  writeInt(w, i);
  return w.take();
}
Bytes numberValue(double d) {
  ByteWriter w;
  writeNumber(w, d);
  return w.take();
}
Bytes stringValue(const std::string& s) {
  ByteWriter w;
  writeString(w, s);
  return w.take();
}
Bytes boolValue(bool b) {
  ByteWriter w;
  writeBool(w, b);
  return w.take();
}

Op row(int i) {
  Op op{OpKind::SetRow, "users", std::string("user_") + std::to_string(i), {}};
  // Sorted by column name, as an Op requires.
  op.columns = {{"active", boolValue(i % 2 == 0)},
                {"age", intValue(18 + i % 60)},
                {"city", stringValue(std::string("city-") + std::to_string(i % 100))},
                {"email", stringValue(std::string("user") + std::to_string(i) + "@example.com")},
                {"firstname", stringValue(std::string("first") + std::to_string(i % 1000))},
                {"lastname", stringValue(std::string("last") + std::to_string(i % 977))},
                {"score", numberValue((i % 1000) / 8.0 + 0.5)},
                {"visits", intValue(i % 1000)}};
  return op;
}

Op update(const std::string& key, const std::string& column, std::int64_t v) {
  return Op{OpKind::UpdateRow, "users", key, {{column, intValue(v)}}};
}

ChangeSet commit(Database& db, const std::vector<Op>& ops, bool wantUpdate) {
  std::vector<std::vector<ColumnRef>> cols(ops.size());
  std::vector<OpRef> refs;
  refs.reserve(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) refs.push_back(refOf(ops[i], cols[i]));
  return db.commit(refs, wantUpdate);
}

Bytes changesSince(const Database& db, const Bytes& version) {
  const ByteSpan v(version);
  return db.changesSince(&v);
}

std::string r1Key(std::uint32_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "row%06u", i);
  return buf;
}

Op cellUpdate(const std::string& key, const char* column, std::int64_t v) {
  return Op{OpKind::UpdateRow, "rows", key, {{column, intValue(v)}}};
}

// The R1 workload's history, as one replica's changesSince() after both replicas synced.
Bytes r1History() {
  static const char* kCols[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
  std::mt19937 rng(20261122);
  Database a("r1-replica-a"), b("r1-replica-b");
  for (std::uint32_t i = 0; i < 10000; ++i) {
    Op op{OpKind::SetRow, "rows", r1Key(i), {}};
    for (const char* c : kCols) op.columns.push_back({c, intValue(rng() % 1000000)});
    commit(a, {op}, false);
  }
  for (int i = 0; i < 100000; ++i) {
    commit(a, {cellUpdate(r1Key(rng() % 10000), kCols[rng() % 8], rng() % 1000000)}, false);
  }
  for (std::uint32_t i = 0; i < 1000; ++i) {
    commit(a, {Op{OpKind::DeleteRow, "rows", r1Key(i * 10), {}}}, false);
  }
  b.applyChanges(a.changesSince(nullptr));
  for (int i = 0; i < 50000; ++i) {
    const std::string key = r1Key(1 + (rng() % 1000) * 10);  // rows that still exist
    const char* col = kCols[rng() % 8];
    commit(a, {cellUpdate(key, col, rng() % 1000000)}, false);
    commit(b, {cellUpdate(key, col, rng() % 1000000)}, false);
  }
  b.applyChanges(changesSince(a, b.version()));
  a.applyChanges(changesSince(b, a.version()));
  return a.changesSince(nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--write-r1") == 0) {
    const Bytes h = r1History();
    std::ofstream(argv[2], std::ios::binary)
        .write(reinterpret_cast<const char*>(h.data()), static_cast<std::streamsize>(h.size()));
    std::printf("R1 history: %zu bytes written to %s\n", h.size(), argv[2]);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--load") == 0) {
    std::ifstream in(argv[2], std::ios::binary);
    const Bytes h((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto t0 = std::chrono::steady_clock::now();
    Database reader("r1-reader");
    const ChangeSet cs = reader.applyChanges(h);
    const auto t1 = std::chrono::steady_clock::now();
    // Heap in use after a following small call (which drops the load's undo journals), less
    // the message buffer: what the replica keeps.
    commit(reader, {Op{OpKind::SetRow, "idle", "x", {{"v", intValue(1)}}}}, false);
    const struct mallinfo2 mi = mallinfo2();
    const std::size_t heap = mi.uordblks + mi.hblkhd - h.capacity();  // (+ mmapped blocks)
    std::printf(
        "load of %zu bytes: %zu events applied in %.1f ms, heap after %.1f MB (%zu peers, %zu "
        "graph runs, %zu version vector nodes)\n",
        h.size(), static_cast<std::size_t>(cs.applied),
        std::chrono::duration<double, std::milli>(t1 - t0).count(), heap / 1e6,
        static_cast<std::size_t>(reader.graph().peerCount()), reader.graph().runs().size(),
        reader.graph().vvStore().nodeCount());
    return 0;
  }

  const std::string peer = "k3j9x2m4p8q1w7z5";  // 16 characters, like a generated peer id
  Database db(peer);
  std::vector<Op> batch;
  for (int i = 0; i < 10000; ++i) batch.push_back(row(i));
  const Bytes insert = commit(db, batch, true).update;
  std::printf("10k-row insert batch (8 columns, one transaction): %zu bytes (%.1f per row)\n",
              insert.size(), insert.size() / 10000.0);

  const Bytes single = commit(db, {update("user_42", "age", 31)}, true).update;
  std::printf("single-column update message: %zu bytes\n", single.size());

  const Bytes before = db.version();
  for (int i = 0; i < 1000; ++i) {
    commit(db, {update(std::string("user_") + std::to_string(i), "visits", i + 1)}, false);
  }
  const Bytes run = changesSince(db, before);
  std::printf("1,000 single-column update transactions via changesSince: %zu bytes (%.1f each)\n",
              run.size(), run.size() / 1000.0);
  std::printf("version summary (1 peer): %zu bytes\n", db.version().size());

  Database writer("peer-a");
  for (int i = 0; i < 100000; ++i) {
    commit(writer,
           {Op{OpKind::SetRow,
               "t",
               std::string("k") + std::to_string(i % 5000),
               {{"v", intValue(i)}}}},
           false);
  }
  const Bytes history = writer.changesSince(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  Database reader("peer-b");
  reader.applyChanges(history);
  const auto t1 = std::chrono::steady_clock::now();
  std::printf("load of 100,000 single-op transactions (%zu bytes): %.1f ms\n", history.size(),
              std::chrono::duration<double, std::milli>(t1 - t0).count());
  if (reader.encodeState() != writer.encodeState()) {
    std::printf("error: the loaded replica differs from the writer\n");
    return 1;
  }
  return 0;
}
