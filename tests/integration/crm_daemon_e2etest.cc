#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "connectors/kafka/kafka_consumer.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "daemon/logging.h"
#include "state/file_secret_provider.h"
#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/secret_canary.h"
#include "tests/support/service_env.h"

namespace crmsync {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using testing::kClientSecret;

// `crmsync run` with a CRM section, against that CRM's emulator: a record that exists there before
// crmsync starts must arrive in Kafka as a captured event. The emulator accepts only the canary
// client secret, crmsync logs at debug level, and neither its output nor /metrics may hold a
// canary.
class CrmInTheDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir);
    std::ofstream(secret_file) << kClientSecret;
    ::chmod(secret_file.c_str(), 0600);
  }
  void TearDown() override {
    state::StateDatabaseSettings state_settings;
    state_settings.url = testing::require_service_env("CRMSYNC_PG_URL");
    if (auto db = state::StateDatabase::connect(state_settings); db) {
      (void)db.value()->execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }
    std::filesystem::remove_all(dir);
  }

  // The configuration: admin, state, kafka (topic prefix = this test's name) and `crm_section`.
  std::string write_config(const std::string& crm_section) {
    std::string config = (dir / "crmsync.toml").string();
    std::ofstream(config) << "[log]\nlevel = \"debug\"\n[admin]\nlisten = \"127.0.0.1:" << port
                          << "\"\n[state]\ndatabase_url = \""
                          << testing::require_service_env("CRMSYNC_PG_URL") << "\"\nschema = \""
                          << name << "\"\n"
                          << "[kafka]\nbrokers = [\""
                          << testing::require_service_env("CRMSYNC_KAFKA_BROKERS")
                          << "\"]\ntopic_prefix = \"" << name << "\"\n"
                          << crm_section;
    return config;
  }

  // The first event on `<name>.changes.<side>` whose PRM id is `prm_id` (60 s at most).
  std::optional<rapidjson::Document> first_event_for(const std::string& side, const std::string& prm_id) {
    connectors::kafka::KafkaSettings kafka;
    kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
    auto consumer = connectors::kafka::KafkaConsumer::create(kafka, testing::unique_name("g"), logging.logger("c"));
    if (!consumer || !consumer.value()->subscribe({name + ".changes." + side})) return std::nullopt;
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto polled = consumer.value()->poll(milliseconds(200));
      if (!polled.ok() || !polled.value()) continue;
      rapidjson::Document event;
      event.Parse(polled.value()->value.c_str());
      if (!event.HasParseError() && event["ids"]["prm"].IsString() && event["ids"]["prm"].GetString() == prm_id) {
        return event;
      }
    }
    return std::nullopt;
  }

  void expect_clean_stop(testing::ChildProcess& crmsync) {
    auto metrics = testing::http_get(port, "/metrics");
    ASSERT_TRUE(metrics) << crmsync.output();
    testing::expect_no_secrets_in("/metrics", metrics->body);
    crmsync.send_signal(SIGTERM);
    EXPECT_EQ(crmsync.wait_for_exit(seconds(25)), 0) << crmsync.output();
    testing::expect_no_secrets_in("the daemon's output", crmsync.output());
  }

  std::string name = testing::unique_name("crmd");
  std::filesystem::path dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::path secret_file = dir / "client_secret";
  unsigned short port = testing::free_local_port();
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>()};
};

TEST_F(CrmInTheDaemon, SalesforceChangesAreCapturedAndTheApiUsageReported) {
  testing::CrmEmulator emulator("salesforce", {"--client-secret", kClientSecret});
  std::string config = write_config("[salesforce]\nlogin_url = \"" + emulator.base_url() +
                                    "\"\nclient_id = \"crmsync-emulator-client\"\nclient_secret_file = \"" +
                                    secret_file.string() + "\"\nca_bundle = \"" + emulator.ca_file() +
                                    "\"\npoll_interval = \"500ms\"\n");
  state::FileSecretProvider secrets({{"salesforce.client_secret", secret_file}});
  auto transport = connectors::http::make_curl_transport({emulator.ca_file(), seconds(5), 2}, logging.logger("http"));
  connectors::salesforce::SalesforceSettings settings;
  settings.login_url = emulator.base_url();
  settings.client_id = "crmsync-emulator-client";
  connectors::salesforce::SalesforceClient client(settings, *transport, secrets, logging.logger("sf"), mapping::RetryPolicy{},
                                                  mapping::make_uniform_random(), connectors::http::real_sleeper());
  connectors::salesforce::SalesforceRecordSink sink(client);
  mapping::CrmRecordWrite write;
  write.prm_id = "daemon-e2e-1";
  write.fields = {{"Name", mapping::FieldValue::string_value("Captured by the daemon")}};
  ASSERT_TRUE(sink.apply({write}, std::chrono::steady_clock::now() + seconds(30)).ok());

  testing::ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  auto event = first_event_for("salesforce", "daemon-e2e-1");
  ASSERT_TRUE(event.has_value()) << crmsync.output();
  EXPECT_EQ(std::string((*event)["source"].GetString()), "salesforce");
  EXPECT_EQ(std::string((*event)["fields"]["Name"].GetString()), "Captured by the daemon");
  auto metrics = testing::http_get(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("crmsync_salesforce_writes_paused 0"));
  EXPECT_THAT(metrics->body, HasSubstr("crmsync_salesforce_api_requests_limit 15000"));
  expect_clean_stop(crmsync);
  EXPECT_THAT(crmsync.output(), HasSubstr("salesforce capture poll"))
      << "the canary check covered debug lines";
}

