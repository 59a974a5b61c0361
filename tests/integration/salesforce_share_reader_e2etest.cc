// SalesforceShareReader against build/crm-emulator --api salesforce over HTTPS: Manual share rows
// and record owners read back for the sharing sweep, over several query pages, and malformed
// answers (a transport that rewrites the emulator's query answers) as classified errors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <set>

#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "connectors/salesforce/salesforce_share_reader.h"
#include "daemon/logging.h"
#include "state/file_secret_provider.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

namespace crmsync::mapping {
// Readable failures (found by argument-dependent lookup).
void PrintTo(const CrmShare& share, std::ostream* out) {
  *out << "{" << (share.object == ObjectKind::account ? "account" : "deal") << " " << share.crm_record_id << " "
       << share.principal_id << " " << to_string(share.access) << "}";
}
}  // namespace crmsync::mapping

namespace crmsync::connectors::salesforce {

void PrintTo(const RecordOwner& owner, std::ostream* out) { *out << "{" << owner.crm_record_id << " " << owner.owner_id << "}"; }

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;
using mapping::CrmShare;
using mapping::ErrorClass;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::ShareGrant;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kClientSecret = "crmsync-emulator-secret";
constexpr int kPageSize = 50;

// Passes everything to the real transport; answers of query requests go through `tamper` when it
// is set. Remembers the last Authorization header, to check that no error shows the session.
class TamperingTransport final : public http::HttpTransport {
 public:
  explicit TamperingTransport(http::HttpTransport& inner) : inner_(inner) {}

  mapping::Result<http::HttpResponse> send(const http::HttpRequest& request, http::Deadline deadline) override {
    for (const auto& [name, value] : request.headers) {
      if (name == "Authorization") authorization = value;
    }
    bool query = request.url.find("/query") != std::string::npos;
    if (query) ++queries;
    auto answer = inner_.send(request, deadline);
    if (answer && query && tamper) tamper(answer.value());
    return answer;
  }

  std::function<void(http::HttpResponse&)> tamper;
  std::string authorization;
  int queries = 0;

 private:
  http::HttpTransport& inner_;
};

// Query pages of kPageSize rows, so that a few dozen share rows span several pages.
class SalesforceShareReading : public ::testing::Test {
 protected:
  SalesforceShareReading() : emulator("salesforce", {"--page-size", std::to_string(kPageSize)}) {}

  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / crmsync::testing::unique_name("sfshare");
    std::filesystem::create_directories(dir);
    auto path = dir / "client_secret";
    std::ofstream(path) << kClientSecret;
    ::chmod(path.c_str(), 0600);
    files = std::make_unique<state::FileSecretProvider>(
        std::map<std::string, std::filesystem::path>{{"salesforce.client_secret", path}});
    settings.login_url = emulator.base_url();
    settings.client_id = "crmsync-emulator-client";
    transport = http::make_curl_transport({emulator.ca_file(), seconds(5), 4}, logging.logger("http"));
    tampering = std::make_unique<TamperingTransport>(*transport);
    sf = std::make_unique<SalesforceClient>(settings, *tampering, *files, logging.logger("salesforce"),
                                            mapping::RetryPolicy{milliseconds(10), milliseconds(200), 2.0, 0.0},
                                            [] { return 0.5; }, [](milliseconds) { return true; });
    sink = std::make_unique<SalesforceRecordSink>(*sf);
    reader = std::make_unique<SalesforceShareReader>(*sf);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  http::Deadline in(seconds s) { return std::chrono::steady_clock::now() + s; }

