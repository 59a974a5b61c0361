#pragma once

#include <chrono>
#include <csignal>
#include <optional>

namespace crmsync::daemon {

enum class ProcessSignal { terminate, reload };

// Turns SIGTERM, SIGINT and SIGHUP into events the main thread waits for, instead of handlers
// that run at arbitrary points. Construct it in main() before any thread starts: it blocks the
// signals for the calling thread, and threads started later inherit the mask, so only the main
// thread's wait() receives them.
class SignalWaiter {
 public:
  SignalWaiter();
  // The next signal, or nothing when `timeout` passed first.
  std::optional<ProcessSignal> wait(std::chrono::milliseconds timeout);

 private:
  sigset_t signals_{};
};

}  // namespace crmsync::daemon
