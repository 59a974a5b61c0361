#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
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
#include "tests/support/service_env.h"

namespace crmsync {
namespace {

using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

constexpr const char* kClientSecret = "crmsync-emulator-secret";
// base64 of 32 bytes: the journal's HMAC key for these tests.
constexpr const char* kJournalKey = "c3luYy1lbmdpbmUtZTJlLWpvdXJuYWwta2V5LTMyYnl0ZXMhIQ==";

// The whole sync: `crmsync run` with the PRM (real PostgreSQL, logical replication), Salesforce and
// Dataverse (the emulators), Kafka and the engine, as one process. The test acts as the people
// who edit records on each side and checks what arrives on the others.
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

    salesforce_emulator = std::make_unique<testing::CrmEmulator>("salesforce");
    dynamics_emulator = std::make_unique<testing::CrmEmulator>("dynamics");
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
      crmsync->send_signal(SIGKILL);
      (void)crmsync->wait_for_exit(seconds(10));
    }
    (void)prm->execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       "WHERE slot_name = $1 AND NOT active", {name});
    (void)prm->execute("DELETE FROM prm.deals WHERE account_id IN (SELECT id FROM prm.accounts WHERE name LIKE $1)",
                       {name + "%"});
    (void)prm->execute("DELETE FROM prm.deals WHERE name LIKE $1", {name + "%"});
    (void)prm->execute("DELETE FROM prm.accounts WHERE name LIKE $1", {name + "%"});
    (void)prm->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
    (void)state->execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
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
                          << (std::getenv("CRMSYNC_TEST_DEBUG") != nullptr ? "[log]\nlevel = \"debug\"\n" : "")
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

  void stop() {
    crmsync->send_signal(SIGTERM);
    EXPECT_EQ(crmsync->wait_for_exit(seconds(40)), 0) << crmsync->output();
    EXPECT_THAT(crmsync->output(), ::testing::Not(::testing::HasSubstr(kClientSecret)));
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

TEST_F(SyncEngine, CreatesUpdatesAndDeletesFromEachSideArriveOnTheOtherTwo) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));

  // PRM → both CRMs.
  std::string account = insert_account("acme");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "name", name + " acme")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "name", name + " acme")) << crmsync->output();
  EXPECT_EQ(on(Side::salesforce, ObjectKind::account, account)->at("billing_country").text, "DE");
  std::string deal = insert_deal(account, "big deal", "1000");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "1000.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "1000.00")) << crmsync->output();
  auto sf_deal = on(Side::salesforce, ObjectKind::deal, deal);
  EXPECT_EQ(sf_deal->at("stage").text, "prospecting");
  EXPECT_EQ(sf_deal->at("close_date").text, "2027-03-31");
  EXPECT_EQ(sf_deal->at("account").text, side_id(Side::salesforce, ObjectKind::account, account));
  EXPECT_EQ(on(Side::dynamics, ObjectKind::deal, deal)->at("account").text,
            side_id(Side::dynamics, ObjectKind::account, account));

  // PRM update.
  scalar("UPDATE prm.deals SET amount = 1500, modified_by_kind = 'internal_user' WHERE id = $1 RETURNING id", {deal});
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "1500.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "1500.00")) << crmsync->output();

  // Salesforce update → PRM and Dataverse.
  crm_edit(Side::salesforce, ObjectKind::deal, deal, {{"Amount", FieldValue::number_value("2500")}});
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "amount", "2500.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "2500.00")) << crmsync->output();

  // Dataverse update → PRM and Salesforce.
  crm_edit(Side::dynamics, ObjectKind::deal, deal, {{"name", FieldValue::string_value(name + " renamed in dv")}});
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "name", name + " renamed in dv")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "name", name + " renamed in dv")) << crmsync->output();

  // Created in Salesforce (no PRM id there yet) → a PRM account and a Dataverse account, and the
  // Salesforce record gets the PRM id, so nothing is duplicated.
  auto created = sf_client->request("POST", "sobjects/Account",
                                    fmt::format(R"({{"Name":"{} born in salesforce","BillingCountry":"FR"}})", name),
                                    "create Account", std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::string born_id;
  ASSERT_TRUE(eventually([&] {
    born_id = scalar("SELECT id::text FROM prm.accounts WHERE name = $1", {name + " born in salesforce"});
    return !born_id.empty();
  })) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, born_id, "name", name + " born in salesforce"))
      << "the Salesforce account did not get its PRM id\n" << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, born_id, "billing_country", "FR")) << crmsync->output();

  // Created in Dataverse (no PRM id there yet) → a PRM account and a Salesforce account; the
  // Dataverse record gets the PRM id.
  connectors::dynamics::DataverseRequest create;
  create.method = "POST";
  create.target = "accounts";
  create.headers = {{"Content-Type", "application/json"}};
  create.body = fmt::format(R"({{"name":"{} born in dataverse","address1_country":"NL"}})", name);
  create.description = "create account";
  auto dv_created = dv_client->send(create, std::chrono::steady_clock::now() + seconds(30));
  ASSERT_TRUE(dv_created.ok()) << dv_created.error().message;
  std::string dv_born;
  ASSERT_TRUE(eventually([&] {
    dv_born = scalar("SELECT id::text FROM prm.accounts WHERE name = $1", {name + " born in dataverse"});
    return !dv_born.empty();
  })) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, dv_born, "name", name + " born in dataverse"))
      << "the Dataverse account did not get its PRM id\n" << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, dv_born, "billing_country", "NL")) << crmsync->output();

  // Delete in Salesforce → gone from the PRM and Dataverse.
  mapping::CrmRecordWrite sf_remove;
  sf_remove.object = ObjectKind::account;
  sf_remove.op = mapping::CanonicalEvent::Operation::remove;
  sf_remove.prm_id = dv_born;
  sf_remove.crm_id = side_id(Side::salesforce, ObjectKind::account, dv_born);
  auto sf_removed = salesforce->write({sf_remove}, "test-user");
  ASSERT_TRUE(sf_removed.ok() && !sf_removed.value()[0].error);
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::account, dv_born, "", std::nullopt)) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, dv_born, "", std::nullopt)) << crmsync->output();

  // Delete in the PRM → gone from both CRMs.
  scalar("DELETE FROM prm.deals WHERE id = $1 RETURNING id", {deal});
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "", std::nullopt)) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "", std::nullopt)) << crmsync->output();

  // Delete in Dataverse → gone from the PRM and Salesforce.
  std::string dv_account = side_id(Side::dynamics, ObjectKind::account, born_id);
  mapping::CrmRecordWrite remove;
  remove.object = ObjectKind::account;
  remove.op = mapping::CanonicalEvent::Operation::remove;
  remove.prm_id = born_id;
  remove.crm_id = dv_account;
  auto removed = dynamics->write({remove}, "test-user");
  ASSERT_TRUE(removed.ok() && !removed.value()[0].error);
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::account, born_id, "", std::nullopt)) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, born_id, "", std::nullopt)) << crmsync->output();

  // Nothing came back as a new change: our own writes were recognised.
  EXPECT_GT(journal_count("applied"), 5);
  EXPECT_EQ(journal_count("dead_lettered"), 0) << crmsync->output();
  stop();
}

