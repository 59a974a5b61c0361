#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace crmsync::mapping {

// What the caller of a failed operation can do about it. An adapter classifies a failure once,
// where it saw it (one SQLSTATE switch, one HTTP switch, one librdkafka switch); everything above
// acts on the class only.
enum class ErrorClass {
  transient,     // retry with backoff: connection lost, timeout, 5xx, broker not available
  rate_limited,  // retry after the time the other side asked for
  conflict,      // the other side changed underneath us: re-read and merge
  invalid,       // the input is wrong: retrying cannot help; dead-letter and journal it
  auth,          // credentials rejected: refresh once, then stop and tell an operator
  fatal,         // a bug or a broken invariant: stop the pipeline
};

std::string_view to_string(ErrorClass error_class);
bool is_retryable(ErrorClass error_class);

// A classified failure. `message` names what failed, with which input, and what to do; it never
// carries secrets or record payloads.
struct SyncError {
  ErrorClass error_class;
  std::string message;
};

// The result of an operation inside a pipeline: a value or a classified error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}              // NOLINT(google-explicit-constructor)
  Result(SyncError error) : state_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const SyncError& error() const { return std::get<SyncError>(state_); }

 private:
  std::variant<T, SyncError> state_;
};

// Result of an operation that produces no value.
struct Done {};
using Status = Result<Done>;
inline Status ok_status() { return Done{}; }

}  // namespace crmsync::mapping
