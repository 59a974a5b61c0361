#include "daemon/capture_leadership.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/metrics.h"

namespace crmsync::daemon {

namespace {

using std::chrono::milliseconds;

// The daemon's main loop wakes at least once a second (DaemonProcess): the time it may take to
// act on a lost leadership, part of the fence.
constexpr milliseconds kMainLoopReaction{1000};
constexpr milliseconds kLongestCheckPeriod{1000};
constexpr milliseconds kLease{3000};
constexpr milliseconds kServerUserTimeout = kLeadershipServerReleaseAfter;

// The leadership session: the state database settings with TCP keepalives (libpq URI parameters,
// appended after the configured ones so that they win) and an application_name that shows in
// pg_stat_activity which session holds the lock.
state::StateDatabaseSettings session_settings(state::StateDatabaseSettings settings) {
  settings.url += settings.url.find('?') == std::string::npos ? '?' : '&';
  settings.url += fmt::format(
      "keepalives=1&keepalives_idle={}&keepalives_interval={}&keepalives_count={}"
      "&tcp_user_timeout={}",
      kLeadershipKeepaliveIdle.count(), kLeadershipKeepaliveInterval.count(),
      kLeadershipKeepaliveCount, kServerUserTimeout.count() * 1000);
  settings.application_name += "/capture-lock";
  return settings;
}

}  // namespace

LeadershipTimings LeadershipTimings::for_retry_interval(milliseconds retry) {
  LeadershipTimings timings;
  timings.retry = retry;
  timings.check = std::min(retry, kLongestCheckPeriod);
  timings.lease = kLease;
  timings.fence = kLease + kMainLoopReaction;
  return timings;
}

static_assert(kLease + kMainLoopReaction < kLeadershipServerReleaseAfter,
              "a leader cut off from the state database must stop capture before the server "
              "releases its lock");
static_assert(kLeadershipKeepaliveIdle + kLeadershipKeepaliveInterval * kLeadershipKeepaliveCount <=
                  kLeadershipServerReleaseAfter,
              "the keepalives must detect a silent peer within kLeadershipServerReleaseAfter");

bool may_capture(const LockHold& hold, const LeadershipTimings& timings,
                 LeadershipClock::time_point now) {
  return hold.held && now - hold.won_at >= timings.fence && now - hold.confirmed_at < timings.lease;
}

std::string capture_lock_name(const std::string& state_schema) {
  return "crmsync.capture." + state_schema;
}

CaptureLeadership::CaptureLeadership(state::StateDatabaseSettings state,
                                     milliseconds retry_interval, MetricsRegistry& metrics,
                                     std::shared_ptr<spdlog::logger> logger)
    : state_(session_settings(std::move(state))),
      timings_(LeadershipTimings::for_retry_interval(retry_interval)),
      lock_name_(capture_lock_name(state_.schema)),
      logger_(std::move(logger)),
      leader_gauge_(metrics.series(
          "crmsync_capture_leader",
          "Whether this process holds the capture lock and runs capture (1) or stands by (0).",
          MetricType::gauge)),
      changes_(metrics.series("crmsync_capture_leadership_changes_total",
                              "Times this process became or stopped being the capture leader.",
                              MetricType::counter)) {}

CaptureLeadership::~CaptureLeadership() {
  stop();
}

void CaptureLeadership::start() {
  logger_->info(
      "capture leadership: competing for lock {} retry={}ms check={}ms lease={}ms fence={}ms",
      lock_name_, timings_.retry.count(), timings_.check.count(), timings_.lease.count(),
      timings_.fence.count());
  thread_ = std::thread([this] { run(); });
}

void CaptureLeadership::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (was_leading_) {
    logger_->info("capture leadership released: stopping; lock={}", lock_name_);
    leader_gauge_.set(0);
    changes_.increment();
    was_leading_ = false;
  }
}

void CaptureLeadership::wait(milliseconds delay) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void CaptureLeadership::lose(const std::string& reason) {
  std::lock_guard lock(mutex_);
  hold_.held = false;
  lost_reason_ = reason;
}