TEST_F(SyncEngine, ConcurrentEditsResolveByEachFieldsPolicy) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  std::string account = insert_account("conflicts");
  std::string deal = insert_deal(account, "conflicted", "100");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://example.test"));
  stop();

  // Between two syncs, the same fields are edited in the PRM and in Salesforce; Salesforce last.
  scalar("UPDATE prm.accounts SET website = 'https://prm.example', name = $2, modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING id",
         {account, name + " conflicts prm"});
  scalar("UPDATE prm.deals SET stage = 'Qualification', description = 'prm text', modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING id",
         {deal});
  std::this_thread::sleep_for(milliseconds(1100));  // Salesforce stamps whole milliseconds; make it clearly later
  crm_edit(Side::salesforce, ObjectKind::account, account,
           {{"Website", FieldValue::string_value("https://sf.example")}, {"Name", FieldValue::string_value(name + " conflicts sf")}});
  crm_edit(Side::salesforce, ObjectKind::deal, deal,
           {{"StageName", FieldValue::string_value("Negotiation/Review")}, {"Description", FieldValue::string_value("sf text")}});

  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  // website: prm_wins. name: latest_wins (Salesforce edited last). stage: crm_wins.
  EXPECT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "website", "https://prm.example")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::account, account, "name", name + " conflicts sf")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://prm.example"));
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "name", name + " conflicts sf"));
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "stage", "negotiation")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "stage", "negotiation"));
  // description: manual — queued, and each side keeps its own text.
  ASSERT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".conflicts WHERE record_id = $1 AND field = 'description' "
                        "AND status = 'open'", {deal}) == "1";
  })) << crmsync->output();
  EXPECT_EQ(on(Side::prm, ObjectKind::deal, deal)->at("description").text, "prm text");
  EXPECT_EQ(on(Side::salesforce, ObjectKind::deal, deal)->at("description").text, "sf text");
  // The journal says how each was decided.
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "record_id = $1 AND policy = 'prm_wins' AND detail LIKE '%\"website\"%'", {account}), "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "record_id = $1 AND policy = 'latest_wins' AND detail LIKE '%\"winner\":\"salesforce\"%'",
                         {account}), "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "record_id = $1 AND policy = 'crm_wins'", {deal}), "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict' AND "
                         "record_id = $1 AND policy = 'manual'", {deal}), "1");
  stop();
}

