// The partner directory reader (connectors/prm/prm_directory_reader.h) on the reference PRM schema
// (deploy/prm/schema.sql, applied by deploy/dev/services start), as the daemon's role
// crmsync_prm. Other tests write partner orgs concurrently, so each test compares exactly the rows
// of its own uniquely named data set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "connectors/prm/prm_directory_reader.h"
#include "connectors/prm/prm_query_session.h"
#include "state/state_database.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::prm {
namespace {

using ::testing::HasSubstr;

class PrmDirectoryReader : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_PG_URL");
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_DAEMON_URL");
    auto db = state::StateDatabase::connect(admin_settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    admin = std::move(db).value();
    auto opened = PrmQuerySession::open(settings);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    session = std::move(opened).value();
    name = crmsync::testing::unique_name("directory");
  }
  void TearDown() override {
    for (const auto& org : orgs) {
      (void)admin->execute("DELETE FROM prm.partner_users WHERE partner_org_id = $1", {org});
      (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
    }
    if (!custom_schema.empty())
      (void)admin->execute("DROP SCHEMA IF EXISTS " + custom_schema + " CASCADE");
  }

  std::string scalar(const std::string& sql, const state::QueryRow& params) {
    auto rows = admin->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("<null>");
  }
  PartnerOrgInfo add_org(const std::string& label, const std::string& tier, bool active) {
    PartnerOrgInfo org{"", name + " " + label, tier, active};
    org.id =
        scalar("INSERT INTO prm.partner_orgs (name, tier, active) VALUES ($1, $2, $3) RETURNING id",
               {org.name, org.tier, active ? "true" : "false"});
    orgs.push_back(org.id);
    return org;
  }
  PartnerUserInfo add_user(const PartnerOrgInfo& org, const std::string& label, bool active) {
    PartnerUserInfo user{"", org.id, label + "@" + name + ".example", active};
    user.id = scalar(
        "INSERT INTO prm.partner_users (partner_org_id, email, display_name, active) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        {org.id, user.email, label, active ? "true" : "false"});
    return user;
  }
  // The part of `directory` that belongs to this test's orgs, in the reader's order.
  PartnerDirectory own_part(const PartnerDirectory& directory) const {
    auto mine = [&](const std::string& org) {
      return std::find(orgs.begin(), orgs.end(), org) != orgs.end();
    };
    PartnerDirectory part;
    for (const auto& org : directory.orgs) {
      if (mine(org.id)) part.orgs.push_back(org);
    }
    for (const auto& user : directory.users) {
      if (mine(user.partner_org_id)) part.users.push_back(user);
    }
    return part;
  }
  static PartnerDirectory sorted(PartnerDirectory directory) {
    std::sort(directory.orgs.begin(), directory.orgs.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    std::sort(directory.users.begin(), directory.users.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    return directory;
  }

  state::StateDatabaseSettings admin_settings;
  PrmConnectionSettings settings;
  std::unique_ptr<state::StateDatabase> admin;
  std::unique_ptr<PrmQuerySession> session;
  std::string name;
  std::vector<std::string> orgs;  // ids of the orgs this test created
  std::string custom_schema;      // a schema this test created, if any
};

TEST_F(PrmDirectoryReader, DaemonRoleMayReadTheDirectoryTables) {
  for (const char* table : {"prm.partner_orgs", "prm.partner_users"}) {
    EXPECT_EQ(scalar("SELECT has_table_privilege('crmsync_prm', $1, 'SELECT')", {table}), "t")
        << table;
  }
}

TEST_F(PrmDirectoryReader, ReturnsEveryOrgAndUserExactlyInactiveOnesIncluded) {
  PartnerOrgInfo gold = add_org("gold", "gold", true);
  PartnerOrgInfo silver = add_org("silver", "silver", true);
  PartnerOrgInfo closed = add_org("closed", "platinum", false);
  PartnerUserInfo g1 = add_user(gold, "g1", true);
  PartnerUserInfo g2 = add_user(gold, "g2", false);
  PartnerUserInfo s1 = add_user(silver, "s1", true);
  PartnerUserInfo c1 = add_user(closed, "c1", true);

  auto read = read_partner_directory(*session, reference_schema_bindings().directory);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(own_part(read.value()),
            sorted(PartnerDirectory{{gold, silver, closed}, {g1, g2, s1, c1}}));
  EXPECT_TRUE(std::is_sorted(read.value().orgs.begin(), read.value().orgs.end(),
                             [](const auto& a, const auto& b) { return a.id < b.id; }));
  EXPECT_TRUE(std::is_sorted(read.value().users.begin(), read.value().users.end(),
                             [](const auto& a, const auto& b) { return a.id < b.id; }));
}

TEST_F(PrmDirectoryReader, EachReadSeesTheCurrentDirectory) {
  PartnerOrgInfo org = add_org("org", "registered", true);
  auto first = read_partner_directory(*session, reference_schema_bindings().directory);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(own_part(first.value()), (PartnerDirectory{{org}, {}}));

  PartnerUserInfo user = add_user(org, "u1", true);
  ASSERT_EQ(
      scalar(
          "UPDATE prm.partner_orgs SET tier = 'gold', active = false WHERE id = $1 RETURNING tier",
          {org.id}),
      "gold");
  org.tier = "gold";
  org.active = false;
  auto second = read_partner_directory(*session, reference_schema_bindings().directory);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(own_part(second.value()), (PartnerDirectory{{org}, {user}}));
}

TEST_F(PrmDirectoryReader, BindingThatDoesNotFitTheTablesIsInvalidAndTheSessionStaysUsable) {
  // Columns are checked on the rows read (an empty table reads as an empty list): give both a row.
  add_user(add_org("org", "silver", true), "u1", true);
  PartnerDirectoryBinding unknown_column = reference_schema_bindings().directory;
  unknown_column.org_tier_column = "level";
  auto missing = read_partner_directory(*session, unknown_column);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(missing.error().message, HasSubstr("prm.partner_orgs has no column \"level\""));

  PartnerDirectoryBinding text_flag = reference_schema_bindings().directory;
  text_flag.user_active_column = "email";
  auto not_boolean = read_partner_directory(*session, text_flag);
  ASSERT_FALSE(not_boolean.ok());
  EXPECT_EQ(not_boolean.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(not_boolean.error().message,
              HasSubstr("column email of prm.partner_users is not boolean"));

  PartnerDirectoryBinding no_table = reference_schema_bindings().directory;
  no_table.users_table = "partner_people";
  auto absent = read_partner_directory(*session, no_table);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().error_class, mapping::ErrorClass::fatal) << absent.error().message;
  EXPECT_THAT(absent.error().message, HasSubstr("partner_people"));

  auto good = read_partner_directory(*session, reference_schema_bindings().directory);
  EXPECT_TRUE(good.ok()) << "the session is usable after failed reads: " << good.error().message;
}

// A customer's own directory tables (other names, nullable columns): nulls never grant anything,
// and a row without an id is refused.
TEST_F(PrmDirectoryReader, CustomerTablesThroughTheBindingWithNulls) {
  custom_schema = name;
  for (const std::string& sql :
       {"CREATE SCHEMA " + custom_schema,
        "CREATE TABLE " + custom_schema +
            ".resellers (reseller_id text, title text, level text, enabled boolean)",
        "CREATE TABLE " + custom_schema +
            ".contacts (contact_id text, reseller text, mail text, enabled boolean)",
        "GRANT USAGE ON SCHEMA " + custom_schema + " TO crmsync_prm",
        "GRANT SELECT ON ALL TABLES IN SCHEMA " + custom_schema + " TO crmsync_prm",
        "INSERT INTO " + custom_schema +
            ".resellers VALUES ('r1', 'Reseller', NULL, NULL), ('r2', NULL, 'gold', true)",
        "INSERT INTO " + custom_schema +
            ".contacts VALUES ('k1', 'r1', NULL, false), ('k2', NULL, 'k2@x.example', true)"}) {
    ASSERT_TRUE(admin->execute(sql).ok()) << sql;
  }
  const PartnerDirectoryBinding binding{.schema = custom_schema,
                                        .orgs_table = "resellers",
                                        .org_id_column = "reseller_id",
                                        .org_name_column = "title",
                                        .org_tier_column = "level",
                                        .org_active_column = "enabled",
                                        .users_table = "contacts",
                                        .user_id_column = "contact_id",
                                        .user_org_column = "reseller",
                                        .user_email_column = "mail",
                                        .user_active_column = "enabled"};
  auto read = read_partner_directory(*session, binding);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(),
            (PartnerDirectory{{{"r1", "Reseller", "", false}, {"r2", "", "gold", true}},
                              {{"k1", "r1", "", false}, {"k2", "", "k2@x.example", true}}}));

  ASSERT_TRUE(admin
                  ->execute("INSERT INTO " + custom_schema +
                            ".contacts VALUES (NULL, 'r1', 'x@x.example', true)")
                  .ok());
  auto null_id = read_partner_directory(*session, binding);
  ASSERT_FALSE(null_id.ok());
  EXPECT_EQ(null_id.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(null_id.error().message,
              HasSubstr("a row of " + custom_schema + ".contacts has a null contact_id"));
}

}  // namespace
}  // namespace crmsync::connectors::prm
