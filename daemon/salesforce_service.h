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

namespace crmsync::connectors::salesforce {
class SalesforceClient;
}

namespace crmsync::daemon {

class MetricsRegistry;

// The Salesforce side of `crmsync run`: the connector (session, client with the API budget), which
// every replica needs for apply, and, with salesforce.capture, the change capture on its own
// thread, producing to <prefix>.changes.salesforce, which only the capture leader runs. Publishes
// the API budget as metrics. Owned by DaemonProcess: start() after the admin endpoint;
// start_capture()/stop_capture() as the capture leadership comes and goes (each term polls from
// the stored cursors with a fresh overlap window); stop() early on shutdown. Main thread.
class SalesforceService {
 public:
  SalesforceService(const Config& config, mapping::SecretProvider& secrets, state::StateDatabaseSettings state,
                    MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~SalesforceService();

  // Builds the client and, with salesforce.capture, the capture's producer. Throws
  // std::runtime_error when the connector cannot be set up (Kafka producer configuration).
  void start();
  // Starts the capture thread (nothing without salesforce.capture, or if it runs already).
  void start_capture();
  void stop_capture();
  // The process is stopping: waits before retrying a CRM request end at once and no further
  // attempt is made (the apply batch in flight gives up and is delivered again later), so that
  // draining fits in daemon.shutdown_grace. Call before stop_capture().
  void begin_shutdown();
  void stop();
  std::optional<std::string> fatal_error() const;
  // The connector's client (thread-safe), shared with the apply worker; null before start().
  connectors::salesforce::SalesforceClient* client();
  void publish_metrics();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<std::string> fatal_error_;
};

// Credential files named in [salesforce], as a SecretProvider (when there is no [secrets] store).
std::unique_ptr<mapping::SecretProvider> salesforce_credential_files(const SalesforceSection& section);

}  // namespace crmsync::daemon
