#include "mapping/sync_error.h"

namespace crmsync::mapping {

std::string_view to_string(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::transient: return "transient";
    case ErrorClass::rate_limited: return "rate_limited";
    case ErrorClass::conflict: return "conflict";
    case ErrorClass::invalid: return "invalid";
    case ErrorClass::auth: return "auth";
    case ErrorClass::fatal: return "fatal";
  }
  return "unknown";
}

bool is_retryable(ErrorClass error_class) {
  return error_class == ErrorClass::transient || error_class == ErrorClass::rate_limited;
}

}  // namespace crmsync::mapping
