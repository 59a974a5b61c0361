#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace spdlog {
class logger;
}

namespace crmsync::state {
class StoreSecretProvider;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;

// Keeps the running daemon's secrets fresh: every secrets.reload_interval it asks the store which
// current versions changed (a `crmsync secrets promote` on any host), so that the provider serves
// the new value from the next request on; it destroys previous versions whose grace window ended,
// and publishes per secret its current version, age and whether it is older than secrets.max_age
// (a rotation a person must do). Owned by DaemonProcess; one thread between start() and stop().
class SecretReloader {
 public:
  SecretReloader(state::StoreSecretProvider& provider, std::chrono::milliseconds interval,
                 std::chrono::milliseconds max_age, MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~SecretReloader();

  // One round (also used by tests).
  void run_once();
  void start();
  void stop();

 private:
  state::StoreSecretProvider& provider_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds max_age_;
  MetricsRegistry& metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  MetricSeries& reloads_;
  MetricSeries& failures_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crmsync::daemon