TEST_F(SyncEngine, RedeliveryChangesNothingAndAKilledDaemonAppliesEveryChangeOnce) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  std::string account = insert_account("burst");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "name", name + " burst")) << crmsync->output();
  // A 1,000-change burst: 200 deals, each created and then updated four times.
  std::vector<std::string> deals;
  for (int i = 0; i < 200; ++i) deals.push_back(insert_deal(account, "burst " + std::to_string(i), std::to_string(i)));
  std::thread updates([&] {
    for (int round = 1; round <= 4; ++round) {
      for (int i = 0; i < 200; ++i) {
        (void)prm->execute("UPDATE prm.deals SET amount = $2::numeric, modified_by_kind = 'internal_user' WHERE id = $1",
                           {deals[i], std::to_string(i * 10 + round)});
      }
    }
  });
  // Kill -9 while the burst is being applied.
  ASSERT_TRUE(eventually([&] { return journal_count("applied") > 150; }, seconds(120))) << crmsync->output();
  crmsync->send_signal(SIGKILL);
  (void)crmsync->wait_for_exit(seconds(10));
  crmsync.reset();
  updates.join();
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  for (int i = 0; i < 200; ++i) {
    std::string expected = fmt::format("{}.00", i * 10 + 4);
    ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deals[i], "amount", expected, seconds(180)))
        << "deal " << i << "\n" << crmsync->output();
    ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deals[i], "amount", expected, seconds(60))) << "deal " << i;
    auto prm_fields = on(Side::prm, ObjectKind::deal, deals[i]);
    auto sf_fields = on(Side::salesforce, ObjectKind::deal, deals[i]);
    auto dv_fields = on(Side::dynamics, ObjectKind::deal, deals[i]);
    for (const char* field : {"name", "amount", "stage", "close_date", "description"}) {
      EXPECT_EQ(sf_fields->at(field), prm_fields->at(field)) << field << " deal " << i;
      EXPECT_EQ(dv_fields->at(field), prm_fields->at(field)) << field << " deal " << i;
    }
  }
  // No duplicates: every deal exists once on each CRM, and no event was applied twice.
  auto sf_count = sf_client->request("GET", "query?q=" + std::string("SELECT+COUNT()+FROM+Opportunity"), "", "count",
                                     std::chrono::steady_clock::now() + seconds(30), false);
  ASSERT_TRUE(sf_count.ok());
  EXPECT_THAT(sf_count.value().body, ::testing::HasSubstr("\"totalSize\":200"));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM (SELECT event_id FROM " + name +
                         ".journal WHERE event_id <> '' AND kind = 'applied' GROUP BY event_id HAVING count(*) > 1) d"),
            "0");
  stop();

  // Re-delivery of every topic from offset 0 (a new consumer group) changes nothing: every event
  // the first group applied is found applied, no record's base moves, nothing is written again.
  std::string applied_journal = std::to_string(journal_count("applied"));
  std::string bases_before = state_scalar("SELECT md5(string_agg(base, '|' ORDER BY record_id)) FROM " + name + ".sync_records");
  long long applied_before = std::stoll(state_scalar("SELECT count(*) FROM " + name + ".applied_events"));
  ASSERT_NO_FATAL_FAILURE(start(write_config("", name + "-replay")));
  auto duplicates = [&]() -> long long {
    auto metrics = testing::http_get(port, "/metrics");
    if (!metrics) return -1;
    const std::string label = "crmsync_events_applied_total{outcome=\"duplicate\"} ";
    auto at = metrics->body.find(label);
    return at == std::string::npos ? -1 : std::stoll(metrics->body.substr(at + label.size()));
  };
  ASSERT_TRUE(eventually([&] { return duplicates() >= applied_before; }, seconds(120)))
      << "duplicates=" << duplicates() << " applied before=" << applied_before << "\n" << crmsync->output();
  EXPECT_EQ(std::to_string(journal_count("applied")), applied_journal);
  EXPECT_EQ(state_scalar("SELECT md5(string_agg(base, '|' ORDER BY record_id)) FROM " + name + ".sync_records"),
            bases_before);
  stop();
}