  rapidjson::Document admin(const std::string& method, const std::string& path, const std::string& body = "") {
    auto answer = transport->send({method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
                                  in(seconds(10)));
    if (!answer) throw std::runtime_error(answer.error().message);
    if (answer.value().status >= 300) throw std::runtime_error(path + ": " + answer.value().body);
    rapidjson::Document json;
    json.Parse(answer.value().body.c_str());
    return json;
  }
  int requests_to(const std::string& route) {
    auto stats = admin("GET", "/_emulator/stats");
    if (!stats.HasMember("requests") || !stats["requests"].HasMember(route.c_str())) return 0;
    return stats["requests"][route.c_str()].GetInt();
  }

  // The id Salesforce gave a record created directly through the REST API.
  std::string create(const std::string& sobject, const std::string& body) {
    auto answer = sf->request("POST", "sobjects/" + sobject, body, "create " + sobject, in(seconds(20)), true);
    if (!answer) throw std::runtime_error(answer.error().message);
    rapidjson::Document json;
    json.Parse(answer.value().body.c_str());
    return json["id"].GetString();
  }
  // OwnerId of an Account as the emulator holds it (read past the API).
  std::string owner_of(const std::string& account_id) {
    rapidjson::Document records = admin("GET", "/_emulator/records/Account");
    for (const auto& record : records.GetArray()) {
      if (std::string(record["Id"].GetString()) == account_id) return record["OwnerId"].GetString();
    }
    return "";
  }
  std::string group(const std::string& name) { return create("Group", R"({"Name":")" + name + R"(","Type":"Regular"})"); }

  // Synced records (they carry a PRM id), created through the sink; their Salesforce ids.
  std::vector<std::string> synced(ObjectKind object, const std::string& prefix, int count,
                                  std::optional<std::string> owner = std::nullopt) {
    std::vector<mapping::CrmRecordWrite> writes;
    for (int i = 0; i < count; ++i) {
      mapping::CrmRecordWrite write;
      write.object = object;
      write.prm_id = prefix + std::to_string(i);
      write.fields = {{"Name", FieldValue::string_value(prefix + " " + std::to_string(i))}};
      if (object == ObjectKind::deal) {
        write.fields.push_back({"StageName", FieldValue::string_value("Prospecting")});
        write.fields.push_back({"CloseDate", FieldValue::string_value("2026-06-30")});
      }
      write.owner_id = owner;
      writes.push_back(std::move(write));
    }
    auto results = sink->apply(writes, in(seconds(60)));
    if (!results) throw std::runtime_error(results.error().message);
    std::vector<std::string> ids;
    for (const auto& result : results.value()) {
      if (result.error) throw std::runtime_error(result.error->message);
      ids.push_back(*result.crm_id);
    }
    return ids;
  }

  void apply_shares(const std::vector<mapping::CrmShareWrite>& shares) {
    auto results = sink->apply_shares(shares, in(seconds(60)));
    ASSERT_TRUE(results.ok()) << results.error().message;
    for (const auto& result : results.value()) ASSERT_FALSE(result.error.has_value()) << result.error->message;
  }

  // No error message may show the client secret or the session.
  void expect_no_secret(const mapping::SyncError& error) {
    EXPECT_THAT(error.message, Not(HasSubstr(kClientSecret)));
    ASSERT_TRUE(tampering->authorization.starts_with("Bearer "));
    EXPECT_THAT(error.message, Not(HasSubstr(tampering->authorization.substr(7))));
  }

  crmsync::testing::CrmEmulator emulator;
  std::filesystem::path dir;
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>()};
  std::unique_ptr<state::FileSecretProvider> files;
  SalesforceSettings settings;
  std::unique_ptr<http::HttpTransport> transport;
  std::unique_ptr<TamperingTransport> tampering;
  std::unique_ptr<SalesforceClient> sf;
  std::unique_ptr<SalesforceRecordSink> sink;
  std::unique_ptr<SalesforceShareReader> reader;
};

CrmShare share(ObjectKind object, const std::string& record, const std::string& principal, ShareGrant::Access access) {
  return CrmShare{object, record, principal, access};
}

TEST_F(SalesforceShareReading, GrantsAreReadBackWithTheirLevelsAndARevokedShareDisappears) {
  auto accounts = synced(ObjectKind::account, "prm-acc-", 2);
  auto deals = synced(ObjectKind::deal, "prm-opp-", 1);
  std::string partner_a = group("Partner A");
  std::string partner_b = group("Partner B");
  const auto read = ShareGrant::Access::read;
  const auto edit = ShareGrant::Access::edit;
  apply_shares({{ObjectKind::account, accounts[0], partner_a, true, read},
                {ObjectKind::account, accounts[0], partner_b, true, edit},
                {ObjectKind::account, accounts[1], partner_a, true, edit},
                {ObjectKind::deal, deals[0], partner_a, true, read},
                {ObjectKind::deal, deals[0], partner_b, true, edit}});

  auto account_shares = reader->manual_shares(ObjectKind::account, in(seconds(30)));
  ASSERT_TRUE(account_shares.ok()) << account_shares.error().message;
  EXPECT_THAT(account_shares.value(),
              UnorderedElementsAre(share(ObjectKind::account, accounts[0], partner_a, read),
                                   share(ObjectKind::account, accounts[0], partner_b, edit),
                                   share(ObjectKind::account, accounts[1], partner_a, edit)));
  auto deal_shares = reader->manual_shares(ObjectKind::deal, in(seconds(30)));
  ASSERT_TRUE(deal_shares.ok()) << deal_shares.error().message;
  EXPECT_THAT(deal_shares.value(), UnorderedElementsAre(share(ObjectKind::deal, deals[0], partner_a, read),
                                                        share(ObjectKind::deal, deals[0], partner_b, edit)));
  auto of_second = reader->manual_shares_of(ObjectKind::account, {accounts[1]}, in(seconds(30)));
  ASSERT_TRUE(of_second.ok()) << of_second.error().message;
  EXPECT_THAT(of_second.value(), UnorderedElementsAre(share(ObjectKind::account, accounts[1], partner_a, edit)));
  // A 15-character id names the same record; the answer carries the 18-character id.
  auto by_short_id = reader->manual_shares_of(ObjectKind::deal, {deals[0].substr(0, 15)}, in(seconds(30)));
  ASSERT_TRUE(by_short_id.ok()) << by_short_id.error().message;
  EXPECT_EQ(by_short_id.value().size(), 2u);

  // Changed in place: the level read back follows.
  apply_shares({{ObjectKind::account, accounts[0], partner_a, true, edit}});
  apply_shares({{ObjectKind::account, accounts[0], partner_b, false, edit},
                {ObjectKind::deal, deals[0], partner_a, false, read}});
  auto after = reader->manual_shares(ObjectKind::account, in(seconds(30)));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_THAT(after.value(), UnorderedElementsAre(share(ObjectKind::account, accounts[0], partner_a, edit),
                                                  share(ObjectKind::account, accounts[1], partner_a, edit)));
  auto after_of = reader->manual_shares_of(ObjectKind::deal, {deals[0]}, in(seconds(30)));
  ASSERT_TRUE(after_of.ok()) << after_of.error().message;
  EXPECT_THAT(after_of.value(), UnorderedElementsAre(share(ObjectKind::deal, deals[0], partner_b, edit)));

  auto none = reader->manual_shares_of(ObjectKind::account, {}, in(seconds(30)));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

// Rows the platform maintains (an Owner row, a sharing rule's Rule row) are in the share tables
// too; the emulator refuses them through the API, so a seed puts them there, as an org has them.
TEST_F(SalesforceShareReading, SharesOfOtherCausesAreNotRead) {
  auto accounts = synced(ObjectKind::account, "prm-ruled-", 1);
  auto deals = synced(ObjectKind::deal, "prm-ruled-opp-", 1);
  std::string rule_group = group("Rule group");
  std::string manual_group = group("Manual group");
  std::string owner = owner_of(accounts[0]);
  admin("POST", "/_emulator/seed",
        R"({"records":{"AccountShare":[)"
        R"({"AccountId":")" + accounts[0] + R"(","UserOrGroupId":")" + owner +
            R"(","AccountAccessLevel":"All","OpportunityAccessLevel":"Edit","RowCause":"Owner"},)"
            R"({"AccountId":")" + accounts[0] + R"(","UserOrGroupId":")" + rule_group +
            R"(","AccountAccessLevel":"Edit","OpportunityAccessLevel":"None","RowCause":"Rule"}],)"
            R"("OpportunityShare":[{"OpportunityId":")" + deals[0] + R"(","UserOrGroupId":")" + rule_group +
            R"(","OpportunityAccessLevel":"Read","RowCause":"Rule"}]}})");
  apply_shares({{ObjectKind::account, accounts[0], manual_group, true, ShareGrant::Access::read}});

  auto all = reader->manual_shares(ObjectKind::account, in(seconds(30)));
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_THAT(all.value(),
              UnorderedElementsAre(share(ObjectKind::account, accounts[0], manual_group, ShareGrant::Access::read)));
  auto of = reader->manual_shares_of(ObjectKind::account, accounts, in(seconds(30)));
  ASSERT_TRUE(of.ok()) << of.error().message;
  EXPECT_EQ(of.value(), all.value());
  auto deal_shares = reader->manual_shares(ObjectKind::deal, in(seconds(30)));
  ASSERT_TRUE(deal_shares.ok()) << deal_shares.error().message;
  EXPECT_TRUE(deal_shares.value().empty());
}

