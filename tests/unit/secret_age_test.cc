#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/config.h"
#include "daemon/credential_check.h"
#include "state/secret_store.h"

namespace crmsync {
namespace {

using ::testing::HasSubstr;
using state::SecretStage;
using state::SecretVersionInfo;
using std::chrono::hours;
using std::chrono::seconds;

SecretVersionInfo version(const std::string& name, int number, SecretStage stage, double age_seconds) {
  SecretVersionInfo info;
  info.name = name;
  info.version = number;
  info.stage = stage;
  info.age_seconds = age_seconds;
  return info;
}

TEST(SecretAges, OnlyCurrentVersionsAreAgedAgainstMaxAgeOrTheirOverride) {
  state::SecretAgePolicy policy;
  policy.max_age = hours(24 * 90);
  policy.overrides["salesforce.refresh_token"] = hours(24);
  auto ages = state::secret_ages({version("dynamics.client_secret", 1, SecretStage::previous, 200 * 86400.0),
                                  version("dynamics.client_secret", 2, SecretStage::current, 91 * 86400.0),
                                  version("salesforce.client_secret", 4, SecretStage::current, 89 * 86400.0),
                                  version("salesforce.client_secret", 5, SecretStage::pending, 500 * 86400.0),
                                  version("salesforce.refresh_token", 7, SecretStage::current, 2 * 86400.0)},
                                 policy);
  ASSERT_EQ(ages.size(), 3u);
  EXPECT_EQ(ages[0].name, "dynamics.client_secret");
  EXPECT_EQ(ages[0].version, 2);
  EXPECT_EQ(ages[0].age, seconds(91 * 86400));
  EXPECT_TRUE(ages[0].rotation_due);
  EXPECT_EQ(ages[1].version, 4);
  EXPECT_FALSE(ages[1].rotation_due) << "younger than max_age";
  EXPECT_EQ(ages[2].max_age, hours(24));
  EXPECT_TRUE(ages[2].rotation_due) << "the override applies";
}

TEST(SecretAges, ExactlyMaxAgeIsNotYetDueAndClockSkewIsNotNegative) {
  state::SecretAgePolicy policy;
  policy.max_age = seconds(100);
  auto ages = state::secret_ages({version("a", 1, SecretStage::current, 100.0), version("b", 1, SecretStage::current, -3.0)},
                                 policy);
  ASSERT_EQ(ages.size(), 2u);
  EXPECT_FALSE(ages[0].rotation_due);
  EXPECT_EQ(ages[1].age, seconds(0));
}

daemon::Config config_with(const std::string& salesforce_flow, bool dynamics) {
  daemon::Config config;
  config.salesforce = daemon::SalesforceSection{};
  config.salesforce->login_url = "https://login.example";
  config.salesforce->auth_flow = salesforce_flow;
  if (dynamics) config.dynamics = daemon::DynamicsSection{};
  return config;
}

TEST(CredentialUse, FollowsTheConfiguredFlowsSecretNames) {
  auto client_credentials = config_with("client_credentials", true);
  EXPECT_THAT(daemon::credential_use(client_credentials, "salesforce.client_secret").value_or(""),
              HasSubstr("client_credentials"));
  EXPECT_FALSE(daemon::credential_use(client_credentials, "salesforce.jwt_private_key")) << "not used by this flow";
  EXPECT_FALSE(daemon::credential_use(client_credentials, "salesforce.refresh_token"));
  EXPECT_THAT(daemon::credential_use(client_credentials, "dynamics.client_secret").value_or(""), HasSubstr("Dataverse"));
  EXPECT_FALSE(daemon::credential_use(client_credentials, "journal-hmac-key")) << "no CRM test for the journal key";

  auto jwt = config_with("jwt_bearer", false);
  EXPECT_TRUE(daemon::credential_use(jwt, "salesforce.jwt_private_key"));
  EXPECT_FALSE(daemon::credential_use(jwt, "salesforce.client_secret"));
  EXPECT_FALSE(daemon::credential_use(jwt, "dynamics.client_secret")) << "no [dynamics]";

  auto refresh = config_with("refresh_token", false);
  EXPECT_TRUE(daemon::credential_use(refresh, "salesforce.refresh_token"));
  EXPECT_TRUE(daemon::credential_use(refresh, "salesforce.client_secret"));
}

TEST(RotationAdvice, NamesWhereANewValueComesFromAndTheCommand) {
  EXPECT_THAT(daemon::rotation_advice("dynamics.client_secret"), HasSubstr("Microsoft Entra ID"));
  EXPECT_THAT(daemon::rotation_advice("dynamics.client_secret"),
              HasSubstr("crmsync secrets rotate dynamics.client_secret"));
  EXPECT_THAT(daemon::rotation_advice("salesforce.client_secret"), HasSubstr("connected app"));
  EXPECT_THAT(daemon::rotation_advice("journal-hmac-key"), HasSubstr("do not rotate it in place"));
  EXPECT_THAT(daemon::rotation_advice("kafka.password"), HasSubstr("crmsync secrets rotate kafka.password"));
}

}  // namespace
}  // namespace crmsync
