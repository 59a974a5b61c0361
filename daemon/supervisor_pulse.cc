#include "daemon/supervisor_pulse.h"

namespace crmsync::daemon {

SupervisorPulse::SupervisorPulse(std::chrono::milliseconds stall_limit, Now now)
    : stall_limit_(stall_limit), now_(std::move(now)) {}

void SupervisorPulse::beat() {
  last_beat_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now_().time_since_epoch()).count(),
                      std::memory_order_relaxed);
}

std::optional<std::chrono::milliseconds> SupervisorPulse::stalled() const {
  std::int64_t last = last_beat_ns_.load(std::memory_order_relaxed);
  if (last < 0) return std::nullopt;
  auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
      now_().time_since_epoch() - std::chrono::nanoseconds(last));
  if (since <= stall_limit_) return std::nullopt;
  return since;
}

}  // namespace crmsync::daemon
