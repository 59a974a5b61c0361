// The authorization matrix (issue #7, DESIGN §3): three partner orgs of different tiers, records
// born in each of the three systems with every kind of sharing, and, once `crmsync run` has synced
// them, every (partner, record, system, read/edit) cell checked against what the sharing says: on
// the PRM through the portal role and its row-level security, on Salesforce through OwnerId and
// the Manual shares, on Dataverse through ownerid and the shared principals.

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "connectors/dynamics/dataverse_share_reader.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "connectors/salesforce/salesforce_share_reader.h"
#include "tests/integration/sync_engine_fixture.h"

namespace crmsync {
namespace {

using mapping::CrmShareWrite;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::seconds;
using Access = mapping::ShareGrant::Access;
using Clock = std::chrono::steady_clock;

constexpr seconds kSweepInterval{2};
// How long the whole matrix may take to settle: CRM-born records reach the PRM by the capture and
// get their sharing by the next sweeps; generous for noisy machines.
constexpr seconds kSettleBound{90};
constexpr std::size_t kPartners = 3;
constexpr std::array<Side, 3> kSystems{Side::prm, Side::salesforce, Side::dynamics};

enum class Kind { own, shared_read, shared_edit };

std::string_view kind_name(Kind kind) {
  return kind == Kind::own ? "own" : kind == Kind::shared_read ? "shared-read" : "shared-edit";
}

// One partner org with its one user, and who they are on each CRM.
struct Partner {
  std::string letter;
  std::string tier;
  std::string org, user;            // PRM ids
  std::string sf_group, sf_user;    // Salesforce Group / User Ids
  std::string dv_team, dv_user;     // Dataverse GUIDs
};

// One record of the matrix: born in `origin`, owned by partner `owner`, shared by `kind`.
struct MatrixRecord {
  ObjectKind object = ObjectKind::deal;
  std::size_t owner = 0;
  Kind kind = Kind::own;
  Side origin = Side::prm;
  std::string name;       // unique; how a CRM-born record is found in the PRM
  std::string prm_id;     // known at birth for PRM-born records, looked up by name otherwise
  std::string origin_id;  // the CRM id where a CRM-born record was born
};

// What one partner may do with one record in one system.
struct Cell {
  bool read = false;
  bool edit = false;
};

struct MatrixResult {
  std::size_t cells = 0;
  std::size_t internal_checks = 0;
  std::vector<std::string> mismatches;
};

Cell cell_of(std::optional<Access> access) {
  return {access.has_value(), access == Access::edit};
}

// The access the sharing model gives partner `p`: the owner org edits; a shared-read record is
// read by the next org (A→B, B→C, C→A), a shared-edit one edited by the org after that.
Cell expected_cell(const MatrixRecord& record, std::size_t p) {
  if (p == record.owner) return {true, true};
  if (record.kind == Kind::shared_read && p == (record.owner + 1) % kPartners) return {true, false};
  if (record.kind == Kind::shared_edit && p == (record.owner + 2) % kPartners) return {true, true};
  return {};
}

void raise(std::optional<Access>& held, Access access) {
  if (!held || access == Access::edit) held = access;
}

std::string random_guid(std::mt19937_64& random) {
  std::uint64_t high = random(), low = random();
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;    // variant 1
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff, high & 0xffff,
                     low >> 48, low & 0xffffffffffffULL);
}

std::string uuid_array(const std::vector<std::string>& ids) {
  return fmt::format("{{{}}}", fmt::join(ids, ","));
}

class PermissionsMatrix : public testing::SyncEngine {
 protected:
  void SetUp() override {
    testing::SyncEngine::SetUp();
    if (HasFatalFailure()) return;
    records.reserve(kPartners * kSystems.size() * 4);  // add_record hands out references
    const std::array<std::pair<const char*, const char*>, kPartners> orgs{
        {{"A", "gold"}, {"B", "silver"}, {"C", "platinum"}}};
    std::string teams, users;
    for (std::size_t p = 0; p < kPartners; ++p) {
      Partner& partner = partners[p];
      partner.letter = orgs[p].first;
      partner.tier = orgs[p].second;
      partner.org = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, $2) RETURNING id",
                           {name + " " + partner.letter, partner.tier});
      partner.user = scalar("INSERT INTO prm.partner_users (partner_org_id, email) VALUES ($1, $2) RETURNING id",
                            {partner.org, fmt::format("{}-{}@partner.test", name, partner.letter)});
      partner.sf_group = sf_create("Group", fmt::format(R"({{"Name":"Partner {}","Type":"Regular"}})", partner.letter));
      partner.sf_user = sf_create("User", fmt::format(R"({{"Username":"{}-{}@sf.test","LastName":"{}","IsActive":true}})",
                                                      name, partner.letter, partner.letter));
      partner.dv_team = random_guid(random);
      partner.dv_user = random_guid(random);
      teams += fmt::format(R"({}{{"teamid":"{}","name":"Partner {}"}})", p == 0 ? "" : ",", partner.dv_team,
                           partner.letter);
      users += fmt::format(R"({}{{"systemuserid":"{}","fullname":"{}"}})", p == 0 ? "" : ",", partner.dv_user,
                           partner.letter);
    }
    auto seeded = dv_transport->send({"POST", dynamics_emulator->base_url() + "/_emulator/seed",
                                      {{"Content-Type", "application/json"}},
                                      fmt::format(R"({{"records":{{"teams":[{}],"systemusers":[{}]}}}})", teams, users),
                                      "seed"},
                                     Clock::now() + seconds(10));
    ASSERT_TRUE(seeded.ok() && seeded.value().status < 300) << (seeded ? seeded.value().body : seeded.error().message);

