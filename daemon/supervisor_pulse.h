#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace crmsync::daemon {

// Whether the daemon's supervisor still makes progress, for liveness (/healthz) — the same test
// that decides systemd's watchdog pings: the main loop beats once per tick while the dependency
// supervisor completes its rounds. A process whose HTTP server still answers but whose main loop
// or supervisor is wedged (a deadlock, a call that never returns) must fail liveness so that
// Kubernetes or the container engine restarts it. Before the first beat (start-up) it counts as
// alive. beat() on the main thread; stalled() from the admin server's threads.
class SupervisorPulse {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;
  explicit SupervisorPulse(std::chrono::milliseconds stall_limit, Now now = &std::chrono::steady_clock::now);

  void beat();
  // The time since the last beat, once it exceeds the stall limit; nothing while alive.
  std::optional<std::chrono::milliseconds> stalled() const;
  std::chrono::milliseconds stall_limit() const { return stall_limit_; }

 private:
  std::chrono::milliseconds stall_limit_;
  Now now_;
  std::atomic<std::int64_t> last_beat_ns_{-1};  // steady clock; -1 before the first beat
};

}  // namespace crmsync::daemon
