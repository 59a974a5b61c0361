#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <functional>
#include <map>
#include <regex>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "daemon/logging.h"

namespace crmsync::connectors::dynamics {
namespace {

using mapping::CrmRecordWrite;
using mapping::ErrorClass;
using mapping::FieldValue;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kSecret = "s3cr3t-client-value";
constexpr const char* kToken = "eyJ.token-value.sig";

class FixedSecret : public mapping::SecretProvider {
 public:
  mapping::Result<mapping::SecretString> current(const std::string&) override {
    return mapping::SecretString(kSecret);
  }
  mapping::Status store_rotated(const std::string&, const mapping::SecretString&) override {
    return mapping::SyncError{ErrorClass::auth, "read-only"};
  }
};

// Answers the token endpoint itself and every $batch with `answer_part(call, content_id)`.
class ScriptedDataverse : public http::HttpTransport {
 public:
  struct Part {
    int status;
    std::string body;
  };
  std::function<Part(int call, const std::string& content_id)> answer_part;
  std::vector<std::string> batch_bodies;
  int token_requests = 0;
  long long expires_in = 3599;

  mapping::Result<http::HttpResponse> send(const http::HttpRequest& request,
                                           http::Deadline) override {
    http::HttpResponse response;
    if (request.url.find("/oauth2/v2.0/token") != std::string::npos) {
      ++token_requests;
      response.status = 200;
      response.body = fmt::format(
          R"({{"token_type":"Bearer","expires_in":{},"access_token":"{}"}})", expires_in, kToken);
      return response;
    }
    int call = static_cast<int>(batch_bodies.size());
    batch_bodies.push_back(request.body);
    static const std::regex kContentId("Content-ID: (\\d+)");
    std::string body;
    for (std::sregex_iterator it(request.body.begin(), request.body.end(), kContentId), end;
         it != end; ++it) {
      std::string id = (*it)[1];
      Part part = answer_part(call, id);
      body += fmt::format(
          "--batchresponse_x\r\nContent-Type: application/http\r\nContent-ID: {}\r\n\r\n"
          "HTTP/1.1 {} Status\r\nContent-Type: application/json\r\n\r\n{}\r\n",
          id, part.status, part.body);
    }
    response.status = 200;
    response.headers = {{"content-type", "multipart/mixed; boundary=batchresponse_x"}};
    response.body = body + "--batchresponse_x--\r\n";
    return response;
  }
};

class DataverseApplierUnitTest : public ::testing::Test {
 protected:
  static CrmRecordWrite account(const std::string& prm_id) {
    CrmRecordWrite write;
    write.prm_id = prm_id;
    write.fields = {{"name", FieldValue::string_value("Name of " + prm_id)}};
    return write;
  }
  static std::string created(const std::string& id) {
    return fmt::format(R"({{"@odata.etag":"W/\"1\"","accountid":"{}"}})", id);
  }
  http::Deadline in(seconds s) { return std::chrono::steady_clock::now() + s; }

  std::vector<std::string> log_lines;
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::trace,
                          std::make_shared<daemon::LogRedactor>(),
                          [this](std::string_view line) { log_lines.emplace_back(line); }};
  ScriptedDataverse transport;
  std::vector<milliseconds> waits;
  http::RetryingHttpClient http{
      transport, mapping::RetryPolicy{milliseconds(1), milliseconds(2), 2.0, 0.0},
      [] { return 0.5; }, [this](milliseconds wait) {
        waits.push_back(wait);
        return true;
      },
      logging.logger("http")};
  FixedSecret secrets;
  std::chrono::steady_clock::time_point now =
      std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  DataverseSettings settings{"https://org.example", "https://login.example", "tenant", "app-id"};
  DataverseTokenClient tokens{settings, http, secrets, logging.logger("dynamics"),
                              [this] { return now; }};
  DataverseClient client{settings, http, tokens};
  DataverseApplier applier{client, DataverseApplySettings{2}, logging.logger("dynamics")};
};

