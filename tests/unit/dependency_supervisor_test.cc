#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "daemon/dependency_supervisor.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/readiness.h"

namespace crmsync::daemon {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;

// A dependency whose answers the test scripts; the last answer repeats.
class ScriptedCheck final : public DependencyCheck {
 public:
  ScriptedCheck(std::string name, std::deque<mapping::Result<std::string>> answers)
      : name_(std::move(name)), answers_(std::move(answers)) {}
  const std::string& name() const override { return name_; }
  mapping::Result<std::string> check() override {
    auto answer = answers_.front();
    if (answers_.size() > 1) answers_.pop_front();
    return answer;
  }

 private:
  std::string name_;
  std::deque<mapping::Result<std::string>> answers_;
};

mapping::SyncError down(std::string why) { return {mapping::ErrorClass::transient, std::move(why)}; }

class SupervisorTest : public ::testing::Test {
 protected:
  std::vector<std::string> lines;
  Logging logging{LogFormat::text, LogLevel::info, std::make_shared<LogRedactor>(),
                  [this](std::string_view line) { lines.emplace_back(line); }};
  Readiness readiness;
  MetricsRegistry metrics;
  mapping::RetryPolicy retry{milliseconds(100), milliseconds(1000), 2.0, 0.0};

  DependencySupervisor make(std::vector<std::unique_ptr<DependencyCheck>> checks) {
    return DependencySupervisor(std::move(checks), readiness, metrics, logging.logger("supervisor"),
                                milliseconds(5000), retry, [] { return 0.5; });
  }
};

TEST_F(SupervisorTest, NotReadyBeforeTheFirstRound) {
  std::vector<std::unique_ptr<DependencyCheck>> checks;
  checks.push_back(std::make_unique<ScriptedCheck>("kafka", std::deque<mapping::Result<std::string>>{std::string("ok")}));
  auto supervisor = make(std::move(checks));
  EXPECT_FALSE(readiness.ready());
  EXPECT_EQ(supervisor.run_once(), milliseconds(5000));
  EXPECT_TRUE(readiness.ready());
}

TEST_F(SupervisorTest, BacksOffWhileDownAndRecovers) {
  std::vector<std::unique_ptr<DependencyCheck>> checks;
  checks.push_back(std::make_unique<ScriptedCheck>(
      "state_db", std::deque<mapping::Result<std::string>>{
                      down("refused"), down("refused"), down("refused"), std::string("connected")}));
  checks.push_back(std::make_unique<ScriptedCheck>(
      "kafka", std::deque<mapping::Result<std::string>>{std::string("1 broker(s)")}));
  auto supervisor = make(std::move(checks));

  EXPECT_EQ(supervisor.run_once(), milliseconds(100));
  EXPECT_FALSE(readiness.ready());
  EXPECT_TRUE(readiness.is_up("kafka"));
  EXPECT_EQ(supervisor.run_once(), milliseconds(200));
  EXPECT_EQ(supervisor.run_once(), milliseconds(400));
  EXPECT_EQ(supervisor.run_once(), milliseconds(5000));
  EXPECT_TRUE(readiness.ready());

  std::string metrics_text = metrics.render();
  EXPECT_THAT(metrics_text, HasSubstr("crmsync_dependency_check_failures_total{dependency=\"state_db\"} 3"));
  EXPECT_THAT(metrics_text, HasSubstr("crmsync_dependency_up{dependency=\"state_db\"} 1"));
}

TEST_F(SupervisorTest, LosingADependencyMakesTheProcessUnready) {
  std::vector<std::unique_ptr<DependencyCheck>> checks;
  checks.push_back(std::make_unique<ScriptedCheck>(
      "kafka", std::deque<mapping::Result<std::string>>{std::string("ok"), down("broker gone")}));
  auto supervisor = make(std::move(checks));
  supervisor.run_once();
  EXPECT_TRUE(readiness.ready());
  supervisor.run_once();
  EXPECT_FALSE(readiness.ready());
  EXPECT_THAT(readiness.to_json(), HasSubstr("broker gone"));
  EXPECT_THAT(lines.back(), HasSubstr("dependency down dependency=kafka kind=transient attempt=1"));
}

TEST_F(SupervisorTest, RepeatedFailuresAreRateLimitedInTheLog) {
  std::vector<std::unique_ptr<DependencyCheck>> checks;
  checks.push_back(std::make_unique<ScriptedCheck>(
      "kafka", std::deque<mapping::Result<std::string>>{down("refused")}));
  auto supervisor = make(std::move(checks));
  for (int i = 0; i < 20; ++i) supervisor.run_once();
  // Attempts 1, 2, 4, 8, 16 are logged at warning level; the other 15 only at debug.
  EXPECT_EQ(lines.size(), 5u);
}

}  // namespace
}  // namespace crmsync::daemon
