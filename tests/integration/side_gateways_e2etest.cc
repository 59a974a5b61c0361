// The engine's side gateways against the real services: PRM on the local PostgreSQL (reference
// schema, the daemon's role), Salesforce and Dataverse on build/crm-emulator over HTTPS.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fmt/format.h>

#include <map>
#include <regex>
#include <set>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_capture.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "connectors/prm/prm_event_builder.h"
#include "connectors/salesforce/salesforce_client.h"
#include "daemon/dynamics_side_gateway.h"
#include "daemon/logging.h"
#include "daemon/prm_side_gateway.h"
#include "daemon/salesforce_side_gateway.h"
#include "state/state_database.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

namespace crmsync::daemon {
namespace {

using mapping::CanonicalEvent;
using mapping::CrmRecordWrite;
using mapping::ErrorClass;
using mapping::FieldValue;
using mapping::ObjectKind;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr const char* kEmulatorSecret = "crmsync-emulator-secret";

// Secrets by name, as the store would hand them out.
class MapSecrets : public mapping::SecretProvider {
 public:
  std::map<std::string, std::string> values;
  mapping::Result<mapping::SecretString> current(const std::string& name) override {
    auto it = values.find(name);
    if (it == values.end())
      return mapping::SyncError{ErrorClass::invalid, "no secret named " + name};
    return mapping::SecretString(it->second);
  }
  mapping::Status store_rotated(const std::string&, const mapping::SecretString&) override {
    return mapping::SyncError{ErrorClass::auth, "read-only"};
  }
};

CrmRecordWrite upsert(ObjectKind object, const std::string& prm_id,
                      std::vector<mapping::Field> fields) {
  CrmRecordWrite write;
  write.object = object;
  write.prm_id = prm_id;
  write.fields = std::move(fields);
  return write;
}

CrmRecordWrite removal(ObjectKind object, const std::string& prm_id) {
  CrmRecordWrite write;
  write.object = object;
  write.op = CanonicalEvent::Operation::remove;
  write.prm_id = prm_id;
  return write;
}

// By PRM id.
std::map<std::string, SideRecordState> by_prm_id(const std::vector<SideRecordState>& records) {
  std::map<std::string, SideRecordState> out;
  for (const auto& record : records) {
    EXPECT_EQ(out.count(record.prm_id), 0u) << "two records for " << record.prm_id;
    out[record.prm_id] = record;
  }
  return out;
}

std::map<std::string, FieldValue> fields_of(const SideRecordState& record) {
  std::map<std::string, FieldValue> out;
  for (const auto& field : record.fields) out[field.name] = field.value;
  return out;
}

void expect_all_ok(const mapping::Result<std::vector<mapping::CrmWriteResult>>& results,
                   std::size_t count) {
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_EQ(results.value().size(), count);
  for (const auto& result : results.value()) {
    EXPECT_FALSE(result.error.has_value()) << result.error->message;
  }
}

// ------------------------------------------------------------------------------------------- PRM

class PrmGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    state::StateDatabaseSettings admin_settings;
    admin_settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_PG_URL");
    auto db = state::StateDatabase::connect(admin_settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    admin = std::move(db).value();
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_DAEMON_URL");
    settings.application_name = crmsync::testing::unique_name("side_gateway");
    gateway =
        std::make_unique<PrmSideGateway>(settings, connectors::prm::reference_schema_bindings());
  }
  void TearDown() override {
    for (const auto& id : deals) (void)admin->execute("DELETE FROM prm.deals WHERE id = $1", {id});
    for (const auto& id : accounts)
      (void)admin->execute("DELETE FROM prm.accounts WHERE id = $1", {id});
  }

  std::string scalar(const std::string& sql, const state::QueryRow& params = {}) {
    auto rows = admin->execute(sql, params);
    if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("<null>");
  }
  std::string new_account() {
    return accounts.emplace_back(scalar("SELECT gen_random_uuid()::text"));
  }
  std::string new_deal() { return deals.emplace_back(scalar("SELECT gen_random_uuid()::text")); }

