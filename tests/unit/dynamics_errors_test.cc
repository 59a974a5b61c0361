#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/dynamics/dataverse_capture.h"
#include "connectors/dynamics/dataverse_errors.h"

namespace crmsync::connectors::dynamics {
namespace {

using http::ResponseVerdict;
using mapping::ErrorClass;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(DataverseErrorBody, ParsesCodeAndMessage) {
  auto error = parse_dataverse_error(
      R"({"error":{"code":"0x80040217","message":"account With Id = x Does Not Exist"}})");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "0x80040217");
  EXPECT_EQ(error->message, "account With Id = x Does Not Exist");
  EXPECT_FALSE(parse_dataverse_error("").has_value());
  EXPECT_FALSE(parse_dataverse_error("<html>").has_value());
  EXPECT_FALSE(parse_dataverse_error(R"({"value":[]})").has_value());
  auto long_message = parse_dataverse_error(R"({"error":{"code":"0x0","message":")" +
                                            std::string(1000, 'x') + "\"}}");
  ASSERT_TRUE(long_message.has_value());
  EXPECT_LT(long_message->message.size(), 400u);
}

TEST(DataverseClassification, SuccessAnswers) {
  for (int status : {200, 201, 204, 304}) {
    EXPECT_EQ(classify_dataverse(status, "", std::nullopt, "x").kind,
              ResponseVerdict::Kind::success)
        << status;
  }
}

TEST(DataverseClassification, ExpiredTokenAsksForANewOne) {
  auto verdict = classify_dataverse(401, "", std::nullopt, "GET accounts");
  EXPECT_EQ(verdict.kind, ResponseVerdict::Kind::refresh_auth);
  EXPECT_EQ(verdict.error.error_class, ErrorClass::auth);
}

TEST(DataverseClassification, ServiceProtectionWaitsTheRetryAfter) {
  auto verdict = classify_dataverse(
      429,
      R"({"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}})",
      std::string("7"), "POST $batch");
  EXPECT_EQ(verdict.kind, ResponseVerdict::Kind::retry);
  EXPECT_EQ(verdict.error.error_class, ErrorClass::rate_limited);
  ASSERT_TRUE(verdict.retry_after.has_value());
  EXPECT_EQ(*verdict.retry_after, std::chrono::milliseconds(7000));
  EXPECT_THAT(verdict.error.message, HasSubstr("0x80072322"));
}

TEST(DataverseClassification, ServerErrorsAreTransient) {
  for (int status : {500, 502, 503, 504}) {
    auto verdict = classify_dataverse(
        status, R"({"error":{"code":"0x80040216","message":"Unexpected"}})", std::nullopt, "x");
    EXPECT_EQ(verdict.kind, ResponseVerdict::Kind::retry) << status;
    EXPECT_EQ(verdict.error.error_class, ErrorClass::transient) << status;
  }
}

TEST(DataverseClassification, StaleETagIsAConflictNotAnError) {
  auto verdict = classify_dataverse(
      412,
      R"({"error":{"code":"0x80060882","message":"The version of the existing record doesn't match the RowVersion property provided."}})",
      std::nullopt, "upsert accounts prm_id=p1");
  EXPECT_EQ(verdict.kind, ResponseVerdict::Kind::fail);
  EXPECT_EQ(verdict.error.error_class, ErrorClass::conflict);
  EXPECT_THAT(verdict.error.message, HasSubstr("0x80060882"));
  EXPECT_THAT(verdict.error.message, HasSubstr("upsert accounts prm_id=p1"));
}

TEST(DataverseClassification, OtherClientErrorsAreInvalidWithTheCrmCode) {
  auto verdict = classify_dataverse(
      400,
      R"({"error":{"code":"0x80048d19","message":"Error identified in Payload provided by the user for Entity :'accounts'"}})",
      std::nullopt, "upsert accounts prm_id=p1");
  EXPECT_EQ(verdict.kind, ResponseVerdict::Kind::fail);
  EXPECT_EQ(verdict.error.error_class, ErrorClass::invalid);
  EXPECT_THAT(verdict.error.message, HasSubstr("HTTP 400 0x80048d19"));
  auto not_found = classify_dataverse(404, R"({"error":{"code":"0x80040217","message":"gone"}})",
                                      std::nullopt, "x");
  EXPECT_EQ(not_found.error.error_class, ErrorClass::invalid);
  auto no_body = classify_dataverse(403, "", std::nullopt, "x");
  EXPECT_EQ(no_body.error.error_class, ErrorClass::invalid);
  EXPECT_THAT(no_body.error.message, HasSubstr("HTTP 403"));
}

