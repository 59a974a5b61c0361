#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <thread>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_capture.h"
#include "connectors/dynamics/delta_link_store.h"
#include "connectors/kafka/kafka_consumer.h"
#include "connectors/kafka/kafka_producer.h"
#include "daemon/logging.h"
#include "state/migrator.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::dynamics {
namespace {

using mapping::CanonicalEvent;
using mapping::CrmRecordWrite;
using mapping::ErrorClass;
using mapping::FieldValue;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

class OneSecret : public mapping::SecretProvider {
 public:
  mapping::Result<mapping::SecretString> current(const std::string&) override {
    return mapping::SecretString("crmsync-emulator-secret");
  }
  mapping::Status store_rotated(const std::string&, const mapping::SecretString&) override {
    return mapping::SyncError{ErrorClass::auth, "read-only"};
  }
};

struct Event {
  std::string key;
  rapidjson::Document json;
  std::string op() const { return json["op"].GetString(); }
  std::string dynamics_id() const { return json["ids"]["dynamics"].GetString(); }
  std::string prm_id() const {
    return json["ids"]["prm"].IsString() ? json["ids"]["prm"].GetString() : "";
  }
  bool snapshot() const { return json.HasMember("snapshot") && json["snapshot"].GetBool(); }
  std::string field(const char* name) const {
    return json["fields"].HasMember(name) && json["fields"][name].IsString()
               ? json["fields"][name].GetString()
               : "";
  }
};

// The Dataverse change capture against the emulator (change tracking), a real Kafka and a fresh
// state schema per test (CRMSYNC_PG_URL, CRMSYNC_KAFKA_BROKERS from deploy/dev/services env).
class DataverseCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_settings.brokers = {crmsync::testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
    state_settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
    state_settings.schema = crmsync::testing::unique_name("crmsync_dv");
    auto db = state::StateDatabase::connect(state_settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    state_db = std::move(db).value();
    ASSERT_TRUE(state::migrate(*state_db, state::embedded_migrations(), state::DryRun::no).ok());
    links = std::make_unique<DeltaLinkStore>(*state_db);
    auto created = kafka::KafkaProducer::create(kafka_settings, logging.logger("producer"));
    ASSERT_TRUE(created.ok()) << created.error().message;
    producer = std::move(created).value();
    capture_settings.topic =
        "crmsync.test." + crmsync::testing::unique_name("dv") + ".changes.dynamics";
    capture_settings.org = emulator.base_url();
    capture_settings.tables = {{mapping::ObjectKind::account, {"name", "revenue"}},
                               {mapping::ObjectKind::deal, {"name", "estimatedvalue"}}};
    capture_settings.page_size = 2;  // several pages per baseline
    capture = std::make_unique<DataverseCapture>(client, capture_settings, *links, *producer,
                                                 logging.logger("capture"));
    consumer = make_consumer();
  }

  void TearDown() override {
    if (state_db)
      (void)state_db->execute("DROP SCHEMA IF EXISTS " + state_settings.schema + " CASCADE");
  }

  std::unique_ptr<kafka::KafkaConsumer> make_consumer() {
    auto made = kafka::KafkaConsumer::create(kafka_settings, crmsync::testing::unique_name("g"),
                                             logging.logger("consumer"));
    if (!made) throw std::runtime_error(made.error().message);
    if (!made.value()->subscribe({capture_settings.topic}))
      throw std::runtime_error("subscribe failed");
    return std::move(made).value();
  }

  http::Deadline in(seconds s) { return std::chrono::steady_clock::now() + s; }

