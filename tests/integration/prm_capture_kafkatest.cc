#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <thread>

#include "connectors/kafka/kafka_consumer.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/prm/prm_applier.h"
#include "connectors/prm/prm_capture.h"
#include "daemon/logging.h"
#include "state/migrator.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::prm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Event {
  std::string key;
  rapidjson::Document json;
  std::string text;
  std::string prm_id() const { return json["ids"]["prm"].GetString(); }
  std::string op() const { return json["op"].GetString(); }
  std::string event_id() const { return json["event_id"].GetString(); }
  bool has_field(const char* name) const { return json["fields"].HasMember(name); }
  std::vector<std::string> changed() const {
    std::vector<std::string> out;
    for (const auto& name : json["changed"].GetArray()) out.emplace_back(name.GetString());
    return out;
  }
};

// The capture on the real PRM database (reference schema, daemon role), a real Kafka, and a fresh
// state schema, slot and topic per test. Other tests write to the same tables, so assertions look
// only at this test's records.
class PrmCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string daemon_url = crmsync::testing::require_service_env("CRMSYNC_PRM_DAEMON_URL");
    admin_settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_PG_URL");
    kafka_settings.brokers = {crmsync::testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
    state_settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
    state_settings.schema = crmsync::testing::unique_name("crmsync_capture");
    auto state_db = state::StateDatabase::connect(state_settings);
    ASSERT_TRUE(state_db.ok()) << state_db.error().message;
    ASSERT_TRUE(state::migrate(*state_db.value(), state::embedded_migrations(), state::DryRun::no).ok());

    name = crmsync::testing::unique_name("cap");
    settings.connection.url = daemon_url;
    settings.slot = name;
    settings.topic = "crmsync.test." + name + ".changes.prm";
    settings.deadletter_topic = "crmsync.test." + name + ".deadletter";
    settings.status_interval = milliseconds(500);
    admin = connect(admin_settings);
    org = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {name});
    auto created = kafka::KafkaProducer::create(kafka_settings, logging.logger("producer"));
    ASSERT_TRUE(created.ok()) << created.error().message;
    producer = std::move(created).value();
  }

  void TearDown() override {
    stop_capture();
    if (!admin) return;
    (void)admin->execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = $1 AND NOT active", {name});
    (void)admin->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1", {org});
    (void)admin->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1", {org});
    (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
    if (auto state_db = state::StateDatabase::connect(state_settings); state_db) {
      (void)state_db.value()->execute("DROP SCHEMA IF EXISTS " + state_settings.schema + " CASCADE");
    }
  }

  static std::unique_ptr<state::StateDatabase> connect(const state::StateDatabaseSettings& s) {
    auto db = state::StateDatabase::connect(s);
    if (!db) throw std::runtime_error(db.error().message);
    return std::move(db).value();
  }

  std::string scalar(const std::string& sql, const state::QueryRow& params = {}) {
    auto rows = admin->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("");
  }

  std::string insert_account(const std::string& account_name) {
    return scalar("INSERT INTO prm.accounts (name, owner_partner_org_id, modified_by_kind, modified_by_id) "
                  "VALUES ($1, $2, 'internal_user', 'alice') RETURNING id",
                  {account_name, org});
  }

  std::string insert_deal(const std::string& account, const std::string& deal_name, const std::string& amount) {
    return scalar("INSERT INTO prm.deals (account_id, name, amount, currency, stage, owner_partner_org_id, "
                  "modified_by_kind, modified_by_id) VALUES ($1, $2, $3::numeric, 'EUR', 'Prospecting', $4, "
                  "'internal_user', 'alice') RETURNING id",
                  {account, deal_name, amount, org});
  }

  void start_capture() {
    stop = false;
    capture = std::make_unique<PrmCapture>(settings, reference_schema_bindings(), state_settings, *producer,
                                           logging.logger("capture"),
                                           mapping::RetryPolicy{milliseconds(100), seconds(1), 2.0, 0.0},
                                           [] { return 0.5; });
    capture_thread = std::thread([this] { outcome = capture->run(stop); });
  }

  void stop_capture() {
    stop = true;
    if (capture_thread.joinable()) capture_thread.join();
  }

  // Waits until the capture streams (its slot exists and the snapshot, if any, is done).
  void wait_until_streaming() {
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (!capture->probe().streaming && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(capture->probe().streaming) << "capture did not start streaming";
  }

  // Reads the topic from the start until `predicate` holds for the events of `ids` (or 60 s).
  std::vector<Event> read_events(const std::set<std::string>& ids, std::size_t expected,
                                 const std::string& topic = "") {
    auto consumer = kafka::KafkaConsumer::create(kafka_settings, crmsync::testing::unique_name("g"),
                                                 logging.logger("consumer"));
    if (!consumer) throw std::runtime_error(consumer.error().message);
    if (!consumer.value()->subscribe({topic.empty() ? settings.topic : topic})) {
      throw std::runtime_error("subscribe failed");
    }
    std::vector<Event> events;
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (events.size() < expected && std::chrono::steady_clock::now() < deadline) {
      auto polled = consumer.value()->poll(milliseconds(200));
      if (!polled) throw std::runtime_error(polled.error().message);
      if (!polled.value()) continue;
      Event event;
      event.key = polled.value()->key;
      event.text = polled.value()->value;
      event.json.Parse(event.text.c_str());
      if (event.json.HasParseError()) throw std::runtime_error("not JSON: " + event.text);
      if (!event.json.HasMember("ids") || !event.json["ids"]["prm"].IsString()) continue;
      if (ids.contains(event.prm_id())) events.push_back(std::move(event));
    }
    // Anything beyond `expected` would be a duplicate or a stray event: read a little more.
    for (int i = 0; i < 5; ++i) {
      auto polled = consumer.value()->poll(milliseconds(200));
      if (polled.ok() && polled.value()) {
        Event event;
        event.text = polled.value()->value;
        event.json.Parse(event.text.c_str());
        if (!event.json.HasParseError() && event.json.HasMember("ids") && event.json["ids"]["prm"].IsString() &&
            ids.contains(event.prm_id())) {
          events.push_back(std::move(event));
        }
      }
    }
    return events;
  }

  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>()};
  state::StateDatabaseSettings admin_settings;
  state::StateDatabaseSettings state_settings;
  kafka::KafkaSettings kafka_settings;
  PrmCaptureSettings settings;
  std::unique_ptr<state::StateDatabase> admin;
  std::unique_ptr<kafka::KafkaProducer> producer;
  std::unique_ptr<PrmCapture> capture;
  std::thread capture_thread;
  std::atomic<bool> stop{false};
  mapping::Status outcome = mapping::ok_status();
  std::string name;
  std::string org;
};