  static CrmRecordWrite account(const std::string& id, const std::string& name) {
    return upsert(ObjectKind::account, id,
                  {{"name", FieldValue::string_value(name)},
                   {"industry", FieldValue::string_value("Energy")}});
  }
  static CrmRecordWrite deal(const std::string& id, const std::string& account_id,
                             const std::string& status) {
    return upsert(ObjectKind::deal, id,
                  {{"account_id", FieldValue::string_value(account_id)},
                   {"name", FieldValue::string_value("Deal " + id.substr(0, 8))},
                   {"stage", FieldValue::string_value("Prospecting")},
                   {"amount", FieldValue::number_value("120000.50")},
                   {"currency", FieldValue::string_value("EUR")},
                   {"close_date", FieldValue::string_value("2026-12-31")},
                   {"registration_status", FieldValue::string_value(status)}});
  }
  // Ends this test's sessions on the server, as a PostgreSQL restart would.
  void terminate_gateway_sessions() {
    EXPECT_NE(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                     "application_name LIKE $1",
                     {settings.application_name + "%"}),
              "0");
  }

  std::unique_ptr<state::StateDatabase> admin;
  connectors::prm::PrmConnectionSettings settings;
  std::unique_ptr<PrmSideGateway> gateway;
  std::vector<std::string> accounts, deals;
};

