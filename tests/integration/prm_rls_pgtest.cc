// Authorization test of the reference PRM schema (deploy/prm/schema.sql, docs/prm-schema.md):
// partner orgs A, B, C (and an inactive D) with own, shared-read, shared-edit, user-shared and
// foreign records. For each partner session the portal role must see and change exactly the rows
// it should, and never read internal fields. Needs the local PostgreSQL with the schema applied
// (deploy/dev/services start); every test builds its own data set with unique names and removes it.
//
// libpqxx is used directly: this tests the database's rules, not crmsync's state library.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "tests/support/service_env.h"

namespace crmsync::prm_schema {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr const char* kInsufficientPrivilege = "42501";
constexpr const char* kForeignKeyViolation = "23503";
constexpr const char* kInvalidTextRepresentation = "22P02";

enum class Access { read, edit };

// A portal request context: the partner org and user the portal app authenticated (fixture keys).
struct Session {
  std::string label;
  std::string org;
  std::string user;
};

// What one session may do with each fixture record (records not listed: invisible).
struct Expectation {
  Session session;
  std::map<std::string, Access> accounts;
  std::map<std::string, Access> deals;
};

const Session kA1{"org A / user a1", "org_a", "user_a1"};
const Session kA2{"org A / user a2", "org_a", "user_a2"};
const Session kB1{"org B / user b1", "org_b", "user_b1"};
const Session kC1{"org C / user c1", "org_c", "user_c1"};
const Session kD1{"inactive org D / user d1", "org_d", "user_d1"};

// The data set built in SetUp (tiers: A silver, B gold, C platinum, D gold; only discounts
// depend on them):
//   acc_a (A)                   acc_b (B) read→org A       acc_c (C) edit→org B     acc_d (D)
//   deal_a (A, on acc_a)        read→org C
//   deal_b_read_a (B, acc_b)    read→org A
//   deal_b_edit_a (B, acc_b)    edit→org A
//   deal_c_edit_a1 (C, acc_c)   edit→user a1 (not a2)
//   deal_c_read_b (C, acc_c)    read→org B
//   deal_c_foreign (C, acc_c)   no shares
//   deal_d (D, acc_d)           D is inactive: its users see nothing
const std::vector<Expectation>& expectations() {
  static const std::vector<Expectation> all = {
      {kA1,
       {{"acc_a", Access::edit}, {"acc_b", Access::read}},
       {{"deal_a", Access::edit},
        {"deal_b_read_a", Access::read},
        {"deal_b_edit_a", Access::edit},
        {"deal_c_edit_a1", Access::edit}}},
      {kA2,
       {{"acc_a", Access::edit}, {"acc_b", Access::read}},
       {{"deal_a", Access::edit},
        {"deal_b_read_a", Access::read},
        {"deal_b_edit_a", Access::edit}}},
      {kB1,
       {{"acc_b", Access::edit}, {"acc_c", Access::edit}},
       {{"deal_b_read_a", Access::edit},
        {"deal_b_edit_a", Access::edit},
        {"deal_c_read_b", Access::read}}},
      {kC1,
       {{"acc_c", Access::edit}},
       {{"deal_a", Access::read},
        {"deal_c_edit_a1", Access::edit},
        {"deal_c_read_b", Access::edit},
        {"deal_c_foreign", Access::edit}}},
      {kD1, {}, {}},
  };
  return all;
}

// Runs `statement` and returns the SQLSTATE it failed with, or "no error". libpqxx 6.4 leaves
// sqlstate() empty on some of its exception classes (insufficient_privilege among them), so the
// class stands in for the code there.
std::string sqlstate_of(const std::function<void()>& statement) {
  try {
    statement();
  } catch (const pqxx::insufficient_privilege& error) {
    return error.sqlstate().empty() ? kInsufficientPrivilege : error.sqlstate();
  } catch (const pqxx::foreign_key_violation& error) {
    return error.sqlstate().empty() ? kForeignKeyViolation : error.sqlstate();
  } catch (const pqxx::sql_error& error) {
    return error.sqlstate().empty() ? std::string("sql_error without SQLSTATE: ") + error.what()
                                    : error.sqlstate();
  }
  return "no error";
}

class PrmRowLevelSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = std::make_unique<pqxx::connection>(
        crmsync::testing::require_service_env("CRMSYNC_PRM_PG_URL"));
    portal_ = std::make_unique<pqxx::connection>(
        crmsync::testing::require_service_env("CRMSYNC_PRM_PORTAL_URL"));
    run_ = crmsync::testing::unique_name("prm_rls");
    pqxx::work w{*admin_};
    for (auto [org, tier] : std::map<std::string, std::string>{
             {"org_a", "silver"}, {"org_b", "gold"}, {"org_c", "platinum"}, {"org_d", "gold"}}) {
      ids_[org] = w.exec_params1(
                       "INSERT INTO prm.partner_orgs (name, tier, active) VALUES ($1, $2, $3) "
                       "RETURNING id",
                       run_ + " " + org, tier, org != "org_d")[0]
                      .as<std::string>();
    }
    for (auto [user, org] : std::map<std::string, std::string>{{"user_a1", "org_a"},
                                                                {"user_a2", "org_a"},
                                                                {"user_b1", "org_b"},
                                                                {"user_c1", "org_c"},
                                                                {"user_d1", "org_d"}}) {
      ids_[user] = w.exec_params1(
                        "INSERT INTO prm.partner_users (partner_org_id, email, display_name) "
                        "VALUES ($1, $2, $3) RETURNING id",
                        ids_[org], user + "@" + run_ + ".example", user)[0]
                       .as<std::string>();
    }
    for (auto [account, org] : std::map<std::string, std::string>{
             {"acc_a", "org_a"}, {"acc_b", "org_b"}, {"acc_c", "org_c"}, {"acc_d", "org_d"}}) {
      owner_[account] = org;
      ids_[account] = w.exec_params1(
                           "INSERT INTO prm.accounts (name, owner_partner_org_id, "
                           "modified_by_kind, modified_by_id) "
                           "VALUES ($1, $2, 'integration', 'prm_rls_pgtest') RETURNING id",
                           run_ + " " + account, ids_[org])[0]
                          .as<std::string>();
      w.exec_params("INSERT INTO prm.account_internal (account_id, internal_notes) VALUES ($1, $2)",
                    ids_[account], "internal note of " + account);
    }
    struct DealRow {
      const char* key;
      const char* account;
      const char* org;
    };
    for (const DealRow& deal : {DealRow{"deal_a", "acc_a", "org_a"},
                                DealRow{"deal_b_read_a", "acc_b", "org_b"},
                                DealRow{"deal_b_edit_a", "acc_b", "org_b"},
                                DealRow{"deal_c_edit_a1", "acc_c", "org_c"},
                                DealRow{"deal_c_read_b", "acc_c", "org_c"},
                                DealRow{"deal_c_foreign", "acc_c", "org_c"},
                                DealRow{"deal_d", "acc_d", "org_d"}}) {
      owner_[deal.key] = deal.org;
      ids_[deal.key] =
          w.exec_params1(
               "INSERT INTO prm.deals (account_id, name, stage, registration_status, amount, "
               "currency, owner_partner_org_id, modified_by_kind, modified_by_id) "
               "VALUES ($1, $2, 'qualify', 'submitted', 1000, 'EUR', $3, 'integration', "
               "'prm_rls_pgtest') RETURNING id",
               ids_[deal.account], run_ + " " + deal.key, ids_[deal.org])[0]
              .as<std::string>();
      w.exec_params(
          "INSERT INTO prm.deal_internal (deal_id, cost, margin_percent, internal_notes) "
          "VALUES ($1, 600, 40, 'internal')",
          ids_[deal.key]);
    }
    struct ShareRow {
      const char* object_type;
      const char* record;
      const char* principal_type;
      const char* principal;
      const char* access;
    };
    const std::vector<ShareRow> shares = {
        {"account", "acc_b", "partner_org", "org_a", "read"},
        {"account", "acc_c", "partner_org", "org_b", "edit"},
        {"deal", "deal_a", "partner_org", "org_c", "read"},
        {"deal", "deal_b_read_a", "partner_org", "org_a", "read"},
        {"deal", "deal_b_edit_a", "partner_org", "org_a", "edit"},
        {"deal", "deal_c_edit_a1", "partner_user", "user_a1", "edit"},
        {"deal", "deal_c_read_b", "partner_org", "org_b", "read"}};
    for (const ShareRow& share : shares) {
      w.exec_params(
          "INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
          "VALUES ($1, $2, $3, $4, $5)",
          share.object_type, ids_[share.record], share.principal_type, ids_[share.principal],
          share.access);
    }
    w.commit();
    data_set_committed_ = true;
  }

  void TearDown() override {
    if (!data_set_committed_) return;
    pqxx::work w{*admin_};
    const std::string orgs = uuid_array({"org_a", "org_b", "org_c", "org_d"});
    // Shares and internal rows go with their records (triggers, ON DELETE CASCADE).
    w.exec_params(
        "DELETE FROM prm.deals WHERE owner_partner_org_id = ANY($1::uuid[]) OR account_id IN "
        "(SELECT id FROM prm.accounts WHERE owner_partner_org_id = ANY($1::uuid[]))",
        orgs);
    w.exec_params("DELETE FROM prm.accounts WHERE owner_partner_org_id = ANY($1::uuid[])", orgs);
    w.exec_params("DELETE FROM prm.partner_users WHERE partner_org_id = ANY($1::uuid[])", orgs);
    w.exec_params("DELETE FROM prm.partner_orgs WHERE id = ANY($1::uuid[])", orgs);
    w.commit();
  }

  // A transaction as the portal app runs one: the partner context set transaction-locally from
  // its authenticated session. Keys are fixture keys; "" leaves a setting empty.
  std::unique_ptr<pqxx::work> portal_tx(const Session& session) {
    auto tx = std::make_unique<pqxx::work>(*portal_);
    tx->exec_params(
        "SELECT set_config('prm.partner_org', $1, true), set_config('prm.partner_user', $2, true)",
        session.org.empty() ? "" : ids_.at(session.org),
        session.user.empty() ? "" : ids_.at(session.user));
    return tx;
  }

  // Fixture keys of the rows of `sql` (one uuid column) that belong to this data set.
  std::set<std::string> keys_of(pqxx::work& tx, const std::string& sql) {
    std::set<std::string> keys;
    for (const auto& row : tx.exec(sql)) {
      for (const auto& [key, id] : ids_) {
        if (id == row[0].as<std::string>()) keys.insert(key);
      }
    }
    return keys;
  }

  std::string uuid_array(const std::vector<std::string>& keys) const {
    std::string array = "{";
    for (const auto& key : keys) array += (array.size() > 1 ? "," : "") + ids_.at(key);
    return array + "}";
  }

  long count(pqxx::work& tx, const std::string& sql) { return tx.exec1(sql)[0].as<long>(); }
  long count(pqxx::work& tx, const std::string& sql, const std::string& param) {
    return tx.exec_params1(sql, param)[0].as<long>();
  }

  std::unique_ptr<pqxx::connection> admin_;
  std::unique_ptr<pqxx::connection> portal_;
  std::string run_;
  std::map<std::string, std::string> ids_;    // fixture key → uuid
  std::map<std::string, std::string> owner_;  // record key → owning org key
  bool data_set_committed_ = false;
};

