#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::daemon {

// What the daemon says about itself in its heartbeat.
struct HeartbeatReport {
  bool ready = false;
  std::optional<std::string> not_ready;          // while not ready: what is not (replaced at every update)
  std::map<std::string, std::string> pipelines;  // prm_capture | salesforce_capture | dynamics_capture | apply -> running | failed | standby (capture on a non-leader)
  std::optional<std::string> last_error;         // a real error (kept until another); one line, redacted, no record data
};

// Writes this process's row of the state table daemon_heartbeats (state/daemon_heartbeat.h) every
// `interval`, so that `crmsync status` tells from any host which instances run which pipelines and
// their last error, and "not running" from a row that went stale. On stop() it writes the last
// report and marks the row stopped. A state database that is down only delays the beats.
// Owned by DaemonProcess; its own thread and connection; update() from any thread.
class Heartbeat {
 public:
  Heartbeat(state::StateDatabaseSettings state, std::string instance_id, std::chrono::milliseconds interval,
            std::shared_ptr<spdlog::logger> logger);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  void start();
  void update(HeartbeatReport report);
  void stop();

 private:
  void run();
  bool beat(bool final);

  state::StateDatabaseSettings state_;
  std::string instance_id_;
  std::chrono::milliseconds interval_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string started_at_;
  std::unique_ptr<state::StateDatabase> database_;
  std::mutex mutex_;
  std::condition_variable wake_;
  HeartbeatReport report_;
  bool stopping_ = false;
  bool warned_ = false;
  std::thread thread_;
};

}  // namespace crmsync::daemon