TEST_F(PrmGateway, WriteCreatesThenReadReturnsFieldsVersionAndModifiedAtAsTheCaptureConvertsThem) {
  EXPECT_EQ(gateway->side(), mapping::Side::prm);
  std::string account_id = new_account();
  std::string deal_id = new_deal();
  auto created = gateway->write(
      {account(account_id, "Gateway Corp"), deal(deal_id, account_id, "draft")}, "test:1");
  expect_all_ok(created, 2);
  EXPECT_TRUE(created.value()[0].created);
  EXPECT_EQ(created.value()[0].crm_id, account_id);
  EXPECT_TRUE(created.value()[1].created);
  EXPECT_EQ(
      scalar("SELECT modified_by_kind || '/' || modified_by_id FROM prm.accounts WHERE id = $1",
             {account_id}),
      "integration/crmsync");
  EXPECT_EQ(
      scalar("SELECT owner_partner_org_id IS NULL FROM prm.accounts WHERE id = $1", {account_id}),
      "t")
      << "the owner is left alone";

  std::vector<std::string> deal_fields = {"name",       "amount",      "currency",
                                          "close_date", "description", "account_id"};
  auto read = gateway->read(ObjectKind::deal, {deal_id, "00000000-0000-4000-8000-000000000000"},
                            deal_fields);
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read.value().size(), 1u) << "a record the PRM does not hold is absent";
  const SideRecordState& record = read.value()[0];
  EXPECT_EQ(record.prm_id, deal_id);
  EXPECT_EQ(record.side_id, deal_id);
  EXPECT_EQ(record.version, "1");
  EXPECT_TRUE(
      std::regex_match(record.modified_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
      << record.modified_at;
  EXPECT_EQ(
      record.modified_at,
      scalar("SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
             "FROM prm.deals WHERE id = $1",
             {deal_id}));
  ASSERT_EQ(record.fields.size(), deal_fields.size());
  for (std::size_t i = 0; i < deal_fields.size(); ++i)
    EXPECT_EQ(record.fields[i].name, deal_fields[i]);
  auto fields = fields_of(record);
  // numeric → number (exact digits), char(3) and date → text, NULL → null: the capture's
  // to_field_value.
  EXPECT_EQ(fields["amount"], connectors::prm::to_field_value(1700, "120000.50"));
  EXPECT_EQ(fields["amount"], FieldValue::number_value("120000.50"));
  EXPECT_EQ(fields["currency"], FieldValue::string_value("EUR"));
  EXPECT_EQ(fields["close_date"], FieldValue::string_value("2026-12-31"));
  EXPECT_EQ(fields["description"], FieldValue::null_value());
  EXPECT_EQ(fields["account_id"], FieldValue::string_value(account_id));

  auto again = gateway->write({account(account_id, "Gateway Corp, renamed")}, "test:2");
  expect_all_ok(again, 1);
  EXPECT_FALSE(again.value()[0].created);
  auto reread = gateway->read(ObjectKind::account, {account_id}, {"name", "industry"});
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  ASSERT_EQ(reread.value().size(), 1u);
  EXPECT_EQ(reread.value()[0].version, "2") << "a second write changes the version";
  EXPECT_EQ(fields_of(reread.value()[0])["name"],
            FieldValue::string_value("Gateway Corp, renamed"));
}

TEST_F(PrmGateway, AConstraintViolationFailsOnlyThatRecordAndTheOthersAreApplied) {
  std::string first = new_account();
  std::string second = new_account();
  std::string bad_deal = new_deal();
  auto results = gateway->write(
      {account(first, "First"), deal(bad_deal, first, "maybe"), account(second, "Second")},
      "test:batch");
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_EQ(results.value().size(), 3u);
  EXPECT_FALSE(results.value()[0].error.has_value());
  ASSERT_TRUE(results.value()[1].error.has_value());
  EXPECT_EQ(results.value()[1].error->error_class, ErrorClass::invalid);
  EXPECT_THAT(results.value()[1].error->message, HasSubstr("deals_registration_status_check"));
  EXPECT_FALSE(results.value()[1].created);
  EXPECT_FALSE(results.value()[2].error.has_value());
  EXPECT_TRUE(results.value()[2].created);

  auto read = gateway->read(ObjectKind::account, {first, second}, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto found = by_prm_id(read.value());
  EXPECT_EQ(found.size(), 2u);
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.deals WHERE id = $1", {bad_deal}), "0");
}

TEST_F(PrmGateway, AMalformedPrmIdFailsOnlyThatRecord) {
  std::string good = new_account();
  auto results =
      gateway->write({account("not-a-uuid", "Malformed"), account(good, "Good")}, "test:malformed");
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_TRUE(results.value()[0].error.has_value());
  EXPECT_EQ(results.value()[0].error->error_class, ErrorClass::invalid);
  EXPECT_FALSE(results.value()[1].error.has_value());
  EXPECT_EQ(scalar("SELECT name FROM prm.accounts WHERE id = $1", {good}), "Good");
}

TEST_F(PrmGateway, DeleteRemovesTheRecord) {
  std::string id = new_account();
  expect_all_ok(gateway->write({account(id, "Short-lived")}, "test:create"), 1);
  auto deleted = gateway->write({removal(ObjectKind::account, id)}, "test:delete");
  expect_all_ok(deleted, 1);
  auto read = gateway->read(ObjectKind::account, {id}, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_TRUE(read.value().empty());
  expect_all_ok(gateway->write({removal(ObjectKind::account, id)}, "test:delete-again"), 1);
}

TEST_F(PrmGateway, ReadsManyIdsAndAMalformedIdIsJustAbsent) {
  std::vector<CrmRecordWrite> writes;
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    ids.push_back(new_account());
    writes.push_back(account(ids.back(), "Bulk " + std::to_string(i)));
  }
  expect_all_ok(gateway->write(writes, "test:bulk"), 250);
  ids.push_back("not-a-uuid");
  ids.push_back("00000000-0000-4000-8000-000000000001");
  auto read = gateway->read(ObjectKind::account, ids, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto found = by_prm_id(read.value());
  EXPECT_EQ(found.size(), 250u);
  EXPECT_EQ(fields_of(found[ids[7]])["name"], FieldValue::string_value("Bulk 7"));
}

TEST_F(PrmGateway, UnknownColumnIsInvalid) {
  auto read = gateway->read(ObjectKind::account, {new_account()}, {"no_such_column"});
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().error_class, ErrorClass::invalid);
}

TEST_F(PrmGateway, ABrokenConnectionFailsThatCallAsTransientAndTheNextCallReconnects) {
  std::string id = new_account();
  expect_all_ok(gateway->write({account(id, "Before")}, "test:before"), 1);
  ASSERT_TRUE(gateway->read(ObjectKind::account, {id}, {"name"}).ok());

  terminate_gateway_sessions();
  auto broken_read = gateway->read(ObjectKind::account, {id}, {"name"});
  ASSERT_FALSE(broken_read.ok());
  EXPECT_EQ(broken_read.error().error_class, ErrorClass::transient) << broken_read.error().message;
  auto read = gateway->read(ObjectKind::account, {id}, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().size(), 1u);

  terminate_gateway_sessions();
  auto broken_write = gateway->write({account(id, "During")}, "test:during");
  ASSERT_FALSE(broken_write.ok());
  EXPECT_EQ(broken_write.error().error_class, ErrorClass::transient)
      << broken_write.error().message;
  expect_all_ok(gateway->write({account(id, "After")}, "test:after"), 1);
  EXPECT_EQ(scalar("SELECT name FROM prm.accounts WHERE id = $1", {id}), "After");
}

// ------------------------------------------------------------------------------------ Salesforce

// Query pages of 50 rows, so that a read of 200 ids follows nextRecordsUrl.
class SalesforceGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    secrets.values["salesforce.client_secret"] = kEmulatorSecret;
    settings.login_url = emulator.base_url();
    settings.client_id = "crmsync-emulator-client";
    client = std::make_unique<connectors::salesforce::SalesforceClient>(
        settings, *transport, secrets, logging.logger("salesforce"),
        mapping::RetryPolicy{milliseconds(10), milliseconds(200), 2.0, 0.0}, [] { return 0.5; },
        [](milliseconds) { return true; });
    gateway = std::make_unique<SalesforceSideGateway>(*client, seconds(60));
    set_clock(R"({"now":"2026-11-27T23:28:09.123Z"})");
  }

  rapidjson::Document admin(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto answer = transport->send(
        {method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
        std::chrono::steady_clock::now() + seconds(10));
    if (!answer) throw std::runtime_error(answer.error().message);
    rapidjson::Document json;
    json.Parse(answer.value().body.c_str());
    return json;
  }
  void set_clock(const std::string& body) { admin("POST", "/_emulator/clock", body); }
  int requests_to(const std::string& route) {
    auto stats = admin("GET", "/_emulator/stats");
    if (!stats.HasMember("requests") || !stats["requests"].HasMember(route.c_str())) return 0;
    return stats["requests"][route.c_str()].GetInt();
  }
  // Live Account rows whose Name starts with `prefix`.
  int live_accounts_named(const std::string& prefix) {
    int count = 0;
    auto accounts = admin("GET", "/_emulator/records/Account");  // kept alive: the loop reads into it
    for (const auto& row : accounts.GetArray()) {
      bool deleted =
          row.HasMember("IsDeleted") && row["IsDeleted"].IsBool() && row["IsDeleted"].GetBool();
      if (!deleted && row["Name"].IsString() &&
          std::string(row["Name"].GetString()).starts_with(prefix))
        ++count;
    }
    return count;
  }

  static CrmRecordWrite account(const std::string& prm_id, const std::string& name) {
    return upsert(ObjectKind::account, prm_id,
                  {{"Name", FieldValue::string_value(name)},
                   {"Industry", FieldValue::string_value("Energy")},
                   {"AnnualRevenue", FieldValue::number_value("1250.50")},
                   {"NumberOfEmployees", FieldValue::number_value("12")},
                   {"IsPartner", FieldValue::boolean_value(true)}});
  }

  crmsync::testing::CrmEmulator emulator{"salesforce", {"--page-size", "50"}};
  Logging logging{LogFormat::text, LogLevel::warn, std::make_shared<LogRedactor>()};
  std::unique_ptr<connectors::http::HttpTransport> transport =
      connectors::http::make_curl_transport({emulator.ca_file(), seconds(5), 4},
                                            logging.logger("http"));
  MapSecrets secrets;
  connectors::salesforce::SalesforceSettings settings;
  std::unique_ptr<connectors::salesforce::SalesforceClient> client;
  std::unique_ptr<SalesforceSideGateway> gateway;
};

TEST_F(SalesforceGateway, WriteCreatesThenReadReturnsFieldsVersionAndModifiedAt) {
  EXPECT_EQ(gateway->side(), mapping::Side::salesforce);
  auto created = gateway->write({account("prm-sf-1", "Gateway Corp")}, "test");
  expect_all_ok(created, 1);
  EXPECT_TRUE(created.value()[0].created);
  std::string id = *created.value()[0].crm_id;

  std::vector<std::string> names = {"Name",      "Industry", "AnnualRevenue", "NumberOfEmployees",
                                    "IsPartner", "Website",  "PRM_Id__c"};
  auto read = gateway->read(ObjectKind::account, {"prm-sf-1", "prm-sf-absent"}, names);
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read.value().size(), 1u) << "a record Salesforce does not hold is absent";
  const SideRecordState& record = read.value()[0];
  EXPECT_EQ(record.side_id, id);
  EXPECT_EQ(record.prm_id, "prm-sf-1");
  EXPECT_EQ(record.version, "2026-11-27T23:28:09.123+0000")
      << "SystemModstamp as Salesforce printed it";
  EXPECT_EQ(record.modified_at, "2026-11-27T23:28:09.123Z");
  auto fields = fields_of(record);
  EXPECT_EQ(record.fields.size(), names.size());
  EXPECT_EQ(fields["Name"], FieldValue::string_value("Gateway Corp"));
  EXPECT_EQ(fields["Industry"], FieldValue::string_value("Energy"));
  EXPECT_EQ(fields["AnnualRevenue"], FieldValue::number_value("1250.5"));
  EXPECT_EQ(fields["NumberOfEmployees"], FieldValue::number_value("12"));
  EXPECT_EQ(fields["IsPartner"], FieldValue::boolean_value(true));
  EXPECT_EQ(fields["Website"], FieldValue::null_value());
  EXPECT_EQ(fields["PRM_Id__c"], FieldValue::string_value("prm-sf-1"));

  set_clock(R"({"advance_seconds":2})");
  auto updated = gateway->write({account("prm-sf-1", "Gateway Corp, renamed")}, "test");
  expect_all_ok(updated, 1);
  EXPECT_FALSE(updated.value()[0].created);
  auto reread = gateway->read(ObjectKind::account, {"prm-sf-1"}, {"Name"});
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  ASSERT_EQ(reread.value().size(), 1u);
  EXPECT_EQ(reread.value()[0].version, "2026-11-27T23:28:11.123+0000")
      << "a second write changes the version";
  EXPECT_EQ(reread.value()[0].modified_at, "2026-11-27T23:28:11.123Z");
  EXPECT_EQ(fields_of(reread.value()[0])["Name"],
            FieldValue::string_value("Gateway Corp, renamed"));
}

