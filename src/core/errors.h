// Typed engine errors. Every failure the public API can report maps to one ErrorCode;
// the names are mirrored in js/errors.js (tests/js checks that they match).
#pragma once

#include <stdexcept>
#include <string>

namespace crdtdb {

enum class ErrorCode {
  Type,             // invalid row, key, column or operation (JS TypeError)
  NotFound,         // the row an operation needs does not exist
  Decode,           // malformed, truncated or hostile bytes
  PendingOverflow,  // held causally-early changes would exceed their bound
  UnknownIndex,     // a query names an index that was not declared
  Internal,         // a broken invariant: a bug, never caused by input
  OutOfMemory,      // an allocation failed (the call changed nothing)
  Range,            // a position or length outside what the value holds (JS RangeError)
};

const char* errorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Decoding failures: thrown before any state changes, so the caller's state is untouched.
class DecodeError : public Error {
 public:
  explicit DecodeError(const std::string& message) : Error(ErrorCode::Decode, message) {}
};

}  // namespace crdtdb