void CaptureLeadership::run() {
  std::unique_ptr<state::StateDatabase> session;
  std::string last_failure;
  bool said_standby = false;
  auto failed = [&](const std::string& what) {
    // One line per distinct failure, not one per retry.
    if (what != last_failure)
      logger_->warn("capture leadership: {}; retrying every {}ms", what, timings_.retry.count());
    last_failure = what;
    session.reset();
    wait(timings_.retry);
  };
  while (true) {
    bool holding = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      holding = hold_.held;
    }
    if (!session) {
      auto connected = state::StateDatabase::connect(state_);
      if (!connected) {
        failed(connected.error().message);
        continue;
      }
      session = std::move(connected).value();
      // The server's side of the keepalives: it ends the session of a leader it cannot reach, and
      // so releases the lock, within kLeadershipServerReleaseAfter (no effect over a Unix socket).
      auto keepalives = session->execute(
          fmt::format("SELECT set_config('tcp_keepalives_idle', '{}', false), "
                      "set_config('tcp_keepalives_interval', '{}', false), "
                      "set_config('tcp_keepalives_count', '{}', false), "
                      "set_config('tcp_user_timeout', '{}', false)",
                      kLeadershipKeepaliveIdle.count(), kLeadershipKeepaliveInterval.count(),
                      kLeadershipKeepaliveCount, kServerUserTimeout.count() * 1000));
      if (!keepalives) {
        logger_->warn(
            "capture leadership: server-side TCP keepalives not set ({}); if this leader loses the "
            "network, "
            "the server keeps its lock until it notices by itself",
            keepalives.error().message);
      }
    }
    auto started = LeadershipClock::now();
    if (!holding) {
      auto answer =
          session->execute("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {lock_name_});
      if (!answer) {
        failed("taking the capture lock: " + answer.error().message);
        continue;
      }
      last_failure.clear();
      bool won = !answer.value().empty() && answer.value()[0][0] == std::optional<std::string>("t");
      if (!won) {
        if (!said_standby) {
          logger_->info(
              "capture leadership: standing by; another instance holds lock {} (trying every {}ms)",
              lock_name_, timings_.retry.count());
        }
        said_standby = true;
        wait(timings_.retry);
        continue;
      }
      said_standby = false;
      {
        std::lock_guard lock(mutex_);
        hold_ = LockHold{true, LeadershipClock::now(), started};
        lost_reason_.clear();
      }
      logger_->debug("capture leadership: lock {} taken; capture starts after the fence of {}ms",
                     lock_name_, timings_.fence.count());
    } else {
      auto checked = session->ping();
      if (!checked) {
        // Whatever failed, this session no longer vouches for the lock: stop capture now, and
        // close the session (if the server still has it, that releases the lock too).
        lose("the state database session holding the capture lock failed: " +
             checked.error().message);
        failed("checking the capture lock's session: " + checked.error().message);
        continue;
      }
      std::lock_guard lock(mutex_);
      hold_.confirmed_at = started;
    }
    wait(timings_.check);
  }
  session.reset();  // closing the session releases the lock at once
  lose("stopping");
}

bool CaptureLeadership::leading() {
  bool now_leading = false;
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    now_leading = may_capture(hold_, timings_, LeadershipClock::now());
    reason = hold_.held ? fmt::format(
                              "no check of the lock's state database session succeeded within the "
                              "lease of {}ms",
                              timings_.lease.count())
                        : lost_reason_;
  }
  if (now_leading != was_leading_) {
    if (now_leading) {
      logger_->info("capture leadership acquired: this instance runs capture lock={}", lock_name_);
    } else {
      logger_->info("capture leadership lost: {}; capture stops", reason);
    }
    leader_gauge_.set(now_leading ? 1 : 0);
    changes_.increment();
    was_leading_ = now_leading;
  }
  return now_leading;
}

}  // namespace crmsync::daemon
