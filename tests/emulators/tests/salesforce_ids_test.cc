#include "tests/emulators/salesforce_ids.h"

#include <gtest/gtest.h>

namespace crmsync::emulators {
namespace {

TEST(SalesforceIds, ChecksumMatchesTheKnownVectors) {
  EXPECT_EQ(salesforce_id_suffix("001D000000IRFma"), "IAH");
  EXPECT_EQ(salesforce_id_suffix("80120000000test"), "AAA");
}

TEST(SalesforceIds, GeneratedIdsCarryThePrefixAndAValidSuffix) {
  for (const char* prefix : {"001", "006", "005", "00G", "00r", "00t"}) {
    std::string id = make_salesforce_id(prefix, 12345);
    ASSERT_EQ(id.size(), 18u);
    EXPECT_EQ(id.substr(0, 3), prefix);
    EXPECT_EQ(id.substr(15), salesforce_id_suffix(id.substr(0, 15)));
  }
  EXPECT_NE(make_salesforce_id("001", 1), make_salesforce_id("001", 2));
  EXPECT_NE(make_salesforce_id("001", 61), make_salesforce_id("001", 62));
}

TEST(SalesforceIds, NormalisesFifteenAndCaseInsensitiveEighteen) {
  EXPECT_EQ(*normalize_salesforce_id("001D000000IRFma"), "001D000000IRFmaIAH");
  EXPECT_EQ(*normalize_salesforce_id("001D000000IRFmaIAH"), "001D000000IRFmaIAH");
  EXPECT_EQ(*normalize_salesforce_id("001d000000irfmaiah"), "001D000000IRFmaIAH");
  EXPECT_FALSE(normalize_salesforce_id("001D000000IRFm").has_value());
  EXPECT_FALSE(normalize_salesforce_id("001D000000IRF-aIAH").has_value());
  EXPECT_FALSE(normalize_salesforce_id("badvalue").has_value());
}

}  // namespace
}  // namespace crmsync::emulators
