#pragma once

#include <map>
#include <mutex>
#include <string>

namespace crmsync::daemon {

// Whether this process should receive work (/readyz): every dependency it needs is reachable and
// it is not shutting down. Written by the dependency supervisor and the shutdown path, read by
// the admin endpoint. Thread-safe.
class Readiness {
 public:
  // Declares a dependency that must be up for the process to be ready; starts as down.
  void require(const std::string& dependency);
  void set(const std::string& dependency, bool up, std::string detail);
  void set_draining();

  bool ready() const;
  bool is_up(const std::string& dependency) const;
  // {"ready":false,"draining":false,"checks":{"kafka":{"up":true,"detail":"…"},…}}
  std::string to_json() const;

 private:
  struct Check {
    bool up = false;
    std::string detail{"not checked yet"};
  };
  mutable std::mutex mutex_;
  std::map<std::string, Check> checks_;
  bool draining_ = false;
};

}  // namespace crmsync::daemon