std::set<std::string> visible(const std::map<std::string, Access>& records) {
  std::set<std::string> keys;
  for (const auto& [key, access] : records) keys.insert(key);
  return keys;
}

TEST_F(PrmRowLevelSecurityTest, WithoutPartnerSettingsThePortalSeesNothing) {
  for (const Session& session :
       {Session{"no settings", "", ""}, Session{"user only", "", "user_a1"}}) {
    SCOPED_TRACE(session.label);
    auto tx = portal_tx(session);
    for (const char* table : {"accounts", "deals", "shares", "partner_orgs", "partner_users"}) {
      EXPECT_EQ(count(*tx, std::string("SELECT count(*) FROM prm.") + table), 0) << table;
    }
  }
  {
    pqxx::nontransaction plain{*portal_};  // never set in this session at all
    EXPECT_EQ(plain.exec1("SELECT count(*) FROM prm.deals")[0].as<long>(), 0);
  }
  pqxx::work tx{*portal_};
  tx.exec("SET LOCAL prm.partner_org = 'not-a-uuid'");
  EXPECT_EQ(sqlstate_of([&] { tx.exec("SELECT count(*) FROM prm.deals"); }),
            kInvalidTextRepresentation);
}

TEST_F(PrmRowLevelSecurityTest, EachOrgSeesExactlyItsOwnAndSharedDealsAndAccounts) {
  for (const Expectation& expected : expectations()) {
    SCOPED_TRACE(expected.session.label);
    auto tx = portal_tx(expected.session);
    EXPECT_EQ(keys_of(*tx, "SELECT id FROM prm.deals"), visible(expected.deals));
    EXPECT_EQ(keys_of(*tx, "SELECT id FROM prm.accounts"), visible(expected.accounts));
  }
}

