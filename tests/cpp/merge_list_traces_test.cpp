// Real editing histories (tests/data/editing-traces, CC BY 4.0) merged by TextColumn must
// end in the recorded text: the concurrent traces replayed as one cold merge of the whole
// history and, on a second replica, merged transaction by transaction as they would arrive.
// Native only: the traces are read through gzip.
#ifndef __EMSCRIPTEN__
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "support/trace_replay.h"

using namespace crdtdb;
using crdtdb::testing::readGz;
using crdtdb::testing::TraceOps;
using crdtdb::testing::utf16;

namespace {

// Copies of three traces (tests/data/editing-traces/LICENSE.md).
const std::filesystem::path kTraces =
    std::filesystem::path(CRDTDB_TEST_DATA_DIR) / "../../data/editing-traces";

void checkTrace(const std::string& file) {
  const nlohmann::json trace = readGz(kTraces / file);
  const TraceOps ops(trace);
  const std::u16string expected = utf16(trace["endContent"].get<std::string>());
  INFO(file);
  list::TextColumn cold, live;
  ops.replay(cold, false);
  ops.replay(live, true);
  REQUIRE(cold.text().size() == expected.size());
  REQUIRE(cold.text().str() == expected);
  REQUIRE(live.text().str() == expected);
}

}  // namespace

TEST_CASE("text traces: concurrent histories end in their recorded text") {
  checkTrace("friendsforever.json.gz");
  checkTrace("clownschool.json.gz");
}

#endif

#ifndef __EMSCRIPTEN__
TEST_CASE("text traces: a sequential history typed locally ends in its text, in few runs") {
  const nlohmann::json trace = readGz(kTraces / "friendsforever_flat.json.gz");
  list::TextColumn col;
  LV event = 0;
  std::size_t edits = 0;
  for (const auto& txn : trace["txns"]) {
    for (const auto& p : txn["patches"]) {
      const auto pos = p[0].get<std::uint32_t>(), del = p[1].get<std::uint32_t>();
      const std::u16string ins = utf16(p[2].get<std::string>());
      if (del > 0) col.localDelete(event++, pos, del, nullptr);
      if (!ins.empty()) col.localInsert(event++, pos, ins, nullptr);
      ++edits;
    }
  }
  REQUIRE(col.text().str() == utf16(trace["endContent"].get<std::string>()));
  REQUIRE(col.work().slowMerges == 0);
  // Keystrokes extend runs: far fewer op runs than edits.
  REQUIRE(col.ops().size() * 3 < edits);
  col.checkInvariants();
}
#endif