TEST_F(SyncEngine, ADealArrivingBeforeItsAccountIsParkedThenApplied) {
  // Salesforce capture off: the test feeds the Salesforce topic itself, deal first.
  std::string config = write_config("", "", false);
  auto account_answer = sf_client->request("POST", "sobjects/Account",
                                           fmt::format(R"({{"Name":"{} parent"}})", name), "create Account",
                                           std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(account_answer.ok());
  std::string sf_account = account_answer.value().body.substr(account_answer.value().body.find("\"id\":\"") + 6, 18);
  auto deal_answer = sf_client->request(
      "POST", "sobjects/Opportunity",
      fmt::format(R"({{"Name":"{} child","StageName":"Prospecting","CloseDate":"2027-01-31","AccountId":"{}"}})", name,
                  sf_account),
      "create Opportunity", std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(deal_answer.ok());
  std::string sf_deal = deal_answer.value().body.substr(deal_answer.value().body.find("\"id\":\"") + 6, 18);

  connectors::kafka::KafkaSettings kafka;
  kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = connectors::kafka::KafkaProducer::create(kafka, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  std::string topic = name + ".changes.salesforce";
  std::string deal_event = fmt::format(
      R"({{"schema":1,"event_id":"{0}-deal","source":"salesforce","object":"deal","op":"upsert",)"
      R"("ids":{{"prm":null,"salesforce":"{1}","dynamics":null}},"source_version":"2026-11-28T00:00:01.000+0000",)"
      R"("occurred_at":"2026-11-28T00:00:01Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
      R"("fields":{{"Name":"{0} child","StageName":"Prospecting","CloseDate":"2027-01-31","AccountId":"{2}"}},)"
      R"("changed":[],"sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
      name, sf_deal, sf_account);
  std::string account_event = fmt::format(
      R"({{"schema":1,"event_id":"{0}-account","source":"salesforce","object":"account","op":"upsert",)"
      R"("ids":{{"prm":null,"salesforce":"{1}","dynamics":null}},"source_version":"2026-11-28T00:00:02.000+0000",)"
      R"("occurred_at":"2026-11-28T00:00:02Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
      R"("fields":{{"Name":"{0} parent"}},"changed":[],)"
      R"("sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
      name, sf_account);
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, "deal:sf:" + sf_deal, deal_event, seconds(30)).ok());

  ASSERT_NO_FATAL_FAILURE(start(config));
  ASSERT_TRUE(eventually([&] { return journal_count("parked") == 1; })) << crmsync->output();
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.deals WHERE name = $1", {name + " child"}), "0");
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, "account:sf:" + sf_account, account_event, seconds(30)).ok());
  std::string prm_account;
  ASSERT_TRUE(eventually([&] {
    prm_account = scalar("SELECT account_id::text FROM prm.deals WHERE name = $1", {name + " child"});
    return !prm_account.empty();
  })) << crmsync->output();
  EXPECT_EQ(scalar("SELECT name FROM prm.accounts WHERE id = $1::uuid", {prm_account}), name + " parent");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".parked_events"), "0");
  stop();
}

TEST_F(SyncEngine, AMassDeleteBeyondTheGuardIsHeldForAnOperator) {
  ASSERT_NO_FATAL_FAILURE(start(write_config("delete_guard_max = 2\ndelete_guard_window = \"10m\"\n")));
  std::vector<std::string> accounts;
  for (int i = 0; i < 4; ++i) accounts.push_back(insert_account("doomed " + std::to_string(i)));
  for (const auto& account : accounts) {
    ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "billing_country", "DE")) << crmsync->output();
  }
  scalar("DELETE FROM prm.accounts WHERE name LIKE $1 RETURNING id", {name + " doomed%"});
  ASSERT_TRUE(eventually([&] { return journal_count("delete_held") == 2; })) << crmsync->output();
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".held_deletes WHERE status = 'held'"), "2");
  int still_on_salesforce = 0;
  for (const auto& account : accounts) {
    if (on(Side::salesforce, ObjectKind::account, account)) ++still_on_salesforce;
  }
  EXPECT_EQ(still_on_salesforce, 2) << "two deletes applied, two held";
  stop();
}