TEST_F(PrmCaptureTest, SnapshotThenStreamInCommitOrderWithSharing) {
  std::string account = insert_account("Snapshot Corp " + name);  // exists before the slot
  start_capture();
  wait_until_streaming();
  std::string deal = insert_deal(account, "Ünïcode deal — 東京", "120000.50");
  std::string partner_b = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'silver') RETURNING id",
                                 {name + "-b"});
  scalar("INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
         "VALUES ('deal', $1, 'partner_org', $2, 'read') RETURNING 1",
         {deal, partner_b});
  scalar("UPDATE prm.deals SET amount = 99000.00, modified_by_kind = 'internal_user' WHERE id = $1 RETURNING 1", {deal});
  scalar("DELETE FROM prm.deals WHERE id = $1 RETURNING 1", {deal});
  (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {partner_b});

  auto events = read_events({account, deal}, 5);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].prm_id(), account);
  EXPECT_TRUE(events[0].json["snapshot"].GetBool());
  EXPECT_EQ(events[0].key, "account:" + account);
  EXPECT_EQ(std::string(events[0].json["sharing"]["owner"]["partner_org"].GetString()), org);

  EXPECT_EQ(events[1].key, "deal:" + deal);
  EXPECT_EQ(events[1].op(), "upsert");
  EXPECT_EQ(std::string(events[1].json["fields"]["name"].GetString()), "Ünïcode deal — 東京");
  EXPECT_THAT(events[1].text, HasSubstr("\"amount\":120000.50"));
  EXPECT_EQ(std::string(events[1].json["actor"]["kind"].GetString()), "internal_user");
  EXPECT_EQ(std::string(events[1].json["actor"]["id"].GetString()), "alice");

  EXPECT_THAT(events[2].changed(), ElementsAre("sharing"));
  ASSERT_EQ(events[2].json["sharing"]["grants"].Size(), 1u);
  EXPECT_EQ(std::string(events[2].json["sharing"]["grants"][0]["principal"].GetString()),
            "partner_org:" + partner_b);

  EXPECT_THAT(events[3].changed(), ElementsAre("amount"));
  EXPECT_EQ(events[3].json["sharing"]["grants"].Size(), 1u);  // sharing travels with every change
  EXPECT_EQ(events[4].op(), "delete");
}

