#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/config.h"
#include "mapping/secret_provider.h"
#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::dynamics {
class DataverseClient;
}

namespace crmsync::daemon {

class MetricsRegistry;

// The Dataverse side of `crmsync run`: with dynamics.capture, the client (every replica's apply
// writes through it) and the change-tracking capture on its own thread, producing to
// <prefix>.changes.dynamics, which only the capture leader runs. The capture waits for the state
// database (delta links live there) and keeps going through CRM outages; only a fatal error stops
// the daemon. Owned by DaemonProcess: start() after the admin endpoint; start_capture() /
// stop_capture() as the capture leadership comes and goes; stop() early on shutdown. Main thread.
class DynamicsService {
 public:
  DynamicsService(const Config& config, mapping::SecretProvider& secrets, state::StateDatabaseSettings state,
                  MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~DynamicsService();

  // Builds the client and the capture's producer (with dynamics.capture); throws
  // std::runtime_error when the Kafka producer cannot be configured.
  void start();
  // Starts the capture thread (nothing before start(), or if it runs already).
  void start_capture();
  void stop_capture();
  // The process is stopping: waits before retrying a CRM request end at once and no further
  // attempt is made (the apply batch in flight gives up and is delivered again later), so that
  // draining fits in daemon.shutdown_grace. Call before stop_capture().
  void begin_shutdown();
  void stop();
  std::optional<std::string> fatal_error() const;
  // The connector's client (thread-safe), shared with the apply worker; null before start().
  connectors::dynamics::DataverseClient* client();
  void publish_metrics();

 private:
  void loop();
  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<std::string> fatal_error_;
};

// The credential file named in [dynamics], as a SecretProvider (when there is no [secrets] store).
std::unique_ptr<mapping::SecretProvider> dynamics_credential_files(const DynamicsSection& section);

}  // namespace crmsync::daemon
