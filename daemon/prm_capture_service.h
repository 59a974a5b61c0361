#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "connectors/kafka/kafka_settings.h"
#include "connectors/prm/prm_capture.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {
class KafkaProducer;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;

// Runs the PRM capture on its own thread for `crmsync run` and publishes its probe as metrics.
// Owned by DaemonProcess: prepare() at start-up; start() when this process becomes the capture
// leader, stop() when it stops being it and first on shutdown (stop intake: the capture drains
// in-flight events to Kafka and confirms them before it returns); start() again after stop() runs
// the same capture (its counters go on) on a new thread. Main thread.
class PrmCaptureService {
 public:
  PrmCaptureService(connectors::prm::PrmCaptureSettings settings,
                    state::StateDatabaseSettings state_settings,
                    connectors::kafka::KafkaSettings kafka_settings, mapping::RetryPolicy retry,
                    MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~PrmCaptureService();

  // Creates the producer and the capture. Throws std::runtime_error when the producer cannot be
  // configured.
  void prepare();
  // Starts the thread (prepare() first if that was not done); nothing if it runs already.
  void start();
  void stop();
  bool running() const { return thread_.joinable(); }

  // Set when the capture stopped for a reason retrying cannot fix (the daemon then exits 1).
  std::optional<std::string> fatal_error() const;

  // Copies the capture's probe into the metrics registry (called from the main loop).
  void publish_metrics();

 private:
  connectors::prm::PrmCaptureSettings settings_;
  state::StateDatabaseSettings state_settings_;
  connectors::kafka::KafkaSettings kafka_settings_;
  mapping::RetryPolicy retry_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<connectors::kafka::KafkaProducer> producer_;
  std::unique_ptr<connectors::prm::PrmCapture> capture_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<std::string> fatal_error_;

  struct Series;
  std::unique_ptr<Series> series_;
};

}  // namespace crmsync::daemon
