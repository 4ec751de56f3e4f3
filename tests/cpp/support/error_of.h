// The engine error a call throws, for tests that check typed errors: fails the test if the
// call throws nothing.
#pragma once

#include <catch2/catch.hpp>
#include <functional>

#include "core/errors.h"

namespace crdtdb::testing {

inline ErrorCode errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("accepted");
  return ErrorCode::Internal;
}

}  // namespace crdtdb::testing