TEST(DataverseClassification, ExpiredAndUnknownDeltaTokensAreRecognised) {
  auto expired = parse_dataverse_error(
      R"({"error":{"code":"0x80060888","message":"Version stamp associated with the client has expired. Please perform a full sync."}})");
  EXPECT_TRUE(is_expired_delta_token(400, expired));
  auto unknown = parse_dataverse_error(
      R"({"error":{"code":"0x80060888","message":"The delta token 'x' is not valid."}})");
  EXPECT_TRUE(is_expired_delta_token(400, unknown));
  auto other = parse_dataverse_error(
      R"({"error":{"code":"0x80060888","message":"The $skiptoken value is not valid."}})");
  EXPECT_FALSE(is_expired_delta_token(400, other));
  EXPECT_FALSE(is_expired_delta_token(500, expired));
}

TEST(DataverseCaptureEvents, RowsBecomeUpsertsWithBothIds) {
  auto event = event_from_row(
      mapping::ObjectKind::account,
      R"({"@odata.etag":"W/\"1234\"","accountid":"0000-1","crmsync_prmid":"prm-9","name":"Acme","revenue":1250.5,"numberofemployees":12,"_ownerid_value":"t1","_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"team"})",
      false, "pass");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->op, mapping::CanonicalEvent::Operation::upsert);
  EXPECT_EQ(event->dynamics_id, "0000-1");
  EXPECT_EQ(event->prm_id, "prm-9");
  EXPECT_EQ(event->source_version, "1234");
  EXPECT_FALSE(event->snapshot);
  std::string json = mapping::to_json(*event);
  EXPECT_THAT(json, HasSubstr(R"("source":"dynamics")"));
  EXPECT_THAT(json, HasSubstr(R"("name":"Acme")"));
  EXPECT_THAT(json, HasSubstr(R"("revenue":1250.5)"));
  EXPECT_THAT(json, HasSubstr(R"("numberofemployees":12)"));
  EXPECT_THAT(json, HasSubstr(R"("_ownerid_value":"t1")"));
  EXPECT_THAT(json, Not(HasSubstr("lookuplogicalname")));
  auto again = event_from_row(mapping::ObjectKind::account,
                              R"({"@odata.etag":"W/\"1234\"","accountid":"0000-1","name":"Acme"})",
                              false, "other");
  EXPECT_EQ(again->event_id, event->event_id) << "the same version read twice keeps its identity";
}

TEST(DataverseCaptureEvents, DeletedEntitiesBecomeDeletes) {
  auto event = event_from_row(
      mapping::ObjectKind::deal,
      R"({"@odata.context":"https://org/api/data/v9.2/$metadata#opportunities/$deletedEntity","id":"dead-1","reason":"deleted"})",
      false, "pass-1");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->op, mapping::CanonicalEvent::Operation::remove);
  EXPECT_EQ(event->object, mapping::ObjectKind::deal);
  EXPECT_EQ(event->dynamics_id, "dead-1");
  EXPECT_FALSE(event->prm_id.has_value());
  EXPECT_FALSE(
      event_from_row(mapping::ObjectKind::account, R"({"name":"no id"})", false, "p").has_value());
}

TEST(DataverseCaptureEvents, AChangesPageGivesItsRowsOwnersAndLinks) {
  auto page = parse_changes_page(
      mapping::ObjectKind::account,
      R"({"value":[{"accountid":"0000-1","name":"Acme","_ownerid_value":"t1",)"
      R"("_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"team"},7,{"name":"no id"},)"
      R"({"id":"dead-1","reason":"deleted"}],"@odata.nextLink":"https://org/next"})",
      true, "pass-1", "GET accounts changes (baseline)");
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page.value().rows.size(), 2u) << "rows without an id, and values that are no row, are skipped";
  EXPECT_EQ(page.value().rows[0].event.dynamics_id, "0000-1");
  EXPECT_TRUE(page.value().rows[0].event.snapshot);
  EXPECT_EQ(page.value().rows[0].owner, "t1");
  EXPECT_EQ(page.value().rows[0].owner_kind, "team");
  EXPECT_EQ(page.value().rows[1].event.op, mapping::CanonicalEvent::Operation::remove);
  EXPECT_EQ(page.value().next_link, "https://org/next");
  EXPECT_EQ(page.value().delta_link, "");

  auto broken = parse_changes_page(mapping::ObjectKind::account, R"({"value":{}})", false, "p", "GET accounts changes (delta)");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().error_class, mapping::ErrorClass::transient);
  EXPECT_THAT(broken.error().message, HasSubstr("GET accounts changes (delta): the answer has no value array"));
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