  void admin(const std::string& method, const std::string& path, const std::string& body = "") {
    auto answer = transport->send(
        {method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
        in(seconds(10)));
    if (!answer || answer.value().status >= 300) throw std::runtime_error(path + " failed");
  }

  // The next `count` events of the topic, then a short look for extra ones (duplicates).
  std::vector<Event> next_events(std::size_t count) {
    std::vector<Event> events;
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    int quiet = 0;
    while (std::chrono::steady_clock::now() < deadline && (events.size() < count || quiet < 5)) {
      auto polled = consumer->poll(milliseconds(200));
      if (!polled && polled.error().error_class == ErrorClass::transient) continue;
      if (!polled) throw std::runtime_error(polled.error().message);
      if (!polled.value()) {
        if (events.size() >= count) ++quiet;
        continue;
      }
      Event event;
      event.key = polled.value()->key;
      event.json.Parse(polled.value()->value.c_str());
      if (event.json.HasParseError()) throw std::runtime_error("not JSON");
      events.push_back(std::move(event));
    }
    return events;
  }

  CrmRecordWrite account(const std::string& prm_id, const std::string& name) {
    CrmRecordWrite write;
    write.prm_id = prm_id;
    write.fields = {{"name", FieldValue::string_value(name)}};
    return write;
  }

  std::vector<mapping::CrmWriteResult> write(const std::vector<CrmRecordWrite>& writes) {
    auto results = applier.apply(writes, in(seconds(30)));
    if (!results) throw std::runtime_error(results.error().message);
    for (const auto& r : results.value()) {
      if (r.error) throw std::runtime_error(r.error->message);
    }
    return results.value();
  }

  testing::CrmEmulator emulator{"dynamics"};
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>()};
  std::unique_ptr<http::HttpTransport> transport = http::make_curl_transport(
      http::HttpTransportSettings{emulator.ca_file(), seconds(5), 4}, logging.logger("http"));
  http::RetryingHttpClient http{*transport,
                                mapping::RetryPolicy{milliseconds(10), milliseconds(100), 2.0, 0.0},
                                [] { return 0.5; }, [](milliseconds) { return true; }, logging.logger("http")};
  OneSecret secrets;
  DataverseSettings settings{emulator.base_url(), emulator.base_url(), "crmsync-tenant",
                             "crmsync-emulator-client"};
  DataverseTokenClient tokens{settings, http, secrets, logging.logger("dynamics")};
  DataverseClient client{settings, http, tokens};
  DataverseApplier applier{client, DataverseApplySettings{}, logging.logger("dynamics")};
  kafka::KafkaSettings kafka_settings;
  state::StateDatabaseSettings state_settings;
  std::unique_ptr<state::StateDatabase> state_db;
  std::unique_ptr<DeltaLinkStore> links;
  std::unique_ptr<kafka::KafkaProducer> producer;
  DataverseCaptureSettings capture_settings;
  std::unique_ptr<DataverseCapture> capture;
  std::unique_ptr<kafka::KafkaConsumer> consumer;
};

TEST_F(DataverseCaptureTest, BaselineThenDeltaWithCreateUpdateDelete) {
  auto existing =
      write({account("cap-1", "First"), account("cap-2", "Second"), account("cap-3", "Third")});

  auto baseline = capture->poll_once(in(seconds(60)));
  ASSERT_TRUE(baseline.ok()) << baseline.error().message;
  EXPECT_EQ(baseline.value().baselines, 2u);
  EXPECT_EQ(baseline.value().upserts, 3u);
  auto events = next_events(3);
  ASSERT_EQ(events.size(), 3u);
  std::map<std::string, std::string> names;
  for (const auto& event : events) {
    EXPECT_EQ(event.op(), "upsert");
    EXPECT_TRUE(event.snapshot());
    EXPECT_EQ(event.key, "account:dynamics:" + event.dynamics_id());
    names[event.prm_id()] = event.field("name");
  }
  EXPECT_EQ(names, (std::map<std::string, std::string>{
                       {"cap-1", "First"}, {"cap-2", "Second"}, {"cap-3", "Third"}}));
  auto stored = links->load(emulator.base_url(), "accounts");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored.value().has_value()) << "the delta link is stored after Kafka acknowledged";
  EXPECT_THAT(*stored.value(), HasSubstr("$deltatoken="));

  // Nothing changed: an empty delta.
  auto idle = capture->poll_once(in(seconds(60)));
  ASSERT_TRUE(idle.ok()) << idle.error().message;
  EXPECT_EQ(idle.value().upserts + idle.value().deletes, 0u);
  EXPECT_EQ(idle.value().baselines, 0u);

