// Operator commands that repair through the normal apply path (issue #9): `crmsync conflicts
// resolve` and `crmsync replay`, against `crmsync run` with the PRM, Kafka and both emulators
// (tests/integration/sync_engine_fixture.h).

#include <fmt/chrono.h>

#include "connectors/kafka/kafka_consumer.h"
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
using testing::crmsync_cli;
using testing::parse_json;

class OperatorRepairs : public testing::SyncEngine {
 protected:
  std::string rfc3339(std::chrono::system_clock::time_point at) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<seconds>(at));
  }

  // The same configuration without [engine]: capture only, nothing applied.
  std::string capture_only(const std::string& config) {
    std::ifstream in(config);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto at = text.find("[engine]\n");
    EXPECT_NE(at, std::string::npos);
    text.erase(at, text.find('[', at + 1) - at);
    std::string path = (dir / "capture-only.toml").string();
    std::ofstream(path) << text;
    return path;
  }

  // A consumer in the apply workers' group reads every change waiting for them and commits it
  // without applying anything, until it has seen one containing `marker`: those changes are lost
  // to the engine (as after a wrong offset reset).
  void lose_changes_until(const std::string& marker) {
    connectors::kafka::KafkaSettings settings;
    settings.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
    auto consumer = connectors::kafka::KafkaConsumer::create(settings, name, logging.logger("loser"));
    ASSERT_TRUE(consumer.ok()) << consumer.error().message;
    ASSERT_TRUE(consumer.value()
                    ->subscribe({name + ".changes.prm", name + ".changes.salesforce", name + ".changes.dynamics"})
                    .ok());
    bool seen = false;
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    auto quiet_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      auto record = consumer.value()->poll(milliseconds(200));
      ASSERT_TRUE(record.ok()) << record.error().message;
      if (!record.value()) {
        if (seen && std::chrono::steady_clock::now() - quiet_since > seconds(2)) break;
        continue;
      }
      quiet_since = std::chrono::steady_clock::now();
      seen = seen || record.value()->value.find(marker) != std::string::npos;
      ASSERT_TRUE(consumer.value()->commit(*record.value()).ok());
    }
    consumer.value()->close();
    ASSERT_TRUE(seen) << "the change never reached Kafka";
  }
};

TEST_F(OperatorRepairs, ResolvingAConflictWritesTheDecisionEverywhereAndClosesIt) {
  std::string config = write_config();
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string account = insert_account("resolve");
  std::string deal = insert_deal(account, "resolve deal", "100.00");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  stop();
  // description is `manual`: edited in the PRM and in Salesforce between two syncs.
  scalar("UPDATE prm.deals SET description = 'prm text', modified_by_kind = 'internal_user' WHERE id = $1 RETURNING id",
         {deal});
  std::this_thread::sleep_for(milliseconds(1100));
  crm_edit(Side::salesforce, ObjectKind::deal, deal, {{"Description", FieldValue::string_value("sf text")}});
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string id;
  ASSERT_TRUE(eventually([&] {
    id = state_scalar("SELECT id FROM " + name + ".conflicts WHERE record_id = $1 AND status = 'open'", {deal});
    return !id.empty();
  })) << crmsync->output();

  // Usage: one of --take and --value, and a side the conflict is between.
  auto both = crmsync_cli({"conflicts", "resolve", id, "--config", config, "--take", "prm", "--value", "\"x\""});
  EXPECT_EQ(both.code, 2) << both.all;
  auto not_a_party = crmsync_cli({"conflicts", "resolve", id, "--config", config, "--take", "dynamics"});
  EXPECT_EQ(not_a_party.code, 2) << not_a_party.all;
  EXPECT_THAT(not_a_party.all, HasSubstr("between prm and salesforce"));
  auto unknown = crmsync_cli({"conflicts", "resolve", "987654321", "--config", config, "--take", "prm"});
  EXPECT_EQ(unknown.code, 1) << unknown.all;
  // --dry-run changes nothing.
  auto dry = crmsync_cli({"conflicts", "resolve", id, "--config", config, "--take", "salesforce", "--dry-run"});
  EXPECT_EQ(dry.code, 0) << dry.all;
  EXPECT_THAT(dry.out, HasSubstr("would resolve"));
  EXPECT_EQ(state_scalar("SELECT status FROM " + name + ".conflicts WHERE id = $1::bigint", {id}), "open");
  EXPECT_EQ(journal_count("operator"), 0);

  // Salesforce's text is taken: every side holds it, the conflict is closed, both steps journaled.
  auto resolved = crmsync_cli({"conflicts", "resolve", id, "--config", config, "--take", "salesforce", "--operator",
                               "alice", "--json"});
  ASSERT_EQ(resolved.code, 0) << resolved.all << crmsync->output();
  EXPECT_EQ(std::string(parse_json(resolved.out)["outcome"].GetString()), "applied");
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "description", "sf text")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "description", "sf text")) << crmsync->output();
  EXPECT_EQ(on(Side::salesforce, ObjectKind::deal, deal)->at("description").text, "sf text");
  EXPECT_EQ(state_scalar("SELECT status FROM " + name + ".conflicts WHERE id = $1::bigint", {id}), "resolved");
  EXPECT_THAT(state_scalar("SELECT resolution FROM " + name + ".conflicts WHERE id = $1::bigint", {id}), HasSubstr("alice"));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "policy = 'operator' AND actor = 'operator:alice' AND record_id = $1",
                         {deal}),
            "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'operator' AND "
                         "actor = 'operator:alice' AND detail LIKE '%conflict_resolve%'"),
            "1");
  auto explained = crmsync_cli({"journal", "explain", "--record", "deal:" + deal, "--field", "description", "--config",
                                config});
  EXPECT_EQ(explained.code, 0) << explained.all;
  EXPECT_THAT(explained.out, HasSubstr("operator:alice"));
  // A closed conflict is not decided twice.
  auto again = crmsync_cli({"conflicts", "resolve", id, "--config", config, "--take", "prm"});
  EXPECT_EQ(again.code, 1) << again.all;
  EXPECT_THAT(again.all, HasSubstr("already resolved"));
  stop();
}

