#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace crmsync::daemon {

// Talks to systemd through sd_notify(3) when the service runs with Type=notify (NOTIFY_SOCKET
// set); does nothing otherwise. READY=1 is sent once the admin endpoint serves and the
// dependency supervisor runs: from then on /readyz tells whether work flows (a missing database
// must not make systemd kill and restart the process in a loop). Main thread only.
class SystemdNotifier {
 public:
  SystemdNotifier();

  bool enabled() const { return enabled_; }
  // WatchdogSec= of the unit, when set (WATCHDOG_USEC for this pid).
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  void ready(std::string_view status);
  void status(std::string_view status);
  void watchdog_ping();
  void stopping(std::string_view status);
  void reloading();

 private:
  void send(const std::string& message);
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace crmsync::daemon