  write({account("cap-2", "Second, renamed"), account("cap-4", "Fourth")});
  CrmRecordWrite remove;
  remove.op = CanonicalEvent::Operation::remove;
  remove.prm_id = "cap-3";
  write({remove});
  auto delta = capture->poll_once(in(seconds(60)));
  ASSERT_TRUE(delta.ok()) << delta.error().message;
  EXPECT_EQ(delta.value().upserts, 2u);
  EXPECT_EQ(delta.value().deletes, 1u);
  events = next_events(3);
  ASSERT_EQ(events.size(), 3u) << "no duplicates of the baseline, nothing missing";
  EXPECT_EQ(events[0].op(), "upsert");
  EXPECT_EQ(events[1].op(), "upsert");
  EXPECT_FALSE(events[0].snapshot());
  std::map<std::string, std::string> changed{{events[0].prm_id(), events[0].field("name")},
                                             {events[1].prm_id(), events[1].field("name")}};
  EXPECT_EQ(changed, (std::map<std::string, std::string>{{"cap-2", "Second, renamed"},
                                                         {"cap-4", "Fourth"}}));
  EXPECT_EQ(events[2].op(), "delete");
  EXPECT_EQ(events[2].dynamics_id(), *existing[2].crm_id);
  EXPECT_EQ(events[2].key, "account:dynamics:" + *existing[2].crm_id);
}

// An event's occurred_at is the row's modifiedon (latest_wins compares occurred_at across sides;
// it used to be the capture's own clock), in the baseline and in deltas; it is not a record field.
TEST_F(DataverseCaptureTest, EventsCarryTheRowsModifiedOnNotTheCapturesClock) {
  admin("POST", "/_emulator/clock", R"({"now":"2026-01-02T03:04:05Z"})");
  write({account("when-1", "Timed")});
  ASSERT_TRUE(capture->poll_once(in(seconds(60))).ok());
  auto events = next_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::string(events[0].json["occurred_at"].GetString()), "2026-01-02T03:04:05Z");
  EXPECT_FALSE(events[0].json["fields"].HasMember("modifiedon"));

  admin("POST", "/_emulator/clock", R"({"now":"2026-01-02T03:09:00Z"})");
  write({account("when-1", "Timed, renamed")});
  ASSERT_TRUE(capture->poll_once(in(seconds(60))).ok());
  events = next_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].field("name"), "Timed, renamed");
  EXPECT_EQ(std::string(events[0].json["occurred_at"].GetString()), "2026-01-02T03:09:00Z");
  admin("POST", "/_emulator/clock", R"({"resume":true})");
}

TEST_F(DataverseCaptureTest, ExpiredDeltaTokenTriggersARecordedRebaseline) {
  write({account("old-1", "Old one"), account("old-2", "Old two")});
  ASSERT_TRUE(capture->poll_once(in(seconds(60))).ok());
  EXPECT_EQ(next_events(2).size(), 2u);

  // Change tracking keeps 30 days; the emulator's clock moves past that (tokens expire too, and
  // are renewed on the 401).
  admin("POST", "/_emulator/clock", R"({"advance_seconds":2678400})");
  write({account("new-1", "After the gap")});
  auto pass = capture->poll_once(in(seconds(60)));
  ASSERT_TRUE(pass.ok()) << pass.error().message;
  EXPECT_EQ(pass.value().rebaselines, 2u) << "both entity sets had stale links";
  EXPECT_EQ(pass.value().baselines, 2u);
  EXPECT_EQ(pass.value().upserts, 3u) << "the whole table again";
  auto events = next_events(3);
  ASSERT_EQ(events.size(), 3u);
  for (const auto& event : events) EXPECT_TRUE(event.snapshot());
  auto count = links->rebaseline_count(emulator.base_url(), "accounts");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count.value(), 1);
  EXPECT_EQ(capture->probe().rebaselines, 2u);

  // And the new link works.
  auto after = capture->poll_once(in(seconds(60)));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after.value().rebaselines, 0u);
}

