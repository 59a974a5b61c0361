#pragma once

// The fixture of the whole-sync tests (sync engine, permissions): `crmsync run` with the PRM (real
// PostgreSQL, logical replication), Salesforce and Dataverse (the emulators) and Kafka, as one
// process, and clients acting as the people who edit records on each side.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "connectors/http/url_encoding.h"
#include "connectors/kafka/kafka_consumer.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/prm/prm_table_binding.h"
#include "connectors/salesforce/salesforce_client.h"
#include "daemon/dynamics_side_gateway.h"
#include "daemon/logging.h"
#include "daemon/prm_side_gateway.h"
#include "daemon/salesforce_side_gateway.h"
#include "mapping/mapping_definition.h"
#include "state/file_secret_provider.h"
#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/secret_canary.h"
#include "tests/support/service_env.h"

namespace crmsync::testing {

using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

// The whole sync: `crmsync run` with the PRM (real PostgreSQL, logical replication), Salesforce and
// Dataverse (the emulators), Kafka and the engine, as one process. The test acts as the people
// who edit records on each side and checks what arrives on the others.
// Both emulators accept only the canary client secret, the daemon runs at debug log level, and at
// stop and teardown its output, /metrics and the journal are checked for every canary
// (tests/support/secret_canary.h).
class SyncEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir);
    std::ofstream(secret_file) << kClientSecret;
    ::chmod(secret_file.c_str(), 0600);
    std::ofstream(journal_key_file) << kJournalKey;
    ::chmod(journal_key_file.c_str(), 0600);
    state::StateDatabaseSettings prm_admin;
    prm_admin.url = testing::require_service_env("CRMSYNC_PRM_PG_URL");
    auto db = state::StateDatabase::connect(prm_admin);
    ASSERT_TRUE(db.ok()) << db.error().message;
    prm = std::move(db).value();
    org = scalar("INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {name});

    std::vector<std::string> salesforce_args = salesforce_emulator_args;
    salesforce_args.insert(salesforce_args.end(), {"--client-secret", kClientSecret});
    salesforce_emulator = std::make_unique<testing::CrmEmulator>("salesforce", salesforce_args);
    dynamics_emulator = std::make_unique<testing::CrmEmulator>(
        "dynamics", std::vector<std::string>{"--client-secret", kClientSecret});
    state::StateDatabaseSettings state_settings;
    state_settings.url = testing::require_service_env("CRMSYNC_PG_URL");
    auto state_db = state::StateDatabase::connect(state_settings);
    ASSERT_TRUE(state_db.ok()) << state_db.error().message;
    state = std::move(state_db).value();

    // Clients acting as the users of each CRM, and gateways to read what each side holds.
    sf_transport = connectors::http::make_curl_transport({salesforce_emulator->ca_file(), seconds(10), 4},
                                                         logging.logger("http"));
    connectors::salesforce::SalesforceSettings sf_settings;
    sf_settings.login_url = salesforce_emulator->base_url();
    sf_settings.client_id = "crmsync-emulator-client";
    sf_settings.call_options_client = "test-user";
    sf_client = std::make_unique<connectors::salesforce::SalesforceClient>(
        sf_settings, *sf_transport, secrets, logging.logger("sf"), mapping::RetryPolicy{}, mapping::make_uniform_random(),
        connectors::http::real_sleeper());
    salesforce = std::make_unique<daemon::SalesforceSideGateway>(*sf_client, seconds(30));

    dv_transport = connectors::http::make_curl_transport({dynamics_emulator->ca_file(), seconds(10), 4},
                                                         logging.logger("http"));
    dv_http = std::make_unique<connectors::http::RetryingHttpClient>(*dv_transport, mapping::RetryPolicy{},
                                                                     mapping::make_uniform_random(),
                                                                     connectors::http::real_sleeper(), logging.logger("http"));
    connectors::dynamics::DataverseSettings dv_settings;
    dv_settings.org_url = dynamics_emulator->base_url();
    dv_settings.authority_url = dynamics_emulator->base_url();
    dv_settings.tenant = "crmsync-tenant";
    dv_settings.client_id = "crmsync-emulator-client";
    dv_tokens = std::make_unique<connectors::dynamics::DataverseTokenClient>(dv_settings, *dv_http, secrets,
                                                                             logging.logger("dv"));
    dv_client = std::make_unique<connectors::dynamics::DataverseClient>(dv_settings, *dv_http, *dv_tokens);
    dv_applier = std::make_unique<connectors::dynamics::DataverseApplier>(*dv_client, connectors::dynamics::DataverseApplySettings{},
                                                                          logging.logger("dv"));
    dynamics = std::make_unique<daemon::DynamicsSideGateway>(*dv_client, *dv_applier, seconds(30));

    connectors::prm::PrmConnectionSettings prm_settings;
    prm_settings.url = testing::require_service_env("CRMSYNC_PRM_DAEMON_URL");
    prm_reader = std::make_unique<daemon::PrmSideGateway>(prm_settings, connectors::prm::reference_schema_bindings());
  }

  void TearDown() override {
    if (crmsync) {
      check_metrics_hold_no_secrets();
      crmsync->send_signal(SIGKILL);
      (void)crmsync->wait_for_exit(seconds(10));
      expect_no_secrets_in("the daemon's output", crmsync->output());
    }
    auto journal = state->execute("SELECT string_agg(concat_ws(' ', kind, actor, object, record_id, source, event_id, "
                                  "policy, detail), E'\\n') FROM " + name + ".journal");
    if (journal && !journal.value().empty()) expect_no_secrets_in("the journal", journal.value()[0][0].value_or(""));
    (void)prm->execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       "WHERE slot_name = $1 AND NOT active", {name});
    (void)prm->execute("DELETE FROM prm.deals WHERE account_id IN (SELECT id FROM prm.accounts WHERE name LIKE $1)",
                       {name + "%"});
    (void)prm->execute("DELETE FROM prm.deals WHERE name LIKE $1", {name + "%"});
    (void)prm->execute("DELETE FROM prm.accounts WHERE name LIKE $1", {name + "%"});
    (void)prm->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
    // CRMSYNC_KEEP_TEST_STATE=1 keeps the run's state schema (its journal, records and versions) to
    // read after a failure; the PRM rows go as always (a later run's first sync would read them).
    if (const char* keep = std::getenv("CRMSYNC_KEEP_TEST_STATE"); keep != nullptr && std::string(keep) == "1") {
      std::cerr << "kept the state schema " << name << " (CRMSYNC_KEEP_TEST_STATE=1)\n";
    } else {
      (void)state->execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }
    std::filesystem::remove_all(dir);
  }

  std::string scalar(const std::string& sql, const state::QueryRow& params = {}) {
    auto rows = prm->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("");
  }
  std::string state_scalar(const std::string& sql, const state::QueryRow& params = {}) {
    auto rows = state->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("");
  }

  std::string write_config(const std::string& extra_engine = "", const std::string& group = "",
                           bool salesforce_capture = true) {
    std::string config = (dir / "crmsync.toml").string();
    std::ofstream(config) << "[daemon]\nshutdown_grace = \"20s\"\nhealth_check_interval = \"500ms\"\n"
                          << "[log]\nlevel = \"debug\"\n"
                          << "[admin]\nlisten = \"127.0.0.1:" << port << "\"\n"
                          << "[state]\ndatabase_url = \"" << testing::require_service_env("CRMSYNC_PG_URL")
                          << "\"\nschema = \"" << name << "\"\n"
                          << "[kafka]\nbrokers = [\"" << testing::require_service_env("CRMSYNC_KAFKA_BROKERS")
                          << "\"]\ntopic_prefix = \"" << name << "\"\ngroup_id = \""
                          << (group.empty() ? name : group) << "\"\n"
                          << "[prm]\ndatabase_url = \"" << testing::require_service_env("CRMSYNC_PRM_DAEMON_URL")
                          << "\"\nslot = \"" << name << "\"\nstatus_interval = \"1s\"\n"
                          << "[salesforce]\nlogin_url = \"" << salesforce_emulator->base_url()
                          << "\"\nclient_id = \"crmsync-emulator-client\"\nclient_secret_file = \"" << secret_file.string()
                          << "\"\nca_bundle = \"" << salesforce_emulator->ca_file() << "\"\npoll_interval = \"500ms\"\n"
                          << "capture = " << (salesforce_capture ? "true" : "false") << "\n"
                          << "[dynamics]\norg_url = \"" << dynamics_emulator->base_url() << "\"\nauthority_url = \""
                          << dynamics_emulator->base_url() << "\"\ntenant = \"crmsync-tenant\"\n"
                          << "client_id = \"crmsync-emulator-client\"\nclient_secret_file = \"" << secret_file.string()
                          << "\"\nca_bundle = \"" << dynamics_emulator->ca_file() << "\"\npoll_interval = \"500ms\"\n"
                          << "[engine]\nlinger = \"50ms\"\n" << extra_engine
                          << "[journal]\nkey_file = \"" << journal_key_file.string() << "\"\n";
    return config;
  }

  void start(const std::string& config) {
    crmsync = std::make_unique<ChildProcess>(CRMSYNC_BINARY, std::vector<std::string>{"run", "--config", config});
    auto deadline = std::chrono::steady_clock::now() + seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      auto metrics = testing::http_get(port, "/metrics");
      if (metrics && metrics->body.find("crmsync_prm_capture_streaming 1") != std::string::npos) return;
      if (auto exited = crmsync->wait_for_exit(milliseconds(100))) {
        FAIL() << "crmsync exited with " << *exited << "\n" << crmsync->output();
      }
    }
    FAIL() << "capture did not start streaming\n" << crmsync->output();
  }

  void check_metrics_hold_no_secrets() {
    auto metrics = testing::http_get(port, "/metrics");
    if (metrics) expect_no_secrets_in("/metrics", metrics->body);
  }

  void stop() {
    check_metrics_hold_no_secrets();
    crmsync->send_signal(SIGTERM);
    EXPECT_EQ(crmsync->wait_for_exit(seconds(40)), 0) << crmsync->output();
    expect_no_secrets_in("the daemon's output", crmsync->output());
    crmsync.reset();
  }

  // What `side` holds for the record, in canonical form; nothing if it does not hold it.
  std::optional<CanonicalFields> on(Side side, ObjectKind object, const std::string& prm_id) {
    daemon::SideGateway& gateway = side == Side::prm ? static_cast<daemon::SideGateway&>(*prm_reader)
                                   : side == Side::salesforce ? static_cast<daemon::SideGateway&>(*salesforce)
                                                              : static_cast<daemon::SideGateway&>(*dynamics);
    const auto& object_mapping = mapping.of(object);
    auto read = gateway.read(object, {prm_id}, object_mapping.native_read_names(side));
    if (!read || read.value().empty()) return std::nullopt;
    auto canonical = mapping::to_canonical(object_mapping, side, read.value()[0].fields);
    return canonical.fields;
  }

  std::string side_id(Side side, ObjectKind object, const std::string& prm_id) {
    daemon::SideGateway& gateway = side == Side::salesforce ? static_cast<daemon::SideGateway&>(*salesforce)
                                                            : static_cast<daemon::SideGateway&>(*dynamics);
    auto read = gateway.read(object, {prm_id}, {});
    if (!read || read.value().empty()) return "";
    return read.value()[0].side_id;
  }

  // Waits until `side` holds the record with `field` = `text` (or, with nullopt, no longer holds it).
  bool wait_for(Side side, ObjectKind object, const std::string& prm_id, const std::string& field,
                std::optional<std::string> text, seconds timeout = seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto fields = on(side, object, prm_id);
      if (!text && !fields) return true;
      if (text && fields && fields->count(field) != 0 && fields->at(field).text == *text) return true;
      std::this_thread::sleep_for(milliseconds(200));
    }
    return false;
  }

  bool eventually(const std::function<bool()>& condition, seconds timeout = seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(milliseconds(200));
    }
    return false;
  }

  // Edits a CRM record as one of its users would (by its CRM id).
  void crm_edit(Side side, ObjectKind object, const std::string& prm_id, std::vector<mapping::Field> native) {
    mapping::CrmRecordWrite write;
    write.object = object;
    write.prm_id = prm_id;
    write.crm_id = side_id(side, object, prm_id);
    ASSERT_FALSE(write.crm_id->empty()) << "not on " << mapping::to_string(side);
    write.fields = std::move(native);
    daemon::SideGateway& gateway = side == Side::salesforce ? static_cast<daemon::SideGateway&>(*salesforce)
                                                            : static_cast<daemon::SideGateway&>(*dynamics);
    auto written = gateway.write({write}, "test-user");
    ASSERT_TRUE(written.ok()) << written.error().message;
    ASSERT_FALSE(written.value()[0].error) << written.value()[0].error->message;
  }

  std::string insert_account(const std::string& suffix) {
    return scalar("INSERT INTO prm.accounts (name, website, billing_country, owner_partner_org_id, modified_by_kind) "
                  "VALUES ($1, 'https://example.test', 'DE', $2, 'internal_user') RETURNING id",
                  {name + " " + suffix, org});
  }
  std::string insert_deal(const std::string& account, const std::string& suffix, const std::string& amount) {
    return scalar("INSERT INTO prm.deals (account_id, name, amount, stage, close_date, description, "
                  "owner_partner_org_id, modified_by_kind) VALUES ($1, $2, $3::numeric, 'Prospecting', "
                  "'2027-03-31', 'first draft', $4, 'internal_user') RETURNING id",
                  {account, name + " " + suffix, amount, org});
  }

  int journal_count(const std::string& kind) {
    return std::stoi(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = $1", {kind}));
  }

  std::string name = testing::unique_name("sync");
  std::filesystem::path dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::path secret_file = dir / "client_secret";
  std::filesystem::path journal_key_file = dir / "journal_key";
  unsigned short port = testing::free_local_port();
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>()};
  mapping::MappingDefinition mapping = mapping::default_mapping();
  state::FileSecretProvider secrets{{{"salesforce.client_secret", secret_file}, {"dynamics.client_secret", secret_file}}};
  std::unique_ptr<state::StateDatabase> prm;
  std::unique_ptr<state::StateDatabase> state;
  std::string org;
  std::vector<std::string> salesforce_emulator_args;  // set by a derived fixture's constructor
  std::unique_ptr<testing::CrmEmulator> salesforce_emulator;
  std::unique_ptr<testing::CrmEmulator> dynamics_emulator;
  std::unique_ptr<connectors::http::HttpTransport> sf_transport;
  std::unique_ptr<connectors::salesforce::SalesforceClient> sf_client;
  std::unique_ptr<daemon::SalesforceSideGateway> salesforce;
  std::unique_ptr<connectors::http::HttpTransport> dv_transport;
  std::unique_ptr<connectors::http::RetryingHttpClient> dv_http;
  std::unique_ptr<connectors::dynamics::DataverseTokenClient> dv_tokens;
  std::unique_ptr<connectors::dynamics::DataverseClient> dv_client;
  std::unique_ptr<connectors::dynamics::DataverseApplier> dv_applier;
  std::unique_ptr<daemon::DynamicsSideGateway> dynamics;
  std::unique_ptr<daemon::PrmSideGateway> prm_reader;
  std::unique_ptr<ChildProcess> crmsync;
};

}  // namespace crmsync::testing
