// The Salesforce capture's reading of one queryAll page (parse_capture_page).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/salesforce/salesforce_capture.h"
#include "mapping/event_json.h"

namespace crmsync::connectors::salesforce {
namespace {

using ::testing::HasSubstr;

const SalesforceCapturedObject kDeals{mapping::ObjectKind::deal, {"Name", "Amount", "OwnerId", "PRM_Id__c"}};

TEST(SalesforceCapturePage, RowsBecomeEventsInAnswerOrder) {
  auto page = parse_capture_page(
      R"({"done":false,"nextRecordsUrl":"/services/data/v59.0/query/01g-2000","records":[)"
      R"({"Id":"006000000000001AAA","SystemModstamp":"2026-11-27T23:28:09.000+0000","IsDeleted":false,)"
      R"("LastModifiedById":"005000000000001AAA","Name":"Acme","Amount":120000.50,"OwnerId":"005000000000002AAA","PRM_Id__c":"D-1"},)"
      R"({"Id":"006000000000002AAA","SystemModstamp":"2026-11-27T23:29:00.000Z","IsDeleted":true}]})",
      kDeals, "acme.my.salesforce.com");
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page.value().rows.size(), 2u);
  const auto& upsert = page.value().rows[0];
  EXPECT_EQ(upsert.id, "006000000000001AAA");
  EXPECT_EQ(upsert.event.prm_id, "D-1");
  EXPECT_EQ(upsert.event.occurred_at, "2026-11-27T23:28:09Z");
  EXPECT_EQ(upsert.event.sharing.owner_user, "005000000000002AAA");
  EXPECT_THAT(mapping::to_json(upsert.event), HasSubstr(R"("Amount":120000.5)"));
  EXPECT_EQ(page.value().rows[1].event.op, mapping::CanonicalEvent::Operation::remove);
  EXPECT_NE(upsert.content_hash, page.value().rows[1].content_hash);
  EXPECT_EQ(page.value().next_records_url, "/services/data/v59.0/query/01g-2000");
}

// Found reviewing the fuzz target's reach (corpus/salesforce/regression-capture-row-not-an-object.txt):
// a records element that was no object was asked for its members, which RapidJSON does not check.
TEST(SalesforceCapturePage, ValuesThatAreNoRowAreSkipped) {
  auto page = parse_capture_page(
      R"({"done":true,"records":[1,null,"x",[],{"Id":"006000000000001AAA","SystemModstamp":"2026-11-27T23:28:09.000+0000"}]})",
      kDeals, "org");
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page.value().rows.size(), 1u);
  EXPECT_EQ(page.value().rows[0].id, "006000000000001AAA");
  EXPECT_EQ(page.value().next_records_url, "");
}

TEST(SalesforceCapturePage, AnAnswerWithoutRecordsIsFatal) {
  for (const char* body : {"", "[]", R"({"records":{}})", "<html></html>"}) {
    auto page = parse_capture_page(body, kDeals, "org");
    ASSERT_FALSE(page.ok()) << body;
    EXPECT_EQ(page.error().error_class, mapping::ErrorClass::fatal);
    EXPECT_THAT(page.error().message, HasSubstr("queryAll on Opportunity answered without records"));
  }
}

}  // namespace
}  // namespace crmsync::connectors::salesforce
