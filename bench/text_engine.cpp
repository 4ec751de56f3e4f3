// Native figures for the Eg-walker text engine (profile with callgrind; see BENCHMARKS.md):
//   text_engine [--cold] <trace.json.gz>...   cold merge and live merge of each trace, ms
// --cold skips the live merge (for instruction counts of the cold merge alone).
#include <chrono>
#include <cstdio>
#include <string>

#include "support/trace_replay.h"

using namespace crdtdb;

namespace {
template <class F>
double ms(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  bool coldOnly = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--cold") {
      coldOnly = true;
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
