#pragma once

#include "daemon/config.h"

namespace crmsync::daemon {

class Logging;
class SignalWaiter;

// `crmsync run`: the composition root of the long-running daemon. Builds every component from
// the configuration, runs until SIGTERM/SIGINT, and stops things in reverse order (stop intake,
// drain, bounded flush, close). Returns the process exit code: 0 after a clean shutdown, 1 when
// start-up failed or draining overran daemon.shutdown_grace. Main thread only.
class DaemonProcess {
 public:
  DaemonProcess(Config config, Logging& logging, SignalWaiter& signals);
  int run();

 private:
  void reload_configuration();

  Config config_;
  Logging& logging_;
  SignalWaiter& signals_;
};

}  // namespace crmsync::daemon
