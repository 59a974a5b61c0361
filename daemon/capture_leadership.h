#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;

using LeadershipClock = std::chrono::steady_clock;

// The timing of the capture leadership, all derived from daemon.leader_retry_interval.
struct LeadershipTimings {
  // A standby tries to take the lock once per retry (daemon.leader_retry_interval).
  std::chrono::milliseconds retry;
  // The leader checks its session (SELECT 1) once per check: min(retry, 1 s).
  std::chrono::milliseconds check;
  // The leader stops capture when no check succeeded for this long, counted from the start of the
  // last one that did: a leader that cannot reach the state database stops by itself, well before
  // the server gives its lock away (kLeadershipServerReleaseAfter).
  std::chrono::milliseconds lease;
  // A replica that wins the lock starts capture only this long after: the one that held it before
  // has stopped by then, however it lost it (lease + the main loop's reaction time).
  std::chrono::milliseconds fence;

  static LeadershipTimings for_retry_interval(std::chrono::milliseconds retry);
};

// TCP keepalives of the leadership session, set on both ends: the server drops the session of a
// leader it has not heard from for keepalive_idle + keepalive_interval × keepalive_count (or with
// unacknowledged data for tcp_user_timeout), and with it the lock.
inline constexpr std::chrono::seconds kLeadershipKeepaliveIdle{5};
inline constexpr std::chrono::seconds kLeadershipKeepaliveInterval{2};
inline constexpr int kLeadershipKeepaliveCount = 2;
inline constexpr std::chrono::seconds kLeadershipServerReleaseAfter{9};

// What the leadership thread knows about the lock.
struct LockHold {
  bool held = false;
  LeadershipClock::time_point won_at;        // when the answer that granted the lock arrived
  LeadershipClock::time_point confirmed_at;  // when the last check that succeeded started
};

// Whether a process with `hold` may run capture at `now`: it holds the lock, the fence since
// winning it has passed, and its session answered within the lease.
bool may_capture(const LockHold& hold, const LeadershipTimings& timings,
                 LeadershipClock::time_point now);

// The name whose hash is the capture lock's key: one lock per state schema, so that every replica
// configured with the same state database and schema competes for it (and two deployments with
// their own schemas on one server do not).
std::string capture_lock_name(const std::string& state_schema);

// Leader election for capture (issue #10): only the replica holding a session-level PostgreSQL
// advisory lock in the state database, pg_try_advisory_lock(hashtextextended('crmsync.capture.' ||
// schema, 0)), runs the PRM capture, the CRM captures and the sharing sweeps; every replica runs
// apply. A dedicated connection (TCP keepalives on both ends) tries to take the lock every
// `retry`; the holder checks the session every `check`. PostgreSQL releases the lock when the
// session ends: the leader stops, is killed, or loses the network (then the server notices within
// kLeadershipServerReleaseAfter). The leader stops capture as soon as a check fails or none
// succeeded within the lease; the winner waits the fence before it starts.
//
// Owned by DaemonProcess: start() after the services are built; leading() from the main loop
// (one thread), which starts and stops capture on its answer; stop() after capture stopped, which
// closes the session and so hands the lock to a standby at once. The thread owns the connection.
class CaptureLeadership {
 public:
  CaptureLeadership(state::StateDatabaseSettings state, std::chrono::milliseconds retry_interval,
                    MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~CaptureLeadership();
  CaptureLeadership(const CaptureLeadership&) = delete;
  CaptureLeadership& operator=(const CaptureLeadership&) = delete;

  void start();
  void stop();

  // Whether this process may run capture now (may_capture). Logs a change at info and publishes it
  // as crmsync_capture_leader / crmsync_capture_leadership_changes_total. One thread.
  bool leading();

  const LeadershipTimings& timings() const { return timings_; }

 private:
  void run();
  void wait(std::chrono::milliseconds delay);
  void lose(const std::string& reason);

  state::StateDatabaseSettings state_;
  LeadershipTimings timings_;
  std::string lock_name_;
  std::shared_ptr<spdlog::logger> logger_;
  MetricSeries& leader_gauge_;
  MetricSeries& changes_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  LockHold hold_;
  std::string lost_reason_;  // why the lock was lost or not confirmed (for the log line)
  std::thread thread_;

  bool was_leading_ = false;  // main thread only
};

}  // namespace crmsync::daemon
