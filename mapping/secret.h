#pragma once

#include <string>
#include <utility>

namespace crmsync::mapping {

// A value that must never reach a log line, an error message, a metric or the journal.
//
// Secret<T> has no stream operator and no fmt formatter, so `fmt::format("{}", secret)` and
// `log->info("{}", secret)` do not compile. `reveal()` is the one, greppable, way to the value;
// call it only where the value is handed to the system that needs it. The log redactor
// (daemon/log_redactor.h) is the second line of defence for values that escape through reveal().
template <typename T>
class Secret {
 public:
  Secret() = default;
  explicit Secret(T value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret&) = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret() { wipe(value_); }

  const T& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  // Overwrite the bytes before the memory goes back to the allocator, so that a later core dump
  // or heap reuse is less likely to show them. volatile keeps the compiler from dropping it.
  static void wipe(std::string& text) {
    volatile char* bytes = text.data();
    for (std::size_t i = 0; i < text.size(); ++i) bytes[i] = 0;
  }
  template <typename U>
  static void wipe(U&) {}

  T value_{};
};

using SecretString = Secret<std::string>;

}  // namespace crmsync::mapping
