// SalesforceRecordSink against scripted Salesforce answers: malformed answers (found by
// tests/fuzz/salesforce_fuzz.cc; the inputs are in tests/fuzz/corpus/salesforce/) fail the call with
// a classified error instead of crashing the apply worker or reading as success.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "daemon/logging.h"

namespace crmsync::connectors::salesforce {
namespace {

using mapping::CanonicalEvent;
using mapping::CrmRecordWrite;
using mapping::ErrorClass;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

class FixedSecret : public mapping::SecretProvider {
 public:
  mapping::Result<mapping::SecretString> current(const std::string&) override {
    return mapping::SecretString("client-secret-value");
  }
  mapping::Status store_rotated(const std::string&, const mapping::SecretString&) override {
    return mapping::SyncError{ErrorClass::auth, "read-only"};
  }
};

// Answers the token request itself and every other request with the next scripted body (200).
class ScriptedSalesforce : public http::HttpTransport {
 public:
  std::deque<std::string> bodies;
  std::vector<http::HttpRequest> requests;

  mapping::Result<http::HttpResponse> send(const http::HttpRequest& request, http::Deadline) override {
    if (request.url.find("/services/oauth2/token") != std::string::npos) {
      return http::HttpResponse{200, {}, R"({"access_token":"token","instance_url":"https://org.example"})"};
    }
    requests.push_back(request);
    if (bodies.empty()) return http::HttpResponse{400, {}, "script spent"};
    std::string body = std::move(bodies.front());
    bodies.pop_front();
    return http::HttpResponse{200, {}, std::move(body)};
  }
};

class SalesforceRecordSinkTest : public ::testing::Test {
 protected:
  static CrmRecordWrite removal(std::string prm_id) {
    CrmRecordWrite write;
    write.object = mapping::ObjectKind::deal;
    write.op = CanonicalEvent::Operation::remove;
    write.prm_id = std::move(prm_id);
    return write;
  }
  static mapping::CrmShareWrite revocation() {
    return {mapping::ObjectKind::account, "001000000000001AAA", "005000000000001AAA", false,
            mapping::ShareGrant::Access::read};
  }
  http::Deadline deadline() { return std::chrono::steady_clock::now() + std::chrono::seconds(30); }

  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::off, std::make_shared<daemon::LogRedactor>(),
                          [](std::string_view) {}};
  ScriptedSalesforce transport;
  FixedSecret secrets;
  static SalesforceSettings settings_for_test() {
    SalesforceSettings settings;
    settings.login_url = "https://login.example";
    settings.client_id = "client-id";
    return settings;
  }
  SalesforceSettings settings = settings_for_test();
  SalesforceClient client{settings,
                          transport,
                          secrets,
                          logging.logger("salesforce"),
                          mapping::RetryPolicy{milliseconds(1), milliseconds(2), 2.0, 0.0},
                          [] { return 0.5; },
                          [](milliseconds) { return true; }};
  SalesforceRecordSink sink{client};
};

// Fuzz crash (corpus/salesforce/crash-delete-lookup-row-without-id.txt): a row of the lookup before
// a delete carried the PRM id but no "Id"; reading it dereferenced a missing member.
TEST_F(SalesforceRecordSinkTest, ALookupRowWithoutIdFailsTheDeleteInsteadOfCrashing) {
  transport.bodies = {
      R"({"totalSize":2,"done":true,"records":[{"Id":"006000000000001AAA","PRM_Id__c":"D-1"},)"
      R"({"attributes":{"type":"Opportunity"},"We":"006000000000002AAA","PRM_Id__c":"D-2"}]})"};
  auto result = sink.apply({removal("D-1"), removal("D-2")}, deadline());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().error_class, ErrorClass::transient);
  EXPECT_THAT(result.error().message, HasSubstr("has no Id string"));
  EXPECT_EQ(transport.requests.size(), 1u) << "nothing is deleted on a half-read lookup";
}

TEST_F(SalesforceRecordSinkTest, AnUnreadableLookupIsAnErrorNotAnAlreadyDeletedRecord) {
  transport.bodies = {"<html>Service temporarily unavailable</html>"};
  auto result = sink.apply({removal("D-1")}, deadline());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().error_class, ErrorClass::transient);
  EXPECT_THAT(result.error().message, HasSubstr("not a JSON object"));
}