TEST_F(PrmRowLevelSecurityTest, UpdateChangesExactlyOwnedAndEditSharedRows) {
  for (const Expectation& expected : expectations()) {
    for (const char* table : {"deals", "accounts"}) {
      const auto& records = std::string(table) == "deals" ? expected.deals : expected.accounts;
      for (const auto& [key, id] : ids_) {
        if (key.rfind(std::string(table) == "deals" ? "deal_" : "acc_", 0) != 0) continue;
        SCOPED_TRACE(expected.session.label + ", " + key);
        auto it = records.find(key);
        const bool editable = it != records.end() && it->second == Access::edit;
        auto tx = portal_tx(expected.session);  // rolled back when it goes out of scope
        auto result = tx->exec_params(
            std::string("UPDATE prm.") + table + " SET name = name || ' (edited)' WHERE id = $1",
            id);
        EXPECT_EQ(result.affected_rows(), editable ? 1u : 0u);
      }
    }
  }
}

TEST_F(PrmRowLevelSecurityTest, DeleteRemovesOnlyOwnedRecords) {
  for (const Expectation& expected : expectations()) {
    for (const auto& [key, id] : ids_) {
      if (key.rfind("deal_", 0) != 0) continue;
      SCOPED_TRACE(expected.session.label + ", " + key);
      const bool owned = owner_.at(key) == expected.session.org && expected.session.org != "org_d";
      auto tx = portal_tx(expected.session);
      EXPECT_EQ(tx->exec_params("DELETE FROM prm.deals WHERE id = $1", id).affected_rows(),
                owned ? 1u : 0u);
    }
  }
  {  // Accounts: shared (even for edit) or foreign ones are never deleted...
    auto tx = portal_tx(kB1);
    for (const char* account : {"acc_c", "acc_a"}) {
      EXPECT_EQ(tx->exec_params("DELETE FROM prm.accounts WHERE id = $1", ids_[account])
                    .affected_rows(),
                0u)
          << account;
    }
  }
  // ...own ones are.
  auto tx = portal_tx(kB1);
  auto id = tx->exec_params1(
                  "INSERT INTO prm.accounts (name, owner_partner_org_id) VALUES ('to delete', $1) "
                  "RETURNING id",
                  ids_["org_b"])[0]
                .as<std::string>();
  EXPECT_EQ(tx->exec_params("DELETE FROM prm.accounts WHERE id = $1", id).affected_rows(), 1u);
}

