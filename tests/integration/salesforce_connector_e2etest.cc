#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "connectors/kafka/kafka_consumer.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/salesforce/salesforce_capture.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "daemon/logging.h"
#include "state/file_secret_provider.h"
#include "state/migrator.h"
#include "state/secret_store.h"
#include "state/store_secret_provider.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::salesforce {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using mapping::FieldValue;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kClientSecret = "crmsync-emulator-secret";

// The Salesforce connector against build/crm-emulator --api salesforce over HTTPS.
class SalesforceConnector : public ::testing::Test {
 protected:
  explicit SalesforceConnector(std::vector<std::string> emulator_args = {})
      : emulator("salesforce", std::move(emulator_args)) {}

  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / crmsync::testing::unique_name("sf");
    std::filesystem::create_directories(dir);
    write_secret_file("client_secret", kClientSecret);
    files = std::make_unique<state::FileSecretProvider>(
        std::map<std::string, std::filesystem::path>{{"salesforce.client_secret", dir / "client_secret"},
                                                     {"salesforce.jwt_private_key", dir / "jwt.pem"}});
    settings.login_url = emulator.base_url();
    settings.client_id = "crmsync-emulator-client";
    transport = http::make_curl_transport({emulator.ca_file(), seconds(5), 4}, logging.logger("http"));
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  void write_secret_file(const std::string& name, const std::string& value) {
    auto path = dir / name;
    std::ofstream(path) << value;
    ::chmod(path.c_str(), 0600);
  }

  std::unique_ptr<SalesforceClient> client(mapping::SecretProvider& secrets) {
    return std::make_unique<SalesforceClient>(settings, *transport, secrets, logging.logger("salesforce"),
                                              mapping::RetryPolicy{milliseconds(10), milliseconds(200), 2.0, 0.0},
                                              [] { return 0.5; }, [](milliseconds) { return true; });
  }

  rapidjson::Document admin(const std::string& method, const std::string& path, const std::string& body = "") {
    auto answer = transport->send({method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
                                  std::chrono::steady_clock::now() + seconds(10));
    if (!answer) throw std::runtime_error(answer.error().message);
    rapidjson::Document json;
    json.Parse(answer.value().body.c_str());
    return json;
  }
  int requests_to(const std::string& route) {
    auto stats = admin("GET", "/_emulator/stats");
    if (!stats.HasMember("requests") || !stats["requests"].HasMember(route.c_str())) return 0;
    return stats["requests"][route.c_str()].GetInt();
  }

  http::Deadline in(seconds s) { return std::chrono::steady_clock::now() + s; }

  static mapping::CrmRecordWrite account(const std::string& prm_id, const std::string& name) {
    mapping::CrmRecordWrite write;
    write.object = mapping::ObjectKind::account;
    write.prm_id = prm_id;
    write.fields = {{"Name", FieldValue::string_value(name)}, {"Industry", FieldValue::string_value("Energy")}};
    return write;
  }

  crmsync::testing::CrmEmulator emulator;
  std::filesystem::path dir;
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>()};
  std::unique_ptr<state::FileSecretProvider> files;
  SalesforceSettings settings;
  std::unique_ptr<http::HttpTransport> transport;
};

TEST_F(SalesforceConnector, ClientCredentialsSessionAndTransparentRenewalAfterExpiry) {
  auto sf = client(*files);
  auto versions = sf->request("GET", "limits", "", "GET limits", in(seconds(20)), false);
  ASSERT_TRUE(versions.ok()) << versions.error().message;
  ASSERT_TRUE(sf->last_usage().has_value());
  admin("POST", "/_emulator/tokens/expire");
  auto again = sf->request("GET", "limits", "", "GET limits", in(seconds(20)), false);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(requests_to("POST services/oauth2/token"), 2) << "one renewal after the session expired";
}

TEST_F(SalesforceConnector, WrongClientSecretIsAnAuthErrorThatDoesNotShowTheSecret) {
  write_secret_file("client_secret", "wrong-secret-canary");
  auto sf = client(*files);
  auto answer = sf->request("GET", "limits", "", "GET limits", in(seconds(20)), false);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().error_class, mapping::ErrorClass::auth);
  EXPECT_THAT(answer.error().message, HasSubstr("invalid_client"));
  EXPECT_THAT(answer.error().message, Not(HasSubstr("wrong-secret-canary")));
}

