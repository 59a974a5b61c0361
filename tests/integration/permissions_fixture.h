#pragma once

// The whole-sync fixture with two partner orgs (A gold, B silver), a partner user each, and their
// principals on both CRMs (Salesforce groups and users, Dataverse teams and systemusers) in a
// principals file: for the permission, authorization and reconcile tests.

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/dynamics/dataverse_share_reader.h"
#include "connectors/salesforce/salesforce_share_reader.h"
#include "tests/integration/sync_engine_fixture.h"

namespace crmsync::testing {

class PermissionsFixture : public SyncEngine {
 protected:
  void SetUp() override {
    SyncEngine::SetUp();
    if (HasFatalFailure()) return;
    org_a = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {name + " A"});
    org_b = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'silver') RETURNING id", {name + " B"});
    user_a = scalar("INSERT INTO prm.partner_users (partner_org_id, email) VALUES ($1, $2) RETURNING id",
                    {org_a, name + "-a@partner-a.test"});
    user_b = scalar("INSERT INTO prm.partner_users (partner_org_id, email) VALUES ($1, $2) RETURNING id",
                    {org_b, name + "-b@partner-b.test"});
    (void)prm->execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prm_portal_bypass') THEN "
        "CREATE ROLE prm_portal_bypass NOLOGIN BYPASSRLS IN ROLE prm_portal; END IF; END $$");

    // The partners' principals on each CRM.
    sf_group_a = sf_create("Group", R"({"Name":"Partner A","Type":"Regular"})");
    sf_group_b = sf_create("Group", R"({"Name":"Partner B","Type":"Regular"})");
    sf_user_a = sf_create("User", fmt::format(R"({{"Username":"{}-a@sf.test","LastName":"A","IsActive":true}})", name));
    sf_user_b = sf_create("User", fmt::format(R"({{"Username":"{}-b@sf.test","LastName":"B","IsActive":true}})", name));
    auto seeded = dv_transport->send(
        {"POST", dynamics_emulator->base_url() + "/_emulator/seed", {{"Content-Type", "application/json"}},
         fmt::format(R"({{"records":{{"teams":[{{"teamid":"{}","name":"Partner A"}},{{"teamid":"{}","name":"Partner B"}}],)"
                     R"("systemusers":[{{"systemuserid":"{}","fullname":"A"}},{{"systemuserid":"{}","fullname":"B"}}]}}}})",
                     kTeamA, kTeamB, kDvUserA, kDvUserB),
         "seed"},
        std::chrono::steady_clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(seeded.ok() && seeded.value().status < 300) << (seeded ? seeded.value().body : seeded.error().message);

    std::ofstream(principals_file) << "schema = 1\n"
                                   << "[[partner_org]]\nprm = \"" << org_a << "\"\nsalesforce_group = \"" << sf_group_a
                                   << "\"\ndynamics_team = \"" << kTeamA << "\"\n"
                                   << "[[partner_org]]\nprm = \"" << org_b << "\"\nsalesforce_group = \"" << sf_group_b
                                   << "\"\ndynamics_team = \"" << kTeamB << "\"\n"
                                   << "[[partner_user]]\nprm = \"" << user_a << "\"\nsalesforce_user = \"" << sf_user_a
                                   << "\"\ndynamics_user = \"" << kDvUserA << "\"\n"
                                   << "[[partner_user]]\nprm = \"" << user_b << "\"\nsalesforce_user = \"" << sf_user_b
                                   << "\"\ndynamics_user = \"" << kDvUserB << "\"\n";
    sf_shares = std::make_unique<connectors::salesforce::SalesforceShareReader>(*sf_client);
    dv_shares = std::make_unique<connectors::dynamics::DataverseShareReader>(*dv_client, 10);
  }

  void TearDown() override {
    SyncEngine::TearDown();
    (void)prm->execute("DELETE FROM prm.deals WHERE owner_partner_org_id IN ($1::uuid, $2::uuid)", {org_a, org_b});
    (void)prm->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id IN ($1::uuid, $2::uuid)", {org_a, org_b});
    (void)prm->execute("DELETE FROM prm.partner_users WHERE id IN ($1::uuid, $2::uuid)", {user_a, user_b});
    (void)prm->execute("DELETE FROM prm.partner_orgs WHERE id IN ($1::uuid, $2::uuid)", {org_a, org_b});
  }

  // The whole-sync configuration with the principals file and a sharing sweep every `sweep_interval`.
  std::string config(std::chrono::seconds sweep_interval = std::chrono::seconds(2)) {
    return write_config(fmt::format("[permissions]\nprincipals_file = \"{}\"\ndirectory_refresh = \"1s\"\n"
                                     "sharing_sweep_interval = \"{}s\"\n",
                                     principals_file.string(), sweep_interval.count()));
  }

  std::string sf_create(const std::string& object, const std::string& body) {
    auto created = sf_client->request("POST", "sobjects/" + object, body, "create " + object, std::chrono::steady_clock::now() + std::chrono::seconds(30),
                                      true);
    if (!created) throw std::runtime_error(created.error().message);
    auto at = created.value().body.find("\"id\":\"");
    return created.value().body.substr(at + 6, 18);
  }

  // A record owned by `org` (and `user`), written by the vendor's staff in the PRM.
  std::string insert_owned_account(const std::string& suffix, const std::string& owner_org, const std::string& owner_user) {
    return scalar("INSERT INTO prm.accounts (name, owner_partner_org_id, owner_partner_user_id, modified_by_kind) "
                  "VALUES ($1, $2, $3, 'internal_user') RETURNING id",
                  {name + " " + suffix, owner_org, owner_user});
  }
  std::string insert_owned_deal(const std::string& account, const std::string& suffix, const std::string& owner_org,
                                const std::string& owner_user) {
    return scalar("INSERT INTO prm.deals (account_id, name, amount, stage, close_date, owner_partner_org_id, "
                  "owner_partner_user_id, modified_by_kind) VALUES ($1, $2, 100, 'Prospecting', '2027-03-31', $3, $4, "
                  "'internal_user') RETURNING id",
                  {account, name + " " + suffix, owner_org, owner_user});
  }
  void share_in_prm(const std::string& object, const std::string& record, const std::string& partner_org,
                    const std::string& access) {
    scalar("INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
           "VALUES ($1, $2, 'partner_org', $3, $4) RETURNING record_id",
           {object, record, partner_org, access});
  }
  bool prm_shared_with(const std::string& object, const std::string& record, const std::string& partner_org) {
    return !scalar("SELECT access FROM prm.shares WHERE object_type = $1 AND record_id = $2::uuid AND "
                   "principal_type = 'partner_org' AND principal_id = $3::uuid",
                   {object, record, partner_org})
                .empty();
  }

  // The Manual shares of a Salesforce record: principal -> access.
  std::map<std::string, mapping::ShareGrant::Access> sf_shares_of(mapping::ObjectKind object, const std::string& crm_id) {
    std::map<std::string, mapping::ShareGrant::Access> out;
    auto read = sf_shares->manual_shares_of(object, {crm_id}, std::chrono::steady_clock::now() + std::chrono::seconds(30));
    if (read) {
      for (const auto& share : read.value()) out[share.principal_id] = share.access;
    }
    return out;
  }
  std::optional<connectors::dynamics::DataverseRecordSharing> dv_sharing_of(mapping::ObjectKind object, const std::string& id) {
    auto read = dv_shares->sharing_of(object, {id}, std::chrono::steady_clock::now() + std::chrono::seconds(30));
    if (!read || read.value().empty()) return std::nullopt;
    return read.value()[0];
  }
  bool dv_shared_with(mapping::ObjectKind object, const std::string& id, const std::string& principal) {
    auto sharing = dv_sharing_of(object, id);
    if (!sharing) return false;
    for (const auto& share : sharing->shares) {
      if (share.principal_id == principal) return true;
    }
    return false;
  }

  // Runs `statements` in one PRM transaction.
  void in_prm_transaction(const std::vector<std::pair<std::string, state::QueryRow>>& statements) {
    auto done = prm->in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      for (const auto& [sql, params] : statements) {
        auto result = execute(sql, params);
        if (!result) return result.error();
      }
      return mapping::ok_status();
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  static constexpr const char* kTeamA = "a0000000-0000-4000-8000-00000000000a";
  static constexpr const char* kTeamB = "b0000000-0000-4000-8000-00000000000b";
  static constexpr const char* kDvUserA = "a1000000-0000-4000-8000-0000000000a1";
  static constexpr const char* kDvUserB = "b1000000-0000-4000-8000-0000000000b1";
  std::filesystem::path principals_file = dir / "principals.toml";
  std::string org_a, org_b, user_a, user_b;
  std::string sf_group_a, sf_group_b, sf_user_a, sf_user_b;
  std::unique_ptr<connectors::salesforce::SalesforceShareReader> sf_shares;
  std::unique_ptr<connectors::dynamics::DataverseShareReader> dv_shares;
};

}  // namespace crmsync::testing