TEST_F(PrmRowLevelSecurityTest, InsertIsAllowedOnlyForTheSessionsOwnOrg) {
  const std::string insert_deal =
      "INSERT INTO prm.deals (account_id, name, stage, owner_partner_org_id) "
      "VALUES ($1, 'new deal', 'qualify', $2) RETURNING id, registration_status";
  {
    auto tx = portal_tx(kA1);
    EXPECT_EQ(sqlstate_of([&] { tx->exec_params(insert_deal, ids_["acc_a"], ids_["org_b"]); }),
              kInsufficientPrivilege);
  }
  {
    auto tx = portal_tx(kA1);
    EXPECT_EQ(sqlstate_of([&] {
                tx->exec_params("INSERT INTO prm.accounts (name, owner_partner_org_id) "
                                "VALUES ('x', $1)",
                                ids_["org_c"]);
              }),
              kInsufficientPrivilege);
  }
  {
    auto tx = portal_tx(kA1);  // own org, but on an account A cannot see
    EXPECT_EQ(sqlstate_of([&] { tx->exec_params(insert_deal, ids_["acc_c"], ids_["org_a"]); }),
              kInsufficientPrivilege);
  }
  auto tx = portal_tx(kA1);  // own org on a shared-read account: allowed, owned by the session user
  auto row = tx->exec_params1(insert_deal, ids_["acc_b"], ids_["org_a"]);
  EXPECT_EQ(row[1].as<std::string>(), "draft");
  auto stored = tx->exec_params1(
      "SELECT owner_partner_user_id, modified_by_kind, modified_by_id, row_version "
      "FROM prm.deals WHERE id = $1",
      row[0].as<std::string>());
  EXPECT_EQ(stored[0].as<std::string>(), ids_["user_a1"]);
  EXPECT_EQ(stored[1].as<std::string>(), "partner_user");
  EXPECT_EQ(stored[2].as<std::string>(), ids_["user_a1"]);
  EXPECT_EQ(stored[3].as<long>(), 1);
}

TEST_F(PrmRowLevelSecurityTest, InternalTablesAreDeniedEvenWithPartnerSettings) {
  for (const char* sql : {"SELECT cost, margin_percent, internal_notes FROM prm.deal_internal",
                          "SELECT internal_notes FROM prm.account_internal",
                          "SELECT d.name, i.cost FROM prm.deals d JOIN prm.deal_internal i "
                          "ON i.deal_id = d.id",
                          "UPDATE prm.deal_internal SET cost = 0",
                          "INSERT INTO prm.account_internal (account_id) "
                          "SELECT id FROM prm.accounts",
                          "DELETE FROM prm.deal_internal"}) {
    for (const Session& session : {kA1, kC1, Session{"no settings", "", ""}}) {
      SCOPED_TRACE(session.label + ": " + sql);
      auto tx = portal_tx(session);
      EXPECT_EQ(sqlstate_of([&] { tx->exec(sql); }), kInsufficientPrivilege);
    }
  }
  // Internal fields exist only in those tables: none of the portal's tables carries them.
  auto tx = portal_tx(kA1);
  EXPECT_EQ(count(*tx,
                  "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'prm' "
                  "AND a.attname IN ('cost', 'margin_percent', 'internal_notes') "
                  "AND has_column_privilege(c.oid, a.attnum, 'SELECT')"),
            0);
}

