#include "daemon/admin_routes.h"

#include "daemon/metrics.h"
#include "daemon/readiness.h"
#include "daemon/supervisor_pulse.h"

#include <fmt/format.h>

namespace crmsync::daemon {

AdminRoutes::AdminRoutes(const Readiness& readiness, const MetricsRegistry& metrics, const SupervisorPulse* pulse)
    : readiness_(readiness), metrics_(metrics), pulse_(pulse) {}

AdminResponse AdminRoutes::handle(std::string_view method, std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  bool known = path == "/healthz" || path == "/readyz" || path == "/metrics";
  if (!known) return {404, "text/plain; charset=utf-8", "not found; try /healthz, /readyz, /metrics\n"};
  if (method != "GET" && method != "HEAD") {
    return {405, "text/plain; charset=utf-8", "method not allowed; use GET\n"};
  }
  if (path == "/healthz") {
    if (auto stalled = pulse_ != nullptr ? pulse_->stalled() : std::nullopt) {
      return {503, "text/plain; charset=utf-8",
              fmt::format("stalled: the supervisor made no progress for {} s (limit {} s); restart the process\n",
                          stalled->count() / 1000, pulse_->stall_limit().count() / 1000)};
    }
    return {200, "text/plain; charset=utf-8", "ok\n"};
  }
  if (path == "/readyz") {
    return {readiness_.ready() ? 200 : 503, "application/json", readiness_.to_json() + "\n"};
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render()};
}

}  // namespace crmsync::daemon
