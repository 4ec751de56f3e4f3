// Runs a call on fresh replicas, failing each allocation it makes in turn: a failed call must
// leave the replica exactly as before (by `observe`), keep it working, and a repeat must end
// exactly like an undisturbed call.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <new>

#include "db/database.h"
#include "support/alloc_hooks.h"

namespace crdtdb::testing {

template <typename Observe>
void atEveryAllocation(const std::function<std::unique_ptr<Database>()>& setup,
                       const std::function<void(Database&)>& act, Observe&& observe) {
  auto ref = setup();
  resetAllocationCount();
  act(*ref);
  const std::int64_t n = allocationCount();
  const auto after = observe(*ref);
  REQUIRE(n > 0);
  std::int64_t failures = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    auto db = setup();
    const auto before = observe(*db);
    bool failed = false;
    failAllocation(k);
    try {
      act(*db);
    } catch (const std::bad_alloc&) {
      failed = true;
    }
    failNone();
    INFO("allocation " << k << " of " << n);
    if (failed) {
      ++failures;
      REQUIRE(observe(*db) == before);
      db->checkInvariants();
      act(*db);  // the replica keeps working
    }
    REQUIRE(observe(*db) == after);
    db->checkInvariants();
  }
  REQUIRE(failures > 0);
}

}  // namespace crdtdb::testing
