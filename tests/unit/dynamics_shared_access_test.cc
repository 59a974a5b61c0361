#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/dynamics/dataverse_shared_access.h"

namespace crmsync::connectors::dynamics {
namespace {

using mapping::ErrorClass;
using Access = mapping::ShareGrant::Access;
using ::testing::HasSubstr;

TEST(DataverseSharedAccess, TargetNamesTheRecordInAnEncodedParameterAlias) {
  EXPECT_EQ(
      shared_principals_target(mapping::ObjectKind::deal, "6a1e0000-0000-4000-8000-00000000000a"),
      "RetrieveSharedPrincipalsAndAccess(Target=@t)?@t=%7B%27%40odata.id%27%3A%27"
      "opportunities%286a1e0000-0000-4000-8000-00000000000a%29%27%7D");
}

TEST(DataverseSharedAccess, PrincipalAccessesAreReadWithTheirTypeIdAndMask) {
  auto shared = parse_shared_principals(
      R"({"@odata.context":"x","PrincipalAccesses":[
          {"AccessMask":"ReadAccess, WriteAccess","Principal":{"@odata.type":"#Microsoft.Dynamics.CRM.team","ownerid":"t1"}},
          {"AccessMask":"ReadAccess","Principal":{"@odata.type":"#Microsoft.Dynamics.CRM.systemuser","ownerid":"u1"}}]})",
      "GET shares");
  ASSERT_TRUE(shared.ok()) << shared.error().message;
  ASSERT_EQ(shared.value().size(), 2u);
  EXPECT_EQ(principal_string(shared.value()[0].principal), "team:t1");
  EXPECT_EQ(shared.value()[0].access_mask, "ReadAccess, WriteAccess");
  EXPECT_EQ(principal_string(shared.value()[1].principal), "systemuser:u1");
  auto none = parse_shared_principals(R"({"PrincipalAccesses":[]})", "GET shares");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

TEST(DataverseSharedAccess, MalformedAnswersAreInvalidAndNameTheRequest) {
  for (
      const char* body :
      {"", "not json", "[]", R"({"PrincipalAccesses":{}})", R"({"PrincipalAccesses":[1]})",
       R"({"PrincipalAccesses":[{"AccessMask":"ReadAccess"}]})",
       R"({"PrincipalAccesses":[{"Principal":{"ownerid":"t1"}}]})",
       R"({"PrincipalAccesses":[{"Principal":{"@odata.type":"#Microsoft.Dynamics.CRM.team"}}]})"}) {
    auto parsed = parse_shared_principals(body, "GET shares id=42");
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.error().error_class, ErrorClass::invalid) << body;
    EXPECT_THAT(parsed.error().message, HasSubstr("GET shares id=42")) << body;
  }
}

TEST(DataverseSharedAccess, WriteMakesEditReadAloneMakesReadOthersNoShare) {
  EXPECT_EQ(share_access_of("ReadAccess"), Access::read);
  EXPECT_EQ(share_access_of("ReadAccess, AppendAccess"), Access::read);
  EXPECT_EQ(share_access_of("ReadAccess, WriteAccess"), Access::edit);
  EXPECT_EQ(share_access_of("ReadAccess,WriteAccess,DeleteAccess"), Access::edit);
  EXPECT_EQ(share_access_of("WriteAccess"), Access::edit);
  EXPECT_FALSE(share_access_of("AppendToAccess, AssignAccess").has_value());
  EXPECT_FALSE(share_access_of("").has_value());
  EXPECT_FALSE(share_access_of("ReadAccessX").has_value());
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