TEST_F(DataverseApplierUnitTest, ARecordsOwnRateLimitAnswerIsSentAgainInALaterBatch) {
  transport.answer_part = [](int call, const std::string& id) -> ScriptedDataverse::Part {
    if (call == 0 && id == "1001")
      return {
          429,
          R"({"error":{"code":"0x80072322","message":"Number of requests exceeded the limit"}})"};
    return {201, created(id == "1" && call == 0 ? "00000000-0000-0000-0000-000000000001"
                                                : "00000000-0000-0000-0000-000000000002")};
  };
  auto results = applier.apply({account("a"), account("b")}, in(seconds(10)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_FALSE(results.value()[0].error.has_value());
  EXPECT_FALSE(results.value()[1].error.has_value());
  EXPECT_EQ(results.value()[0].crm_id, "00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(results.value()[1].crm_id, "00000000-0000-0000-0000-000000000002");
  EXPECT_TRUE(results.value()[1].created);
  ASSERT_EQ(transport.batch_bodies.size(), 2u);
  EXPECT_THAT(transport.batch_bodies[1], HasSubstr("crmsync_prmid='b'"));
  EXPECT_THAT(transport.batch_bodies[1], Not(HasSubstr("crmsync_prmid='a'")));
}

TEST_F(DataverseApplierUnitTest, PerRecordRetriesAreBoundedAndKeepTheirClass) {
  transport.answer_part = [](int, const std::string&) -> ScriptedDataverse::Part {
    return {503, R"({"error":{"code":"0x80040216","message":"unavailable"}})"};
  };
  auto results = applier.apply({account("a")}, in(seconds(10)));
  ASSERT_TRUE(results.ok());
  ASSERT_TRUE(results.value()[0].error.has_value());
  EXPECT_EQ(results.value()[0].error->error_class, ErrorClass::transient);
  EXPECT_THAT(results.value()[0].error->message, HasSubstr("prm_id=a"));
  EXPECT_EQ(transport.batch_bodies.size(), 5u);
}

TEST_F(DataverseApplierUnitTest, RecordsAreSplitIntoBatchesOfTheConfiguredSize) {
  transport.answer_part = [](int, const std::string&) -> ScriptedDataverse::Part {
    return {200, created("00000000-0000-0000-0000-000000000009")};
  };
  auto results = applier.apply(
      {account("a"), account("b"), account("c"), account("d"), account("e")}, in(seconds(10)));
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(transport.batch_bodies.size(), 3u);
  for (const auto& result : results.value()) EXPECT_FALSE(result.created) << "200 means updated";
}

TEST_F(DataverseApplierUnitTest, TokenIsReusedUntilShortlyBeforeItExpires) {
  transport.expires_in = 300;  // renewed after 300 - min(120, 150) = 180 s
  ASSERT_TRUE(tokens.access_token(in(seconds(10))).ok());
  now += seconds(179);
  ASSERT_TRUE(tokens.access_token(in(seconds(10))).ok());
  EXPECT_EQ(transport.token_requests, 1);
  now += seconds(2);
  ASSERT_TRUE(tokens.access_token(in(seconds(10))).ok());
  EXPECT_EQ(transport.token_requests, 2);
}

TEST_F(DataverseApplierUnitTest, NeitherTheSecretNorTheTokenReachesALogLine) {
  transport.answer_part = [](int, const std::string& id) -> ScriptedDataverse::Part {
    return {id == "1" ? 412 : 201, id == "1"
                                       ? R"({"error":{"code":"0x80060882","message":"stale"}})"
                                       : created("00000000-0000-0000-0000-000000000003")};
  };
  auto results = applier.apply({account("a"), account("b")}, in(seconds(10)));
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results.value()[0].error->error_class, ErrorClass::conflict);
  ASSERT_FALSE(log_lines.empty());
  for (const auto& line : log_lines) {
    EXPECT_THAT(line, Not(HasSubstr(kSecret)));
    EXPECT_THAT(line, Not(HasSubstr("token-value")));
  }
  EXPECT_THAT(results.value()[0].error->message, Not(HasSubstr("token-value")));
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
