#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crmsync::daemon {

// The set of secret values that must never appear in a log line. Every value the process loads
// as a secret (passwords, tokens, keys) is registered here when it is loaded; the log sink
// replaces each occurrence with `***` in every line, whatever logger wrote it.
//
// Shared (std::shared_ptr) by the log sink and the components that load secrets; thread-safe.
class LogRedactor {
 public:
  static constexpr std::string_view kMask = "***";

  // Registers a value. Empty values are ignored. Values shorter than kMinimumLength are still
  // registered (a leak is worse than a noisy log), but such short secrets should not exist.
  void add_secret(std::string_view value);

  // `text` with every registered value replaced by kMask (longest values first, so that a secret
  // containing another is masked whole).
  std::string redact(std::string_view text) const;

  std::size_t secret_count() const;

  static constexpr std::size_t kMinimumLength = 4;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> secrets_;  // sorted longest first
};

}  // namespace crmsync::daemon
