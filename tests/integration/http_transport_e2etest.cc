#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/http/retrying_client.h"
#include "daemon/logging.h"
#include "tests/support/crm_emulator.h"

namespace crmsync::connectors::http {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The libcurl transport and the retrying client against the Salesforce emulator over real HTTPS,
// with faults injected through its admin API.
class HttpAgainstEmulator : public ::testing::Test {
 protected:
  testing::CrmEmulator emulator{"salesforce"};
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::off, std::make_shared<daemon::LogRedactor>()};
  std::unique_ptr<HttpTransport> transport =
      make_curl_transport(HttpTransportSettings{emulator.ca_file(), seconds(5), 4}, logging.logger("http"));
  std::vector<milliseconds> waits;
  RetryingHttpClient client{*transport, mapping::RetryPolicy{milliseconds(10), milliseconds(100), 2.0, 0.0},
                            [] { return 0.5; },
                            [this](milliseconds wait) {
                              waits.push_back(wait);
                              std::this_thread::sleep_for(std::min(wait, milliseconds(50)));
                              return true;
                            },
                            logging.logger("http")};

  Deadline in(seconds s) { return std::chrono::steady_clock::now() + s; }

  HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = "") {
    auto answer = transport->send({method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path}, in(seconds(10)));
    if (!answer) throw std::runtime_error(answer.error().message);
    return answer.value();
  }

  static ResponseVerdict by_status(const HttpResponse& r) {
    if (r.status < 300) return ResponseVerdict::ok();
    if (r.status == 429 || r.status == 503) {
      auto after = r.header("retry-after");
      return ResponseVerdict::retry({mapping::ErrorClass::rate_limited, "HTTP " + std::to_string(r.status)},
                                    after ? parse_retry_after(*after, std::chrono::system_clock::now()) : std::nullopt);
    }
    return ResponseVerdict::fail({mapping::ErrorClass::invalid, "HTTP " + std::to_string(r.status)});
  }

  std::function<HttpRequest()> versions = [this] {
    return HttpRequest{"GET", emulator.base_url() + "/services/data/", {}, "", "GET versions"};
  };
};

TEST_F(HttpAgainstEmulator, VerifiedHttpsWithTheConfiguredCa) {
  auto answer = transport->send(versions(), in(seconds(10)));
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer.value().status, 200);
  EXPECT_THAT(answer.value().body, HasSubstr("\"version\""));
  EXPECT_TRUE(answer.value().header("Content-Type").has_value()) << "header lookup ignores case";
}

TEST_F(HttpAgainstEmulator, UnknownCaIsRefusedAsATlsVerificationFailure) {
  auto untrusting = make_curl_transport(HttpTransportSettings{}, logging.logger("http"));
  auto answer = untrusting->send(versions(), in(seconds(10)));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().error_class, mapping::ErrorClass::fatal);
  EXPECT_THAT(answer.error().message, HasSubstr("TLS verification failed"));
}

TEST_F(HttpAgainstEmulator, InjectedOutagesAreRetriedUntilTheyPass) {
  admin("POST", "/_emulator/faults", R"({"method":"GET","path":"/services/data/","status":503,"times":2})");
  admin("POST", "/_emulator/faults", R"({"method":"GET","path":"/services/data/","drop_connection":true,"times":1})");
  auto answer = client.call(versions, by_status, in(seconds(30)));
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  // Two 503 answers were retried by us; the dropped connection either by us or, when it happened
  // on a reused connection, by libcurl itself (it reconnects once before any answer arrived).
  EXPECT_GE(waits.size(), 2u);
  EXPECT_LE(waits.size(), 3u);
}

TEST_F(HttpAgainstEmulator, RateLimitAnswersWaitTheServersRetryAfter) {
  admin("POST", "/_emulator/faults", R"({"method":"GET","path":"/services/data/","status":429,"retry_after":2,"times":1})");
  auto answer = client.call(versions, by_status, in(seconds(30)));
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_GE(waits[0], milliseconds(2000));
}

TEST_F(HttpAgainstEmulator, ConnectionRefusedIsTransientAndBoundedByTheDeadline) {
  auto refused = client.call([] { return HttpRequest{"GET", "https://127.0.0.1:1/", {}, "", "GET nowhere"}; },
                             by_status, in(seconds(1)));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error_class, mapping::ErrorClass::transient);
  EXPECT_THAT(refused.error().message, HasSubstr("GET nowhere"));
}

}  // namespace
}  // namespace crmsync::connectors::http
