// `crmsync reconcile` end to end (issue #9): drift planted directly in the emulators, invisible to
// every capture (a changed field, a deleted record, an extra partner share), is found by
// `reconcile`, repaired by `reconcile --fix` through the running daemon's apply path, and a second
// `reconcile` reports zero drift.

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

#include "daemon/drift_scan.h"
#include "tests/integration/operator_cli_support.h"
#include "tests/integration/permissions_fixture.h"

namespace crmsync {
namespace {

using mapping::ObjectKind;
using mapping::Side;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

class Reconcile : public testing::PermissionsFixture {
 protected:
  // Plants drift in an emulator through its admin API (POST /_emulator/drift).
  void plant(testing::CrmEmulator& emulator, connectors::http::HttpTransport& transport, const std::string& body) {
    auto planted = transport.send({"POST", emulator.base_url() + "/_emulator/drift", {{"Content-Type", "application/json"}},
                                   body, "plant drift"},
                                  Clock::now() + seconds(10));
    ASSERT_TRUE(planted.ok()) << planted.error().message;
    ASSERT_EQ(planted.value().status, 200) << planted.value().body;
  }

  testing::CliResult reconcile(const std::string& config, std::vector<std::string> extra) {
    std::vector<std::string> args{"reconcile", "--config", config, "--object", "deal", "--since", since, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto result = testing::crmsync_cli(args);
    testing::expect_no_secrets_in("crmsync reconcile's output", result.all);
    return result;
  }

  // record -> the finding kinds (with the field for field_differs) of a reconcile --json report.
  static std::map<std::string, std::set<std::string>> findings_of(const rapidjson::Document& report) {
    std::map<std::string, std::set<std::string>> out;
    for (const auto& drift : report["drift"].GetArray()) {
      std::string record = drift["record"].IsString() ? drift["record"].GetString() : "(none)";
      for (const auto& finding : drift["findings"].GetArray()) {
        std::string kind = finding["kind"].GetString();
        if (finding.HasMember("field")) kind += ":" + std::string(finding["field"].GetString());
        if (finding.HasMember("possible_exposure") && finding["possible_exposure"].GetBool()) kind += ":exposure";
        out[std::string(drift["side"].GetString()) + " " + record].insert(kind);
      }
    }
    return out;
  }

  // Records changed before the test are other tests' (the PRM database is shared): compared only
  // from here on.
  std::string since = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<seconds>(std::chrono::system_clock::now() - seconds(2)));
};

TEST_F(Reconcile, PlantedDriftIsFoundRepairedAndThenGone) {
  // The live sharing sweep is slow here, so that the planted share is found by reconcile only.
  std::string cfg = config(seconds(3600));
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  std::string account = insert_owned_account("reconciled account", org_a, user_a);
  std::string changed = insert_owned_deal(account, "changed deal", org_a, user_a);
  std::string deleted = insert_owned_deal(account, "deleted deal", org_a, user_a);
  std::string overshared = insert_owned_deal(account, "overshared deal", org_a, user_a);
  for (const auto& deal : {changed, deleted, overshared}) {
    ASSERT_TRUE(eventually([&] { return !side_id(Side::salesforce, ObjectKind::deal, deal).empty() &&
                                        !side_id(Side::dynamics, ObjectKind::deal, deal).empty(); }))
        << "deal " << deal << " did not reach both CRMs\n" << crmsync->output();
  }
  ASSERT_TRUE(eventually([&] { return journal_count("applied") >= 4; }));

  // In sync: nothing to report.
  auto clean = reconcile(cfg, {});
  ASSERT_EQ(clean.code, 0) << clean.all;
  auto clean_report = testing::parse_json(clean.out);
  EXPECT_EQ(clean_report["summary"]["drifted"].GetInt(), 0) << clean.out;
  EXPECT_GE(clean_report["summary"]["prm_records"].GetInt(), 6) << clean.out;  // 3 deals x 2 CRMs

  // Drift no capture sees: a field changed and a record deleted in Salesforce without a
  // SystemModstamp or getDeleted trace, a share to partner B added in Salesforce (share rows are
  // never captured; the sweep is an hour away), and a field changed in Dataverse without a version.
  std::string sf_changed = side_id(Side::salesforce, ObjectKind::deal, changed);
  ASSERT_NO_FATAL_FAILURE(plant(*salesforce_emulator, *sf_transport,
                                fmt::format(R"({{"object":"Opportunity","id":"{}","set":{{"Amount":4242}}}})", sf_changed)));
  ASSERT_NO_FATAL_FAILURE(plant(*salesforce_emulator, *sf_transport,
                                fmt::format(R"({{"object":"Opportunity","id":"{}","delete":true}})",
                                            side_id(Side::salesforce, ObjectKind::deal, deleted))));
  std::string sf_overshared = side_id(Side::salesforce, ObjectKind::deal, overshared);
  sf_create("OpportunityShare", fmt::format(R"({{"OpportunityId":"{}","UserOrGroupId":"{}","OpportunityAccessLevel":"Read",)"
                                            R"("RowCause":"Manual"}})",
                                            sf_overshared, sf_group_b));
  ASSERT_EQ(sf_shares_of(ObjectKind::deal, sf_overshared).count(sf_group_b), 1u);
  ASSERT_NO_FATAL_FAILURE(plant(*dynamics_emulator, *dv_transport,
                                fmt::format(R"({{"object":"opportunities","id":"{}","set":{{"description":"edited behind the capture's back"}}}})",
                                            side_id(Side::dynamics, ObjectKind::deal, overshared))));

  // Found, each by its kind.
  auto found = reconcile(cfg, {});
  ASSERT_EQ(found.code, 1) << found.all;
  auto report = testing::parse_json(found.out);
  auto findings = findings_of(report);
  EXPECT_EQ(report["summary"]["drifted"].GetInt(), 4) << found.out;
  EXPECT_EQ(findings["salesforce " + changed], (std::set<std::string>{"field_differs:amount"})) << found.out;
  EXPECT_EQ(findings["salesforce " + deleted], (std::set<std::string>{"missing_on_salesforce"})) << found.out;
  EXPECT_EQ(findings["salesforce " + overshared], (std::set<std::string>{"sharing_differs:exposure"})) << found.out;
  EXPECT_EQ(findings["dynamics " + overshared], (std::set<std::string>{"field_differs:description"})) << found.out;
  EXPECT_EQ(report["summary"]["possible_exposures"].GetInt(), 1) << found.out;
  EXPECT_NE(found.all.find("PRM records read"), std::string::npos) << "no progress on stderr:\n" << found.all;

  // A dry run sends nothing.
  int reconcile_entries = journal_count("reconcile");
  auto dry = reconcile(cfg, {"--fix", "--dry-run"});
  EXPECT_EQ(dry.code, 1) << dry.all;
  EXPECT_EQ(journal_count("reconcile"), reconcile_entries);

  // Repaired through the daemon's apply path, journaled as `reconcile`.
  auto fixed = reconcile(cfg, {"--fix", "--operator", "alice"});
  ASSERT_EQ(fixed.code, 0) << fixed.all << "\n" << crmsync->output();
  auto fix_report = testing::parse_json(fixed.out);
  EXPECT_EQ(fix_report["summary"]["pending"].GetInt(), 0) << fixed.out;
  EXPECT_GE(journal_count("reconcile"), 4);
  EXPECT_GE(std::stoi(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'operator' AND "
                                   "actor = 'operator:alice' AND detail::jsonb->>'action' = 'reconcile'")),
            2);

