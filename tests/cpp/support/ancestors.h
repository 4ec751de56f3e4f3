// Naive causal-graph oracles for tests: explicit ancestor sets and LV ranges as sets.
#pragma once

#include <set>
#include <vector>

#include "core/ids.h"

namespace crdtdb::testing {

// The events in `ranges`, one by one.
inline std::set<LV> expandRanges(const std::vector<LVRange>& ranges) {
  std::set<LV> out;
  for (const LVRange& r : ranges) {
    for (LV x = r.start; x < r.end; ++x) out.insert(x);
  }
  return out;
}

// The inclusive past of `version`, given each event's inclusive ancestor set.
inline std::set<LV> pastOfVersion(const std::vector<std::set<LV>>& past,
                                  const std::vector<LV>& version) {
  std::set<LV> out;
  for (LV x : version) out.insert(past[x].begin(), past[x].end());
  return out;
}

}  // namespace crdtdb::testing