TEST_F(SalesforceRecordSinkTest, LookupRowsThatAreNotOursOrNotObjectsAreSkipped) {
  transport.bodies = {R"({"done":true,"records":[1,"x",null,{"PRM_Id__c":7},{"Id":"006000000000001AAA","PRM_Id__c":"D-1"}]})",
                      R"([{"id":"006000000000001AAA","success":true,"errors":[]}])"};
  auto result = sink.apply({removal("D-1"), removal("D-9")}, deadline());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(result.value()[0].error.has_value());
  EXPECT_FALSE(result.value()[1].error.has_value()) << "D-9 is not in Salesforce: nothing to delete";
  EXPECT_THAT(transport.requests.back().url, HasSubstr("ids=006000000000001AAA"));
}

TEST_F(SalesforceRecordSinkTest, CollectionResultsThatAreNotObjectsAreAMalformedAnswer) {
  transport.bodies = {R"({"done":true,"records":[{"Id":"006000000000001AAA","PRM_Id__c":"D-1"}]})", R"([17])"};
  auto result = sink.apply({removal("D-1")}, deadline());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().error_class, ErrorClass::fatal);
  EXPECT_THAT(result.error().message, HasSubstr("not an array of 1 results"));

  transport.bodies = {R"({"done":true,"records":[{"Id":"006000000000001AAA","PRM_Id__c":"D-1"}]})",
                      R"([{"success":false,"errors":["UNABLE_TO_LOCK_ROW"]}])"};
  auto failed = sink.apply({removal("D-1")}, deadline());
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  ASSERT_TRUE(failed.value()[0].error.has_value());
  EXPECT_THAT(failed.value()[0].error->message, HasSubstr("UNKNOWN")) << "an error entry that is no object";
}

// A record deleted in Salesforce after crmsync read or captured it: the update is refused with
// ENTITY_IS_DELETED. That is "gone" (the delete's change event follows), not a conflict to retry:
// retrying it stalled the whole apply wave for good (found by the chaos suite).
TEST_F(SalesforceRecordSinkTest, AnUpdateOfADeletedRecordIsGoneNotRetried) {
  CrmRecordWrite update;
  update.object = mapping::ObjectKind::deal;
  update.prm_id = "D-1";
  update.crm_id = "006000000000001AAA";
  update.fields.push_back({"Amount", mapping::FieldValue::number_value("12.00")});
  CrmRecordWrite other = update;
  other.prm_id = "D-2";
  other.crm_id = "006000000000002AAA";
  transport.bodies = {R"([{"id":"006000000000001AAA","success":false,"errors":[{"statusCode":"ENTITY_IS_DELETED",)"
                      R"("message":"entity is deleted","fields":[]}]},{"id":"006000000000002AAA","success":false,)"
                      R"("errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access",)"
                      R"("fields":[]}]}])"};
  auto result = sink.apply({update, other}, deadline());
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_TRUE(result.value()[0].error.has_value());
  EXPECT_TRUE(result.value()[0].gone);
  EXPECT_THAT(result.value()[0].error->message, HasSubstr("ENTITY_IS_DELETED"));
  ASSERT_TRUE(result.value()[1].error.has_value());
  EXPECT_FALSE(result.value()[1].gone) << "a lock is retried, not gone";
  EXPECT_EQ(result.value()[1].error->error_class, ErrorClass::transient);
}

TEST_F(SalesforceRecordSinkTest, ARevocationLookupWithoutAnIdStringFailsTheCall) {
  transport.bodies = {R"({"done":true,"records":[{"attributes":{"type":"AccountShare"}}]})"};
  auto result = sink.apply_shares({revocation()}, deadline());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("share row has no Id string"));

  transport.bodies = {R"({"done":true,"records":[]})"};
  auto none = sink.apply_shares({revocation()}, deadline());
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none.value()[0].error.has_value()) << "no share row: revoked already";
}

}  // namespace
}  // namespace crmsync::connectors::salesforce
