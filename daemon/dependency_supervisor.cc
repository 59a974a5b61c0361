#include "daemon/dependency_supervisor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/metrics.h"
#include "daemon/readiness.h"

namespace crmsync::daemon {

namespace {

bool is_power_of_two(int n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace

DependencySupervisor::DependencySupervisor(std::vector<std::unique_ptr<DependencyCheck>> checks,
                                           Readiness& readiness, MetricsRegistry& metrics,
                                           std::shared_ptr<spdlog::logger> logger,
                                           std::chrono::milliseconds healthy_interval,
                                           mapping::RetryPolicy retry,
                                           mapping::UniformRandom uniform01)
    : readiness_(readiness),
      logger_(std::move(logger)),
      healthy_interval_(healthy_interval),
      retry_(retry),
      uniform01_(std::move(uniform01)) {
  for (auto& check : checks) {
    Tracked tracked;
    const std::string& name = check->name();
    readiness_.require(name);
    tracked.up_gauge = &metrics.series("crmsync_dependency_up",
                                       "Whether a dependency answered its last check (1) or not (0).",
                                       MetricType::gauge, {{"dependency", name}});
    tracked.failures = &metrics.series("crmsync_dependency_check_failures_total",
                                       "Failed dependency checks.", MetricType::counter,
                                       {{"dependency", name}});
    tracked.check = std::move(check);
    tracked_.push_back(std::move(tracked));
  }
}

DependencySupervisor::~DependencySupervisor() { stop(); }

std::chrono::milliseconds DependencySupervisor::run_once() {
  std::chrono::milliseconds next = healthy_interval_;
  for (Tracked& tracked : tracked_) {
    const std::string& name = tracked.check->name();
    auto outcome = tracked.check->check();
    if (outcome) {
      if (!tracked.was_up) {
        logger_->info("dependency up dependency={} detail=\"{}\" after_failures={}", name,
                      outcome.value(), tracked.consecutive_failures);
      }
      tracked.was_up = true;
      tracked.consecutive_failures = 0;
      tracked.up_gauge->set(1);
      readiness_.set(name, true, outcome.value());
      continue;
    }
    const mapping::SyncError& error = outcome.error();
    ++tracked.consecutive_failures;
    tracked.failures->increment();
    tracked.up_gauge->set(0);
    readiness_.set(name, false, error.message);
    if (tracked.was_up || is_power_of_two(tracked.consecutive_failures)) {
      logger_->warn("dependency down dependency={} kind={} attempt={} error=\"{}\"", name,
                    mapping::to_string(error.error_class), tracked.consecutive_failures,
                    error.message);
    } else {
      logger_->debug("dependency still down dependency={} attempt={}", name,
                     tracked.consecutive_failures);
    }
    tracked.was_up = false;
    next = std::min(next, retry_.delay_for_attempt(tracked.consecutive_failures - 1, uniform01_));
  }
  last_round_.store(std::chrono::steady_clock::now().time_since_epoch().count());
  return next;
}

void DependencySupervisor::start() {
  thread_ = std::thread([this] { loop(); });
}

void DependencySupervisor::loop() {
  while (true) {
    std::chrono::milliseconds wait = run_once();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

void DependencySupervisor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::chrono::steady_clock::time_point DependencySupervisor::last_round_finished() const {
  return std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(last_round_.load()));
}

}  // namespace crmsync::daemon
