#include "daemon/signal_waiter.h"

#include <pthread.h>

#include <cerrno>
#include <ctime>

namespace crmsync::daemon {

SignalWaiter::SignalWaiter() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

std::optional<ProcessSignal> SignalWaiter::wait(std::chrono::milliseconds timeout) {
  timespec wait_for{};
  wait_for.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  wait_for.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1'000'000);
  int received = sigtimedwait(&signals_, nullptr, &wait_for);
  if (received == SIGHUP) return ProcessSignal::reload;
  if (received == SIGTERM || received == SIGINT) return ProcessSignal::terminate;
  return std::nullopt;  // timeout (EAGAIN) or EINTR
}

}  // namespace crmsync::daemon
