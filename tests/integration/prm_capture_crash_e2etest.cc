#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "connectors/kafka/kafka_consumer.h"
#include "daemon/logging.h"
#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/secret_canary.h"
#include "tests/support/service_env.h"

namespace crmsync {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

// `crmsync run` with PRM capture, killed with SIGKILL after Kafka acknowledged a batch of changes
// but before the slot was confirmed (the status interval is 30 s), then restarted: every change
// arrives, the re-sent ones with the same event identity, and nothing is re-snapshotted. crmsync
// runs at debug level with the canary database password, which neither run's output nor /metrics
// may hold (tests/support/secret_canary.h).
class PrmCaptureCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    name = testing::unique_name("crash");
    dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir);
    admin_port = testing::free_local_port();
    state_url = testing::require_service_env("CRMSYNC_PG_URL");
    admin_settings.url = testing::require_service_env("CRMSYNC_PRM_PG_URL");
    brokers = testing::require_service_env("CRMSYNC_KAFKA_BROKERS");
    auto db = state::StateDatabase::connect(admin_settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    admin = std::move(db).value();
    org = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {name});
    account = scalar("INSERT INTO prm.accounts (name, owner_partner_org_id, modified_by_kind) "
                     "VALUES ($1, $2, 'integration') RETURNING id", {name, org});
    std::string password_file = (dir / "db_password").string();
    std::ofstream(password_file) << testing::kDatabasePassword;
    ::chmod(password_file.c_str(), 0600);
    config = (dir / "crmsync.toml").string();
    std::ofstream(config)
        << "[daemon]\nshutdown_grace = \"20s\"\nhealth_check_interval = \"500ms\"\n"
        << "[log]\nlevel = \"debug\"\n"
        << "[admin]\nlisten = \"127.0.0.1:" << admin_port << "\"\n"
        << "[state]\ndatabase_url = \"" << state_url << "\"\npassword_file = \"" << password_file
        << "\"\nschema = \"" << name << "\"\n"
        << "[kafka]\nbrokers = [\"" << brokers << "\"]\ntopic_prefix = \"" << name << "\"\n"
        << "[prm]\ndatabase_url = \"" << testing::require_service_env("CRMSYNC_PRM_DAEMON_URL")
        << "\"\npassword_file = \"" << password_file << "\"\nslot = \"" << name
        << "\"\nstatus_interval = \"30s\"\n";
  }

  void TearDown() override {
    (void)admin->execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = $1 AND NOT active", {name});
    (void)admin->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1", {org});
    (void)admin->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1", {org});
    (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
    state::StateDatabaseSettings state_settings;
    state_settings.url = state_url;
    if (auto db = state::StateDatabase::connect(state_settings); db) {
      (void)db.value()->execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }
    std::filesystem::remove_all(dir);
  }

  std::string scalar(const std::string& sql, const state::QueryRow& params) {
    auto rows = admin->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("");
  }

  std::string insert_deal(int n) {
    return scalar("INSERT INTO prm.deals (account_id, name, amount, stage, owner_partner_org_id, "
                  "modified_by_kind) VALUES ($1, $2, $3::numeric, 'Prospecting', $4, 'integration') RETURNING id",
                  {account, "deal " + std::to_string(n), std::to_string(n), org});
  }

  void wait_for_streaming(ChildProcess& crmsync) {
    auto deadline = std::chrono::steady_clock::now() + seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      auto metrics = testing::http_get(admin_port, "/metrics");
      if (metrics && metrics->body.find("crmsync_prm_capture_streaming 1") != std::string::npos) {
        testing::expect_no_secrets_in("/metrics", metrics->body);
        return;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    FAIL() << "capture did not start streaming\n" << crmsync.output();
  }

  // (event_id, prm id) of every event of our deals on the topic, in topic order.
  std::vector<std::pair<std::string, std::string>> read_events(const std::set<std::string>& ids,
                                                               std::size_t at_least) {
    connectors::kafka::KafkaSettings settings;
    settings.brokers = {brokers};
    daemon::Logging logging(daemon::LogFormat::text, daemon::LogLevel::warn,
                            std::make_shared<daemon::LogRedactor>());
    auto consumer = connectors::kafka::KafkaConsumer::create(settings, testing::unique_name("g"),
                                                             logging.logger("consumer"));
    if (!consumer || !consumer.value()->subscribe({name + ".changes.prm"})) {
      throw std::runtime_error("cannot consume");
    }
    std::vector<std::pair<std::string, std::string>> events;
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    int quiet_polls = 0;
    while (std::chrono::steady_clock::now() < deadline && (events.size() < at_least || quiet_polls < 10)) {
      auto polled = consumer.value()->poll(milliseconds(200));
      if (!polled) throw std::runtime_error(polled.error().message);
      if (!polled.value()) {
        ++quiet_polls;
        continue;
      }
      quiet_polls = 0;
      rapidjson::Document json;
      json.Parse(polled.value()->value.c_str());
      if (json.HasParseError() || !json["ids"]["prm"].IsString()) continue;
      std::string id = json["ids"]["prm"].GetString();
      if (ids.contains(id)) events.emplace_back(json["event_id"].GetString(), id);
    }
    return events;
  }

  std::string name;
  std::filesystem::path dir;
  unsigned short admin_port = 0;
  std::string state_url;
  std::string brokers;
  std::string config;
  state::StateDatabaseSettings admin_settings;
  std::unique_ptr<state::StateDatabase> admin;
  std::string org;
  std::string account;
};

TEST_F(PrmCaptureCrash, KillAfterKafkaAckBeforeConfirmLosesNothingAndResendsWithSameIdentity) {
  std::set<std::string> before_crash;
  {
    ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
    wait_for_streaming(crmsync);
    for (int i = 0; i < 40; ++i) before_crash.insert(insert_deal(i));
    // All 40 are in Kafka (acknowledged) before the kill; the slot was not confirmed since.
    ASSERT_EQ(read_events(before_crash, 40).size(), 40u) << crmsync.output();
    crmsync.send_signal(SIGKILL);
    ASSERT_EQ(crmsync.wait_for_exit(seconds(10)), -SIGKILL);
    testing::expect_no_secrets_in("the killed daemon's output", crmsync.output());
  }
  std::set<std::string> after_restart;
  std::string restarted_output;
  {
    ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
    wait_for_streaming(crmsync);
    for (int i = 40; i < 50; ++i) after_restart.insert(insert_deal(i));
    std::set<std::string> all = before_crash;
    all.insert(after_restart.begin(), after_restart.end());
    auto events = read_events(all, 90);
    auto metrics = testing::http_get(admin_port, "/metrics");
    ASSERT_TRUE(metrics) << crmsync.output();
    testing::expect_no_secrets_in("/metrics", metrics->body);
    crmsync.send_signal(SIGTERM);
    EXPECT_EQ(crmsync.wait_for_exit(seconds(25)), 0) << crmsync.output();
    restarted_output = crmsync.output();
    testing::expect_no_secrets_in("the restarted daemon's output", restarted_output);

    std::map<std::string, std::set<std::string>> ids_by_deal;
    std::map<std::string, int> copies;
    for (const auto& [event_id, deal] : events) {
      ids_by_deal[deal].insert(event_id);
      ++copies[deal];
    }
    EXPECT_EQ(ids_by_deal.size(), all.size()) << "a change was lost";
    for (const auto& deal : before_crash) {
      EXPECT_EQ(copies[deal], 2) << "re-sent once after the crash: " << deal;
      EXPECT_EQ(ids_by_deal[deal].size(), 1u) << "the re-sent event has the same identity: " << deal;
    }
    for (const auto& deal : after_restart) EXPECT_EQ(copies[deal], 1) << deal;
  }
  EXPECT_THAT(restarted_output, ::testing::Not(::testing::HasSubstr("prm slot created")))
      << "a restart resumes from the slot; it does not take a new snapshot";
}

}  // namespace
}  // namespace crmsync
