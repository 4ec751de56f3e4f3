// Native figures for the Eg-walker text engine (profile with callgrind; see BENCHMARKS.md):
//   text_engine [--cold] <trace.json.gz>...   cold merge and live merge of each trace, ms
// --cold skips the live merge (for instruction counts of the cold merge alone).
//   text_engine --local <sequential trace.json.gz>...   local editing replay (T1's shape:
//   one edit per keystroke, as TextColumn::localInsert / localDelete), ns per edit
//   text_engine --db-local <sequential trace.json.gz>...   the same through Database::commit
//   (a row's text column, one transaction per edit, update bytes made): the engine's share of
//   T1's call path
//   text_engine --db-load <sequential trace.json.gz>...   that history (changesSince) applied to
//   a fresh replica: T1's load and the per-event merge cost of T2
#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "db/database.h"
#include "merge/text_op.h"
#include "support/trace_replay.h"
#include "support/values.h"

using namespace crdtdb;

namespace {
template <class F>
double ms(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// A sequential trace's patches ({ endContent, txns: [{ patches }] }) in order, the inserted
// text as `Str` (UTF-8, or UTF-16 through testing::utf16).
template <class Str>
std::vector<std::tuple<std::uint32_t, std::uint32_t, Str>> patchesOf(const nlohmann::json& trace) {
  std::vector<std::tuple<std::uint32_t, std::uint32_t, Str>> edits;
  for (const auto& txn : trace["txns"]) {
    for (const auto& p : txn["patches"]) {
      std::string ins = p[2].get<std::string>();
      if constexpr (std::is_same_v<Str, std::string>) {
        edits.emplace_back(p[0].get<std::uint32_t>(), p[1].get<std::uint32_t>(), std::move(ins));
      } else {
        edits.emplace_back(p[0].get<std::uint32_t>(), p[1].get<std::uint32_t>(),
                           testing::utf16(ins));
      }
    }
  }
  return edits;
}

}  // namespace

// Sequential traces (ASCII): every patch as local edits.
int replayLocal(const char* path) {
  const nlohmann::json trace = testing::readGz(path);
  const auto edits = patchesOf<std::u16string>(trace);
  list::TextColumn col;
  LV event = 0;
  const double t = ms([&] {
    for (const auto& [pos, del, ins] : edits) {
      if (del > 0) col.localDelete(event++, pos, del, nullptr);
      if (!ins.empty()) col.localInsert(event++, pos, ins, nullptr);
    }
  });
  const bool ok = col.text().str() == testing::utf16(trace["endContent"].get<std::string>());
  std::printf("%s: %zu edits, %.1f ms (%.0f ns per edit), %zu op runs, memory %zu B, %s\n", path,
              edits.size(), t, t * 1e6 / static_cast<double>(edits.size()), col.ops().size(),
              col.memoryBytes(), ok ? "ok" : "WRONG TEXT");
  return ok ? 0 : 1;
}

// The same keystrokes committed one per transaction to a row's text column through Database.
int replayDb(const char* path, bool loadOnly = false) {
  const nlohmann::json trace = testing::readGz(path);
  const auto edits = patchesOf<std::string>(trace);
  Database db("bench-peer-00001");
  testing::commitOps(db, {testing::setOp("docs", "d", {{"title", "t"}})});
  testing::commitOps(db, {Op{OpKind::TextCreate, "docs", "d", {{"body", testing::enc(nullptr)}}}});
  std::size_t updateBytes = 0;
  auto commitEdit = [&](std::uint32_t pos, bool insert, std::string_view s, std::uint32_t len) {
    ByteWriter w;
    writeLocalTextEdit(pos, insert, s, len, w);
    const Op op{OpKind::TextEdit, "docs", "d", {{"body", w.take()}}};
    updateBytes += testing::commitOps(db, {op}, true).update.size();
  };
  const double t = ms([&] {
    for (const auto& [pos, del, ins] : edits) {
      if (del > 0) commitEdit(pos, false, "", del);
      if (!ins.empty()) commitEdit(pos, true, ins, 0);
    }
  });
  if (loadOnly) {
    const Bytes history = db.changesSince(nullptr);
    Database fresh("bench-loader-0001");
    const double loadMs = ms([&] { fresh.applyChanges(history); });
    const auto loaded = testing::rowJson(fresh, "docs", "d");
    const bool same = loaded && (*loaded)["body"] == trace["endContent"];
    std::printf("%s: %zu B history, load %.1f ms (%.0f ns per edit), %s\n", path, history.size(),
                loadMs, loadMs * 1e6 / static_cast<double>(edits.size()),
                same ? "ok" : "WRONG TEXT");
    return same ? 0 : 1;
  }
  const auto row = testing::rowJson(db, "docs", "d");
  const bool ok = row && (*row)["body"] == trace["endContent"];
  std::printf("%s: %zu edits, %.1f ms (%.0f ns per edit), %.1f update bytes per edit, %s\n", path,
              edits.size(), t, t * 1e6 / static_cast<double>(edits.size()),
              static_cast<double>(updateBytes) / static_cast<double>(edits.size()),
              ok ? "ok" : "WRONG TEXT");
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  bool coldOnly = false, local = false, dbLocal = false, dbLoad = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--cold") {
      coldOnly = true;
      continue;
    }
    if (std::string(argv[i]) == "--local") {
      local = true;
      continue;
    }
    if (std::string(argv[i]) == "--db-local") {
      dbLocal = true;
      continue;
    }
    if (std::string(argv[i]) == "--db-load") {
      dbLoad = true;
      continue;
    }
    if (dbLocal || dbLoad) {
      if (replayDb(argv[i], dbLoad) != 0) return 1;
      continue;
    }
    if (local) {
      if (replayLocal(argv[i]) != 0) return 1;
      continue;
    }
    const nlohmann::json trace = testing::readGz(argv[i]);
    const std::u16string expected = testing::utf16(trace["endContent"].get<std::string>());
    const testing::TraceOps ops(trace);
    list::TextColumn cold, live;
    const double coldMs = ms([&] { ops.replay(cold, false); });
    const double liveMs = coldOnly ? 0 : ms([&] { ops.replay(live, true); });
    const bool ok = cold.text().str() == expected && (coldOnly || live.text().str() == expected);
    const auto& w = cold.work();
    std::printf("%s: %zu ops, cold merge %.1f ms, live merge %.1f ms, memory %zu B, %s\n", argv[i],
                ops.entries.size(), coldMs, liveMs, cold.memoryBytes(), ok ? "ok" : "WRONG TEXT");
    std::printf(
        "  cold: region %llu units, direct %llu, clears %llu, pieces %llu, toggled %llu spans, "
        "scanned %llu\n",
        static_cast<unsigned long long>(w.regionEvents),
        static_cast<unsigned long long>(w.directUnits), static_cast<unsigned long long>(w.clears),
        static_cast<unsigned long long>(w.inserted), static_cast<unsigned long long>(w.toggled),
        static_cast<unsigned long long>(w.scanned));
    if (!ok) return 1;
  }
  return 0;
}