TEST_F(PrmCaptureTest, AccountInsertUpdateDeleteAndOwnerChange) {
  start_capture();
  wait_until_streaming();
  std::string account = insert_account("Account " + name);
  std::string other = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'platinum') RETURNING id",
                             {name + "-other"});
  scalar("UPDATE prm.accounts SET industry = 'Retail', modified_by_kind = 'internal_user', modified_by_id = 'bob' "
         "WHERE id = $1 RETURNING 1", {account});
  scalar("UPDATE prm.accounts SET owner_partner_org_id = $2, modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING 1", {account, other});
  scalar("DELETE FROM prm.accounts WHERE id = $1 RETURNING 1", {account});
  (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {other});
  auto events = read_events({account}, 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].op(), "upsert");
  EXPECT_THAT(events[1].changed(), ElementsAre("industry"));
  EXPECT_EQ(std::string(events[1].json["actor"]["id"].GetString()), "bob");
  EXPECT_THAT(events[2].changed(), ElementsAre("sharing"));
  EXPECT_EQ(std::string(events[2].json["sharing"]["owner"]["partner_org"].GetString()), other);
  EXPECT_EQ(events[3].op(), "delete");
  EXPECT_EQ(events[3].key, "account:" + account);
}

TEST_F(PrmCaptureTest, ShareInsertUpdateAndDeleteEachCarryTheRecordsSharing) {
  std::string account = insert_account("Shares " + name);
  start_capture();
  wait_until_streaming();
  std::string partner = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'silver') RETURNING id",
                               {name + "-grantee"});
  std::string key = "object_type = 'account' AND record_id = $1 AND principal_type = 'partner_org' AND principal_id = $2";
  scalar("INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
         "VALUES ('account', $1, 'partner_org', $2, 'read') RETURNING 1", {account, partner});
  scalar("UPDATE prm.shares SET access = 'edit' WHERE " + key + " RETURNING 1", {account, partner});
  scalar("DELETE FROM prm.shares WHERE " + key + " RETURNING 1", {account, partner});
  (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {partner});

  auto events = read_events({account}, 4);  // the snapshot, then one event per share change
  ASSERT_EQ(events.size(), 4u);
  EXPECT_TRUE(events[0].json.HasMember("snapshot"));
  for (std::size_t i = 1; i < 4; ++i) EXPECT_THAT(events[i].changed(), ElementsAre("sharing")) << i;
  ASSERT_EQ(events[1].json["sharing"]["grants"].Size(), 1u);
  EXPECT_EQ(std::string(events[1].json["sharing"]["grants"][0]["access"].GetString()), "read");
  ASSERT_EQ(events[2].json["sharing"]["grants"].Size(), 1u);
  EXPECT_EQ(std::string(events[2].json["sharing"]["grants"][0]["access"].GetString()), "edit");
  EXPECT_EQ(events[3].json["sharing"]["grants"].Size(), 0u) << "the revoked grant is gone";
  EXPECT_EQ(std::string(events[3].json["sharing"]["owner"]["partner_org"].GetString()), org);
}

TEST_F(PrmCaptureTest, LargeTransactionArrivesWhole) {
  std::string account = insert_account("Bulk " + name);
  start_capture();
  wait_until_streaming();
  auto ids = admin->execute(
      "INSERT INTO prm.deals (account_id, name, amount, stage, owner_partner_org_id, modified_by_kind) "
      "SELECT $1, 'bulk ' || g, g, 'Prospecting', $2, 'integration' FROM generate_series(1, 10000) g "
      "RETURNING id",
      {account, org});
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  std::set<std::string> wanted;
  for (const auto& row : ids.value()) wanted.insert(*row[0]);
  auto events = read_events(wanted, 10000);
  EXPECT_EQ(events.size(), 10000u);
  std::set<std::string> seen;
  for (const auto& event : events) seen.insert(event.prm_id());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST_F(PrmCaptureTest, UnchangedLargeTextIsLeftOutNotNulled) {
  std::string account = insert_account("Toast " + name);
  start_capture();
  wait_until_streaming();
  std::string deal = insert_deal(account, "toast", "1");
  std::string large(300'000, 'z');
  scalar("UPDATE prm.deals SET description = $2, modified_by_kind = 'integration' WHERE id = $1 RETURNING 1",
         {deal, large});
  scalar("UPDATE prm.deals SET stage = 'Closed Won', modified_by_kind = 'integration' WHERE id = $1 RETURNING 1",
         {deal});
  auto events = read_events({deal}, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::string(events[1].json["fields"]["description"].GetString()).size(), large.size());
  EXPECT_THAT(events[2].changed(), ElementsAre("stage"));
  EXPECT_FALSE(events[2].has_field("description")) << "an unchanged TOASTed value must not be sent as NULL";
}

TEST_F(PrmCaptureTest, AddedColumnMidStreamIsCaptured) {
  std::string account = insert_account("Schema " + name);
  start_capture();
  wait_until_streaming();
  std::string before = insert_deal(account, "before", "1");
  std::string column = "x_" + name;
  ASSERT_TRUE(admin->execute("ALTER TABLE prm.deals ADD COLUMN " + column + " text").ok());
  std::string after = scalar("INSERT INTO prm.deals (account_id, name, stage, owner_partner_org_id, modified_by_kind, " +
                             column + ") VALUES ($1, 'after', 'Prospecting', $2, 'integration', 'new value') RETURNING id",
                             {account, org});
  auto events = read_events({before, after}, 2);
  (void)admin->execute("ALTER TABLE prm.deals DROP COLUMN " + column);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0].has_field(column.c_str()));
  EXPECT_EQ(std::string(events[1].json["fields"][column.c_str()].GetString()), "new value");
}