TEST_F(PrmRowLevelSecurityTest, SpoofedActorIsReplacedByTheSessionUser) {
  auto tx = portal_tx(kA1);
  auto inserted = tx->exec_params1(
      "INSERT INTO prm.accounts (name, owner_partner_org_id, modified_by_kind, modified_by_id) "
      "VALUES ('spoof', $1, 'integration', 'crmsync') RETURNING modified_by_kind, modified_by_id",
      ids_["org_a"]);
  EXPECT_EQ(inserted[0].as<std::string>(), "partner_user");
  EXPECT_EQ(inserted[1].as<std::string>(), ids_["user_a1"]);
  auto updated = tx->exec_params1(
      "UPDATE prm.deals SET description = 'edited', modified_by_kind = 'internal_user', "
      "modified_by_id = $2 WHERE id = $1 RETURNING modified_by_kind, modified_by_id, row_version",
      ids_["deal_b_edit_a"], ids_["user_b1"]);
  EXPECT_EQ(updated[0].as<std::string>(), "partner_user");
  EXPECT_EQ(updated[1].as<std::string>(), ids_["user_a1"]);
  EXPECT_EQ(updated[2].as<long>(), 2);
}

TEST_F(PrmRowLevelSecurityTest, WritesNeedAUserOfTheSessionsOrg) {
  const Session org_only{"org A without a user", "org_a", ""};
  const Session foreign_user{"org A with user b1", "org_a", "user_b1"};
  for (const Session& session : {org_only, foreign_user}) {
    SCOPED_TRACE(session.label);
    {  // Reads work at org level; a user of another org adds nothing (no user shares).
      auto tx = portal_tx(session);
      EXPECT_EQ(keys_of(*tx, "SELECT id FROM prm.deals"),
                (std::set<std::string>{"deal_a", "deal_b_read_a", "deal_b_edit_a"}));
    }
    auto tx = portal_tx(session);
    EXPECT_EQ(sqlstate_of([&] {
                tx->exec_params("UPDATE prm.deals SET description = 'x' WHERE id = $1",
                                ids_["deal_a"]);
              }),
              kInsufficientPrivilege);
  }
}

TEST_F(PrmRowLevelSecurityTest, PartnerCannotTakeOverRecordsOrApproveItsOwnDeals) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> attempts = {
      {"take over a shared-edit deal",
       {"UPDATE prm.deals SET owner_partner_org_id = $2 WHERE id = $1", ids_["deal_b_edit_a"],
        ids_["org_a"]}},
      {"give away an own deal",
       {"UPDATE prm.deals SET owner_partner_org_id = $2 WHERE id = $1", ids_["deal_a"],
        ids_["org_b"]}},
      {"reassign the owner user of a shared deal",
       {"UPDATE prm.deals SET owner_partner_user_id = $2 WHERE id = $1", ids_["deal_b_edit_a"],
        ids_["user_a1"]}},
      {"approve a registration", {"UPDATE prm.deals SET registration_status = $2 WHERE id = $1",
                                  ids_["deal_a"], "approved"}},
      {"grant a discount (A is silver)",
       {"UPDATE prm.deals SET discount_percent = $2 WHERE id = $1", ids_["deal_a"], "50"}},
      {"move a deal to an invisible account",
       {"UPDATE prm.deals SET account_id = $2 WHERE id = $1", ids_["deal_a"], ids_["acc_c"]}},
  };
  for (const auto& [label, statement] : attempts) {
    SCOPED_TRACE(label);
    auto tx = portal_tx(kA1);
    EXPECT_EQ(sqlstate_of([&, &statement = statement] {
                tx->exec_params(statement[0], statement[1], statement[2]);
              }),
              kInsufficientPrivilege);
  }
  auto tx = portal_tx(kA1);  // the owning org may reassign its own user
  EXPECT_EQ(tx->exec_params("UPDATE prm.deals SET owner_partner_user_id = $2 WHERE id = $1",
                            ids_["deal_a"], ids_["user_a2"])
                .affected_rows(),
            1u);
}

