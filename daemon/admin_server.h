#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace crmsync::daemon {

class AdminRoutes;

// The admin HTTP endpoint (/healthz, /readyz, /metrics) on its own thread with Boost.Beast:
// HTTP/1.1 with keep-alive, small request limits and read timeouts so that a slow or hostile
// client cannot hold it. Owned by the composition root; start() binds (throws with the address
// when it cannot), stop() closes the listener and joins.
class AdminServer {
 public:
  AdminServer(const AdminRoutes& routes, std::shared_ptr<spdlog::logger> logger);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds host:port (port 0 picks a free one) and starts serving. Returns the bound port.
  std::uint16_t start(const std::string& host, std::uint16_t port);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::daemon