TEST_F(SalesforceGateway, OneRecordMissingARequiredFieldFailsAlone) {
  auto bad =
      upsert(ObjectKind::account, "prm-sf-bad", {{"Industry", FieldValue::string_value("Energy")}});
  auto results = gateway->write(
      {account("prm-sf-ok-1", "Fine"), bad, account("prm-sf-ok-2", "Fine too")}, "test");
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_FALSE(results.value()[0].error.has_value());
  ASSERT_TRUE(results.value()[1].error.has_value());
  EXPECT_EQ(results.value()[1].error->error_class, ErrorClass::invalid);
  EXPECT_THAT(results.value()[1].error->message, HasSubstr("REQUIRED_FIELD_MISSING"));
  EXPECT_FALSE(results.value()[2].error.has_value());
  auto read =
      gateway->read(ObjectKind::account, {"prm-sf-ok-1", "prm-sf-bad", "prm-sf-ok-2"}, {"Name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto found = by_prm_id(read.value());
  EXPECT_EQ(found.size(), 2u);
  EXPECT_FALSE(found.contains("prm-sf-bad"));
}

TEST_F(SalesforceGateway, DeleteRemovesTheRecord) {
  expect_all_ok(gateway->write({account("prm-sf-del", "Short-lived")}, "test"), 1);
  expect_all_ok(gateway->write({removal(ObjectKind::account, "prm-sf-del")}, "test"), 1);
  auto read = gateway->read(ObjectKind::account, {"prm-sf-del"}, {"Name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_TRUE(read.value().empty());
}

TEST_F(SalesforceGateway, UpdateByIdOfARecordCreatedInSalesforceSetsItsPrmIdWithoutASecondRecord) {
  auto direct =
      client->request("POST", "sobjects/Account", R"({"Name":"Direct Corp"})", "create account",
                      std::chrono::steady_clock::now() + seconds(20), true);
  ASSERT_TRUE(direct.ok()) << direct.error().message;
  rapidjson::Document json;
  json.Parse(direct.value().body.c_str());
  std::string id = json["id"].GetString();
  ASSERT_TRUE(gateway->read(ObjectKind::account, {"prm-sf-direct"}, {"Name"}).value().empty());

  auto write = account("prm-sf-direct", "Direct Corp, synced");
  write.crm_id = id;
  auto results = gateway->write({write}, "test");
  expect_all_ok(results, 1);
  EXPECT_FALSE(results.value()[0].created);
  EXPECT_EQ(results.value()[0].crm_id, id);

  auto read = gateway->read(ObjectKind::account, {"prm-sf-direct"}, {"Name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read.value().size(), 1u);
  EXPECT_EQ(read.value()[0].side_id, id);
  EXPECT_EQ(fields_of(read.value()[0])["Name"], FieldValue::string_value("Direct Corp, synced"));
  EXPECT_EQ(live_accounts_named("Direct Corp"), 1) << "updated in place, not duplicated";
}

TEST_F(SalesforceGateway, ReadsMoreIdsThanOneQueryHoldsInChunksFollowingNextRecordsUrl) {
  std::vector<CrmRecordWrite> writes;
  std::vector<std::string> ids;
  for (int i = 0; i < 450; ++i) {
    ids.push_back("prm-sf-bulk-" + std::to_string(i));
    writes.push_back(account(ids.back(), "Bulk " + std::to_string(i)));
  }
  expect_all_ok(gateway->write(writes, "test"), 450);
  ids.push_back("prm-sf-bulk-absent");
  ids.push_back("prm-sf-it's \"quoted\" \\ too");
  admin("DELETE", "/_emulator/stats");
  auto read = gateway->read(ObjectKind::account, ids, {"Name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto found = by_prm_id(read.value());
  EXPECT_EQ(found.size(), 450u);
  EXPECT_EQ(fields_of(found["prm-sf-bulk-321"])["Name"], FieldValue::string_value("Bulk 321"));
  // 452 ids: queries of 200, 200 and 52 ids; pages of 50 rows: 4 + 4 + 1 pages.
  EXPECT_EQ(requests_to("GET query"), 3);
  EXPECT_EQ(requests_to("GET query/{locator}"), 6);
}

TEST_F(SalesforceGateway, LongIdsSplitAQueryBeforeItsUrlGetsTooLong) {
  std::string padding(100, 'x');
  expect_all_ok(gateway->write({account("prm-sf-long-0-" + padding, "Long id")}, "test"), 1);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back("prm-sf-long-" + std::to_string(i) + "-" + padding);
  admin("DELETE", "/_emulator/stats");
  auto read = gateway->read(ObjectKind::account, ids, {"Name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read.value().size(), 1u);
  EXPECT_EQ(read.value()[0].prm_id, ids[0]);
  EXPECT_EQ(requests_to("GET query"), 3)
      << "200 quoted ids of about 120 bytes (24 KB) take three URLs of at most 12 KB";
}

// -------------------------------------------------------------------------------------- Dataverse

// Query pages of 10 rows, so that a read of 25 ids follows @odata.nextLink.
class DynamicsGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    secrets.values["dynamics.client_secret"] = kEmulatorSecret;
    admin("POST", "/_emulator/clock", R"({"now":"2026-11-27T23:28:09Z"})");
  }

  connectors::http::HttpResponse admin(const std::string& method, const std::string& path,
                                       const std::string& body = "") {
    auto answer = transport->send(
        {method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
        std::chrono::steady_clock::now() + seconds(10));
    if (!answer) throw std::runtime_error(answer.error().message);
    if (answer.value().status >= 300) throw std::runtime_error(path + ": " + answer.value().body);
    return answer.value();
  }
  std::map<std::string, std::string> request_counts() {
    rapidjson::Document stats;
    stats.Parse(admin("GET", "/_emulator/stats").body.c_str());
    std::map<std::string, std::string> out;
    for (auto it = stats["requests"].MemberBegin(); it != stats["requests"].MemberEnd(); ++it) {
      out[it->name.GetString()] = std::to_string(it->value.GetInt());
    }
    return out;
  }
  // The row as the capture would turn it into an event (its fields).
  std::map<std::string, FieldValue> captured_fields(const std::string& set, const std::string& id,
                                                    const std::string& select) {
    auto answer = client.send({"GET", set + "(" + id + ")?$select=" + select, {}, "", "GET row"},
                              std::chrono::steady_clock::now() + seconds(10));
    if (!answer) throw std::runtime_error(answer.error().message);
    auto event = connectors::dynamics::event_from_row(
        set == "accounts" ? ObjectKind::account : ObjectKind::deal, answer.value().body, false,
        "test");
    std::map<std::string, FieldValue> out;
    if (event) {
      for (const auto& field : event->fields) out[field.name] = field.value;
    }
    return out;
  }

  static CrmRecordWrite account(const std::string& prm_id, const std::string& name) {
    return upsert(ObjectKind::account, prm_id,
                  {{"name", FieldValue::string_value(name)},
                   {"revenue", FieldValue::number_value("1250.50")},
                   {"numberofemployees", FieldValue::number_value("12")}});
  }

  crmsync::testing::CrmEmulator emulator{"dynamics", {"--page-size", "10"}};
  Logging logging{LogFormat::text, LogLevel::warn, std::make_shared<LogRedactor>()};
  std::unique_ptr<connectors::http::HttpTransport> transport =
      connectors::http::make_curl_transport({emulator.ca_file(), seconds(5), 4},
                                            logging.logger("http"));
  connectors::http::RetryingHttpClient http{
      *transport, mapping::RetryPolicy{milliseconds(10), milliseconds(100), 2.0, 0.0},
      [] { return 0.5; }, [](milliseconds) { return true; }, logging.logger("http")};
  MapSecrets secrets;
  connectors::dynamics::DataverseSettings settings{emulator.base_url(), emulator.base_url(),
                                                   "crmsync-tenant", "crmsync-emulator-client"};
  connectors::dynamics::DataverseTokenClient tokens{settings, http, secrets,
                                                    logging.logger("dynamics")};
  connectors::dynamics::DataverseClient client{settings, http, tokens};
  connectors::dynamics::DataverseApplier applier{
      client, connectors::dynamics::DataverseApplySettings{}, logging.logger("dynamics")};
  DynamicsSideGateway gateway{client, applier, seconds(60)};
};

TEST_F(DynamicsGateway,
       WriteCreatesThenReadReturnsFieldsVersionAndModifiedAtAsTheCaptureConvertsThem) {
  EXPECT_EQ(gateway.side(), mapping::Side::dynamics);
  auto parent = gateway.write({account("prm-dv-parent", "Parent")}, "test");
  expect_all_ok(parent, 1);
  auto child = account("prm-dv-1", "Gateway Corp");
  child.fields.push_back({"parentaccountid@odata.bind",
                          FieldValue::string_value("/accounts(crmsync_prmid='prm-dv-parent')")});
  auto created = gateway.write({child}, "test");
  expect_all_ok(created, 1);
  EXPECT_TRUE(created.value()[0].created);
  std::string id = *created.value()[0].crm_id;

  std::vector<std::string> names = {"name", "revenue", "numberofemployees", "websiteurl",
                                    "_parentaccountid_value"};
  auto read = gateway.read(ObjectKind::account, {"prm-dv-1", "prm-dv-absent"}, names);
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read.value().size(), 1u) << "a record Dataverse does not hold is absent";
  const SideRecordState& record = read.value()[0];
  EXPECT_EQ(record.side_id, id);
  EXPECT_EQ(record.prm_id, "prm-dv-1");
  EXPECT_TRUE(std::regex_match(record.version, std::regex("[0-9]+"))) << record.version;
  EXPECT_EQ(record.modified_at, "2026-11-27T23:28:09Z");
  auto fields = fields_of(record);
  EXPECT_EQ(record.fields.size(), names.size());
  EXPECT_EQ(fields["name"], FieldValue::string_value("Gateway Corp"));
  EXPECT_EQ(fields["revenue"], FieldValue::number_value("1250.5"));
  EXPECT_EQ(fields["numberofemployees"], FieldValue::number_value("12"));
  EXPECT_EQ(fields["websiteurl"], FieldValue::null_value());
  EXPECT_EQ(fields["_parentaccountid_value"], FieldValue::string_value(*parent.value()[0].crm_id));
  auto captured = captured_fields(
      "accounts", id, "name,revenue,numberofemployees,websiteurl,_parentaccountid_value");
  for (const auto& name : names)
    EXPECT_EQ(fields[name], captured[name]) << name << " as the capture converts it";

  admin("POST", "/_emulator/clock", R"({"advance_seconds":5})");
  auto updated = gateway.write({account("prm-dv-1", "Gateway Corp, renamed")}, "test");
  expect_all_ok(updated, 1);
  EXPECT_FALSE(updated.value()[0].created);
  auto reread = gateway.read(ObjectKind::account, {"prm-dv-1"}, {"name"});
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  ASSERT_EQ(reread.value().size(), 1u);
  EXPECT_NE(reread.value()[0].version, record.version) << "a second write changes the version";
  EXPECT_GT(std::stoll(reread.value()[0].version), std::stoll(record.version));
  EXPECT_EQ(reread.value()[0].modified_at, "2026-11-27T23:28:14Z");
  EXPECT_EQ(fields_of(reread.value()[0])["name"],
            FieldValue::string_value("Gateway Corp, renamed"));
}

TEST_F(DynamicsGateway, OneRecordWithABadValueFailsAlone) {
  auto bad = upsert(
      ObjectKind::account, "prm-dv-bad",
      {{"name", FieldValue::string_value("Bad")}, {"revenue", FieldValue::string_value("lots")}});
  auto results = gateway.write(
      {account("prm-dv-ok-1", "Fine"), bad, account("prm-dv-ok-2", "Fine too")}, "test");
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_FALSE(results.value()[0].error.has_value());
  ASSERT_TRUE(results.value()[1].error.has_value());
  EXPECT_EQ(results.value()[1].error->error_class, ErrorClass::invalid);
  EXPECT_FALSE(results.value()[2].error.has_value());
  auto read =
      gateway.read(ObjectKind::account, {"prm-dv-ok-1", "prm-dv-bad", "prm-dv-ok-2"}, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto found = by_prm_id(read.value());
  EXPECT_EQ(found.size(), 2u);
  EXPECT_FALSE(found.contains("prm-dv-bad"));
}

TEST_F(DynamicsGateway, DeleteRemovesTheRecord) {
  expect_all_ok(gateway.write({account("prm-dv-del", "Short-lived")}, "test"), 1);
  expect_all_ok(gateway.write({removal(ObjectKind::account, "prm-dv-del")}, "test"), 1);
  auto read = gateway.read(ObjectKind::account, {"prm-dv-del"}, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_TRUE(read.value().empty());
}

TEST_F(DynamicsGateway, DealsAreReadFromOpportunities) {
  expect_all_ok(gateway.write({account("prm-dv-acc", "Account")}, "test"), 1);
  auto deal = upsert(ObjectKind::deal, "prm-dv-deal",
                     {{"name", FieldValue::string_value("Big deal")},
                      {"estimatedvalue", FieldValue::number_value("120000.50")},
                      {"estimatedclosedate", FieldValue::string_value("2026-12-31")},
                      {"parentaccountid@odata.bind",
                       FieldValue::string_value("/accounts(crmsync_prmid='prm-dv-acc')")}});
  auto created = gateway.write({deal}, "test");
  expect_all_ok(created, 1);
  auto read = gateway.read(ObjectKind::deal, {"prm-dv-deal"},
                           {"name", "estimatedvalue", "estimatedclosedate"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read.value().size(), 1u);
  EXPECT_EQ(read.value()[0].side_id, *created.value()[0].crm_id);
  auto fields = fields_of(read.value()[0]);
  EXPECT_EQ(fields["estimatedvalue"], FieldValue::number_value("120000.5"));
  EXPECT_EQ(fields["estimatedclosedate"], FieldValue::string_value("2026-12-31"));
}

TEST_F(DynamicsGateway, ReadsMoreIdsThanOneRequestHoldsInChunksFollowingNextLink) {
  std::vector<CrmRecordWrite> writes;
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    ids.push_back("prm-dv-bulk-" + std::to_string(i));
    writes.push_back(account(ids.back(), "Bulk " + std::to_string(i)));
  }
  expect_all_ok(gateway.write(writes, "test"), 60);
  ids.push_back("prm-dv-bulk-absent");
  ids.push_back("prm-dv-o'quoted & more");
  admin("DELETE", "/_emulator/stats");
  auto read = gateway.read(ObjectKind::account, ids, {"name"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto found = by_prm_id(read.value());
  EXPECT_EQ(found.size(), 60u);
  EXPECT_EQ(fields_of(found["prm-dv-bulk-42"])["name"], FieldValue::string_value("Bulk 42"));
  // 62 ids: requests of 25, 25 and 12 ids; pages of 10 rows: 3 + 3 + 1 pages.
  int gets = 0;
  for (const auto& [route, count] : request_counts()) {
    if (route.starts_with("GET") && route.find("accounts") != std::string::npos)
      gets += std::stoi(count);
  }
  EXPECT_EQ(gets, 7);
}

}  // namespace
}  // namespace crmsync::daemon