TEST_F(SyncEngine, FirstSyncPairsExistingRecordsByMatchKeyAndParksAmbiguousOnes) {
  // Before crmsync ever ran: "twin" exists in the PRM and in Salesforce (no PRM id there);
  // "pair" exists twice in the PRM and once in Salesforce.
  auto create_in_salesforce = [&](const std::string& account_name) {
    auto created = sf_client->request("POST", "sobjects/Account",
                                      fmt::format(R"({{"Name":"{}","BillingCountry":"DE"}})", account_name),
                                      "create Account", std::chrono::steady_clock::now() + seconds(30), true);
    ASSERT_TRUE(created.ok()) << created.error().message;
  };
  auto salesforce_count = [&](const std::string& account_name) {
    auto answer = sf_client->request(
        "GET", "query?q=" + connectors::http::percent_encode("SELECT COUNT() FROM Account WHERE Name = '" + account_name + "'"),
        "", "count", std::chrono::steady_clock::now() + seconds(30), false);
    if (!answer) return -1;
    auto at = answer.value().body.find("\"totalSize\":");
    return at == std::string::npos ? -1 : std::stoi(answer.value().body.substr(at + 12));
  };
  std::string twin = insert_account("twin");
  ASSERT_NO_FATAL_FAILURE(create_in_salesforce(name + " twin"));
  insert_account("pair");
  insert_account("pair");
  ASSERT_NO_FATAL_FAILURE(create_in_salesforce(name + " pair"));

  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  // The twins are paired: the Salesforce account gets the PRM id, and nothing is duplicated.
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, twin, "name", name + " twin")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, twin, "name", name + " twin")) << crmsync->output();
  EXPECT_EQ(salesforce_count(name + " twin"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE name = $1", {name + " twin"}), "1");
  // Two PRM candidates for one Salesforce record: parked for an operator, not guessed.
  ASSERT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".parked_events WHERE waiting_for = 'operator:ambiguous-match'") ==
           "3";
  })) << crmsync->output();
  EXPECT_EQ(salesforce_count(name + " pair"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE name = $1", {name + " pair"}), "2");
  stop();
}

TEST_F(SyncEngine, PermanentlyFailingEventsAreDeadLetteredAndDoNotBlockTheirPartition) {
  std::string config = write_config("", "", false);
  connectors::kafka::KafkaSettings kafka;
  kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = connectors::kafka::KafkaProducer::create(kafka, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  std::string topic = name + ".changes.salesforce";
  auto event = [&](const std::string& id, const std::string& stage, const std::string& account_name) {
    return fmt::format(
        R"({{"schema":1,"event_id":"{0}-{1}","source":"salesforce","object":"account","op":"upsert",)"
        R"("ids":{{"prm":null,"salesforce":"001{1}","dynamics":null}},"source_version":"2026-11-28T00:00:01.000+0000",)"
        R"("occurred_at":"2026-11-28T00:00:01Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
        R"("fields":{{"Name":"{2}"{3}}},"changed":[],)"
        R"("sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
        name, id, account_name, stage);
  };
  // One key (one partition): not JSON, then an event whose field value is an object (refused by
  // the event parser), then a good event that must still be applied.
  std::string key = "account:sf:same";
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, key, "{not json", seconds(30)).ok());
  std::string bad = event("bad", "", "x");
  bad.replace(bad.find("\"Name\":\"x\""), 10, "\"Name\":{\"a\":1}");
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, key, bad, seconds(30)).ok());
  // The good one is a real Salesforce account (the engine writes its PRM id back to it).
  auto created = sf_client->request("POST", "sobjects/Account",
                                    fmt::format(R"({{"Name":"{} after the bad ones"}})", name), "create Account",
                                    std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(created.ok());
  std::string sf_id = created.value().body.substr(created.value().body.find("\"id\":\"") + 6, 18);
  std::string good = event("good", "", name + " after the bad ones");
  good.replace(good.find("001good"), 7, sf_id);
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, key, good, seconds(30)).ok());

  ASSERT_NO_FATAL_FAILURE(start(config));
  ASSERT_TRUE(eventually([&] {
    return scalar("SELECT count(*) FROM prm.accounts WHERE name = $1", {name + " after the bad ones"}) == "1";
  })) << crmsync->output();
  EXPECT_EQ(journal_count("dead_lettered"), 2);

  // Both are on the dead-letter topic with their reason.
  auto consumer = connectors::kafka::KafkaConsumer::create(kafka, testing::unique_name("dl"), logging.logger("c"));
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE(consumer.value()->subscribe({name + ".deadletter"}).ok());
  std::vector<std::string> letters;
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (letters.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto polled = consumer.value()->poll(milliseconds(200));
    if (polled.ok() && polled.value()) letters.push_back(polled.value()->value);
  }
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_THAT(letters[0], ::testing::HasSubstr("not JSON"));
  EXPECT_THAT(letters[1], ::testing::HasSubstr("fields.Name"));
  EXPECT_THAT(letters[1], ::testing::HasSubstr("\"reason\":"));
  stop();
}

}  // namespace
}  // namespace crmsync
