#pragma once

#include <string>
#include <string_view>

namespace crmsync::daemon {

class Readiness;
class MetricsRegistry;
class SupervisorPulse;

struct AdminResponse {
  int status = 200;
  std::string content_type{"text/plain; charset=utf-8"};
  std::string body;
};

// What the admin endpoint answers, independent of HTTP transport:
//   GET /healthz  200 while the process is alive: it answers and its supervisor makes progress
//                 (SupervisorPulse); 503 with the stall's length once it does not
//   GET /readyz   200 when every dependency is up and not draining, else 503; JSON detail
//   GET /metrics  Prometheus text format 0.0.4
// Anything else is 404; a method other than GET or HEAD on a known path is 405.
class AdminRoutes {
 public:
  // `pulse` may be null (liveness is then the HTTP answer alone).
  AdminRoutes(const Readiness& readiness, const MetricsRegistry& metrics, const SupervisorPulse* pulse = nullptr);
  AdminResponse handle(std::string_view method, std::string_view target) const;

 private:
  const Readiness& readiness_;
  const MetricsRegistry& metrics_;
  const SupervisorPulse* pulse_;
};

}  // namespace crmsync::daemon
