#include "daemon/heartbeat.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "state/daemon_heartbeat.h"

namespace crmsync::daemon {

namespace {

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

std::string utc_now() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::time(nullptr)));
}

}  // namespace

Heartbeat::Heartbeat(state::StateDatabaseSettings state, std::string instance_id, std::chrono::milliseconds interval,
                     std::shared_ptr<spdlog::logger> logger)
    : state_(std::move(state)),
      instance_id_(std::move(instance_id)),
      interval_(interval),
      logger_(std::move(logger)),
      started_at_(utc_now()) {}

Heartbeat::~Heartbeat() { stop(); }

void Heartbeat::start() {
  thread_ = std::thread([this] { run(); });
}

void Heartbeat::update(HeartbeatReport report) {
  std::lock_guard lock(mutex_);
  if (!report.last_error) report.last_error = report_.last_error;  // the last error stays the last error
  report_ = std::move(report);
}

void Heartbeat::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    beat(false);
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
  lock.unlock();
  beat(true);
}

bool Heartbeat::beat(bool final) {
  if (!database_) {
    auto connected = state::StateDatabase::connect(state_);
    if (!connected) {
      if (!warned_) logger_->warn("heartbeat: state database: {}", connected.error().message);
      warned_ = true;
      return false;
    }
    database_ = std::move(connected).value();
  }
  state::DaemonHeartbeat row;
  {
    std::lock_guard lock(mutex_);
    row.ready = report_.ready && !final;
    row.pipelines = report_.pipelines;
    row.last_error = report_.last_error;
  }
  row.instance_id = instance_id_;
  row.host = host_name();
  row.pid = ::getpid();
  row.version = CRMSYNC_VERSION;
  row.started_at = started_at_;
  auto written = state::write_heartbeat(*database_, row);
  if (written && final) written = state::mark_heartbeat_stopped(*database_, instance_id_);
  if (!written) {
    // The table appears with migration 0009, which the first component to start applies.
    if (!warned_) logger_->warn("heartbeat not written (retrying every {}ms): {}", interval_.count(), written.error().message);
    warned_ = true;
    if (written.error().error_class != mapping::ErrorClass::invalid) database_.reset();
    return false;
  }
  warned_ = false;
  return true;
}

}  // namespace crmsync::daemon
