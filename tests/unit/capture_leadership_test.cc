#include "daemon/capture_leadership.h"

#include <gtest/gtest.h>

namespace crmsync::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const LeadershipClock::time_point kT0{seconds(1000)};

TEST(CaptureLeadership, TimingsFollowTheRetryIntervalAndStayInsideTheServerBound) {
  auto timings = LeadershipTimings::for_retry_interval(seconds(5));
  EXPECT_EQ(timings.retry, seconds(5));
  EXPECT_EQ(timings.check, seconds(1));
  EXPECT_EQ(LeadershipTimings::for_retry_interval(milliseconds(200)).check, milliseconds(200));
  // The leader gives up before the server can give the lock away, and a winner waits for that.
  EXPECT_LT(timings.lease + seconds(1), kLeadershipServerReleaseAfter);
  EXPECT_GE(timings.fence, timings.lease + seconds(1));
  EXPECT_GT(timings.lease, timings.check);
}

TEST(CaptureLeadership, NoCaptureWithoutTheLock) {
  auto timings = LeadershipTimings::for_retry_interval(seconds(1));
  LockHold hold{false, kT0, kT0};
  EXPECT_FALSE(may_capture(hold, timings, kT0 + seconds(10)));
}

TEST(CaptureLeadership, CaptureStartsOnlyAfterTheFence) {
  auto timings = LeadershipTimings::for_retry_interval(seconds(1));
  LockHold hold{true, kT0, kT0};
  EXPECT_FALSE(may_capture(hold, timings, kT0));
  hold.confirmed_at = kT0 + timings.fence - milliseconds(500);
  EXPECT_FALSE(may_capture(hold, timings, kT0 + timings.fence - milliseconds(1)));
  EXPECT_TRUE(may_capture(hold, timings, kT0 + timings.fence));
}

TEST(CaptureLeadership, CaptureStopsWhenNoCheckSucceededWithinTheLease) {
  auto timings = LeadershipTimings::for_retry_interval(seconds(1));
  LockHold hold{true, kT0, kT0 + seconds(10)};
  EXPECT_TRUE(may_capture(hold, timings, kT0 + seconds(10) + timings.lease - milliseconds(1)));
  EXPECT_FALSE(may_capture(hold, timings, kT0 + seconds(10) + timings.lease));
  // A later check that succeeds (the session held the lock all along) resumes it at once.
  hold.confirmed_at = kT0 + seconds(14);
  EXPECT_TRUE(may_capture(hold, timings, kT0 + seconds(14) + milliseconds(10)));
}

TEST(CaptureLeadership, OneLockPerStateSchema) {
  EXPECT_EQ(capture_lock_name("crmsync"), "crmsync.capture.crmsync");
  EXPECT_NE(capture_lock_name("crmsync_blue"), capture_lock_name("crmsync_green"));
}

}  // namespace
}  // namespace crmsync::daemon
