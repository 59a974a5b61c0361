#include "daemon/log_redactor.h"

#include <algorithm>

namespace crmsync::daemon {

void LogRedactor::add_secret(std::string_view value) {
  if (value.empty()) return;
  std::lock_guard lock(mutex_);
  if (std::find(secrets_.begin(), secrets_.end(), value) != secrets_.end()) return;
  secrets_.emplace_back(value);
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string LogRedactor::redact(std::string_view text) const {
  std::string out(text);
  std::lock_guard lock(mutex_);
  for (const std::string& secret : secrets_) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kMask);
      pos += kMask.size();
    }
  }
  return out;
}

std::size_t LogRedactor::secret_count() const {
  std::lock_guard lock(mutex_);
  return secrets_.size();
}

}  // namespace crmsync::daemon
