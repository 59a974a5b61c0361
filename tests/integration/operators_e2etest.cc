// Operator commands (issue #9) as processes against the real services: `crmsync dead-letters`,
// `crmsync conflicts list|show`, `crmsync status`, with `crmsync run`, the PRM, Kafka and both
// emulators (tests/integration/sync_engine_fixture.h).

#include "tests/integration/operator_cli_support.h"
#include "tests/integration/sync_engine_fixture.h"

namespace crmsync {
namespace {

using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::CliResult;
using testing::crmsync_cli;
using testing::parse_json;

class Operators : public testing::SyncEngine {
 protected:
  void emulator_admin(testing::CrmEmulator& emulator, connectors::http::HttpTransport& transport,
                      const std::string& method, const std::string& path, const std::string& body = "") {
    auto answer = transport.send({method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
                                 std::chrono::steady_clock::now() + seconds(10));
    ASSERT_TRUE(answer.ok()) << answer.error().message;
    ASSERT_LT(answer.value().status, 300) << path << ": " << answer.value().body;
  }
  // Dataverse refuses (400, in $batch) every write of an account until the faults are cleared.
  void refuse_dataverse_accounts() {
    emulator_admin(*dynamics_emulator, *dv_transport, "POST", "/_emulator/faults",
                   R"({"method":"PATCH","path":"/api/data/*/accounts*","in_batch":true,"status":400,)"
                   R"("message":"crmsync test: account refused"})");
  }
  void stop_refusing() { emulator_admin(*dynamics_emulator, *dv_transport, "DELETE", "/_emulator/faults"); }

  // The dead letter of `record_id` that list --json shows (waits for it); "" if none came.
  std::string wait_for_dead_letter(const std::string& config, const std::string& record_id) {
    std::string id;
    eventually([&] {
      auto listed = crmsync_cli({"dead-letters", "list", "--config", config, "--json"});
      if (listed.code != 0) return false;
      auto doc = parse_json(listed.out);
      for (const auto& letter : doc["dead_letters"].GetArray()) {
        if (std::string(letter["record_id"].GetString()) == record_id) {
          id = letter["id"].GetString();
          return true;
        }
      }
      return false;
    });
    return id;
  }

  bool listed(const std::string& config, const std::string& id, bool all) {
    std::vector<std::string> args{"dead-letters", "list", "--config", config, "--json"};
    if (all) args.push_back("--all");
    auto result = crmsync_cli(args);
    EXPECT_EQ(result.code, 0) << result.all;
    auto doc = parse_json(result.out);
    for (const auto& letter : doc["dead_letters"].GetArray()) {
      if (std::string(letter["id"].GetString()) == id) return true;
    }
    return false;
  }
};

TEST_F(Operators, DeadLetterIsListedShownRetriedOnceTheCrmAcceptsItAndAnotherDiscarded) {
  // Without the Salesforce capture: the echo of the engine's Salesforce write would be a new event
  // for the record, and the engine creates the record on a side that lacks it with any event; here
  // only the retry may bring it to Dataverse.
  std::string config = write_config("", "", false);
  ASSERT_NO_FATAL_FAILURE(start(config));
  ASSERT_NO_FATAL_FAILURE(refuse_dataverse_accounts());
  std::string account = insert_account("refused");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "name", name + " refused")) << crmsync->output();
  std::string id = wait_for_dead_letter(config, account);
  ASSERT_FALSE(id.empty()) << crmsync->output();
  EXPECT_FALSE(on(Side::dynamics, ObjectKind::account, account).has_value());

  // list (human) names it with source, object, record and reason.
  auto human = crmsync_cli({"dead-letters", "list", "--config", config});
  EXPECT_EQ(human.code, 0) << human.all;
  EXPECT_THAT(human.out, HasSubstr(id));
  EXPECT_THAT(human.out, HasSubstr("account refused"));
  // show: the whole letter, with the original event.
  auto shown = crmsync_cli({"dead-letters", "show", id, "--config", config, "--json"});
  ASSERT_EQ(shown.code, 0) << shown.all;
  auto letter = parse_json(shown.out);
  EXPECT_EQ(std::string(letter["source"].GetString()), "prm");
  EXPECT_EQ(std::string(letter["object"].GetString()), "account");
  EXPECT_THAT(std::string(letter["reason"].GetString()), HasSubstr("dynamics"));
  ASSERT_TRUE(letter["event"].IsObject());
  EXPECT_EQ(std::string(letter["event"]["event_id"].GetString()), std::string(letter["event_id"].GetString()));
  EXPECT_TRUE(letter["decision"].IsNull());

  // status counts it as a problem.
  auto status = crmsync_cli({"status", "--config", config, "--json"});
  EXPECT_EQ(status.code, 1) << status.all;
  EXPECT_THAT(status.out, HasSubstr("dead letter(s) waiting for an operator"));

  // --dry-run changes nothing.
  auto dry = crmsync_cli({"dead-letters", "retry", id, "--config", config, "--dry-run", "--operator", "alice"});
  EXPECT_EQ(dry.code, 0) << dry.all;
  EXPECT_THAT(dry.out, HasSubstr("would retry"));
  EXPECT_TRUE(listed(config, id, false));
  EXPECT_EQ(journal_count("operator"), 0);

  // The CRM accepts again; nothing re-applies the event by itself: it is recorded as done (a
  // re-delivery from Kafka is a duplicate) and it is not among the parked events the apply workers'
  // sweep re-applies. The retry goes through the apply workers and the record arrives, applied from
  // the original event.
  ASSERT_NO_FATAL_FAILURE(stop_refusing());
  std::string event_id = letter["event_id"].GetString();
  EXPECT_EQ(state_scalar("SELECT outcome FROM " + name + ".applied_events WHERE event_id = $1", {event_id}), "applied");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".parked_events WHERE event_id = $1", {event_id}), "0");
  ASSERT_FALSE(on(Side::dynamics, ObjectKind::account, account).has_value()) << "arrived without the retry";
  auto retried = crmsync_cli({"dead-letters", "retry", id, "--config", config, "--operator", "alice", "--json"});
  ASSERT_EQ(retried.code, 0) << retried.all;
  EXPECT_TRUE(parse_json(retried.out)["ok"].GetBool());
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "name", name + " refused")) << crmsync->output();
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'applied' AND event_id = $1 AND "
                         "detail LIKE '%dynamics%' AND seq > (SELECT max(seq) FROM " + name +
                             ".journal WHERE kind = 'operator')",
                         {event_id}),
            "1");
  EXPECT_EQ(state_scalar("SELECT outcome FROM " + name + ".applied_events WHERE event_id = $1", {event_id}), "applied");
  EXPECT_FALSE(listed(config, id, false));
  EXPECT_TRUE(listed(config, id, true));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'operator' AND actor = "
                         "'operator:alice' AND detail LIKE '%dead_letter_retry%'"),
            "1");
  EXPECT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".parked_events") == "0";
  })) << "the retry was not taken out of the parked events";
  // Applied once: a second retry is refused.
  auto again = crmsync_cli({"dead-letters", "retry", id, "--config", config});
  EXPECT_EQ(again.code, 1) << again.all;
  EXPECT_THAT(again.all, HasSubstr("already retried by alice"));

  // Another refused account: discarded (dry run first), not applied.
  ASSERT_NO_FATAL_FAILURE(refuse_dataverse_accounts());
  std::string other = insert_account("discarded");
  std::string other_id = wait_for_dead_letter(config, other);
  ASSERT_FALSE(other_id.empty()) << crmsync->output();
  auto dry_discard = crmsync_cli({"dead-letters", "discard", other_id, "--config", config, "--dry-run"});
  EXPECT_EQ(dry_discard.code, 0) << dry_discard.all;
  EXPECT_TRUE(listed(config, other_id, false));
  auto discarded =
      crmsync_cli({"dead-letters", "discard", other_id, "--config", config, "--operator", "bob", "--note", "test"});
  EXPECT_EQ(discarded.code, 0) << discarded.all;
  EXPECT_FALSE(listed(config, other_id, false));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'operator' AND actor = "
                         "'operator:bob' AND detail LIKE '%dead_letter_discard%'"),
            "1");
  ASSERT_NO_FATAL_FAILURE(stop_refusing());
  auto shown_discarded = crmsync_cli({"dead-letters", "show", other_id, "--config", config});
  EXPECT_EQ(shown_discarded.code, 0);
  EXPECT_THAT(shown_discarded.out, HasSubstr("discarded by bob"));
  EXPECT_EQ(crmsync_cli({"dead-letters", "show", "0:999999", "--config", config}).code, 1);
  stop();
}

TEST_F(Operators, ARetryTheCrmStillRefusesBecomesANewDeadLetter) {
  std::string config = write_config("", "", false);
  ASSERT_NO_FATAL_FAILURE(start(config));
  ASSERT_NO_FATAL_FAILURE(refuse_dataverse_accounts());
  std::string account = insert_account("refused twice");
  std::string first = wait_for_dead_letter(config, account);
  ASSERT_FALSE(first.empty()) << crmsync->output();
  auto shown = crmsync_cli({"dead-letters", "show", first, "--config", config, "--json"});
  ASSERT_EQ(shown.code, 0) << shown.all;
  std::string event_id = parse_json(shown.out)["event_id"].GetString();

  // Dataverse still refuses: the apply workers' sweep re-applies the event, it fails again, and a
  // new dead letter (of the same event) reaches the topic; the retried one is no longer listed.
  auto retried = crmsync_cli({"dead-letters", "retry", first, "--config", config, "--operator", "carol"});
  ASSERT_EQ(retried.code, 0) << retried.all;
  std::string second = wait_for_dead_letter(config, account);
  ASSERT_FALSE(second.empty()) << "no new dead letter after the failed retry\n" << crmsync->output();
  EXPECT_NE(second, first);
  EXPECT_FALSE(listed(config, first, false));
  auto second_shown = crmsync_cli({"dead-letters", "show", second, "--config", config, "--json"});
  ASSERT_EQ(second_shown.code, 0) << second_shown.all;
  auto second_letter = parse_json(second_shown.out);
  EXPECT_EQ(std::string(second_letter["event_id"].GetString()), event_id);
  EXPECT_THAT(std::string(second_letter["reason"].GetString()), HasSubstr("account refused"));
  EXPECT_TRUE(second_letter["decision"].IsNull());
  // Out of the parked events: the sweep does not re-apply it again.
  EXPECT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".parked_events WHERE event_id = $1", {event_id}) == "0";
  }));
  EXPECT_FALSE(on(Side::dynamics, ObjectKind::account, account).has_value());
  // status counts the new letter only (the retried one is decided), with the same test as list.
  auto status = crmsync_cli({"status", "--config", config, "--json"});
  EXPECT_EQ(status.code, 1) << status.all;
  EXPECT_EQ(parse_json(status.out)["dead_letters_pending"].GetInt64(), 1) << status.out;
  ASSERT_NO_FATAL_FAILURE(stop_refusing());
  stop();
}

TEST_F(Operators, ConflictsListAndShowAManualConflictAndStatusSeesTheDaemonRunningAndStopped) {
  std::string config = write_config();
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string account = insert_account("conflicts");
  std::string deal = insert_deal(account, "conflict deal", "100.00");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();

  // Running, nothing wrong: exit 0, every pipeline running, the apply group's lag per partition.
  CliResult running;
  ASSERT_TRUE(eventually([&] {
    running = crmsync_cli({"status", "--config", config, "--json"});
    return running.code == 0;
  })) << running.all;
  {
    auto doc = parse_json(running.out);
    EXPECT_TRUE(doc["ok"].GetBool());
    ASSERT_EQ(doc["pipelines"].Size(), 4u);
    for (const auto& pipeline : doc["pipelines"].GetArray()) {
      EXPECT_TRUE(pipeline["running"].GetBool()) << pipeline["pipeline"].GetString();
    }
    EXPECT_TRUE(doc["admin_endpoint"]["answers"].GetBool());
    // Waiting for the dependencies at start is no error: a healthy daemon shows none.
    ASSERT_EQ(doc["instances"].Size(), 1u);
    EXPECT_TRUE(doc["instances"][0]["ready"].GetBool());
    EXPECT_TRUE(doc["instances"][0]["not_ready"].IsNull()) << running.out;
    EXPECT_TRUE(doc["instances"][0]["last_error"].IsNull()) << running.out;
    EXPECT_GT(doc["consumer_lag"].Size(), 0u);
    bool prm_cursor = false;
    for (const auto& cursor : doc["cursors"].GetArray()) {
      prm_cursor = prm_cursor || (std::string(cursor["pipeline"].GetString()) == "prm_capture" &&
                                  cursor["lag_bytes"].IsNumber());
    }
    EXPECT_TRUE(prm_cursor) << running.out;
  }
  auto human = crmsync_cli({"status", "--config", config});
  EXPECT_EQ(human.code, 0) << human.all;
  EXPECT_THAT(human.out, HasSubstr("prm_capture"));
  EXPECT_THAT(human.out, HasSubstr("status: ok"));

  // A manual-policy conflict (description): edited in the PRM and in Salesforce between two syncs.
  stop();
  scalar("UPDATE prm.deals SET description = 'prm text', modified_by_kind = 'internal_user' WHERE id = $1 RETURNING id",
         {deal});
  // Only orders the two edits' timestamps (the PRM's first, Salesforce's clearly later, as two people
  // editing one after the other); nothing here waits for an effect.
  std::this_thread::sleep_for(milliseconds(1100));
  crm_edit(Side::salesforce, ObjectKind::deal, deal, {{"Description", FieldValue::string_value("sf text")}});

  // Stopped: status says so (exit 1), JSON still parsable.
  auto stopped = crmsync_cli({"status", "--config", config, "--json"});
  EXPECT_EQ(stopped.code, 1) << stopped.all;
  {
    auto doc = parse_json(stopped.out);
    EXPECT_FALSE(doc["ok"].GetBool());
    EXPECT_THAT(stopped.out, HasSubstr("the daemon is not running"));
    EXPECT_EQ(std::string(doc["instances"][0]["state"].GetString()), "stopped");
    for (const auto& pipeline : doc["pipelines"].GetArray()) EXPECT_FALSE(pipeline["running"].GetBool());
    EXPECT_FALSE(doc["admin_endpoint"]["answers"].GetBool());
  }
  EXPECT_THAT(stopped.all, HasSubstr("crmsync status: "));

  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string conflict_id;
  ASSERT_TRUE(eventually([&] {
    conflict_id = state_scalar("SELECT id FROM " + name + ".conflicts WHERE record_id = $1 AND field = 'description' "
                               "AND status = 'open'",
                               {deal});
    return !conflict_id.empty();
  })) << crmsync->output();

  auto listed = crmsync_cli({"conflicts", "list", "--config", config, "--json"});
  ASSERT_EQ(listed.code, 0) << listed.all;
  auto doc = parse_json(listed.out);
  ASSERT_EQ(doc["conflicts"].Size(), 1u) << listed.out;
  const auto& conflict = doc["conflicts"][0];
  EXPECT_EQ(std::to_string(conflict["id"].GetInt64()), conflict_id);
  EXPECT_EQ(std::string(conflict["record_id"].GetString()), deal);
  EXPECT_EQ(std::string(conflict["field"].GetString()), "description");
  EXPECT_EQ(std::string(conflict["policy"].GetString()), "manual");
  EXPECT_EQ(std::string(conflict["values"]["prm"].GetString()), "prm text");
  EXPECT_EQ(std::string(conflict["values"]["salesforce"].GetString()), "sf text");

  auto human_list = crmsync_cli({"conflicts", "list", "--config", config, "--object", "deal"});
  EXPECT_EQ(human_list.code, 0);
  EXPECT_THAT(human_list.out, HasSubstr(deal));
  auto accounts_only = crmsync_cli({"conflicts", "list", "--config", config, "--object", "account", "--json"});
  EXPECT_EQ(parse_json(accounts_only.out)["conflicts"].Size(), 0u);
  auto resolved = crmsync_cli({"conflicts", "list", "--config", config, "--status", "resolved", "--json"});
  EXPECT_EQ(parse_json(resolved.out)["conflicts"].Size(), 0u);

  auto shown = crmsync_cli({"conflicts", "show", conflict_id, "--config", config});
  EXPECT_EQ(shown.code, 0) << shown.all;
  EXPECT_THAT(shown.out, HasSubstr("sf text"));
  EXPECT_THAT(shown.out, HasSubstr("prm text"));
  auto missing = crmsync_cli({"conflicts", "show", "987654321", "--config", config});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.all, HasSubstr("no conflict 987654321"));

  // Running with an open conflict: a problem.
  auto with_conflict = crmsync_cli({"status", "--config", config, "--json"});
  EXPECT_EQ(with_conflict.code, 1) << with_conflict.all;
  EXPECT_THAT(with_conflict.out, HasSubstr("open conflict(s) waiting for an operator"));
  EXPECT_EQ(parse_json(with_conflict.out)["open_conflicts"].GetInt(), 1);
  stop();
}

TEST(OperatorCommands, UsageAndConfigurationErrorsExitTwoWithAOneLineReason) {
  std::string dir = std::filesystem::temp_directory_path() / testing::unique_name("ops_usage");
  std::filesystem::create_directories(dir);
  std::string bad_config = dir + "/bad.toml";
  std::ofstream(bad_config) << "[kafka]\nbrokers = \"localhost\"\n";
  std::string missing = dir + "/missing.toml";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"status", "--config", missing},
           {"status", "--config", bad_config},
           {"status", "--no-such-option"},
           {"dead-letters", "list", "--config", missing},
           {"dead-letters", "show", "not-an-id", "--config", bad_config},
           {"dead-letters", "retry", "7", "--config", missing},
           {"dead-letters"},
           {"conflicts", "list", "--status", "maybe", "--config", missing},
           {"conflicts", "show", "x", "--config", missing},
           {"conflicts", "list", "--config", missing},
           {"journal", "verify", "--config", missing},
       }) {
    auto result = crmsync_cli(args);
    EXPECT_EQ(result.code, 2) << fmt::format("{}", fmt::join(args, " ")) << "\n" << result.all;
    EXPECT_TRUE(result.out.empty()) << fmt::format("{}", fmt::join(args, " ")) << " wrote to stdout: " << result.out;
    EXPECT_FALSE(result.all.empty());
  }
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"status", "--help"}, {"dead-letters", "retry", "--help"}, {"conflicts", "list", "--help"}}) {
    auto result = crmsync_cli(command);
    EXPECT_EQ(result.code, 0) << result.all;
    EXPECT_THAT(result.out, HasSubstr("--config"));
    EXPECT_THAT(result.out, HasSubstr("--json"));
  }
  EXPECT_THAT(crmsync_cli({"dead-letters", "discard", "--help"}).out, HasSubstr("--dry-run"));
  EXPECT_THAT(crmsync_cli({"dead-letters", "discard", "--help"}).out, HasSubstr("--operator"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace crmsync
