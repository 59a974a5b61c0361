#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/admin_routes.h"
#include "daemon/metrics.h"
#include "daemon/readiness.h"
#include "daemon/supervisor_pulse.h"

namespace crmsync::daemon {
namespace {

using ::testing::HasSubstr;

class AdminRoutesTest : public ::testing::Test {
 protected:
  Readiness readiness;
  MetricsRegistry metrics;
  AdminRoutes routes{readiness, metrics};
};

TEST_F(AdminRoutesTest, HealthzAnswersWhileAlive) {
  readiness.require("kafka");
  EXPECT_EQ(routes.handle("GET", "/healthz").status, 200);
}

TEST_F(AdminRoutesTest, ReadyzFollowsEveryDependencyAndDraining) {
  readiness.require("state_db");
  readiness.require("kafka");
  AdminResponse before = routes.handle("GET", "/readyz");
  EXPECT_EQ(before.status, 503);
  EXPECT_THAT(before.body, HasSubstr("\"kafka\":{\"up\":false,\"detail\":\"not checked yet\"}"));

  readiness.set("state_db", true, "connected");
  EXPECT_EQ(routes.handle("GET", "/readyz").status, 503);
  readiness.set("kafka", true, "1 broker(s)");
  AdminResponse ready = routes.handle("GET", "/readyz?verbose");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.content_type, "application/json");
  EXPECT_THAT(ready.body, HasSubstr("\"ready\":true"));

  readiness.set("kafka", false, "kafka metadata request: Local: Broker transport failure");
  EXPECT_EQ(routes.handle("GET", "/readyz").status, 503);
  readiness.set("kafka", true, "back");
  readiness.set_draining();
  AdminResponse draining = routes.handle("GET", "/readyz");
  EXPECT_EQ(draining.status, 503);
  EXPECT_THAT(draining.body, HasSubstr("\"draining\":true"));
}

TEST_F(AdminRoutesTest, MetricsUsePrometheusContentType) {
  metrics.series("crmsync_ready", "Ready.", MetricType::gauge).set(1);
  AdminResponse answer = routes.handle("GET", "/metrics");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(answer.body, HasSubstr("crmsync_ready 1\n"));
}

TEST_F(AdminRoutesTest, UnknownPathsAndMethodsAreRefused) {
  EXPECT_EQ(routes.handle("GET", "/admin").status, 404);
  EXPECT_EQ(routes.handle("POST", "/readyz").status, 405);
  EXPECT_EQ(routes.handle("HEAD", "/healthz").status, 200);
}

TEST(Readiness, DetailIsValidJsonEvenWithHostileText) {
  Readiness readiness;
  readiness.set("state_db", false, "quote\" backslash\\ newline\n ctrl\x01");
  EXPECT_EQ(readiness.to_json(),
            "{\"ready\":false,\"draining\":false,\"checks\":{\"state_db\":{\"up\":false,"
            "\"detail\":\"quote\\\" backslash\\\\ newline\\n ctrl\\u0001\"}}}");
}

TEST(AdminRoutesLiveness, HealthzFailsOnceTheSupervisorStallsAndRecoversWithItsNextBeat) {
  Readiness readiness;
  MetricsRegistry metrics;
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  SupervisorPulse pulse(std::chrono::seconds(90), [&] { return now; });
  AdminRoutes routes(readiness, metrics, &pulse);
  EXPECT_EQ(routes.handle("GET", "/healthz").status, 200);  // start-up: no beat yet
  now += std::chrono::minutes(10);
  EXPECT_EQ(routes.handle("GET", "/healthz").status, 200);
  pulse.beat();
  now += std::chrono::seconds(90);
  EXPECT_EQ(routes.handle("GET", "/healthz").status, 200);  // at the limit: still alive
  now += std::chrono::seconds(31);
  AdminResponse stalled = routes.handle("GET", "/healthz");
  EXPECT_EQ(stalled.status, 503);
  EXPECT_THAT(stalled.body, HasSubstr("no progress for 121 s (limit 90 s)"));
  EXPECT_EQ(routes.handle("GET", "/readyz").status, 200);  // readiness is about dependencies only
  pulse.beat();
  EXPECT_EQ(routes.handle("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace crmsync::daemon