  // The field change made in Salesforce is taken everywhere (a change no capture saw is still a change).
  auto amount_is_4242 = [&](Side side) {
    return eventually([&] {
      auto fields = on(side, ObjectKind::deal, changed);
      return fields && fields->count("amount") != 0 && daemon::same_canonical_value(fields->at("amount"), mapping::FieldValue::number_value("4242"));
    }, seconds(30));
  };
  EXPECT_TRUE(amount_is_4242(Side::prm))
      << fixed.out << "\njournal:\n"
      << state_scalar("SELECT string_agg(concat_ws(' ', kind, source, actor, policy, detail), E'\\n' ORDER BY seq) FROM " + name +
                      ".journal WHERE record_id = $1",
                      {changed});
  EXPECT_TRUE(amount_is_4242(Side::dynamics));
  // The deleted record is back in Salesforce (reconcile never deletes).
  EXPECT_TRUE(eventually([&] { return !side_id(Side::salesforce, ObjectKind::deal, deleted).empty(); }, seconds(30)));
  // Partner B's share, granted in Salesforce behind the sweep's back, is a Salesforce sharing change
  // like any other (DESIGN §3: CRM sharing changes reach every side), exactly as the sharing sweep
  // would take it; reconcile's report flagged it as a possible exposure for the operator to check.
  EXPECT_TRUE(eventually([&] { return prm_shared_with("deal", overshared, org_b); }, seconds(30)));
  EXPECT_TRUE(eventually([&] { return dv_shared_with(ObjectKind::deal, side_id(Side::dynamics, ObjectKind::deal, overshared), std::string("team:") + kTeamB); },
                         seconds(30)));
  EXPECT_EQ(sf_shares_of(ObjectKind::deal, sf_overshared).count(sf_group_a), 1u);
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::deal, overshared, "description", "edited behind the capture's back", seconds(30)));

  // And nothing is left.
  testing::CliResult again;
  ASSERT_TRUE(eventually([&] {
    again = reconcile(cfg, {});
    return again.code == 0;
  }, seconds(60))) << again.all;
  EXPECT_EQ(testing::parse_json(again.out)["summary"]["drifted"].GetInt(), 0) << again.out;
  auto verified = testing::crmsync_cli({"journal", "verify", "--config", cfg});
  EXPECT_EQ(verified.code, 0) << verified.all;
  stop();
}

TEST_F(Reconcile, UsageErrorsExitWithTwoAndOneLine) {
  std::string cfg = config();
  auto no_object = testing::crmsync_cli({"reconcile", "--config", cfg});
  EXPECT_EQ(no_object.code, 2) << no_object.all;
  auto bad_since = testing::crmsync_cli({"reconcile", "--config", cfg, "--object", "deal", "--since", "yesterday"});
  EXPECT_EQ(bad_since.code, 2) << bad_since.all;
  EXPECT_NE(bad_since.all.find("crmsync reconcile: --since"), std::string::npos) << bad_since.all;
  auto dry_without_fix = testing::crmsync_cli({"reconcile", "--config", cfg, "--object", "deal", "--dry-run"});
  EXPECT_EQ(dry_without_fix.code, 2) << dry_without_fix.all;
}

}  // namespace
}  // namespace crmsync
