#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mapping/retry_policy.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;
class Readiness;

// Something the process needs to do its work (the state database, Kafka). check() establishes
// the connection when there is none and proves it works when there is one.
class DependencyCheck {
 public:
  virtual ~DependencyCheck() = default;
  virtual const std::string& name() const = 0;
  // Ok with a short human detail ("3 brokers"), or the classified reason it is not usable.
  virtual mapping::Result<std::string> check() = 0;
};

// Keeps checking the dependencies and publishes the outcome to Readiness and /metrics: at the
// healthy interval while all are up, with jittered backoff while one is down. The process never
// exits because a dependency is away; it stays unready and keeps trying. Failure lines are
// rate-limited (attempts 1, 2, 4, 8, … are logged as warnings; the rest at debug).
//
// Owned by the composition root; one background thread between start() and stop().
class DependencySupervisor {
 public:
  DependencySupervisor(std::vector<std::unique_ptr<DependencyCheck>> checks, Readiness& readiness,
                       MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger,
                       std::chrono::milliseconds healthy_interval, mapping::RetryPolicy retry,
                       mapping::UniformRandom uniform01);
  ~DependencySupervisor();

  // Checks every dependency once; returns how long to wait before the next round.
  std::chrono::milliseconds run_once();

  void start();
  // Wakes the thread and joins it (a check in progress finishes first: checks are bounded by
  // their own timeouts).
  void stop();

  // When the last round finished (for the systemd watchdog: a stuck supervisor stops the pings).
  std::chrono::steady_clock::time_point last_round_finished() const;

 private:
  struct Tracked {
    std::unique_ptr<DependencyCheck> check;
    int consecutive_failures = 0;
    bool was_up = false;
    MetricSeries* up_gauge = nullptr;
    MetricSeries* failures = nullptr;
  };

  void loop();

  std::vector<Tracked> tracked_;
  Readiness& readiness_;
  std::shared_ptr<spdlog::logger> logger_;
  std::chrono::milliseconds healthy_interval_;
  mapping::RetryPolicy retry_;
  mapping::UniformRandom uniform01_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::chrono::steady_clock::rep> last_round_{0};
};

}  // namespace crmsync::daemon