// Discounts are tier-gated: a partner of a gold or platinum org may set or change
// discount_percent on any deal it may insert or update; registered and silver partners cannot
// (deals_partner_rules, prm.session_partner_tier()).
TEST_F(PrmRowLevelSecurityTest, OnlyGoldAndPlatinumPartnersSetDiscounts) {
  const std::string set_discount =
      "UPDATE prm.deals SET discount_percent = $2 WHERE id = $1 RETURNING discount_percent";
  const std::string insert_discounted =
      "INSERT INTO prm.deals (account_id, name, stage, owner_partner_org_id, discount_percent) "
      "VALUES ($1, 'discounted', 'qualify', $2, 12.5) RETURNING discount_percent";
  {  // Silver (A): refused on its own deal, on a deal shared with it for edit, and on insert.
    auto tx = portal_tx(kA1);
    EXPECT_EQ(sqlstate_of([&] { tx->exec_params(set_discount, ids_["deal_a"], "10"); }),
              kInsufficientPrivilege);
  }
  {
    auto tx = portal_tx(kA1);
    EXPECT_EQ(sqlstate_of([&] { tx->exec_params(set_discount, ids_["deal_b_edit_a"], "10"); }),
              kInsufficientPrivilege);
  }
  {
    auto tx = portal_tx(kA1);
    EXPECT_EQ(
        sqlstate_of([&] { tx->exec_params(insert_discounted, ids_["acc_a"], ids_["org_a"]); }),
        kInsufficientPrivilege);
  }
  {  // Gold (B): sets it on its own deal and on insert, and clears it again.
    auto tx = portal_tx(kB1);
    EXPECT_EQ(tx->exec_params1(set_discount, ids_["deal_b_read_a"], "15")[0].as<std::string>(),
              "15.00");
    EXPECT_EQ(
        tx->exec_params1(insert_discounted, ids_["acc_b"], ids_["org_b"])[0].as<std::string>(),
        "12.50");
    EXPECT_TRUE(tx->exec_params1("UPDATE prm.deals SET discount_percent = NULL WHERE id = $1 "
                                 "RETURNING discount_percent",
                                 ids_["deal_b_read_a"])[0]
                    .is_null());
    // ...but only where it may update at all: a deal shared with it for read stays untouched.
    EXPECT_EQ(tx->exec_params("UPDATE prm.deals SET discount_percent = 5 WHERE id = $1",
                              ids_["deal_c_read_b"])
                  .affected_rows(),
              0u);
  }
  {  // Platinum (C): also on a deal it owns that nobody else shares.
    auto tx = portal_tx(kC1);
    EXPECT_EQ(tx->exec_params1(set_discount, ids_["deal_c_foreign"], "20")[0].as<std::string>(),
              "20.00");
  }
  {  // A discount set by gold B does not stop silver A from editing B's deal's other fields.
    pqxx::work w{*admin_};
    w.exec_params("UPDATE prm.deals SET discount_percent = 7 WHERE id = $1", ids_["deal_b_edit_a"]);
    w.commit();
    auto tx = portal_tx(kA1);
    EXPECT_EQ(tx->exec_params("UPDATE prm.deals SET description = 'edited by A' WHERE id = $1",
                              ids_["deal_b_edit_a"])
                  .affected_rows(),
              1u);
    EXPECT_EQ(sqlstate_of([&] { tx->exec_params(set_discount, ids_["deal_b_edit_a"], "8"); }),
              kInsufficientPrivilege);
  }
  // The tier is read from the org at the time of the write: A's own deal, for every tier.
  for (const char* tier : {"registered", "silver", "gold", "platinum"}) {
    SCOPED_TRACE(std::string("org A as ") + tier);
    {
      pqxx::work w{*admin_};
      w.exec_params("UPDATE prm.partner_orgs SET tier = $2 WHERE id = $1", ids_["org_a"], tier);
      w.commit();
    }
    const bool allowed = std::string(tier) == "gold" || std::string(tier) == "platinum";
    {
      auto tx = portal_tx(kA1);
      EXPECT_EQ(sqlstate_of([&] { tx->exec_params(set_discount, ids_["deal_a"], "10"); }),
                allowed ? "no error" : kInsufficientPrivilege);
    }
    auto tx = portal_tx(kA1);
    EXPECT_EQ(
        sqlstate_of([&] { tx->exec_params(insert_discounted, ids_["acc_a"], ids_["org_a"]); }),
        allowed ? "no error" : kInsufficientPrivilege);
  }
}

TEST_F(PrmRowLevelSecurityTest, GoldPartnerStillCannotApproveItsRegistration) {
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"approve its own deal",
       "UPDATE prm.deals SET registration_status = 'approved' WHERE id = $1"},
      {"approve with a discount",
       "UPDATE prm.deals SET registration_status = 'approved', discount_percent = 10 "
       "WHERE id = $1"},
      {"create an approved deal",
       "INSERT INTO prm.deals (account_id, name, stage, owner_partner_org_id, "
       "registration_status) SELECT account_id, 'approved', 'qualify', owner_partner_org_id, "
       "'approved' FROM prm.deals WHERE id = $1"},
  };
  for (const auto& [label, sql] : attempts) {
    SCOPED_TRACE(label);
    auto tx = portal_tx(kB1);  // B is gold
    EXPECT_EQ(sqlstate_of([&, &sql = sql] { tx->exec_params(sql, ids_["deal_b_read_a"]); }),
              kInsufficientPrivilege);
  }
  auto tx = portal_tx(kB1);  // submitting (and discounting) is still the partner's to do
  EXPECT_EQ(tx->exec_params("UPDATE prm.deals SET registration_status = 'draft', "
                            "discount_percent = 10 WHERE id = $1",
                            ids_["deal_b_read_a"])
                .affected_rows(),
            1u);
}