TEST_F(SalesforceShareReading, MoreRowsThanAPageAreAllReadExactlyOnce) {
  constexpr int kAccounts = 230;  // 5 pages of 50; two id chunks (200 + 30)
  auto accounts = synced(ObjectKind::account, "prm-many-", kAccounts);
  std::string partner = group("Partner");
  std::vector<mapping::CrmShareWrite> grants;
  std::vector<CrmShare> expected;
  for (int i = 0; i < kAccounts; ++i) {
    auto access = i % 3 == 0 ? ShareGrant::Access::edit : ShareGrant::Access::read;
    grants.push_back({ObjectKind::account, accounts[i], partner, true, access});
    expected.push_back(share(ObjectKind::account, accounts[i], partner, access));
  }
  apply_shares(grants);

  admin("DELETE", "/_emulator/stats");
  auto all = reader->manual_shares(ObjectKind::account, in(seconds(60)));
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_THAT(all.value(), UnorderedElementsAreArray(expected)) << "every row once: none lost, none twice";
  EXPECT_EQ(requests_to("GET query"), 1);
  EXPECT_EQ(requests_to("GET query/{locator}"), 4) << "pages 2 to 5 through nextRecordsUrl";

  // Given twice, an id is still asked for once.
  std::vector<std::string> ids = accounts;
  ids.push_back(accounts[7]);
  admin("DELETE", "/_emulator/stats");
  auto of = reader->manual_shares_of(ObjectKind::account, ids, in(seconds(60)));
  ASSERT_TRUE(of.ok()) << of.error().message;
  EXPECT_THAT(of.value(), UnorderedElementsAreArray(expected));
  EXPECT_EQ(requests_to("GET query"), 2) << "200 ids a query";
  EXPECT_EQ(requests_to("GET query/{locator}"), 3) << "the 200-id query spans 4 pages";

  auto owners = reader->owners(ObjectKind::account, in(seconds(60)));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  std::set<std::string> owned;
  for (const auto& owner : owners.value()) owned.insert(owner.crm_record_id);
  EXPECT_EQ(owners.value().size(), static_cast<std::size_t>(kAccounts));
  EXPECT_EQ(owned, std::set<std::string>(accounts.begin(), accounts.end()));
}