TEST_F(OperatorRepairs, ReplayRestoresALostChangeAndReplayingEverythingChangesNothing) {
  std::string config = write_config();
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string account = insert_account("replayed");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "website", "https://example.test"))
      << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://example.test"));
  stop();

  // The change is captured, but its event is committed by the apply group without being applied.
  ASSERT_NO_FATAL_FAILURE(start(capture_only(config)));
  std::string before_change = rfc3339(std::chrono::system_clock::now() - seconds(2));
  scalar("UPDATE prm.accounts SET website = 'https://lost.example', modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING id",
         {account});
  ASSERT_NO_FATAL_FAILURE(lose_changes_until("lost.example"));
  stop();
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string later = insert_account("after the loss");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, later, "website", "https://example.test"))
      << crmsync->output();
  EXPECT_EQ(on(Side::salesforce, ObjectKind::account, account)->at("website").text, "https://example.test")
      << "the change was lost";

  auto dry = crmsync_cli({"replay", "--source", "prm", "--from-time", before_change, "--config", config, "--dry-run"});
  EXPECT_EQ(dry.code, 0) << dry.all;
  EXPECT_THAT(dry.out, HasSubstr("would replay"));
  auto replayed = crmsync_cli({"replay", "--source", "prm", "--from-time", before_change, "--record", account,
                               "--config", config, "--operator", "bob", "--json"});
  ASSERT_EQ(replayed.code, 0) << replayed.all << crmsync->output();
  auto report = parse_json(replayed.out);
  EXPECT_EQ(report["replayed"].GetInt(), 1) << replayed.out;
  ASSERT_TRUE(report["outcomes"].HasMember("applied")) << replayed.out;
  EXPECT_EQ(report["outcomes"]["applied"].GetInt(), 1) << replayed.out;
  EXPECT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "website", "https://lost.example"));
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://lost.example"));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'operator' AND actor = 'operator:bob' "
                         "AND detail LIKE '%\"action\":\"replay\"%'"),
            "1");

  // The whole topic again: the engine recorded every event, so none is sent; nothing changes.
  std::map<std::string, std::optional<mapping::CanonicalFields>> before;
  for (Side side : {Side::prm, Side::salesforce, Side::dynamics}) {
    for (const auto& id : {account, later}) before[fmt::format("{}:{}", mapping::to_string(side), id)] = on(side, ObjectKind::account, id);
  }
  int applied_before = journal_count("applied");
  auto everything = crmsync_cli({"replay", "--source", "prm", "--from-offset", "0", "--config", config, "--json"});
  ASSERT_EQ(everything.code, 0) << everything.all;
  auto all_report = parse_json(everything.out);
  EXPECT_GE(all_report["selected"].GetInt(), 3) << everything.out;
  EXPECT_EQ(all_report["replayed"].GetInt(), 0) << everything.out;
  EXPECT_FALSE(all_report["outcomes"].HasMember("applied")) << everything.out;
  EXPECT_EQ(journal_count("applied"), applied_before)
      << state_scalar("SELECT string_agg(seq || ' ' || kind || ' ' || source || ' ' || record_id || ' ' || event_id || ' ' "
                      "|| detail, E'\\n' ORDER BY seq) FROM " + name + ".journal");
  for (Side side : {Side::prm, Side::salesforce, Side::dynamics}) {
    for (const auto& id : {account, later}) {
      EXPECT_EQ(on(side, ObjectKind::account, id), before[fmt::format("{}:{}", mapping::to_string(side), id)])
          << mapping::to_string(side) << " " << id;
    }
  }
  // Usage.
  auto neither = crmsync_cli({"replay", "--source", "prm", "--config", config});
  EXPECT_EQ(neither.code, 2) << neither.all;
  auto bad_time = crmsync_cli({"replay", "--source", "prm", "--from-time", "yesterday", "--config", config});
  EXPECT_EQ(bad_time.code, 2) << bad_time.all;
  stop();
}

}  // namespace
}  // namespace crmsync