TEST_F(DataverseCaptureTest, LinkIsNotStoredWhenKafkaDidNotAcknowledge) {
  write({account("unacked-1", "Unacknowledged")});
  kafka::KafkaSettings nowhere;
  nowhere.brokers = {"127.0.0.1:1"};
  nowhere.delivery_timeout = milliseconds(1500);
  nowhere.request_timeout = milliseconds(1000);
  auto broken = kafka::KafkaProducer::create(nowhere, logging.logger("producer"));
  ASSERT_TRUE(broken.ok()) << broken.error().message;
  DataverseCaptureSettings short_ack = capture_settings;
  short_ack.ack_timeout = milliseconds(5000);
  DataverseCapture failing{client, short_ack, *links, *broken.value(), logging.logger("capture")};
  auto pass = failing.poll_once(in(seconds(30)));
  ASSERT_FALSE(pass.ok());
  auto stored = links->load(emulator.base_url(), "accounts");
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored.value().has_value()) << "nothing acknowledged, nothing stored";

  // The real producer then reads the same baseline.
  auto retried = capture->poll_once(in(seconds(60)));
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried.value().upserts, 1u);
}

TEST_F(DataverseCaptureTest, RunLoopPicksUpChangesUntilStopped) {
  std::atomic<bool> stop{false};
  mapping::Status outcome = mapping::ok_status();
  std::thread loop([&] {
    outcome = capture->run(stop, milliseconds(100), seconds(30),
                           mapping::RetryPolicy{milliseconds(50), milliseconds(200), 2.0, 0.0},
                           [] { return 0.5; });
  });
  write({account("loop-1", "Looped")});
  auto events = next_events(1);
  write({account("loop-1", "Looped again")});
  auto more = next_events(1);
  stop = true;
  loop.join();
  EXPECT_TRUE(outcome.ok()) << outcome.error().message;
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].prm_id(), "loop-1");
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].field("name"), "Looped again");
  EXPECT_GE(capture->probe().passes, 2u);
}

TEST_F(DataverseCaptureTest, SharingTravelsWithCapturedRecordsThroughThePrincipalMap) {
  const std::string team_a = "6a1e0000-0000-4000-8000-0000000000a1";
  const std::string team_b = "6a1e0000-0000-4000-8000-0000000000b1";
  const std::string internal = "6a1e0000-0000-4000-8000-0000000000c1";
  admin(
      "POST", "/_emulator/seed",
      fmt::format(
          R"({{"records":{{"teams":[{{"teamid":"{}","name":"A"}},{{"teamid":"{}","name":"B"}},{{"teamid":"{}","name":"Sales"}}]}}}})",
          team_a, team_b, internal));
  CrmRecordWrite owned = account("shared-cap-1", "Shared");
  owned.owner_id = team_a;
  auto written = write({owned});
  std::vector<mapping::CrmShareWrite> shares(2);
  shares[0].crm_record_id = shares[1].crm_record_id = *written[0].crm_id;
  shares[0].principal_id = team_b;
  shares[0].access = mapping::ShareGrant::Access::edit;
  shares[1].principal_id = internal;
  auto granted = applier.apply_shares(shares, in(seconds(30)));
  ASSERT_TRUE(granted.ok());
  for (const auto& status : granted.value()) ASSERT_TRUE(status.ok()) << status.error().message;

  capture_settings.principal_map = [&](const std::string&,
                                       const std::string& id) -> std::optional<std::string> {
    if (id == team_a) return "partner_org:org-a";
    if (id == team_b) return "partner_org:org-b";
    return std::nullopt;  // the internal sales team is no partner's
  };
  DataverseCapture sharing{client, capture_settings, *links, *producer, logging.logger("capture")};
  auto pass = sharing.poll_once(in(seconds(60)));
  ASSERT_TRUE(pass.ok()) << pass.error().message;
  auto events = next_events(1);
  ASSERT_EQ(events.size(), 1u);
  const auto& json = events[0].json["sharing"];
  ASSERT_TRUE(json["owner"]["partner_org"].IsString());
  EXPECT_EQ(std::string(json["owner"]["partner_org"].GetString()), "org-a");
  ASSERT_EQ(json["grants"].Size(), 1u) << "the internal team is left out";
  EXPECT_EQ(std::string(json["grants"][0]["principal"].GetString()), "partner_org:org-b");
  EXPECT_EQ(std::string(json["grants"][0]["access"].GetString()), "edit");
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
