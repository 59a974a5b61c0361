// Leader election for capture (issue #10): two `crmsync run` processes on one configuration (own
// admin port and instance id each); exactly one captures, changes arrive once, and when the leader
// is killed -9 the other takes capture over within leader_retry_interval + the fence.

#include <rapidjson/document.h>

#include <optional>
#include <set>
#include <sstream>

#include "tests/integration/sync_engine_fixture.h"

namespace crmsync {
namespace {

using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

class LeaderElection : public testing::SyncEngine {
 protected:
  void TearDown() override {
    if (second) {
      if (auto metrics = testing::http_get(second_port, "/metrics"))
        testing::expect_no_secrets_in("/metrics", metrics->body);
      second->send_signal(SIGKILL);
      (void)second->wait_for_exit(seconds(10));
      testing::expect_no_secrets_in("the second daemon's output", second->output());
      second.reset();
    }
    SyncEngine::TearDown();
  }

  // The fixture's configuration with this instance's id and admin port, and a 1 s retry interval.
  std::string config_for(const std::string& instance, unsigned short admin_port) {
    std::ifstream in(write_config());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto replace = [&](const std::string& from, const std::string& to) {
      auto at = text.find(from);
      if (at == std::string::npos) throw std::runtime_error("config lacks " + from);
      text.replace(at, from.size(), to);
    };
    replace("[daemon]\n",
            "[daemon]\ninstance_id = \"" + instance + "\"\nleader_retry_interval = \"1s\"\n");
    replace("listen = \"127.0.0.1:" + std::to_string(port) + "\"",
            "listen = \"127.0.0.1:" + std::to_string(admin_port) + "\"");
    std::string path = (dir / (instance + ".toml")).string();
    std::ofstream(path) << text;
    return path;
  }

  // The value of an unlabelled series on a process's /metrics; nothing when it does not answer.
  static std::optional<double> metric(unsigned short admin_port, const std::string& series) {
    auto metrics = testing::http_get(admin_port, "/metrics");
    if (!metrics || metrics->status != 200) return std::nullopt;
    std::string line_start = "\n" + series + " ";
    auto at = ("\n" + metrics->body).find(line_start);
    if (at == std::string::npos) return std::nullopt;
    return std::stod(metrics->body.substr(at + line_start.size() - 1));
  }

  // How many accounts named `account_name` each CRM holds.
  int salesforce_count(const std::string& account_name) {
    auto answer = sf_client->request(
        "GET",
        "query?q=" + connectors::http::percent_encode("SELECT COUNT() FROM Account WHERE Name = '" +
                                                      account_name + "'"),
        "", "count", std::chrono::steady_clock::now() + seconds(30), false);
    if (!answer) return -1;
    auto at = answer.value().body.find("\"totalSize\":");
    return at == std::string::npos ? -1 : std::stoi(answer.value().body.substr(at + 12));
  }
  int dynamics_count(const std::string& account_name) {
    connectors::dynamics::DataverseRequest query;
    query.target = "accounts?$select=accountid&$filter=" +
                   connectors::http::percent_encode("name eq '" + account_name + "'");
    query.description = "count accounts";
    auto answer = dv_client->send(query, std::chrono::steady_clock::now() + seconds(30));
    if (!answer) return -1;
    rapidjson::Document body;
    body.Parse(answer.value().body.c_str());
    if (body.HasParseError() || !body.HasMember("value") || !body["value"].IsArray()) return -1;
    return static_cast<int>(body["value"].Size());
  }

  // The distinct event ids on <name>.changes.<side> about the record (a re-sent event keeps its
  // id).
  std::set<std::string> events_about(const std::string& side, const std::string& prm_id) {
    connectors::kafka::KafkaSettings kafka;
    kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
    auto consumer = connectors::kafka::KafkaConsumer::create(kafka, testing::unique_name("g"),
                                                             logging.logger("c"));
    std::set<std::string> ids;
    if (!consumer || !consumer.value()->subscribe({name + ".changes." + side})) return ids;
    // Read until the topic has been quiet for 3 s (after the first record).
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    auto quiet_until = std::chrono::steady_clock::now() + seconds(15);
    while (std::chrono::steady_clock::now() < std::min(deadline, quiet_until)) {
      auto polled = consumer.value()->poll(milliseconds(200));
      if (!polled.ok() || !polled.value()) continue;
      quiet_until = std::chrono::steady_clock::now() + seconds(3);
      rapidjson::Document event;
      event.Parse(polled.value()->value.c_str());
      if (event.HasParseError() || !event.HasMember("ids") || !event["ids"].HasMember("prm") ||
          !event["ids"]["prm"].IsString() || event["ids"]["prm"].GetString() != prm_id) {
        continue;
      }
      ids.insert(event["event_id"].GetString());
    }
    consumer.value()->close();
    return ids;
  }

  std::string heartbeat_pipelines(const std::string& instance) {
    return state_scalar(
        "SELECT pipelines FROM " + name + ".daemon_heartbeats WHERE instance_id = $1", {instance});
  }

