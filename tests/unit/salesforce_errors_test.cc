#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/salesforce/salesforce_errors.h"
#include "connectors/salesforce/salesforce_session.h"

namespace crmsync::connectors::salesforce {
namespace {

using ::testing::HasSubstr;
using Kind = http::ResponseVerdict::Kind;

http::HttpResponse answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {status, std::move(headers), std::move(body)};
}

TEST(SalesforceResponses, EachAnswerGetsTheRightVerdict) {
  EXPECT_EQ(classify_salesforce_response(answer(200, "{}")).kind, Kind::success);
  auto expired = classify_salesforce_response(
      answer(401, R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])"));
  EXPECT_EQ(expired.kind, Kind::refresh_auth);
  auto locked = classify_salesforce_response(answer(400, R"([{"message":"unable to obtain exclusive access","errorCode":"UNABLE_TO_LOCK_ROW"}])"));
  EXPECT_EQ(locked.kind, Kind::retry);
  auto unavailable = classify_salesforce_response(answer(503, "", {{"retry-after", "7"}}));
  EXPECT_EQ(unavailable.kind, Kind::retry);
  EXPECT_EQ(unavailable.retry_after, std::chrono::milliseconds(7000));
  auto limit = classify_salesforce_response(answer(403, R"([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])"));
  EXPECT_EQ(limit.kind, Kind::fail);
  EXPECT_EQ(limit.error.error_class, mapping::ErrorClass::rate_limited);
  auto bad = classify_salesforce_response(answer(400, R"([{"message":"No such column 'X' on sobject of type Account","errorCode":"INVALID_FIELD"}])"));
  EXPECT_EQ(bad.kind, Kind::fail);
  EXPECT_EQ(bad.error.error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(bad.error.message, HasSubstr("INVALID_FIELD: No such column"));
  EXPECT_EQ(classify_salesforce_response(answer(412, "[]")).error.error_class, mapping::ErrorClass::conflict);
  EXPECT_THAT(classify_salesforce_response(answer(500, "not json")).error.message, HasSubstr("(no error body)"));
}

TEST(SalesforceResponses, OauthErrorBodies) {
  EXPECT_EQ(salesforce_error_text(R"({"error":"invalid_grant","error_description":"authentication failure"})"),
            "invalid_grant: authentication failure");
}

TEST(SalesforceLimits, ParsesApiUsage) {
  auto usage = parse_limit_info("api-usage=25/15000");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->used, 25);
  EXPECT_EQ(usage->limit, 15000);
  EXPECT_TRUE(parse_limit_info("per-app-api-usage=1/10(appName=x), api-usage=3/9").has_value());
  for (const char* bad : {"", "api-usage=", "api-usage=5", "api-usage=x/10", "api-usage=5/0"}) {
    EXPECT_FALSE(parse_limit_info(bad).has_value()) << bad;
  }
}

TEST(Jwt, Base64UrlHasNoPaddingOrUnsafeCharacters) {
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url("{\"alg\":\"RS256\"}"), "eyJhbGciOiJSUzI1NiJ9");
}

TEST(Jwt, BadKeyIsAnAuthErrorWithoutTheKey) {
  auto assertion = make_jwt_assertion("client", "user", "https://login", mapping::SecretString("not-a-pem-canary"),
                                      std::chrono::system_clock::now());
  ASSERT_FALSE(assertion.ok());
  EXPECT_EQ(assertion.error().error_class, mapping::ErrorClass::auth);
  EXPECT_THAT(assertion.error().message, ::testing::Not(HasSubstr("canary")));
}

}  // namespace
}  // namespace crmsync::connectors::salesforce
