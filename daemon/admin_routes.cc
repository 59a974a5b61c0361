#include "daemon/admin_routes.h"

#include "daemon/metrics.h"
#include "daemon/readiness.h"

namespace crmsync::daemon {

AdminRoutes::AdminRoutes(const Readiness& readiness, const MetricsRegistry& metrics)
    : readiness_(readiness), metrics_(metrics) {}

AdminResponse AdminRoutes::handle(std::string_view method, std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  bool known = path == "/healthz" || path == "/readyz" || path == "/metrics";
  if (!known) return {404, "text/plain; charset=utf-8", "not found; try /healthz, /readyz, /metrics\n"};
  if (method != "GET" && method != "HEAD") {
    return {405, "text/plain; charset=utf-8", "method not allowed; use GET\n"};
  }
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    return {readiness_.ready() ? 200 : 503, "application/json", readiness_.to_json() + "\n"};
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render()};
}

}  // namespace crmsync::daemon