TEST_F(PrmRowLevelSecurityTest, SharesAreSeenByOwnerAndGranteeAndManagedOnlyByOwner) {
  auto shares_seen = [&](const Session& session) {
    auto tx = portal_tx(session);
    std::set<std::string> seen;
    for (const auto& row : tx->exec("SELECT record_id, principal_id FROM prm.shares")) {
      std::string record, principal;
      for (const auto& [key, id] : ids_) {
        if (id == row[0].as<std::string>()) record = key;
        if (id == row[1].as<std::string>()) principal = key;
      }
      seen.insert(record + "->" + principal);
    }
    return seen;
  };
  // Owner: every share of its records. Grantee: only the rows naming itself (not B's grant on
  // deal_c_read_b, not that A's deal is shared with C unless it is A).
  EXPECT_EQ(shares_seen(kA1),
            (std::set<std::string>{"deal_a->org_c", "acc_b->org_a", "deal_b_read_a->org_a",
                                   "deal_b_edit_a->org_a", "deal_c_edit_a1->user_a1"}));
  EXPECT_EQ(shares_seen(kA2),
            (std::set<std::string>{"deal_a->org_c", "acc_b->org_a", "deal_b_read_a->org_a",
                                   "deal_b_edit_a->org_a"}));
  EXPECT_EQ(shares_seen(kB1),
            (std::set<std::string>{"acc_b->org_a", "deal_b_read_a->org_a", "deal_b_edit_a->org_a",
                                   "acc_c->org_b", "deal_c_read_b->org_b"}));
  EXPECT_THAT(shares_seen(kD1), IsEmpty());

  const std::string grant =
      "INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
      "VALUES ('deal', $1, 'partner_org', $2, 'edit')";
  {  // Edit access is not ownership: A cannot re-share B's deal.
    auto tx = portal_tx(kA1);
    EXPECT_EQ(sqlstate_of([&] { tx->exec_params(grant, ids_["deal_b_edit_a"], ids_["org_c"]); }),
              kInsufficientPrivilege);
  }
  {
    auto tx = portal_tx(kA1);
    EXPECT_EQ(tx->exec_params("UPDATE prm.shares SET access = 'edit' WHERE record_id = $1",
                              ids_["deal_b_read_a"])
                  .affected_rows(),
              0u);
    EXPECT_EQ(tx->exec_params("DELETE FROM prm.shares WHERE record_id = $1", ids_["deal_c_edit_a1"])
                  .affected_rows(),
              0u);
  }
  auto tx = portal_tx(kA1);  // the owner manages its own record's shares
  EXPECT_EQ(tx->exec_params(grant, ids_["deal_a"], ids_["org_b"]).affected_rows(), 1u);
  EXPECT_EQ(tx->exec_params("DELETE FROM prm.shares WHERE record_id = $1", ids_["deal_a"])
                .affected_rows(),
            2u);
}

TEST_F(PrmRowLevelSecurityTest, PartnerSeesOnlyItsOwnOrgAndUsers) {
  auto tx = portal_tx(kA1);
  EXPECT_EQ(keys_of(*tx, "SELECT id FROM prm.partner_orgs"), (std::set<std::string>{"org_a"}));
  EXPECT_EQ(keys_of(*tx, "SELECT id FROM prm.partner_users"),
            (std::set<std::string>{"user_a1", "user_a2"}));
  EXPECT_EQ(sqlstate_of([&] { tx->exec("UPDATE prm.partner_orgs SET tier = 'platinum'"); }),
            kInsufficientPrivilege);
}

TEST_F(PrmRowLevelSecurityTest, PartnerContextEndsWithTheTransaction) {
  {
    auto tx = portal_tx(kA1);
    EXPECT_EQ(count(*tx, "SELECT count(*) FROM prm.deals"), 4);
    tx->commit();
  }
  // The next request on the same pooled connection starts without a partner context.
  pqxx::work next{*portal_};
  EXPECT_EQ(count(next, "SELECT count(*) FROM prm.deals"), 0);
}

TEST_F(PrmRowLevelSecurityTest, PortalCannotEmitTheDaemonsOriginMessage) {
  auto tx = portal_tx(kA1);
  EXPECT_EQ(sqlstate_of([&] {
              tx->exec("SELECT pg_logical_emit_message(true, 'crmsync.origin', 'forged')");
            }),
            kInsufficientPrivilege);
}

