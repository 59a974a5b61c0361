#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "connectors/http/retrying_client.h"
#include "daemon/logging.h"

namespace crmsync::connectors::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using std::chrono::milliseconds;

// Answers from a script; records what was sent.
class ScriptedTransport final : public HttpTransport {
 public:
  std::deque<mapping::Result<HttpResponse>> answers;
  std::vector<HttpRequest> sent;
  mapping::Result<HttpResponse> send(const HttpRequest& request, Deadline) override {
    sent.push_back(request);
    auto answer = answers.front();
    answers.pop_front();
    return answer;
  }
};

HttpResponse response(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
  return HttpResponse{status, std::move(headers), "{}"};
}

ResponseVerdict by_status(const HttpResponse& r) {
  if (r.status < 300) return ResponseVerdict::ok();
  if (r.status == 401) return ResponseVerdict::refresh({mapping::ErrorClass::auth, "INVALID_SESSION_ID"});
  if (r.status == 429 || r.status >= 500) {
    auto after = r.header("retry-after");
    return ResponseVerdict::retry({mapping::ErrorClass::transient, "HTTP " + std::to_string(r.status)},
                                  after ? parse_retry_after(*after, std::chrono::system_clock::now()) : std::nullopt);
  }
  return ResponseVerdict::fail({mapping::ErrorClass::invalid, "HTTP " + std::to_string(r.status)});
}

class RetryingClient : public ::testing::Test {
 protected:
  ScriptedTransport transport;
  std::vector<milliseconds> waits;
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::off, std::make_shared<daemon::LogRedactor>()};
  RetryingHttpClient client{transport, mapping::RetryPolicy{milliseconds(100), milliseconds(1000), 2.0, 0.0},
                            [] { return 0.5; }, [this](milliseconds wait) {
                              waits.push_back(wait);
                              return true;
                            },
                            logging.logger("http")};
  int builds = 0;
  std::function<HttpRequest()> build = [this] {
    ++builds;
    return HttpRequest{"GET", "https://crm/x", {{"Authorization", "Bearer token-" + std::to_string(builds)}}, "", "test"};
  };
  Deadline far = std::chrono::steady_clock::now() + std::chrono::hours(1);
};

TEST_F(RetryingClient, RetryableAnswersBackOffExponentiallyThenSucceed) {
  transport.answers = {response(503), response(502),
                       mapping::SyncError{mapping::ErrorClass::transient, "connection reset"}, response(200)};
  auto result = client.call(build, by_status, far);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_THAT(waits, ElementsAre(milliseconds(100), milliseconds(200), milliseconds(400)));
  EXPECT_EQ(transport.sent.size(), 4u);
}

TEST_F(RetryingClient, RetryAfterIsHonouredWhenLongerThanTheBackoff) {
  transport.answers = {response(429, {{"retry-after", "3"}}), response(200)};
  ASSERT_TRUE(client.call(build, by_status, far).ok());
  EXPECT_THAT(waits, ElementsAre(milliseconds(3000)));
}

TEST_F(RetryingClient, PermanentFailuresAreNotRetried) {
  transport.answers = {response(400)};
  auto result = client.call(build, by_status, far);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_TRUE(waits.empty());
  transport.answers = {mapping::SyncError{mapping::ErrorClass::fatal, "TLS verification failed"}};
  EXPECT_EQ(client.call(build, by_status, far).error().error_class, mapping::ErrorClass::fatal);
}

TEST_F(RetryingClient, ExpiredSessionReauthenticatesOnceWithAFreshRequest) {
  transport.answers = {response(401), response(200)};
  int refreshes = 0;
  auto result = client.call(build, by_status, far, [&] {
    ++refreshes;
    return mapping::ok_status();
  });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(refreshes, 1);
  EXPECT_EQ(transport.sent[1].headers[0].second, "Bearer token-2") << "the request is rebuilt with the new token";
  EXPECT_TRUE(waits.empty());

  transport.answers = {response(401), response(401)};
  auto twice = client.call(build, by_status, far, [&] { return mapping::ok_status(); });
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().error_class, mapping::ErrorClass::auth);
  EXPECT_THAT(twice.error().message, HasSubstr("again after re-authenticating"));
}

TEST_F(RetryingClient, GivesUpWhenTheNextWaitWouldPassTheDeadline) {
  transport.answers = {response(503), response(503)};
  auto soon = std::chrono::steady_clock::now() + milliseconds(150);
  auto result = client.call(build, by_status, soon);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().error_class, mapping::ErrorClass::transient);
  EXPECT_THAT(result.error().message, HasSubstr("would pass the deadline"));
}

TEST(RetryAfter, SecondsAndHttpDates) {
  auto now = std::chrono::system_clock::from_time_t(1'800'000'000);  // 2027-01-15T08:00:00Z
  EXPECT_EQ(parse_retry_after("120", now), milliseconds(120'000));
  EXPECT_EQ(parse_retry_after(" 0 ", now), milliseconds(0));
  EXPECT_EQ(parse_retry_after("Fri, 15 Jan 2027 08:00:30 GMT", now), milliseconds(30'000));
  EXPECT_EQ(parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now), milliseconds(0)) << "a past date means now";
  for (const char* bad : {"", "soon", "-5", "1.5", "Fri, 15 Jan 2027"}) {
    EXPECT_FALSE(parse_retry_after(bad, now).has_value()) << bad;
  }
}

TEST(RetryingClientShutdown, AnInterruptedWaitEndsTheRetriesWithTheLastFailure) {
  ScriptedTransport transport;
  transport.answers = {response(503), response(200)};
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::off, std::make_shared<daemon::LogRedactor>()};
  RetryingHttpClient client{transport, mapping::RetryPolicy{milliseconds(100), milliseconds(1000), 2.0, 0.0},
                            [] { return 0.5; }, [](milliseconds) { return false; }, logging.logger("http")};
  auto result = client.call([] { return HttpRequest{"GET", "https://crm/x", {}, "", "test"}; }, by_status,
                            std::chrono::steady_clock::now() + std::chrono::hours(1));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().error_class, mapping::ErrorClass::transient);
  EXPECT_THAT(result.error().message, HasSubstr("HTTP 503 (not retried: shutting down, after 1 attempt(s))"));
  EXPECT_EQ(transport.sent.size(), 1u);
}

TEST(InterruptibleSleeper, SleepsTheWholeTimeUnlessInterruptedThenWakesAtOnce) {
  auto interrupt = std::make_shared<std::atomic<bool>>(false);
  Sleeper sleep = interruptible_sleeper(interrupt);
  EXPECT_TRUE(sleep(milliseconds(1)));
  interrupt->store(true);
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(sleep(std::chrono::hours(1)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));  // no hour-long wait
}

// Fuzz crash (corpus/salesforce/crash-retry-after-overflow.txt): seconds * 1000 overflowed for a
// server's 2222222222222222222; a date past the year 2262 overflowed the clock's nanoseconds.
TEST(RetryAfter, HugeValuesAreCappedAtADayInsteadOfOverflowing) {
  auto now = std::chrono::system_clock::from_time_t(1'800'000'000);
  EXPECT_EQ(parse_retry_after("2222222222222222222", now), std::chrono::hours(24));
  EXPECT_EQ(parse_retry_after("86401", now), std::chrono::hours(24));
  EXPECT_EQ(parse_retry_after("Fri, 15 Jan 9999 08:00:30 GMT", now), std::chrono::hours(24));
  EXPECT_EQ(parse_retry_after("Mon, 01 Jan 1900 00:00:00 GMT", now), milliseconds(0));
}

}  // namespace
}  // namespace crmsync::connectors::http