  std::unique_ptr<ChildProcess> second;
  unsigned short second_port = testing::free_local_port();
};

TEST_F(LeaderElection, ExactlyOneReplicaCapturesAndAnotherTakesOverAfterKill9) {
  std::string config_a = config_for("replica-a", port);
  std::string config_b = config_for("replica-b", second_port);
  // Both at once: the lock decides, not the start order.
  crmsync = std::make_unique<ChildProcess>(CRMSYNC_BINARY,
                                           std::vector<std::string>{"run", "--config", config_a});
  second = std::make_unique<ChildProcess>(CRMSYNC_BINARY,
                                          std::vector<std::string>{"run", "--config", config_b});
  auto outputs = [&] {
    return "--- replica-a\n" + crmsync->output() + "\n--- replica-b\n" + second->output();
  };

  ASSERT_TRUE(eventually(
      [&] {
        auto a = metric(port, "crmsync_capture_leader");
        auto b = metric(second_port, "crmsync_capture_leader");
        return a && b && *a + *b == 1 &&
               metric(*a == 1 ? port : second_port, "crmsync_prm_capture_streaming") == 1.0;
      },
      seconds(90)))
      << outputs();
  bool a_leads = metric(port, "crmsync_capture_leader") == 1.0;
  ChildProcess& leader = a_leads ? *crmsync : *second;
  ChildProcess& standby = a_leads ? *second : *crmsync;
  unsigned short leader_port = a_leads ? port : second_port;
  unsigned short standby_port = a_leads ? second_port : port;
  std::string standby_instance = a_leads ? "replica-b" : "replica-a";
  std::string leader_instance = a_leads ? "replica-a" : "replica-b";
  // It stays that way: never both (sampled for 3 s).
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(metric(leader_port, "crmsync_capture_leader"), 1.0) << outputs();
    EXPECT_EQ(metric(standby_port, "crmsync_capture_leader"), 0.0) << outputs();
    EXPECT_EQ(metric(standby_port, "crmsync_prm_capture_streaming"), 0.0) << outputs();
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_THAT(standby.output(), ::testing::HasSubstr("capture leadership: standing by"));
  EXPECT_THAT(leader.output(), ::testing::HasSubstr("capture leadership acquired"));
  ASSERT_TRUE(eventually([&] {
    return heartbeat_pipelines(standby_instance).find("standby") != std::string::npos;
  })) << heartbeat_pipelines(standby_instance);
  EXPECT_THAT(heartbeat_pipelines(standby_instance), ::testing::HasSubstr("\"apply\":\"running\""));
  EXPECT_THAT(heartbeat_pipelines(leader_instance),
              ::testing::HasSubstr("\"prm_capture\":\"running\""));

  // A PRM change arrives in each CRM once, captured once.
  std::string before = insert_account("before");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, before, "name", name + " before"))
      << outputs();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, before, "name", name + " before"))
      << outputs();
  EXPECT_EQ(salesforce_count(name + " before"), 1);
  EXPECT_EQ(dynamics_count(name + " before"), 1);
  EXPECT_EQ(events_about("prm", before).size(), 1u);

  // kill -9 the leader: PostgreSQL ends its session and so releases the lock.
  auto killed_at = std::chrono::steady_clock::now();
  leader.send_signal(SIGKILL);
  ASSERT_TRUE(leader.wait_for_exit(seconds(10)).has_value());
  ASSERT_TRUE(eventually([&] { return metric(standby_port, "crmsync_capture_leader") == 1.0; },
                         seconds(30)))
      << outputs();
  auto took_over =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at);
  ASSERT_TRUE(eventually(
      [&] { return metric(standby_port, "crmsync_prm_capture_streaming") == 1.0; }, seconds(30)))
      << outputs();
  auto streaming =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at);
  std::cout << "[ measured ] takeover after kill -9: leader in " << took_over.count()
            << " ms, PRM capture streaming in " << streaming.count()
            << " ms (leader_retry_interval 1 s)\n";
  // leader_retry_interval (1 s) + the fence (4 s) + the main loop's tick (1 s) + scrape slack.
  EXPECT_LT(took_over, seconds(8)) << outputs();
  EXPECT_EQ(metric(standby_port, "crmsync_capture_leadership_changes_total"), 1.0);

  // A PRM change made after the kill arrives in both CRMs once.
  std::string after = insert_account("after");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, after, "name", name + " after"))
      << outputs();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, after, "name", name + " after"))
      << outputs();
  EXPECT_EQ(salesforce_count(name + " after"), 1);
  EXPECT_EQ(dynamics_count(name + " after"), 1);
  EXPECT_EQ(events_about("prm", after).size(), 1u);

  // The Salesforce capture runs on the new leader: a change made there reaches the PRM and
  // Dataverse.
  ASSERT_NO_FATAL_FAILURE(crm_edit(Side::salesforce, ObjectKind::account, before,
                                   {{"Name", FieldValue::string_value(name + " renamed")}}));
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::account, before, "name", name + " renamed"))
      << outputs();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, before, "name", name + " renamed"))
      << outputs();
  EXPECT_EQ(dynamics_count(name + " renamed"), 1);

  // The survivor stops cleanly (SIGTERM), giving the lock back.
  auto metrics = testing::http_get(standby_port, "/metrics");
  ASSERT_TRUE(metrics);
  testing::expect_no_secrets_in("/metrics", metrics->body);
  standby.send_signal(SIGTERM);
  EXPECT_EQ(standby.wait_for_exit(seconds(40)), 0) << outputs();
  testing::expect_no_secrets_in("the daemon's output", standby.output());
  testing::expect_no_secrets_in("the daemon's output", leader.output());
  // The leadership story, as an operator reads it in the logs.
  for (ChildProcess* process : {&leader, &standby}) {
    std::istringstream lines(process->output());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("capture leadership") != std::string::npos)
        std::cout << (process == &leader ? "[old leader] " : "[new leader] ") << line << "\n";
    }
  }
}

}  // namespace
}  // namespace crmsync
