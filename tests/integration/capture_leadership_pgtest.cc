// The capture leadership (daemon/capture_leadership.h) on the real state PostgreSQL: of two
// contenders on one schema exactly one leads; the other takes over when the leader stops or loses
// its connection (through a TCP proxy the test cuts), and a leader whose session stops answering
// (the proxy stalls) stops leading within the lease although the server still holds its lock.

#include "daemon/capture_leadership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <thread>

#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "tests/support/service_env.h"
#include "tests/support/tcp_proxy.h"

namespace crmsync {
namespace {

using daemon::CaptureLeadership;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

class CaptureLeadershipTest : public ::testing::Test {
 protected:
  state::StateDatabaseSettings direct() {
    state::StateDatabaseSettings settings;
    settings.url = testing::require_service_env("CRMSYNC_PG_URL");
    settings.schema = schema;  // only names the lock: nothing is created
    return settings;
  }
  // The same database through `proxy`.
  state::StateDatabaseSettings through(const testing::TcpProxy& proxy) {
    state::StateDatabaseSettings settings = direct();
    std::size_t port_start = settings.url.rfind(':') + 1;
    settings.url = settings.url.substr(0, port_start) + std::to_string(proxy.port()) +
                   settings.url.substr(settings.url.find('/', port_start));
    return settings;
  }
  static std::uint16_t pg_port() {
    std::string url = testing::require_service_env("CRMSYNC_PG_URL");
    return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
  void add(const state::StateDatabaseSettings& settings) {
    metrics.push_back(std::make_unique<daemon::MetricsRegistry>());
    contenders.push_back(std::make_unique<CaptureLeadership>(
        settings, milliseconds(200), *metrics.back(), logging.logger("leadership")));
    contenders.back()->start();
  }
  std::string rendered(std::size_t i) { return metrics[i]->render(); }

  // Polls every contender (as the daemon's main loop does) until `done` holds for who leads,
  // failing if two ever lead at once. Answers the time it took, or nothing after `timeout`.
  std::optional<milliseconds> poll_until(const std::function<bool(const std::vector<bool>&)>& done,
                                         seconds timeout) {
    auto start = Clock::now();
    while (Clock::now() - start < timeout) {
      std::vector<bool> leads;
      for (auto& contender : contenders) leads.push_back(contender->leading());
      EXPECT_LE(std::count(leads.begin(), leads.end(), true), 1) << "two lead at once";
      if (done(leads)) return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
      std::this_thread::sleep_for(milliseconds(20));
    }
    return std::nullopt;
  }
  // Index of the one leader, once there is one.
  std::size_t wait_for_a_leader() {
    std::size_t leader = contenders.size();
    auto found = poll_until(
        [&](const std::vector<bool>& leads) {
          for (std::size_t i = 0; i < leads.size(); ++i) {
            if (leads[i]) leader = i;
          }
          return leader < leads.size();
        },
        seconds(15));
    EXPECT_TRUE(found) << "nobody leads";
    return leader;
  }

  std::string schema = testing::unique_name("leader");
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>()};
  std::vector<std::unique_ptr<daemon::MetricsRegistry>> metrics;
  std::vector<std::unique_ptr<CaptureLeadership>> contenders;
};

TEST_F(CaptureLeadershipTest, OneOfTwoLeadsAndTheOtherTakesOverWhenItStops) {
  add(direct());
  add(direct());
  auto timings = contenders[0]->timings();
  std::size_t leader = wait_for_a_leader();
  ASSERT_LT(leader, 2u);
  std::size_t standby = 1 - leader;
  // It stays so while the leader's session answers.
  ASSERT_FALSE(
      poll_until([&](const std::vector<bool>& leads) { return !leads[leader] || leads[standby]; },
                 seconds(3)));
  EXPECT_THAT(rendered(leader), ::testing::HasSubstr("crmsync_capture_leader 1"));
  EXPECT_THAT(rendered(leader), ::testing::HasSubstr("crmsync_capture_leadership_changes_total 1"));
  EXPECT_THAT(rendered(standby), ::testing::HasSubstr("crmsync_capture_leader 0"));

  contenders[leader]->stop();  // closes the session: the lock goes at once
  auto took_over =
      poll_until([&](const std::vector<bool>& leads) { return leads[standby]; }, seconds(15));
  ASSERT_TRUE(took_over);
  std::cout << "[ measured ] takeover after a clean stop: " << took_over->count() << " ms (retry "
            << timings.retry.count() << " ms, fence " << timings.fence.count() << " ms)\n";
  EXPECT_GE(*took_over, timings.fence - milliseconds(100));
  EXPECT_LE(*took_over, timings.retry + timings.fence + seconds(1));
}

TEST_F(CaptureLeadershipTest, ALeaderThatLosesItsConnectionStopsAtOnceAndTheOtherTakesOver) {
  testing::TcpProxy proxy(pg_port());
  add(through(proxy));
  ASSERT_EQ(wait_for_a_leader(), 0u);
  add(direct());
  ASSERT_FALSE(
      poll_until([](const std::vector<bool>& leads) { return !leads[0] || leads[1]; }, seconds(2)));

  proxy.cut();  // the server sees the connection close and releases the lock
  auto stopped = poll_until([](const std::vector<bool>& leads) { return !leads[0]; }, seconds(10));
  ASSERT_TRUE(stopped);
  EXPECT_LE(*stopped, contenders[0]->timings().check + seconds(1));
  auto took_over = poll_until([](const std::vector<bool>& leads) { return leads[1]; }, seconds(15));
  ASSERT_TRUE(took_over);
  std::cout << "[ measured ] connection cut: leader stopped in " << stopped->count()
            << " ms, the other led " << took_over->count() << " ms later\n";
  EXPECT_THAT(rendered(0), ::testing::HasSubstr("crmsync_capture_leadership_changes_total 2"));

  // Back on the network, the old leader stands by.
  proxy.restore();
  ASSERT_FALSE(
      poll_until([](const std::vector<bool>& leads) { return leads[0] || !leads[1]; }, seconds(3)));
}

TEST_F(CaptureLeadershipTest, ALeaderWhoseSessionStopsAnsweringStopsWithinTheLease) {
  testing::TcpProxy proxy(pg_port());
  add(through(proxy));
  ASSERT_EQ(wait_for_a_leader(), 0u);
  auto timings = contenders[0]->timings();

  // Nothing passes, nothing is closed: the server still holds the lock, the leader cannot know.
  proxy.stall();
  auto stopped = poll_until([](const std::vector<bool>& leads) { return !leads[0]; }, seconds(15));
  ASSERT_TRUE(stopped);
  std::cout << "[ measured ] session stalled: leader stopped in " << stopped->count()
            << " ms (lease " << timings.lease.count() << " ms)\n";
  EXPECT_LE(*stopped, timings.lease + milliseconds(200));

  // It answers again: the session held the lock throughout, so it leads again without a fence.
  proxy.restore();
  auto resumed = poll_until([](const std::vector<bool>& leads) { return leads[0]; }, seconds(15));
  ASSERT_TRUE(resumed);
  EXPECT_LT(*resumed, timings.fence);
}

}  // namespace
}  // namespace crmsync
