#include "daemon/systemd_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace crmsync::daemon {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec);
  }
}

void SystemdNotifier::send(const std::string& message) {
  if (enabled_) sd_notify(0, message.c_str());
}

void SystemdNotifier::ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::status(std::string_view status) { send("STATUS=" + std::string(status)); }

void SystemdNotifier::watchdog_ping() { send("WATCHDOG=1"); }

void SystemdNotifier::stopping(std::string_view status) {
  send("STOPPING=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::reloading() { send("RELOADING=1"); }

}  // namespace crmsync::daemon
