#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_settings.h"
#include "daemon/side_gateway.h"
#include "mapping/mapping_definition.h"
#include "mapping/retry_policy.h"
#include "mapping/secret.h"
#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;
class PrincipalDirectory;

struct ApplyServiceSettings {
  std::string instance_id;
  std::string topic_prefix{"crmsync"};
  std::string group_id{"crmsync-apply"};
  std::size_t batch_max_events = 500;
  std::size_t read_ahead_min = 10'000;  // events buffered ahead (at least 20 batches) for fair batches
  std::chrono::milliseconds linger{200};
  std::int64_t delete_guard_max = 100;
  std::chrono::milliseconds delete_guard_window{std::chrono::minutes(5)};
  std::chrono::milliseconds parked_sweep_interval{std::chrono::seconds(10)};
  mapping::RetryPolicy retry;
  // Where the principal map comes from (none: no partner is known, everything is denied by
  // default) and how often it is read again.
  std::shared_ptr<const PrincipalDirectory> principals;
  std::chrono::milliseconds directory_refresh{std::chrono::seconds(30)};
  // Anomaly flags (DESIGN §3): a partner org with more changes in a minute, or more denied changes
  // in an hour, than these is flagged (metric crmsync_partner_flagged, log, state table
  // partner_flags). 0 turns a check off.
  std::size_t anomaly_changes_per_minute = 5000;
  std::size_t anomaly_denied_per_hour = 20;
  std::set<std::string> quarantined_partner_orgs;
};

// The apply worker of `crmsync run` (DESIGN §2): a member of the consumer group over the three
// change topics. Collects a batch (batch_max_events, or what arrived within `linger` of the first
// record), hands it to the ApplyEngine, produces its dead letters to <prefix>.deadletter and waits
// for Kafka's acknowledgement, and only then commits the offsets. A failed batch (a side or the
// state database unavailable) is retried with backoff and never committed before it applied, so a
// crash at any point re-delivers and the engine's applied-event record makes that harmless. When
// idle, it re-applies the parked events that can go now (every parked_sweep_interval) and produces
// their dead letters the same way (an operator's retry that fails again is a new dead letter).
// Owned by DaemonProcess; one thread; stop() returns after the batch in flight finished or gave up.
class ApplyService {
 public:
  ApplyService(ApplyServiceSettings settings, connectors::kafka::KafkaSettings kafka, state::StateDatabaseSettings state,
               const mapping::MappingDefinition& mapping, std::vector<std::unique_ptr<SideGateway>> gateways,
               mapping::SecretString journal_key, MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~ApplyService();

  void start();
  void stop();
  std::optional<std::string> fatal_error() const;

 private:
  void run();

  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<std::string> fatal_error_;
};

}  // namespace crmsync::daemon
