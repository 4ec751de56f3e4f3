// Native engine figures: the encoded size of typical changes (one single-column update, a
// 10,000-row insert batch of one transaction with 8 columns per row, a peer's 1,000
// consecutive single-update transactions as changesSince sends them), and the time to load a
// 100,000-transaction history into an empty replica. Sizes are deterministic; times are for
// spotting complexity regressions (build/release for meaningful numbers).
//   build/native/crdtdb_bench_engine
#include <chrono>
#include <cstdio>
#include <string>

#include "db/database.h"

using namespace crdtdb;

namespace {

Op row(int i) {
  Op op{OpKind::SetRow, "users", std::string("user_") + std::to_string(i), {}};
  op.columns = {{"active", i % 2 == 0},
                {"age", 18 + i % 60},
                {"city", std::string("city-") + std::to_string(i % 100)},
                {"email", std::string("user") + std::to_string(i) + "@example.com"},
                {"firstname", std::string("first") + std::to_string(i % 1000)},
                {"lastname", std::string("last") + std::to_string(i % 977)},
                {"score", (i % 1000) / 8.0 + 0.5},
                {"visits", i % 1000}};
  return op;
}

}  // namespace

int main() {
  const std::string peer = "k3j9x2m4p8q1w7z5";  // 16 characters, like a generated peer id
  Database db(peer);
  std::vector<Op> batch;
  for (int i = 0; i < 10000; ++i) batch.push_back(row(i));
  Bytes insert = db.commit(batch).encoded;
  std::printf("10k-row insert batch (8 columns, one transaction): %zu bytes (%.1f per row)\n",
              insert.size(), insert.size() / 10000.0);

  Bytes update = db.commit({Op{OpKind::UpdateRow, "users", "user_42", {{"age", 31}}}}).encoded;
  std::printf("single-column update message: %zu bytes\n", update.size());

  Bytes before = db.version();
  for (int i = 0; i < 1000; ++i) {
    db.commit({Op{OpKind::UpdateRow,
                  "users",
                  std::string("user_") + std::to_string(i),
                  {{"visits", i + 1}}}});
  }
  Bytes run = db.changesSince(before);
  std::printf("1,000 single-column update transactions via changesSince: %zu bytes (%.1f each)\n",
              run.size(), run.size() / 1000.0);
  std::printf("version summary (1 peer): %zu bytes\n", db.version().size());

  Database writer("peer-a");
  for (int i = 0; i < 100000; ++i) {
    writer.commit(
        {Op{OpKind::SetRow, "t", std::string("k") + std::to_string(i % 5000), {{"v", i}}}});
  }
  Bytes history = writer.changesSince({});
  auto t0 = std::chrono::steady_clock::now();
  Database reader("peer-b");
  reader.applyChanges(history);
  auto t1 = std::chrono::steady_clock::now();
  std::printf("load of 100,000 single-op transactions (%zu bytes): %.1f ms\n", history.size(),
              std::chrono::duration<double, std::milli>(t1 - t0).count());
  return 0;
}
