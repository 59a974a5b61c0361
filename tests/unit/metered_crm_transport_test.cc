#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "daemon/metered_crm_transport.h"
#include "daemon/metrics.h"

namespace crmsync::daemon {
namespace {

namespace http = connectors::http;

// Answers each request with the next scripted result.
class ScriptedTransport : public http::HttpTransport {
 public:
  explicit ScriptedTransport(std::deque<mapping::Result<http::HttpResponse>> script) : script_(std::move(script)) {}
  mapping::Result<http::HttpResponse> send(const http::HttpRequest&, http::Deadline) override {
    auto next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

 private:
  std::deque<mapping::Result<http::HttpResponse>> script_;
};

http::HttpResponse response(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::HttpResponse out;
  out.status = status;
  out.headers = std::move(headers);
  return out;
}

double value_of(MetricsRegistry& metrics, const std::string& name, const std::map<std::string, std::string>& labels) {
  return metrics.series(name, "", MetricType::counter, labels).value();
}

TEST(MeteredCrmTransport, CountsEveryRequestByOutcomeAndPassesResultsThrough) {
  MetricsRegistry metrics;
  std::deque<mapping::Result<http::HttpResponse>> script;
  script.emplace_back(response(200));
  script.emplace_back(response(204));
  script.emplace_back(response(400));
  script.emplace_back(response(429));
  script.emplace_back(response(503));
  script.emplace_back(mapping::SyncError{mapping::ErrorClass::transient, "connect refused"});
  MeteredCrmTransport transport(std::make_unique<ScriptedTransport>(std::move(script)), "salesforce",
                                salesforce_api_budget_used, metrics);
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) statuses.push_back(transport.send({}, {}).value().status);
  EXPECT_EQ(statuses, (std::vector<int>{200, 204, 400, 429, 503}));
  auto failed = transport.send({}, {});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "connect refused");

  auto calls = [&](const char* outcome) {
    return value_of(metrics, "crmsync_api_calls_total", {{"crm", "salesforce"}, {"outcome", outcome}});
  };
  EXPECT_EQ(calls("ok"), 2);
  EXPECT_EQ(calls("client_error"), 1);
  EXPECT_EQ(calls("rate_limited"), 1);
  EXPECT_EQ(calls("server_error"), 1);
  EXPECT_EQ(calls("transport_error"), 1);
  EXPECT_THAT(metrics.render(), ::testing::HasSubstr("# TYPE crmsync_api_calls_total counter\n"));
}

TEST(MeteredCrmTransport, BudgetRatioFollowsWhatTheCrmLastSaid) {
  MetricsRegistry metrics;
  std::deque<mapping::Result<http::HttpResponse>> script;
  script.emplace_back(response(200, {{"sforce-limit-info", "api-usage=1500/15000"}}));
  script.emplace_back(response(200));  // no header: the last figure stays
  script.emplace_back(response(200, {{"sforce-limit-info", "api-usage=garbage"}}));
  script.emplace_back(response(200, {{"sforce-limit-info", "api-usage=3000/15000"}}));
  MeteredCrmTransport transport(std::make_unique<ScriptedTransport>(std::move(script)), "salesforce",
                                salesforce_api_budget_used, metrics);
  auto ratio = [&] { return metrics.series("crmsync_api_budget_ratio", "", MetricType::gauge, {{"crm", "salesforce"}}).value(); };
  (void)transport.send({}, {});
  EXPECT_DOUBLE_EQ(ratio(), 0.1);
  (void)transport.send({}, {});
  (void)transport.send({}, {});
  EXPECT_DOUBLE_EQ(ratio(), 0.1);
  (void)transport.send({}, {});
  EXPECT_DOUBLE_EQ(ratio(), 0.2);
}

TEST(MeteredCrmTransport, DataverseBudgetComesFromTheServiceProtectionHeader) {
  auto used = [](const std::string& remaining) {
    return dataverse_api_budget_used(response(200, {{"x-ms-ratelimit-burst-remaining-xrm-requests", remaining}}));
  };
  EXPECT_DOUBLE_EQ(used("6000").value(), 0.0);
  EXPECT_DOUBLE_EQ(used("4500").value(), 0.25);
  EXPECT_DOUBLE_EQ(used("0").value(), 1.0);
  EXPECT_DOUBLE_EQ(used("9000").value(), 0.0);  // a larger limit than the default: clamped
  EXPECT_FALSE(used("-1"));
  EXPECT_FALSE(used("12x"));
  EXPECT_FALSE(used(""));
  EXPECT_FALSE(dataverse_api_budget_used(response(200)));
}

}  // namespace
}  // namespace crmsync::daemon