TEST_F(PrmRowLevelSecurityTest, DaemonRoleSeesEveryPartnersRowsAndInternalFields) {
  pqxx::connection daemon{crmsync::testing::require_service_env("CRMSYNC_PRM_DAEMON_URL")};
  pqxx::work tx{daemon};  // no partner settings: BYPASSRLS
  const std::string orgs = uuid_array({"org_a", "org_b", "org_c", "org_d"});
  EXPECT_EQ(count(tx, "SELECT count(*) FROM prm.deals WHERE owner_partner_org_id = ANY($1::uuid[])",
                  orgs),
            7);
  EXPECT_EQ(count(tx,
                  "SELECT count(*) FROM prm.deal_internal i JOIN prm.deals d ON d.id = i.deal_id "
                  "WHERE d.owner_partner_org_id = ANY($1::uuid[])",
                  orgs),
            7);
  EXPECT_EQ(count(tx, "SELECT count(*) FROM prm.shares WHERE principal_id = ANY($1::uuid[])",
                  uuid_array({"org_a", "org_b", "org_c", "user_a1"})),
            7);
  tx.exec("SELECT pg_logical_emit_message(true, 'crmsync.origin', 'prm_rls_pgtest')");
  // A partner's attribution never sticks to the daemon's write; an explicit actor is kept.
  auto on_behalf = tx.exec_params1(
      "UPDATE prm.deals SET modified_by_kind = 'partner_user', modified_by_id = $2 WHERE id = $1 "
      "RETURNING modified_by_kind", ids_["deal_a"], ids_["user_a1"]);
  EXPECT_EQ(on_behalf[0].as<std::string>(), "partner_user");  // named explicitly: kept
  auto second = tx.exec_params1(
      "UPDATE prm.deals SET amount = 2 WHERE id = $1 RETURNING modified_by_kind, modified_by_id",
      ids_["deal_a"]);
  EXPECT_EQ(second[0].as<std::string>(), "internal_user");
  EXPECT_EQ(second[1].as<std::string>(), "crmsync_prm");
  auto named = tx.exec_params1(
      "UPDATE prm.deals SET amount = 3, modified_by_kind = 'integration', "
      "modified_by_id = 'crmsync' WHERE id = $1 RETURNING modified_by_kind, modified_by_id",
      ids_["deal_a"]);
  EXPECT_EQ(named[0].as<std::string>(), "integration");
  EXPECT_EQ(named[1].as<std::string>(), "crmsync");
}

TEST_F(PrmRowLevelSecurityTest, RlsCheckReportsTablesWithoutForcedRowLevelSecurity) {
  pqxx::connection daemon{crmsync::testing::require_service_env("CRMSYNC_PRM_DAEMON_URL")};
  {
    pqxx::work tx{daemon};
    EXPECT_EQ(count(tx,
                    "SELECT count(*) FROM prm.rls_misconfigured_tables(ARRAY['prm.accounts', "
                    "'prm.deals', 'prm.shares', 'prm.partner_orgs', 'prm.partner_users', "
                    "'prm.account_internal', 'prm.deal_internal'])"),
              0);
  }
  const std::string schema = run_;
  pqxx::work tx{*admin_};  // rolled back: leaves nothing behind
  tx.exec("CREATE SCHEMA " + schema);
  tx.exec("CREATE TABLE " + schema + ".no_rls (id int)");
  tx.exec("CREATE TABLE " + schema + ".not_forced (id int)");
  tx.exec("ALTER TABLE " + schema + ".not_forced ENABLE ROW LEVEL SECURITY");
  tx.exec("CREATE TABLE " + schema + ".forced (id int)");
  tx.exec("ALTER TABLE " + schema + ".forced ENABLE ROW LEVEL SECURITY");
  tx.exec("ALTER TABLE " + schema + ".forced FORCE ROW LEVEL SECURITY");
  std::vector<std::string> problems;
  for (const auto& row : tx.exec_params(
           "SELECT table_name || ': ' || problem FROM prm.rls_misconfigured_tables($1::text[])",
           "{prm.deals," + schema + ".no_rls," + schema + ".not_forced," + schema + ".forced," +
               schema + ".missing}")) {
    problems.push_back(row[0].as<std::string>());
  }
  EXPECT_THAT(problems, UnorderedElementsAre(schema + ".no_rls: row level security not enabled",
                                             schema + ".not_forced: row level security not forced",
                                             schema + ".missing: missing"));
}

TEST_F(PrmRowLevelSecurityTest, ShareMustNameAnExistingRecordAndGoesWithIt) {
  {
    pqxx::work tx{*admin_};
    tx.exec_params(
        "INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
        "VALUES ('deal', gen_random_uuid(), 'partner_org', $1, 'read')",
        ids_["org_a"]);
    try {
      tx.commit();  // the check is deferred to commit
      FAIL() << "a share of a missing deal was committed";
    } catch (const pqxx::foreign_key_violation& error) {
      EXPECT_THAT(error.what(), HasSubstr("refers to a record that does not exist"));
    }
  }
  pqxx::work tx{*admin_};
  tx.exec_params("DELETE FROM prm.deals WHERE id = $1", ids_["deal_b_edit_a"]);
  EXPECT_EQ(
      count(tx, "SELECT count(*) FROM prm.shares WHERE record_id = $1", ids_["deal_b_edit_a"]),
            0);
}

}  // namespace
}  // namespace crmsync::prm_schema
