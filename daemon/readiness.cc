#include "daemon/readiness.h"

#include <fmt/format.h>

#include "daemon/json_text.h"

namespace crmsync::daemon {

void Readiness::require(const std::string& dependency) {
  std::lock_guard lock(mutex_);
  checks_.try_emplace(dependency);
}

void Readiness::set(const std::string& dependency, bool up, std::string detail) {
  std::lock_guard lock(mutex_);
  checks_[dependency] = Check{up, std::move(detail)};
}

void Readiness::set_draining() {
  std::lock_guard lock(mutex_);
  draining_ = true;
}

bool Readiness::ready() const {
  std::lock_guard lock(mutex_);
  if (draining_) return false;
  for (const auto& [name, check] : checks_) {
    if (!check.up) return false;
  }
  return true;
}

bool Readiness::is_up(const std::string& dependency) const {
  std::lock_guard lock(mutex_);
  auto it = checks_.find(dependency);
  return it != checks_.end() && it->second.up;
}

std::string Readiness::to_json() const {
  bool is_ready = ready();
  std::lock_guard lock(mutex_);
  std::string out = fmt::format("{{\"ready\":{},\"draining\":{},\"checks\":{{", is_ready, draining_);
  bool first = true;
  for (const auto& [name, check] : checks_) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{}:{{\"up\":{},\"detail\":{}}}", json_quote(name), check.up,
                       json_quote(check.detail));
  }
  return out + "}}";
}

}  // namespace crmsync::daemon
