#include "daemon/readiness.h"

#include <fmt/format.h>

namespace crmsync::daemon {

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

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
    out += fmt::format("{}:{{\"up\":{},\"detail\":{}}}", json_string(name), check.up,
                       json_string(check.detail));
  }
  return out + "}}";
}

}  // namespace crmsync::daemon
