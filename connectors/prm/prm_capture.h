#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "connectors/prm/prm_table_binding.h"
#include "connectors/prm/replication_connection.h"
#include "mapping/retry_policy.h"
#include "mapping/sync_error.h"
#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {
class KafkaProducer;
}

namespace crmsync::connectors::prm {

// Called on the capture thread for every event Kafka acknowledged, with its transaction's commit
// time and the acknowledgement time (microseconds since the Unix epoch): for commit-to-Kafka
// latency measurements (benchmarks, histograms). Must be quick.
using AcknowledgementObserver = std::function<void(std::int64_t commit_unix_us, std::int64_t ack_unix_us)>;

struct PrmCaptureSettings {
  PrmConnectionSettings connection;
  std::string slot{"crmsync_prm"};
  std::string publication{"crmsync_prm"};
  std::string topic{"crmsync.changes.prm"};
  std::string deadletter_topic{"crmsync.deadletter"};
  std::chrono::milliseconds status_interval{std::chrono::seconds(10)};
  std::size_t snapshot_batch_rows = 5000;
  long long retained_wal_warning_bytes = 1LL << 30;
  std::chrono::milliseconds retained_wal_check_interval{std::chrono::seconds(60)};
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  AcknowledgementObserver on_acknowledged;  // optional
};

// What the capture reports for /metrics and `crmsync status`. Written by the capture thread,
// read by anyone.
struct PrmCaptureProbe {
  std::atomic<std::uint64_t> events_produced{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> echo_transactions_skipped{0};
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> ignored_rows{0};
  std::atomic<std::uint64_t> snapshot_rows{0};
  std::atomic<std::uint64_t> slots_lost{0};
  std::atomic<std::uint64_t> session_restarts{0};
  std::atomic<long long> lag_bytes{0};
  std::atomic<double> lag_seconds{0};
  std::atomic<long long> retained_wal_bytes{-1};
  std::atomic<bool> streaming{false};
  std::atomic<std::uint64_t> confirmed_lsn{0};
};

// The PRM change capture (DESIGN §2): a logical replication slot with pgoutput over the synced
// tables, turned into canonical events produced to Kafka with the idempotent producer. The slot is
// confirmed only up to transactions whose every event Kafka acknowledged, so a crash at any point
// re-sends (with the same event ids) and never loses. First start, a lost slot, or an interrupted
// snapshot create a slot with an exported snapshot and read the tables inside it, so nothing falls
// between snapshot and stream. A second replica finds the slot in use and waits its turn.
//
// Owned by the daemon's composition root; run() blocks on the calling thread until `stop`.
class PrmCapture {
 public:
  PrmCapture(PrmCaptureSettings settings, PrmBindings bindings, state::StateDatabaseSettings state,
             kafka::KafkaProducer& producer, std::shared_ptr<spdlog::logger> logger,
             mapping::RetryPolicy retry, mapping::UniformRandom uniform01);
  ~PrmCapture();

  // Runs sessions until `stop` is set, reconnecting with backoff after transient failures.
  // Returns an error only for what retrying cannot fix: synced tables without forced row-level
  // security or missing from the publication (the daemon refuses to run on such a database).
  mapping::Status run(const std::atomic<bool>& stop);

  const PrmCaptureProbe& probe() const { return probe_; }

 private:
  class Session;
  PrmCaptureSettings settings_;
  PrmBindings bindings_;
  state::StateDatabaseSettings state_settings_;
  kafka::KafkaProducer& producer_;
  std::shared_ptr<spdlog::logger> logger_;
  mapping::RetryPolicy retry_;
  mapping::UniformRandom uniform01_;
  PrmCaptureProbe probe_;
};

}  // namespace crmsync::connectors::prm