    std::ofstream principals(principals_file);
    principals << "schema = 1\n";
    for (const Partner& partner : partners) {
      principals << "[[partner_org]]\nprm = \"" << partner.org << "\"\nsalesforce_group = \"" << partner.sf_group
                 << "\"\ndynamics_team = \"" << partner.dv_team << "\"\n";
    }
    for (const Partner& partner : partners) {
      principals << "[[partner_user]]\nprm = \"" << partner.user << "\"\nsalesforce_user = \"" << partner.sf_user
                 << "\"\ndynamics_user = \"" << partner.dv_user << "\"\n";
    }
    principals.close();
    sf_sink = std::make_unique<connectors::salesforce::SalesforceRecordSink>(*sf_client);
    sf_shares = std::make_unique<connectors::salesforce::SalesforceShareReader>(*sf_client);
    dv_shares = std::make_unique<connectors::dynamics::DataverseShareReader>(*dv_client, 50);
  }

  void TearDown() override {
    testing::SyncEngine::TearDown();  // stops crmsync, deletes the records (all named after the test)
    for (const Partner& partner : partners) {
      if (partner.org.empty()) continue;
      (void)prm->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1::uuid", {partner.org});
      (void)prm->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1::uuid", {partner.org});
      (void)prm->execute("DELETE FROM prm.partner_users WHERE id = $1::uuid", {partner.user});
      (void)prm->execute("DELETE FROM prm.partner_orgs WHERE id = $1::uuid", {partner.org});
    }
  }

  std::string config() {
    return write_config(fmt::format("[permissions]\nprincipals_file = \"{}\"\ndirectory_refresh = \"1s\"\n"
                                    "sharing_sweep_interval = \"{}s\"\n",
                                    principals_file.string(), kSweepInterval.count()));
  }

  std::string sf_create(const std::string& object, const std::string& body) {
    auto created = sf_client->request("POST", "sobjects/" + object, body, "create " + object, Clock::now() + seconds(30),
                                      true);
    if (!created) throw std::runtime_error(created.error().message);
    auto at = created.value().body.find("\"id\":\"");
    if (at == std::string::npos) throw std::runtime_error("create " + object + ": " + created.value().body);
    return created.value().body.substr(at + 6, 18);
  }

  void dv_create(const std::string& set, const std::string& body) {
    connectors::dynamics::DataverseRequest create;
    create.method = "POST";
    create.target = set;
    create.headers = {{"Content-Type", "application/json"}};
    create.body = body;
    create.description = "create " + set;
    auto created = dv_client->send(create, Clock::now() + seconds(30));
    ASSERT_TRUE(created.ok()) << created.error().message;
    ASSERT_LT(created.value().status, 300) << created.value().body;
  }

  MatrixRecord& add_record(ObjectKind object, std::size_t owner, Kind kind, Side origin) {
    MatrixRecord record;
    record.object = object;
    record.owner = owner;
    record.kind = kind;
    record.origin = origin;
    record.name = fmt::format("{} {} of {} {} born in {}", name, mapping::to_string(object), partners[owner].letter,
                              kind_name(kind), mapping::to_string(origin));
    records.push_back(std::move(record));
    return records.back();
  }
  std::string label(const MatrixRecord& record) const {
    return fmt::format("{} of {} {} (born in {})", mapping::to_string(record.object), partners[record.owner].letter,
                       kind_name(record.kind), mapping::to_string(record.origin));
  }

  // PRM: written by the vendor's staff (internal user), record and shares in one transaction.
  void create_in_prm(std::size_t owner) {
    const Partner& partner = partners[owner];
    std::size_t first = records.size();
    add_record(ObjectKind::account, owner, Kind::own, Side::prm);
    for (Kind kind : {Kind::own, Kind::shared_read, Kind::shared_edit}) add_record(ObjectKind::deal, owner, kind, Side::prm);
    auto done = prm->in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      MatrixRecord& account = records[first];
      auto inserted = execute("INSERT INTO prm.accounts (name, owner_partner_org_id, owner_partner_user_id, "
                              "modified_by_kind) VALUES ($1, $2, $3, 'internal_user') RETURNING id::text",
                              {account.name, partner.org, partner.user});
      if (!inserted) return inserted.error();
      account.prm_id = *inserted.value()[0][0];
      for (std::size_t i = first + 1; i < records.size(); ++i) {
        MatrixRecord& deal = records[i];
        auto row = execute("INSERT INTO prm.deals (account_id, name, amount, stage, close_date, owner_partner_org_id, "
                           "owner_partner_user_id, modified_by_kind) VALUES ($1, $2, 100, 'Prospecting', '2027-03-31', "
                           "$3, $4, 'internal_user') RETURNING id::text",
                           {account.prm_id, deal.name, partner.org, partner.user});
        if (!row) return row.error();
        deal.prm_id = *row.value()[0][0];
        if (deal.kind == Kind::own) continue;
        bool edit = deal.kind == Kind::shared_edit;
        const Partner& grantee = partners[(owner + (edit ? 2 : 1)) % kPartners];
        auto shared = execute("INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
                              "VALUES ('deal', $1, 'partner_org', $2, $3)",
                              {deal.prm_id, grantee.org, edit ? "edit" : "read"});
        if (!shared) return shared.error();
      }
      return mapping::ok_status();
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  // Salesforce: OwnerId is the owner partner user's user, and Manual shares: Edit to the owner
  // org's group (how crmsync itself expresses the owner org there; left out when
  // salesforce_owner_group_share is false), Read/Edit to the grantee's.
  void create_in_salesforce(std::size_t owner) {
    const Partner& partner = partners[owner];
    std::vector<CrmShareWrite> shares;
    MatrixRecord& account = add_record(ObjectKind::account, owner, Kind::own, Side::salesforce);
    account.origin_id = sf_create("Account", fmt::format(R"({{"Name":"{}","OwnerId":"{}"}})", account.name, partner.sf_user));
    if (salesforce_owner_group_share) {
      shares.push_back({ObjectKind::account, account.origin_id, partner.sf_group, true, Access::edit});
    }
    std::string account_id = account.origin_id;
    for (Kind kind : {Kind::own, Kind::shared_read, Kind::shared_edit}) {
      MatrixRecord& deal = add_record(ObjectKind::deal, owner, kind, Side::salesforce);
      deal.origin_id = sf_create(
          "Opportunity", fmt::format(R"({{"Name":"{}","StageName":"Prospecting","CloseDate":"2027-03-31","Amount":100,)"
                                     R"("AccountId":"{}","OwnerId":"{}"}})",
                                     deal.name, account_id, partner.sf_user));
      if (salesforce_owner_group_share) {
        shares.push_back({ObjectKind::deal, deal.origin_id, partner.sf_group, true, Access::edit});
      }
      if (kind == Kind::shared_read) {
        shares.push_back({ObjectKind::deal, deal.origin_id, partners[(owner + 1) % kPartners].sf_group, true, Access::read});
      } else if (kind == Kind::shared_edit) {
        shares.push_back({ObjectKind::deal, deal.origin_id, partners[(owner + 2) % kPartners].sf_group, true, Access::edit});
      }
    }
    auto written = sf_sink->apply_shares(shares, Clock::now() + seconds(30));
    ASSERT_TRUE(written.ok()) << written.error().message;
    for (const auto& result : written.value()) ASSERT_FALSE(result.error) << result.error->message;
  }

  // Dataverse: ownerid is the owner org's team; grants through GrantAccess (DataverseApplier).
  void create_in_dynamics(std::size_t owner) {
    const Partner& partner = partners[owner];
    std::vector<CrmShareWrite> shares;
    MatrixRecord& account = add_record(ObjectKind::account, owner, Kind::own, Side::dynamics);
    account.origin_id = random_guid(random);
    std::string account_id = account.origin_id;
    ASSERT_NO_FATAL_FAILURE(dv_create("accounts", fmt::format(R"json({{"accountid":"{}","name":"{}",)json"
                                                              R"json("ownerid@odata.bind":"/teams({})"}})json",
                                                              account_id, account.name, partner.dv_team)));
    for (Kind kind : {Kind::own, Kind::shared_read, Kind::shared_edit}) {
      MatrixRecord& deal = add_record(ObjectKind::deal, owner, kind, Side::dynamics);
      deal.origin_id = random_guid(random);
      ASSERT_NO_FATAL_FAILURE(dv_create(
          "opportunities",
          fmt::format(R"json({{"opportunityid":"{}","name":"{}","stepname":"Prospecting","estimatedvalue":100,)json"
                      R"json("estimatedclosedate":"2027-03-31","parentaccountid@odata.bind":"/accounts({})",)json"
                      R"json("ownerid@odata.bind":"/teams({})"}})json",
                      deal.origin_id, deal.name, account_id, partner.dv_team)));
      if (kind == Kind::shared_read) {
        shares.push_back({ObjectKind::deal, deal.origin_id, "team:" + partners[(owner + 1) % kPartners].dv_team, true,
                          Access::read});
      } else if (kind == Kind::shared_edit) {
        shares.push_back({ObjectKind::deal, deal.origin_id, "team:" + partners[(owner + 2) % kPartners].dv_team, true,
                          Access::edit});
      }
    }
    auto granted = dv_applier->apply_shares(shares, Clock::now() + seconds(30));
    ASSERT_TRUE(granted.ok()) << granted.error().message;
    for (const auto& status : granted.value()) ASSERT_TRUE(status.ok()) << status.error().message;
  }

  // ---------------------------------------------------------------- observing each system
  using Observed = std::vector<std::array<Cell, kPartners>>;  // per record, per partner

  // The PRM ids of CRM-born records, once the engine has created them there.
  void resolve_prm_ids() {
    auto rows = prm->execute("SELECT name, id::text FROM prm.accounts WHERE name LIKE $1 UNION ALL "
                             "SELECT name, id::text FROM prm.deals WHERE name LIKE $1",
                             {name + " %"});
    if (!rows) return;
    std::map<std::string, std::string> by_name;
    for (const auto& row : rows.value()) by_name[row[0].value_or("")] = row[1].value_or("");
    for (auto& record : records) {
      if (!record.prm_id.empty()) continue;
      if (auto found = by_name.find(record.name); found != by_name.end()) record.prm_id = found->second;
    }
  }

  std::vector<std::string> prm_ids_of(ObjectKind object) const {
    std::vector<std::string> ids;
    for (const auto& record : records) {
      if (record.object == object && !record.prm_id.empty()) ids.push_back(record.prm_id);
    }
    return ids;
  }

  // As each partner's portal session: which of the test's records it sees, and which an UPDATE
  // reaches (rolled back, so nothing is captured). A failed statement leaves the partner's cells
  // empty and is reported.
  Observed observe_prm(std::vector<std::string>& problems) {
    Observed observed(records.size());
    for (std::size_t p = 0; p < kPartners; ++p) {
      std::map<std::string, Cell> seen;
      bool finished = false;
      auto done = prm->in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
        if (auto role = execute("SET LOCAL ROLE prm_portal", {}); !role) return role.error();
        auto session = execute("SELECT set_config('prm.partner_org', $1, true), set_config('prm.partner_user', $2, true)",
                               {partners[p].org, partners[p].user});
        if (!session) return session.error();
        for (ObjectKind object : {ObjectKind::account, ObjectKind::deal}) {
          std::string table = object == ObjectKind::account ? "prm.accounts" : "prm.deals";
          std::string ids = uuid_array(prm_ids_of(object));
          auto visible = execute("SELECT id::text FROM " + table + " WHERE id = ANY($1::uuid[])", {ids});
          if (!visible) return visible.error();
          for (const auto& row : visible.value()) seen[*row[0]].read = true;
          auto updated =
              execute("UPDATE " + table + " SET name = name WHERE id = ANY($1::uuid[]) RETURNING id::text", {ids});
          if (!updated) return updated.error();
          for (const auto& row : updated.value()) seen[*row[0]].edit = true;
        }
        finished = true;
        return mapping::SyncError{mapping::ErrorClass::invalid, "rolled back on purpose"};
      });
      if (!finished) problems.push_back(fmt::format("prm as partner {}: {}", partners[p].letter, done.error().message));
      for (std::size_t r = 0; r < records.size(); ++r) {
        if (auto found = seen.find(records[r].prm_id); found != seen.end()) observed[r][p] = found->second;
      }
    }
    return observed;
  }

  // The CRM ids of the records on `side`: the birth id there, else found by PRM id.
  std::map<std::size_t, std::string> crm_ids(Side side, ObjectKind object) {
    std::map<std::size_t, std::string> out;
    daemon::SideGateway& gateway = side == Side::salesforce ? static_cast<daemon::SideGateway&>(*salesforce)
                                                            : static_cast<daemon::SideGateway&>(*dynamics);
    std::map<std::string, std::string> by_prm_id;
    if (auto ids = prm_ids_of(object); !ids.empty()) {
      auto read = gateway.read(object, ids, {});
      if (read) {
        for (const auto& held : read.value()) by_prm_id[held.prm_id] = held.side_id;
      }
    }
    for (std::size_t r = 0; r < records.size(); ++r) {
      const MatrixRecord& record = records[r];
      if (record.object != object) continue;
      if (record.origin == side) {
        out[r] = record.origin_id;
      } else if (auto found = by_prm_id.find(record.prm_id); found != by_prm_id.end()) {
        out[r] = found->second;
      }
    }
    return out;
  }

  // Salesforce: OwnerId's user gives its org edit; Manual shares to a partner's group or user give
  // that org the share's level.
  Observed observe_salesforce(std::vector<std::string>& problems) {
    Observed observed(records.size());
    auto partner_of = [&](const std::string& principal) -> std::optional<std::size_t> {
      for (std::size_t p = 0; p < kPartners; ++p) {
        if (principal == partners[p].sf_group || principal == partners[p].sf_user) return p;
      }
      return std::nullopt;
    };
    for (ObjectKind object : {ObjectKind::account, ObjectKind::deal}) {
      auto ids = crm_ids(Side::salesforce, object);
      if (ids.empty()) continue;
      std::vector<std::string> crm;
      for (const auto& [r, id] : ids) crm.push_back(id);
      auto owners = sf_shares->owners_of(object, crm, Clock::now() + seconds(30));
      auto shares = sf_shares->manual_shares_of(object, crm, Clock::now() + seconds(30));
      if (!owners || !shares) {
        problems.push_back("salesforce: " + (owners ? shares.error().message : owners.error().message));
        continue;
      }
      std::map<std::string, std::array<std::optional<Access>, kPartners>> held;
      for (const auto& owner : owners.value()) {
        auto& levels = held[owner.crm_record_id];
        if (auto p = partner_of(owner.owner_id)) raise(levels[*p], Access::edit);
      }
      for (const auto& share : shares.value()) {
        if (auto p = partner_of(share.principal_id)) raise(held[share.crm_record_id][*p], share.access);
      }
      for (const auto& [r, id] : ids) {
        auto found = held.find(id);
        if (found == held.end()) continue;
        for (std::size_t p = 0; p < kPartners; ++p) observed[r][p] = cell_of(found->second[p]);
      }
    }
    return observed;
  }

  // Dataverse: ownerid (a partner's team, or its user) gives that org edit; shared principals
  // their access.
  Observed observe_dynamics(std::vector<std::string>& problems) {
    Observed observed(records.size());
    auto partner_of = [&](const std::string& principal) -> std::optional<std::size_t> {
      for (std::size_t p = 0; p < kPartners; ++p) {
        if (principal == "team:" + partners[p].dv_team || principal == "systemuser:" + partners[p].dv_user) return p;
      }
      return std::nullopt;
    };
    for (ObjectKind object : {ObjectKind::account, ObjectKind::deal}) {
      auto ids = crm_ids(Side::dynamics, object);
      if (ids.empty()) continue;
      std::vector<std::string> crm;
      for (const auto& [r, id] : ids) crm.push_back(id);
      auto read = dv_shares->sharing_of(object, crm, Clock::now() + seconds(30));
      if (!read) {
        problems.push_back("dynamics: " + read.error().message);
        continue;
      }
      std::map<std::string, std::array<std::optional<Access>, kPartners>> held;
      for (const auto& sharing : read.value()) {
        auto& levels = held[sharing.crm_record_id];
        if (auto p = partner_of(sharing.owner_id)) raise(levels[*p], Access::edit);
        for (const auto& share : sharing.shares) {
          if (auto p = partner_of(share.principal_id)) raise(levels[*p], share.access);
        }
      }
      for (const auto& [r, id] : ids) {
        auto found = held.find(id);
        if (found == held.end()) continue;
        for (std::size_t p = 0; p < kPartners; ++p) observed[r][p] = cell_of(found->second[p]);
      }
    }
    return observed;
  }

  // Internal fields as each partner's portal session meets them: prm.deal_internal and
  // prm.account_internal refuse it (permission denied), and none of their columns nor any
  // field the mapping classes `internal` is among the columns it can see on prm.deals/accounts.
  void check_internal_fields(MatrixResult& result) {
    std::set<std::string> internal;
    auto columns = prm->execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'prm' AND "
                                "table_name IN ('deal_internal', 'account_internal') AND "
                                "column_name NOT IN ('deal_id', 'account_id', 'updated_at')");
    if (columns) {
      for (const auto& row : columns.value()) internal.insert(*row[0]);
    }
    for (ObjectKind object : {ObjectKind::account, ObjectKind::deal}) {
      for (const auto& field : mapping.of(object).fields) {
        if (field.field_class != mapping::FieldClass::internal) continue;
        internal.insert(field.name);
        for (Side side : kSystems) {
          if (field.on(side)) internal.insert(field.on(side)->name);
        }
      }
    }
    if (internal.size() < 3) result.mismatches.push_back("internal fields: the PRM schema has no internal columns");
    for (std::size_t p = 0; p < kPartners; ++p) {
      const Partner& partner = partners[p];
      auto as_portal = [&](const std::string& sql) -> mapping::Result<state::QueryRows> {
        state::QueryRows rows;
        auto done = prm->in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
          if (auto role = execute("SET LOCAL ROLE prm_portal", {}); !role) return role.error();
          auto session = execute("SELECT set_config('prm.partner_org', $1, true), "
                                 "set_config('prm.partner_user', $2, true)",
                                 {partner.org, partner.user});
          if (!session) return session.error();
          auto read = execute(sql, {});
          if (!read) return read.error();
          rows = std::move(read).value();
          return mapping::ok_status();
        });
        if (!done) return done.error();
        return rows;
      };
      for (const char* table : {"deal_internal", "account_internal"}) {
        ++result.internal_checks;
        auto read = as_portal(fmt::format("SELECT count(*) FROM prm.{}", table));
        // Insufficient privilege (42501), which the state layer classifies as `auth`.
        if (read || read.error().error_class != mapping::ErrorClass::auth ||
            read.error().message.find("permission denied") == std::string::npos) {
          result.mismatches.push_back(fmt::format("partner {}, prm.{}, prm: expected permission denied, got {}",
                                                  partner.letter, table,
                                                  read ? "rows" : read.error().message));
        }
      }
      for (const char* table : {"deals", "accounts"}) {
        ++result.internal_checks;
        auto visible = as_portal(fmt::format("SELECT column_name FROM information_schema.columns WHERE "
                                             "table_schema = 'prm' AND table_name = '{}'",
                                             table));
        if (!visible || visible.value().empty()) {
          result.mismatches.push_back(fmt::format("partner {}, prm.{} columns, prm: unreadable: {}", partner.letter,
                                                  table, visible ? "no columns" : visible.error().message));
          continue;
        }
        for (const auto& row : visible.value()) {
          if (internal.count(*row[0]) != 0) {
            result.mismatches.push_back(fmt::format("partner {}, prm.{} columns, prm: internal field {} is visible",
                                                    partner.letter, table, *row[0]));
          }
        }
      }
    }
  }

  MatrixResult evaluate() {
    MatrixResult result;
    resolve_prm_ids();
    std::map<Side, Observed> observed;
    observed[Side::prm] = observe_prm(result.mismatches);
    observed[Side::salesforce] = observe_salesforce(result.mismatches);
    observed[Side::dynamics] = observe_dynamics(result.mismatches);
    auto yes_no = [](bool value) { return value ? "yes" : "no"; };
    for (Side system : kSystems) {
      for (std::size_t r = 0; r < records.size(); ++r) {
        for (std::size_t p = 0; p < kPartners; ++p) {
          Cell expected = expected_cell(records[r], p);
          Cell actual = observed[system][r][p];
          result.cells += 2;
          for (auto [what, want, got] : {std::tuple{"read", expected.read, actual.read},
                                         std::tuple{"edit", expected.edit, actual.edit}}) {
            if (want == got) continue;
            result.mismatches.push_back(
                fmt::format("partner {}, {}{}, {}, {}: expected {}, actual {}", partners[p].letter, label(records[r]),
                            records[r].prm_id.empty() ? " [not in the PRM]" : "", mapping::to_string(system), what,
                            yes_no(want), yes_no(got)));
          }
        }
      }
    }
    check_internal_fields(result);
    return result;
  }

  // Creates the records in the three systems, waits until the matrix holds and still holds after
  // three more sweeps of each CRM (a sweep reading back what the engine last wrote or saw must
  // find nothing to change), prints it and expects no mismatch.
  void check_matrix() {
    ASSERT_NO_FATAL_FAILURE(start(config()));
    auto started = Clock::now();
    for (std::size_t owner = 0; owner < kPartners; ++owner) {
      ASSERT_NO_FATAL_FAILURE(create_in_prm(owner));
      ASSERT_NO_FATAL_FAILURE(create_in_salesforce(owner));
      ASSERT_NO_FATAL_FAILURE(create_in_dynamics(owner));
    }

    MatrixResult result;
    bool settled = eventually([&] { return (result = evaluate()).mismatches.empty(); }, kSettleBound);
    double settle_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (settled) {
      long salesforce_sweeps = sweeps_of("salesforce"), dynamics_sweeps = sweeps_of("dynamics");
      EXPECT_TRUE(eventually([&] {
        return sweeps_of("salesforce") >= salesforce_sweeps + 3 && sweeps_of("dynamics") >= dynamics_sweeps + 3;
      }, seconds(30))) << "the sharing sweeps stopped completing\n" << crmsync->output();
      result = evaluate();
    }

    std::printf("matrix_partners=%zu\nmatrix_records=%zu\nmatrix_systems=%zu\nmatrix_cells=%zu\n"
                "matrix_internal_checks=%zu\nmatrix_mismatches=%zu\nmatrix_settled=%s\nmatrix_settled_seconds=%.1f\n",
                kPartners, records.size(), kSystems.size(), result.cells, result.internal_checks,
                result.mismatches.size(), settled ? "true" : "false", settle_seconds);
    for (const auto& mismatch : result.mismatches) std::printf("matrix_mismatch: %s\n", mismatch.c_str());
    EXPECT_EQ(result.cells, kPartners * records.size() * kSystems.size() * 2);
    EXPECT_TRUE(result.mismatches.empty())
        << result.mismatches.size() << " mismatches (listed above)\n"
        << state_scalar("SELECT string_agg(seq || ' ' || kind || ' ' || record_id || ' ' || source || ' ' || detail, "
                        "E'\\n' ORDER BY seq) FROM " + name + ".journal")
        << "\n" << crmsync->output();
    stop();
  }

  // Completed sharing sweeps of `crm` so far, from /metrics (-1 when unreadable).
  long sweeps_of(std::string_view crm) {
    auto metrics = testing::http_get(port, "/metrics");
    if (!metrics) return -1;
    std::string prefix = fmt::format("crmsync_sharing_sweeps_total{{crm=\"{}\"}} ", crm);
    auto at = metrics->body.find(prefix);
    if (at == std::string::npos) return -1;
    return std::stol(metrics->body.substr(at + prefix.size()));
  }

  std::filesystem::path principals_file = dir / "principals.toml";
  bool salesforce_owner_group_share = true;
  std::mt19937_64 random{std::random_device{}()};
  std::array<Partner, kPartners> partners;
  std::vector<MatrixRecord> records;
  std::unique_ptr<connectors::salesforce::SalesforceRecordSink> sf_sink;
  std::unique_ptr<connectors::salesforce::SalesforceShareReader> sf_shares;
  std::unique_ptr<connectors::dynamics::DataverseShareReader> dv_shares;
};

TEST_F(PermissionsMatrix, EveryPartnerSeesAndEditsExactlyWhatItsSharingGivesItInEverySystem) { check_matrix(); }

// A Salesforce record a partner user owns (OwnerId) with no Manual share to the user's org group
// belongs to the user's org (sharing_rules.h, observed_sharing_change). Disabled: the sweep that
// derives the owner org takes it away again one sweep later (the engine records the org group's
// Edit share as held by Salesforce without writing it there, and the next sweep reads its absence
// as a revocation), so the PRM loses the owner org while Dataverse keeps the org's team as owner.
TEST_F(PermissionsMatrix, ASalesforceRecordOwnedOnlyByAPartnerUserStaysWithThatUsersOrg) {
  salesforce_owner_group_share = false;
  check_matrix();
}

}  // namespace
}  // namespace crmsync
