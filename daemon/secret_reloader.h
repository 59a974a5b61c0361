#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "state/secret_store.h"

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
// (a rotation a person must do: the CRM APIs crmsync uses cannot issue client secrets or keys).
// A secret past its maximum age is logged as a warning every round, naming what to do. Owned by
// DaemonProcess; one thread between start() and stop().
class SecretReloader {
 public:
  SecretReloader(state::StoreSecretProvider& provider, std::chrono::milliseconds interval,
                 state::SecretAgePolicy max_age, MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger,
                 std::string operator_name);
  ~SecretReloader();

  // One round (also used by tests).
  void run_once();
  void start();
  void stop();

 private:
  state::StoreSecretProvider& provider_;
  std::chrono::milliseconds interval_;
  state::SecretAgePolicy max_age_;
  MetricsRegistry& metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string operator_;
  MetricSeries& reloads_;
  MetricSeries& failures_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crmsync::daemon