TEST_F(SalesforceShareReading, OwnersAreReadForRecordsWithAPrmIdOrByTheirIds) {
  std::string rep = create("User", R"({"Username":"rep@partner.example","LastName":"Rep"})");
  auto by_rep = synced(ObjectKind::account, "prm-rep-", 2, rep);
  auto by_default = synced(ObjectKind::account, "prm-default-", 1);
  auto deals = synced(ObjectKind::deal, "prm-rep-opp-", 1, rep);
  std::string unsynced = create("Account", R"({"Name":"Made in Salesforce"})");
  std::string integration_user = owner_of(by_default[0]);
  ASSERT_FALSE(integration_user.empty());
  ASSERT_NE(integration_user, rep);

  auto owners = reader->owners(ObjectKind::account, in(seconds(30)));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  EXPECT_THAT(owners.value(), UnorderedElementsAre(RecordOwner{by_rep[0], rep}, RecordOwner{by_rep[1], rep},
                                                   RecordOwner{by_default[0], integration_user}))
      << "a record without a PRM id is not synced";
  auto deal_owners = reader->owners(ObjectKind::deal, in(seconds(30)));
  ASSERT_TRUE(deal_owners.ok()) << deal_owners.error().message;
  EXPECT_THAT(deal_owners.value(), UnorderedElementsAre(RecordOwner{deals[0], rep}));

  // By id, whether or not the record carries a PRM id; a deleted record is not answered.
  mapping::CrmRecordWrite removal;
  removal.object = ObjectKind::account;
  removal.op = mapping::CanonicalEvent::Operation::remove;
  removal.prm_id = "prm-rep-1";
  ASSERT_TRUE(sink->apply({removal}, in(seconds(30))).ok());
  auto of = reader->owners_of(ObjectKind::account, {unsynced, by_rep[0], by_rep[1]}, in(seconds(30)));
  ASSERT_TRUE(of.ok()) << of.error().message;
  EXPECT_THAT(of.value(), UnorderedElementsAre(RecordOwner{unsynced, integration_user}, RecordOwner{by_rep[0], rep}));
}

