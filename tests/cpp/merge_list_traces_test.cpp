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

// Copies of two traces (tests/data/editing-traces/LICENSE.md).
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