// SIGTERM while the Salesforce capture waits out a long Retry-After: the wait ends at once and the
// daemon drains within daemon.shutdown_grace and exits 0 (it used to sleep the whole wait and
// overrun the grace, exiting 1).
TEST_F(CrmInTheDaemon, ASigtermDuringARetryWaitDrainsWithinTheShutdownGrace) {
  testing::CrmEmulator emulator("salesforce", {"--client-secret", kClientSecret});
  auto transport = connectors::http::make_curl_transport({emulator.ca_file(), seconds(5), 2}, logging.logger("http"));
  auto fault = transport->send({"POST",
                                emulator.base_url() + "/_emulator/faults",
                                {{"Content-Type", "application/json"}},
                                R"({"method":"GET","path":"/services/data/*/query*","status":503,"retry_after":120})",
                                "add fault"},
                               std::chrono::steady_clock::now() + seconds(10));
  ASSERT_TRUE(fault.ok() && fault.value().status == 200) << (fault ? fault.value().body : fault.error().message);
  std::string config = write_config("[daemon]\nshutdown_grace = \"5s\"\nleader_retry_interval = \"1s\"\n"
                                    "[salesforce]\nlogin_url = \"" + emulator.base_url() +
                                    "\"\nclient_id = \"crmsync-emulator-client\"\nclient_secret_file = \"" +
                                    secret_file.string() + "\"\nca_bundle = \"" + emulator.ca_file() +
                                    "\"\npoll_interval = \"500ms\"\n");
  testing::ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (crmsync.output().find("wait_ms=120000") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_THAT(crmsync.output(), HasSubstr("wait_ms=120000")) << "the capture never started waiting out Retry-After";
  auto signalled = std::chrono::steady_clock::now();
  crmsync.send_signal(SIGTERM);
  EXPECT_EQ(crmsync.wait_for_exit(seconds(30)), 0) << crmsync.output();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, seconds(5)) << crmsync.output();
  EXPECT_THAT(crmsync.output(), HasSubstr("not retried: shutting down"));
  testing::expect_no_secrets_in("the daemon's output", crmsync.output());
}

TEST_F(CrmInTheDaemon, DataverseChangesAreCaptured) {
  testing::CrmEmulator emulator("dynamics", {"--client-secret", kClientSecret});
  std::string config = write_config("[dynamics]\norg_url = \"" + emulator.base_url() + "\"\nauthority_url = \"" +
                                    emulator.base_url() + "\"\ntenant = \"crmsync-tenant\"\n"
                                    "client_id = \"crmsync-emulator-client\"\nclient_secret_file = \"" +
                                    secret_file.string() + "\"\nca_bundle = \"" + emulator.ca_file() +
                                    "\"\npoll_interval = \"500ms\"\n");
  state::FileSecretProvider secrets({{"dynamics.client_secret", secret_file}});
  auto transport = connectors::http::make_curl_transport({emulator.ca_file(), seconds(5), 2}, logging.logger("http"));
  connectors::http::RetryingHttpClient http(*transport, mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                            connectors::http::real_sleeper(), logging.logger("http"));
  connectors::dynamics::DataverseSettings settings;
  settings.org_url = emulator.base_url();
  settings.authority_url = emulator.base_url();
  settings.tenant = "crmsync-tenant";
  settings.client_id = "crmsync-emulator-client";
  connectors::dynamics::DataverseTokenClient tokens(settings, http, secrets, logging.logger("dv"));
  connectors::dynamics::DataverseClient client(settings, http, tokens);
  connectors::dynamics::DataverseApplier applier(client, {}, logging.logger("dv"));
  mapping::CrmRecordWrite write;
  write.prm_id = "dv-daemon-e2e-1";
  write.fields = {{"name", mapping::FieldValue::string_value("Captured from Dataverse")}};
  auto written = applier.apply({write}, std::chrono::steady_clock::now() + seconds(30));
  ASSERT_TRUE(written.ok()) << written.error().message;

  testing::ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  auto event = first_event_for("dynamics", "dv-daemon-e2e-1");
  ASSERT_TRUE(event.has_value()) << crmsync.output();
  EXPECT_EQ(std::string((*event)["source"].GetString()), "dynamics");
  EXPECT_EQ(std::string((*event)["fields"]["name"].GetString()), "Captured from Dataverse");
  expect_clean_stop(crmsync);
}

}  // namespace
}  // namespace crmsync
