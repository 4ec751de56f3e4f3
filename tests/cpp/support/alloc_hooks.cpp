// Replaces the global operator new/delete of the test binary with counting versions (see
// alloc_hooks.h). Sizes come from malloc_usable_size, so delete needs no header.
#include "support/alloc_hooks.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::int64_t> countdown{-1};
std::atomic<std::int64_t> calls{0};
std::atomic<std::size_t> inUse{0};
std::atomic<std::size_t> peak{0};

void* allocate(std::size_t n) {
  calls.fetch_add(1, std::memory_order_relaxed);
  std::int64_t c = countdown.load(std::memory_order_relaxed);
  if (c >= 0) {
    countdown.store(c - 1, std::memory_order_relaxed);
    if (c == 0) throw std::bad_alloc();
  }
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  std::size_t now =
      inUse.fetch_add(malloc_usable_size(p), std::memory_order_relaxed) + malloc_usable_size(p);
  std::size_t prev = peak.load(std::memory_order_relaxed);
  while (now > prev && !peak.compare_exchange_weak(prev, now)) {
  }
  return p;
}

void release(void* p) noexcept {
  if (!p) return;
  inUse.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

// Every replaceable form, so nothing pairs the sanitizer's allocator with ours.
void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }

namespace crdtdb::testing {

void failAllocation(std::int64_t k) { countdown.store(k); }
void failNone() { countdown.store(-1); }
std::int64_t allocationCount() { return calls.load(); }
void resetAllocationCount() { calls.store(0); }
std::size_t bytesInUse() { return inUse.load(); }
std::size_t peakBytes() { return peak.load(); }
void resetPeak() { peak.store(inUse.load()); }

}  // namespace crdtdb::testing