TEST_F(PrmCaptureTest, OwnAppliedWritesAreNotCapturedBack) {
  std::string account = insert_account("Echo " + name);
  start_capture();
  wait_until_streaming();
  auto applied = admin->execute(
      "WITH marker AS (SELECT pg_logical_emit_message(true, 'crmsync.origin', 'apply')) "
      "INSERT INTO prm.deals (account_id, name, stage, owner_partner_org_id, modified_by_kind, modified_by_id) "
      "SELECT $1, 'from the CRM', 'Prospecting', $2, 'integration', 'crmsync' FROM marker RETURNING id",
      {account, org});
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  std::string echo = *applied.value()[0][0];
  std::string real = insert_deal(account, "typed in the portal", "5");
  auto events = read_events({echo, real}, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].prm_id(), real);
  EXPECT_GE(capture->probe().echo_transactions_skipped.load(), 1u);
}

TEST_F(PrmCaptureTest, ChangesWrittenByThePrmApplierAreNotCapturedBack) {
  std::string account = insert_account("Applier echo " + name);
  start_capture();
  wait_until_streaming();
  auto applier = PrmApplier::connect(settings.connection, reference_schema_bindings());
  ASSERT_TRUE(applier.ok()) << applier.error().message;
  PrmUpsert update;
  update.object = mapping::ObjectKind::account;
  update.prm_id = account;
  update.fields = {{"industry", mapping::FieldValue::string_value("from the CRM")}};
  { auto applied = applier.value()->apply({update}, "echo-test"); ASSERT_TRUE(applied.ok()) << applied.error().message; }
  scalar("UPDATE prm.accounts SET website = 'typed in the portal', modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING 1", {account});
  auto events = read_events({account}, 2);  // the snapshot, then only the portal's update
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].json.HasMember("snapshot"));
  EXPECT_THAT(events[1].changed(), ElementsAre("website"));
}

TEST_F(PrmCaptureTest, ResumesFromItsSlotAfterAStop) {
  std::string account = insert_account("Resume " + name);
  start_capture();
  wait_until_streaming();
  std::string first = insert_deal(account, "first", "1");
  ASSERT_EQ(read_events({first}, 1).size(), 1u);
  stop_capture();
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  std::string while_down = insert_deal(account, "while down", "2");
  start_capture();
  wait_until_streaming();
  auto events = read_events({first, while_down}, 2);
  ASSERT_EQ(events.size(), 2u) << "nothing lost, nothing captured twice";
  EXPECT_EQ(events[1].prm_id(), while_down);
  EXPECT_FALSE(events[1].json.HasMember("snapshot"));
}

TEST_F(PrmCaptureTest, VanishedSlotIsReportedAndRecoveredWithASnapshot) {
  std::string account = insert_account("Lost " + name);
  start_capture();
  wait_until_streaming();
  stop_capture();
  // The server ends its WAL sender a moment after the client disconnects; the slot can be dropped
  // once it is inactive.
  bool dropped = false;
  for (int attempt = 0; attempt < 100 && !dropped; ++attempt) {
    dropped = admin->execute("SELECT pg_drop_replication_slot($1)::text", {name}).ok();
    if (!dropped) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(dropped) << "slot " << name << " stayed active";
  std::string while_lost = insert_deal(account, "changed while the slot was gone", "3");
  start_capture();
  wait_until_streaming();
  EXPECT_EQ(capture->probe().slots_lost.load(), 1u);
  auto events = read_events({account, while_lost}, 3);  // account snapshot twice, deal snapshot once
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.back().prm_id(), while_lost);
  EXPECT_TRUE(events.back().json["snapshot"].GetBool());
}

TEST_F(PrmCaptureTest, RefusesTablesWithoutForcedRowLevelSecurity) {
  std::string table = "norls_" + name;
  ASSERT_TRUE(admin->execute("CREATE TABLE prm." + table + " (id uuid PRIMARY KEY)").ok());
  PrmBindings bindings = reference_schema_bindings();
  bindings.records.push_back(bindings.records[0]);
  bindings.records.back().table = table;
  PrmCapture unsafe(settings, bindings, state_settings, *producer, logging.logger("capture"),
                    mapping::RetryPolicy{}, [] { return 0.5; });
  std::atomic<bool> never{false};
  auto refused = unsafe.run(never);
  (void)admin->execute("DROP TABLE prm." + table);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("prm." + table + " has row-level security disabled"));
}

}  // namespace
}  // namespace crmsync::connectors::prm