TEST_F(SalesforceConnector, BulkUpsertUsesFullCollectionsAndIsIdempotent) {
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  std::vector<mapping::CrmRecordWrite> writes;
  for (int i = 0; i < 450; ++i) writes.push_back(account("prm-acc-" + std::to_string(i), "Account " + std::to_string(i)));
  admin("DELETE", "/_emulator/stats");
  auto first = sink.apply(writes, in(seconds(60)));
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first.value().size(), 450u);
  for (const auto& result : first.value()) {
    ASSERT_FALSE(result.error.has_value()) << result.error->message;
    EXPECT_TRUE(result.created);
    EXPECT_TRUE(result.crm_id->starts_with("001"));
  }
  auto stats = admin("GET", "/_emulator/stats");
  EXPECT_EQ(stats["records_per_write"]["200"].GetInt(), 2);
  EXPECT_EQ(stats["records_per_write"]["50"].GetInt(), 1);

  auto second = sink.apply(writes, in(seconds(60)));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second.value()[0].created) << "a re-sent write updates the same record";
  EXPECT_EQ(second.value()[0].crm_id, first.value()[0].crm_id);
}

TEST_F(SalesforceConnector, OneBadRecordDoesNotFailItsNeighbours) {
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  auto bad = account("prm-bad", "Bad");
  bad.fields.push_back({"NoSuchField__c", FieldValue::string_value("x")});
  auto results = sink.apply({account("prm-good-1", "Good 1"), bad, account("prm-good-2", "Good 2")}, in(seconds(30)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_FALSE(results.value()[0].error.has_value());
  ASSERT_TRUE(results.value()[1].error.has_value());
  EXPECT_EQ(results.value()[1].error->error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(results.value()[1].error->message, HasSubstr("INVALID_FIELD"));
  EXPECT_FALSE(results.value()[2].error.has_value());
}

TEST_F(SalesforceConnector, DeleteByPrmIdAndDeletingAgainIsFine) {
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  ASSERT_TRUE(sink.apply({account("prm-del", "To delete")}, in(seconds(30))).ok());
  mapping::CrmRecordWrite removal;
  removal.object = mapping::ObjectKind::account;
  removal.op = mapping::CanonicalEvent::Operation::remove;
  removal.prm_id = "prm-del";
  auto deleted = sink.apply({removal}, in(seconds(30)));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_FALSE(deleted.value()[0].error.has_value());
  auto again = sink.apply({removal}, in(seconds(30)));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value()[0].error.has_value());
}

// A record created in Salesforce has no PRM id yet: once the engine knows its Id, the write must
// update it by that Id (and give it its PRM id), not upsert by PRM id into a second record.
TEST_F(SalesforceConnector, UpsertWithAKnownIdUpdatesThatRecordAndSetsItsPrmId) {
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  auto direct = sf->request("POST", "sobjects/Account", R"({"Name":"Made in Salesforce"})", "create account",
                            in(seconds(20)), true);
  ASSERT_TRUE(direct.ok()) << direct.error().message;
  rapidjson::Document direct_json;
  direct_json.Parse(direct.value().body.c_str());
  std::string direct_id = direct_json["id"].GetString();

  auto by_id = account("prm-direct", "Renamed by crmsync");
  by_id.crm_id = direct_id;
  auto gone = account("prm-gone", "Deleted meanwhile");
  gone.crm_id = "001000000000000AAA";
  admin("DELETE", "/_emulator/stats");
  auto results = sink.apply({account("prm-new", "New"), by_id, gone}, in(seconds(30)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_EQ(results.value().size(), 3u);
  EXPECT_FALSE(results.value()[0].error.has_value());
  EXPECT_TRUE(results.value()[0].created);
  ASSERT_FALSE(results.value()[1].error.has_value()) << results.value()[1].error->message;
  EXPECT_FALSE(results.value()[1].created);
  EXPECT_EQ(results.value()[1].crm_id, direct_id);
  ASSERT_TRUE(results.value()[2].error.has_value()) << "an Id that does not exist fails that record only";
  EXPECT_EQ(results.value()[2].error->error_class, mapping::ErrorClass::conflict);
  EXPECT_EQ(requests_to("PATCH composite/sobjects"), 1) << "updates by Id share one call";

  int named = 0;
  auto accounts = admin("GET", "/_emulator/records/Account");  // kept alive: the loop reads into it
  for (const auto& record : accounts.GetArray()) {
    if (record.HasMember("IsDeleted") && record["IsDeleted"].IsBool() && record["IsDeleted"].GetBool()) continue;
    std::string name = record["Name"].IsString() ? record["Name"].GetString() : "";
    if (name == "Made in Salesforce" || name == "Renamed by crmsync") {
      ++named;
      EXPECT_EQ(std::string(record["Id"].GetString()), direct_id);
      EXPECT_EQ(name, "Renamed by crmsync");
      ASSERT_TRUE(record["PRM_Id__c"].IsString());
      EXPECT_EQ(std::string(record["PRM_Id__c"].GetString()), "prm-direct");
    }
  }
  EXPECT_EQ(named, 1) << "updated in place, not duplicated";
}

TEST_F(SalesforceConnector, ServerErrorStormStillWritesEveryRecordOnce) {
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  admin("POST", "/_emulator/faults", R"({"method":"PATCH","path":"/services/data/*/composite/sobjects/*","status":503,"times":3})");
  std::vector<mapping::CrmRecordWrite> writes;
  for (int i = 0; i < 20; ++i) writes.push_back(account("prm-storm-" + std::to_string(i), "Storm " + std::to_string(i)));
  auto results = sink.apply(writes, in(seconds(60)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  auto records = admin("GET", "/_emulator/records/Account");
  int storm = 0;
  for (const auto& record : records.GetArray()) {
    if (record.HasMember("PRM_Id__c") && record["PRM_Id__c"].IsString() &&
        std::string(record["PRM_Id__c"].GetString()).starts_with("prm-storm-")) {
      ++storm;
    }
  }
  EXPECT_EQ(storm, 20);
}

TEST_F(SalesforceConnector, SharesAreGrantedAndRevokedAsManualShareRows) {
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  auto created = sink.apply({account("prm-shared", "Shared")}, in(seconds(30)));
  ASSERT_TRUE(created.ok());
  std::string account_id = *created.value()[0].crm_id;
  auto group = sf->request("POST", "sobjects/Group", R"({"Name":"Partner A","Type":"Regular"})", "create group",
                           in(seconds(20)), true);
  ASSERT_TRUE(group.ok()) << group.error().message;
  rapidjson::Document group_json;
  group_json.Parse(group.value().body.c_str());
  std::string group_id = group_json["id"].GetString();

  mapping::CrmShareWrite grant{mapping::ObjectKind::account, account_id, group_id, true, mapping::ShareGrant::Access::edit};
  auto granted = sink.apply_shares({grant}, in(seconds(30)));
  ASSERT_TRUE(granted.ok()) << granted.error().message;
  ASSERT_FALSE(granted.value()[0].error.has_value()) << granted.value()[0].error->message;
  auto shares = admin("GET", "/_emulator/records/AccountShare");
  bool found = false;
  for (const auto& row : shares.GetArray()) {
    if (std::string(row["AccountId"].GetString()) == account_id && std::string(row["UserOrGroupId"].GetString()) == group_id) {
      found = true;
      EXPECT_EQ(std::string(row["AccountAccessLevel"].GetString()), "Edit");
      EXPECT_EQ(std::string(row["RowCause"].GetString()), "Manual");
    }
  }
  EXPECT_TRUE(found);

  grant.grant = false;
  auto revoked = sink.apply_shares({grant}, in(seconds(30)));
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  auto after = admin("GET", "/_emulator/records/AccountShare");
  for (const auto& row : after.GetArray()) {
    EXPECT_FALSE(std::string(row["AccountId"].GetString()) == account_id &&
                 std::string(row["UserOrGroupId"].GetString()) == group_id && !row["IsDeleted"].GetBool())
        << "the grant was revoked";
  }
}

class SalesforceBudget : public SalesforceConnector {
 protected:
  SalesforceBudget() : SalesforceConnector({"--daily-api-limit", "12"}) {}
};

TEST_F(SalesforceBudget, WritesPauseOnceCrmsyncUsedItsShareOfTheDailyAllocation) {
  settings.api_budget_share = 0.5;
  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  mapping::Result<std::vector<mapping::CrmWriteResult>> last = std::vector<mapping::CrmWriteResult>{};
  int writes = 0;
  while (last.ok() && writes < 12) {
    last = sink.apply({account("prm-budget-" + std::to_string(writes), "Budget")}, in(seconds(20)));
    ++writes;
  }
  ASSERT_FALSE(last.ok()) << "writes never paused";
  EXPECT_EQ(last.error().error_class, mapping::ErrorClass::rate_limited);
  EXPECT_THAT(last.error().message, HasSubstr("Salesforce writes paused"));
  EXPECT_TRUE(sf->writes_paused());
  EXPECT_LE(sf->last_usage()->used, 7) << "paused at its share (6 of 12), not at the org's limit";
  EXPECT_TRUE(sf->request("GET", "limits", "", "GET limits", in(seconds(20)), false).ok()) << "reads continue";
}

class SalesforceRefreshRotation : public SalesforceConnector {
 protected:
  SalesforceRefreshRotation() : SalesforceConnector({"--rotate-refresh-tokens"}) {}
};

TEST_F(SalesforceRefreshRotation, RotatedRefreshTokenIsStoredBeforeItsAccessTokenIsUsed) {
  state::StateDatabaseSettings state_settings;
  state_settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
  state_settings.schema = crmsync::testing::unique_name("crmsync_sf_secrets");
  auto db = state::StateDatabase::connect(state_settings);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(state::migrate(*db.value(), state::embedded_migrations(), state::DryRun::no).ok());
  state::MasterKey master = state::MasterKey::generate();
  auto issued = admin("POST", "/_emulator/oauth/refresh-token", "{}");
  std::string first_refresh = issued["refresh_token"].GetString();
  {
    state::SecretStore store(*db.value(), master, seconds(0));
    ASSERT_TRUE(store.put("salesforce.refresh_token", mapping::SecretString(first_refresh), state::SecretStage::current, "test").ok());
    ASSERT_TRUE(store.put("salesforce.client_secret", mapping::SecretString(kClientSecret), state::SecretStage::current, "test").ok());
  }
  state::StoreSecretProvider secrets(state_settings, master, seconds(0), {}, "test");
  settings.auth_flow = AuthFlow::refresh_token;
  auto sf = client(secrets);
  ASSERT_TRUE(sf->request("GET", "limits", "", "GET limits", in(seconds(20)), false).ok());
  std::string second_refresh = secrets.current("salesforce.refresh_token").value().reveal();
  EXPECT_NE(second_refresh, first_refresh) << "the rotated refresh token was stored";

  // A new process (after a crash) starts from the stored token: the old one is dead, the new works.
  admin("POST", "/_emulator/tokens/expire");
  state::StoreSecretProvider after_restart(state_settings, master, seconds(0), {}, "test");
  auto restarted = client(after_restart);
  auto answer = restarted->request("GET", "limits", "", "GET limits", in(seconds(20)), false);
  EXPECT_TRUE(answer.ok()) << answer.error().message;
  (void)db.value()->execute("DROP SCHEMA IF EXISTS " + state_settings.schema + " CASCADE");
}

class SalesforceJwt : public SalesforceConnector {
 protected:
  static std::string make_key_pair(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    EVP_PKEY* key = EVP_RSA_gen(2048);
    FILE* pub = std::fopen((dir / "jwt.pub").c_str(), "w");
    PEM_write_PUBKEY(pub, key);
    std::fclose(pub);
    FILE* priv = std::fopen((dir / "jwt.pem").c_str(), "w");
    PEM_write_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(priv);
    ::chmod((dir / "jwt.pem").c_str(), 0600);
    EVP_PKEY_free(key);
    return (dir / "jwt.pub").string();
  }
  inline static const std::filesystem::path key_dir =
      std::filesystem::temp_directory_path() / crmsync::testing::unique_name("sf_jwt_keys");
  SalesforceJwt() : SalesforceConnector({"--jwt-public-key", make_key_pair(key_dir)}) {}
  ~SalesforceJwt() override { std::filesystem::remove_all(key_dir); }
};

TEST_F(SalesforceJwt, JwtBearerFlowSignsWithTheKeyFromTheSecretProvider) {
  std::filesystem::copy_file(key_dir / "jwt.pem", dir / "jwt.pem");
  ::chmod((dir / "jwt.pem").c_str(), 0600);
  settings.auth_flow = AuthFlow::jwt_bearer;
  settings.username = "integration@crmsync.emulator";
  auto sf = client(*files);
  auto answer = sf->request("GET", "limits", "", "GET limits", in(seconds(20)), false);
  ASSERT_TRUE(answer.ok()) << answer.error().message;

  settings.username = "nobody@crmsync.emulator";
  auto stranger = client(*files);
  auto refused = stranger->request("GET", "limits", "", "GET limits", in(seconds(20)), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("invalid_grant"));
}

}  // namespace
}  // namespace crmsync::connectors::salesforce

namespace crmsync::connectors::salesforce {
namespace {

// Capture across page and poll boundaries with every record on one frozen timestamp: the case
// where pollers classically lose or re-read records.
class SalesforceCaptureTest : public SalesforceConnector {
 protected:
  SalesforceCaptureTest() : SalesforceConnector({"--page-size", "100"}) {}
};

TEST_F(SalesforceCaptureTest, SameTimestampAcrossPagesAndPollsNeitherLosesNorRepeats) {
  state::StateDatabaseSettings state_settings;
  state_settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
  state_settings.schema = crmsync::testing::unique_name("crmsync_sf_capture");
  {
    auto db = state::StateDatabase::connect(state_settings);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(state::migrate(*db.value(), state::embedded_migrations(), state::DryRun::no).ok());
  }
  kafka::KafkaSettings kafka_settings;
  kafka_settings.brokers = {crmsync::testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = kafka::KafkaProducer::create(kafka_settings, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  std::string topic = "crmsync.test." + crmsync::testing::unique_name("sf") + ".changes.salesforce";

  auto sf = client(*files);
  SalesforceRecordSink sink(*sf);
  SalesforceCaptureSettings capture_settings;
  capture_settings.org = "emulator";
  capture_settings.objects = {{mapping::ObjectKind::account, {"Name", "Industry", "PRM_Id__c"}}};
  capture_settings.topic = topic;
  SalesforceCapture capture(capture_settings, *sf, *producer.value(), state_settings, logging.logger("capture"));

  admin("POST", "/_emulator/clock", R"({"now":"2026-11-27T10:00:00Z"})");
  std::vector<mapping::CrmRecordWrite> first;
  for (int i = 0; i < 250; ++i) first.push_back(account("cap-" + std::to_string(i), "Cap " + std::to_string(i)));
  ASSERT_TRUE(sink.apply(first, in(seconds(60))).ok());
  auto polled = capture.poll_once(in(seconds(60)));
  ASSERT_TRUE(polled.ok()) << polled.error().message;
  EXPECT_EQ(polled.value(), 250u);

  std::vector<mapping::CrmRecordWrite> more;
  for (int i = 250; i < 280; ++i) more.push_back(account("cap-" + std::to_string(i), "Cap " + std::to_string(i)));
  ASSERT_TRUE(sink.apply(more, in(seconds(60))).ok());
  EXPECT_EQ(capture.poll_once(in(seconds(60))).value(), 30u) << "same timestamp as the cursor: only the new ones";

  std::vector<mapping::CrmRecordWrite> updates;
  for (int i = 0; i < 5; ++i) {
    auto write = account("cap-" + std::to_string(i), "Cap " + std::to_string(i));
    write.fields[1].value = mapping::FieldValue::string_value("Retail");
    updates.push_back(write);
  }
  ASSERT_TRUE(sink.apply(updates, in(seconds(60))).ok());
  EXPECT_EQ(capture.poll_once(in(seconds(60))).value(), 5u) << "changed within the same second: sent again";
  EXPECT_EQ(capture.poll_once(in(seconds(60))).value(), 0u);

  admin("POST", "/_emulator/clock", R"({"advance_seconds":10})");
  mapping::CrmRecordWrite removal;
  removal.object = mapping::ObjectKind::account;
  removal.op = mapping::CanonicalEvent::Operation::remove;
  removal.prm_id = "cap-7";
  ASSERT_TRUE(sink.apply({removal}, in(seconds(30))).ok());
  EXPECT_EQ(capture.poll_once(in(seconds(60))).value(), 1u);

  // Kafka holds exactly what was reported: 286 events, no event id twice, one delete.
  auto consumer = kafka::KafkaConsumer::create(kafka_settings, crmsync::testing::unique_name("g"), logging.logger("c"));
  ASSERT_TRUE(consumer.ok() && consumer.value()->subscribe({topic}).ok());
  std::set<std::string> ids;
  int deletes = 0;
  int read = 0;
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (read < 286 && std::chrono::steady_clock::now() < deadline) {
    auto record = consumer.value()->poll(milliseconds(200));
    if (!record.ok() || !record.value()) continue;
    rapidjson::Document json;
    json.Parse(record.value()->value.c_str());
    ids.insert(json["event_id"].GetString());
    if (std::string(json["op"].GetString()) == "delete") ++deletes;
    ++read;
  }
  EXPECT_EQ(read, 286);
  EXPECT_EQ(ids.size(), 286u);
  EXPECT_EQ(deletes, 1);
  auto db = state::StateDatabase::connect(state_settings);
  if (db) (void)db.value()->execute("DROP SCHEMA IF EXISTS " + state_settings.schema + " CASCADE");
}

}  // namespace
}  // namespace crmsync::connectors::salesforce
