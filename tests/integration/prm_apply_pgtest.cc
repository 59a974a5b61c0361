#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/prm/prm_applier.h"
#include "state/state_database.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::prm {
namespace {

using ::testing::HasSubstr;
using mapping::FieldValue;

// The PRM apply on the real reference schema, as the daemon's role.
class PrmApply : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_PG_URL");
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_DAEMON_URL");
    auto db = state::StateDatabase::connect(admin_settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    admin = std::move(db).value();
    name = crmsync::testing::unique_name("apply");
    org = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {name});
    partner_b = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'silver') RETURNING id", {name + "b"});
    account = scalar("SELECT gen_random_uuid()::text", {});
    auto applier_created = PrmApplier::connect(settings, reference_schema_bindings());
    ASSERT_TRUE(applier_created.ok()) << applier_created.error().message;
    applier = std::move(applier_created).value();
  }
  void TearDown() override {
    (void)admin->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1", {org});
    (void)admin->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1", {org});
    (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id IN ($1, $2)", {org, partner_b});
  }
  std::string scalar(const std::string& sql, const state::QueryRow& params) {
    auto rows = admin->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("<null>");
  }
  PrmUpsert account_write() {
    PrmUpsert write;
    write.object = mapping::ObjectKind::account;
    write.prm_id = account;
    write.fields = {{"name", FieldValue::string_value("Applied Corp")},
                    {"industry", FieldValue::string_value("Energy")}};
    write.owner_partner_org = std::optional<std::string>(org);
    write.grants = std::vector<mapping::ShareGrant>{{"partner_org:" + partner_b, mapping::ShareGrant::Access::read}};
    write.actor = {mapping::Actor::Kind::internal_user, "salesforce:005000000000001AAA", ""};
    return write;
  }

  state::StateDatabaseSettings admin_settings;
  PrmConnectionSettings settings;
  std::unique_ptr<state::StateDatabase> admin;
  std::unique_ptr<PrmApplier> applier;
  std::string name, org, partner_b, account;
};

TEST_F(PrmApply, UpsertWritesFieldsOwnerActorAndReplacesShares) {
  { auto applied = applier->apply({account_write()}, "test"); ASSERT_TRUE(applied.ok()) << applied.error().message; }
  EXPECT_EQ(scalar("SELECT name || '|' || industry || '|' || modified_by_kind || '|' || modified_by_id "
                   "FROM prm.accounts WHERE id = $1", {account}),
            "Applied Corp|Energy|internal_user|salesforce:005000000000001AAA");
  EXPECT_EQ(scalar("SELECT string_agg(principal_id::text || ':' || access, ',') FROM prm.shares "
                   "WHERE object_type = 'account' AND record_id = $1", {account}),
            partner_b + ":read");

  PrmUpsert partial;
  partial.object = mapping::ObjectKind::account;
  partial.prm_id = account;
  partial.fields = {{"website", FieldValue::string_value("https://applied.example")}};
  partial.grants = std::vector<mapping::ShareGrant>{};
  { auto applied = applier->apply({partial}, "test"); ASSERT_TRUE(applied.ok()) << applied.error().message; }
  EXPECT_EQ(scalar("SELECT name || '|' || website FROM prm.accounts WHERE id = $1", {account}),
            "Applied Corp|https://applied.example")
      << "fields not named keep their values";
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.shares WHERE record_id = $1", {account}), "0");
}

TEST_F(PrmApply, ConstraintViolationNamesTheConstraintAndWritesNothing) {
  PrmUpsert deal;
  deal.object = mapping::ObjectKind::deal;
  deal.prm_id = scalar("SELECT gen_random_uuid()::text", {});
  deal.fields = {{"account_id", FieldValue::string_value(account)},
                 {"name", FieldValue::string_value("bad status")},
                 {"stage", FieldValue::string_value("Prospecting")},
                 {"registration_status", FieldValue::string_value("maybe")}};
  deal.owner_partner_org = std::optional<std::string>(org);
  auto failed = applier->apply({account_write(), deal}, "test");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(failed.error().message, HasSubstr("constraint deals_registration_status_check on deals violated"));
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE id = $1", {account}), "0")
      << "a failed batch changes nothing";
  EXPECT_TRUE(applier->apply({account_write()}, "test").ok()) << "the connection is usable afterwards";
}

TEST_F(PrmApply, ShareOfAnUnknownPrincipalFailsAtCommitWithItsConstraint) {
  PrmUpsert write = account_write();
  write.grants = std::vector<mapping::ShareGrant>{
      {"partner_org:00000000-0000-0000-0000-000000000000", mapping::ShareGrant::Access::edit}};
  auto failed = applier->apply({write}, "test");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.error().message, HasSubstr("shares_principal_exists"));
}

TEST_F(PrmApply, UnknownColumnAndBookkeepingColumnsAreInvalid) {
  PrmUpsert write = account_write();
  write.fields.push_back({"no_such_column", FieldValue::string_value("x")});
  auto unknown = applier->apply({write}, "test");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().error_class, mapping::ErrorClass::invalid);
  PrmUpsert bookkeeping = account_write();
  bookkeeping.fields.push_back({"row_version", FieldValue::number_value("99")});
  EXPECT_THAT(applier->apply({bookkeeping}, "test").error().message, HasSubstr("not a writable field"));
}

TEST_F(PrmApply, DeleteRemovesTheRecordAndItsShares) {
  { auto applied = applier->apply({account_write()}, "test"); ASSERT_TRUE(applied.ok()) << applied.error().message; }
  { auto applied = applier->apply({PrmDelete{mapping::ObjectKind::account, account}}, "test"); ASSERT_TRUE(applied.ok()) << applied.error().message; }
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE id = $1", {account}), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.shares WHERE record_id = $1", {account}), "0");
}

}  // namespace
}  // namespace crmsync::connectors::prm