TEST_F(SalesforceShareReading, MalformedAnswersAreClassifiedErrors) {
  auto accounts = synced(ObjectKind::account, "prm-bad-", 3);
  std::string partner = group("Partner");
  apply_shares({{ObjectKind::account, accounts[0], partner, true, ShareGrant::Access::read}});
  auto replace_body = [&](std::string body) {
    tampering->tamper = [body](http::HttpResponse& answer) { answer.body = body; };
  };
  auto expect_error = [&](ErrorClass klass, const std::string& mentions) {
    auto read = reader->manual_shares(ObjectKind::account, in(seconds(30)));
    ASSERT_FALSE(read.ok()) << "accepted a malformed answer: " << mentions;
    EXPECT_EQ(read.error().error_class, klass) << read.error().message;
    EXPECT_THAT(read.error().message, HasSubstr(mentions));
    EXPECT_THAT(read.error().message, HasSubstr("read Manual AccountShare rows"));
    expect_no_secret(read.error());
  };

  replace_body("<html>gateway</html>");
  expect_error(ErrorClass::transient, "not a JSON object");
  replace_body(R"({"totalSize":1,"done":true})");
  expect_error(ErrorClass::transient, "no records array");
  replace_body(R"({"totalSize":1,"records":[]})");
  expect_error(ErrorClass::transient, "no boolean done");
  replace_body(R"({"totalSize":60,"done":false,"records":[]})");
  expect_error(ErrorClass::transient, "no nextRecordsUrl");
  replace_body(R"({"totalSize":60,"done":false,"nextRecordsUrl":"https://elsewhere.example/steal","records":[]})");
  expect_error(ErrorClass::invalid, "https://elsewhere.example/steal");
  replace_body(R"({"totalSize":1,"done":true,"records":[42]})");
  expect_error(ErrorClass::invalid, "row 1 is not a JSON object");
  replace_body(R"({"totalSize":1,"done":true,"records":[{"Id":"00r000000000001AAA","AccountId":")" + accounts[0] +
               R"(","UserOrGroupId":17,"AccountAccessLevel":"Read"}]})");
  expect_error(ErrorClass::invalid, "00r000000000001AAA (page 1 row 1) has no UserOrGroupId string");
  replace_body(R"({"totalSize":1,"done":true,"records":[{"Id":"00r000000000001AAA","UserOrGroupId":")" + partner +
               R"(","AccountAccessLevel":"Read"}]})");
  expect_error(ErrorClass::invalid, "has no AccountId string");
  replace_body(R"({"totalSize":1,"done":true,"records":[{"Id":"00r000000000001AAA","AccountId":")" + accounts[0] +
               R"(","UserOrGroupId":")" + partner + R"(","AccountAccessLevel":"None"}]})");
  expect_error(ErrorClass::invalid, "AccountAccessLevel \"None\", none of Read, Edit, All");

  // A second page that breaks fails the whole read: no partial list.
  tampering->tamper = nullptr;
  auto many = synced(ObjectKind::account, "prm-paged-", kPageSize + 5);
  std::vector<mapping::CrmShareWrite> grants;
  for (const auto& id : many) grants.push_back({ObjectKind::account, id, partner, true, ShareGrant::Access::edit});
  apply_shares(grants);
  int answers = 0;
  tampering->tamper = [&answers](http::HttpResponse& answer) {
    if (++answers == 2) answer.body = "{";
  };
  auto paged = reader->manual_shares(ObjectKind::account, in(seconds(30)));
  ASSERT_FALSE(paged.ok());
  EXPECT_EQ(paged.error().error_class, ErrorClass::transient);
  EXPECT_THAT(paged.error().message, HasSubstr("page 2"));

  replace_body(R"({"totalSize":1,"done":true,"records":[{"Id":")" + accounts[1] + R"(","OwnerId":null}]})");
  auto owners = reader->owners_of(ObjectKind::account, {accounts[1]}, in(seconds(30)));
  ASSERT_FALSE(owners.ok());
  EXPECT_EQ(owners.error().error_class, ErrorClass::invalid);
  EXPECT_THAT(owners.error().message, HasSubstr(accounts[1] + " (page 1 row 1) has no OwnerId string"));
  expect_no_secret(owners.error());

  // An id that is not a Salesforce id fails before any query is sent.
  tampering->tamper = nullptr;
  int before = tampering->queries;
  auto bad_id = reader->owners_of(ObjectKind::account, {accounts[0], "x' OR Name != '"}, in(seconds(30)));
  ASSERT_FALSE(bad_id.ok());
  EXPECT_EQ(bad_id.error().error_class, ErrorClass::invalid);
  EXPECT_THAT(bad_id.error().message, HasSubstr("is not a Salesforce record id"));
  auto bad_share_id = reader->manual_shares_of(ObjectKind::deal, {"006"}, in(seconds(30)));
  ASSERT_FALSE(bad_share_id.ok());
  EXPECT_EQ(bad_share_id.error().error_class, ErrorClass::invalid);
  EXPECT_EQ(tampering->queries, before);
}

}  // namespace
}  // namespace crmsync::connectors::salesforce
