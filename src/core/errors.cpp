#include "core/errors.h"

namespace crdtdb {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::Type:
      return "Type";
    case ErrorCode::NotFound:
      return "NotFound";
    case ErrorCode::Decode:
      return "Decode";
    case ErrorCode::PendingOverflow:
      return "PendingOverflow";
    case ErrorCode::UnknownIndex:
      return "UnknownIndex";
    case ErrorCode::Internal:
      return "Internal";
    case ErrorCode::OutOfMemory:
      return "OutOfMemory";
    case ErrorCode::Range:
      return "Range";
  }
  return "Internal";
}

}  // namespace crdtdb
