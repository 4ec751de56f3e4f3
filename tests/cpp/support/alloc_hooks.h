// Test hooks on the global allocator (defined in alloc_hooks.cpp, which replaces operator
// new/delete for the whole test binary): fail the k-th allocation from now on, and account
// bytes in use (current and peak) to bound memory per message.
#pragma once

#include <cstddef>
#include <cstdint>

namespace crdtdb::testing {

// The k-th operator new call from now (0 = the next one) throws std::bad_alloc; later ones
// succeed. failNone() disarms.
void failAllocation(std::int64_t k);
void failNone();
// Calls of operator new since the counter was last reset.
std::int64_t allocationCount();
void resetAllocationCount();

// Bytes in use through operator new now, and the highest value since resetPeak().
std::size_t bytesInUse();
std::size_t peakBytes();
void resetPeak();

}  // namespace crdtdb::testing
