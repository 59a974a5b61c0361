#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fmt/format.h>

#include <atomic>
#include <map>
#include <thread>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "daemon/logging.h"
#include "tests/support/crm_emulator.h"

namespace crmsync::connectors::dynamics {
namespace {

using mapping::CanonicalEvent;
using mapping::CrmRecordWrite;
using mapping::CrmShareWrite;
using mapping::ErrorClass;
using mapping::FieldValue;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kSecret = "crmsync-emulator-secret";
constexpr const char* kTeamA = "6a1e0000-0000-4000-8000-00000000000a";
constexpr const char* kTeamB = "6a1e0000-0000-4000-8000-00000000000b";

// Secrets by name, as the store or credential files would hand them out; counts the asks.
class MapSecrets : public mapping::SecretProvider {
 public:
  std::map<std::string, std::string> values;
  int asks = 0;
  mapping::Result<mapping::SecretString> current(const std::string& name) override {
    ++asks;
    auto it = values.find(name);
    if (it == values.end())
      return mapping::SyncError{ErrorClass::invalid, "no secret named " + name};
    return mapping::SecretString(it->second);
  }
  mapping::Status store_rotated(const std::string&, const mapping::SecretString&) override {
    return mapping::SyncError{ErrorClass::auth, "read-only"};
  }
};

// The Dataverse connector's apply side against build/crm-emulator --api dynamics over HTTPS, with
// faults injected through its admin API.
class DataverseApplyTest : public ::testing::Test {
 protected:
  DataverseApplyTest() = default;
  explicit DataverseApplyTest(const std::vector<std::string>& emulator_args) : emulator{"dynamics", emulator_args} {}

  void SetUp() override {
    secrets.values["dynamics.client_secret"] = kSecret;
    admin(
        "POST", "/_emulator/seed",
        fmt::format(
            R"({{"records":{{"teams":[{{"teamid":"{}","name":"Partner A"}},{{"teamid":"{}","name":"Partner B"}}]}}}})",
            kTeamA, kTeamB));
  }

  http::Deadline in(seconds s) { return std::chrono::steady_clock::now() + s; }

  http::HttpResponse admin(const std::string& method, const std::string& path,
                           const std::string& body = "") {
    auto answer = transport->send(
        {method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
        in(seconds(10)));
    if (!answer) throw std::runtime_error(answer.error().message);
    if (answer.value().status >= 300) throw std::runtime_error(path + ": " + answer.value().body);
    return answer.value();
  }

  // Every live row of an entity set, by crmsync_prmid.
  std::map<std::string, std::map<std::string, std::string>> rows(const std::string& set) {
    rapidjson::Document doc;
    std::string body = admin("GET", "/_emulator/records/" + set).body;
    doc.Parse(body.c_str());
    const rapidjson::Value& list = doc.IsArray() ? doc : doc["value"];
    std::map<std::string, std::map<std::string, std::string>> out;
    for (const auto& row : list.GetArray()) {
      std::map<std::string, std::string> fields;
      for (auto m = row.MemberBegin(); m != row.MemberEnd(); ++m) {
        if (m->value.IsString()) fields[m->name.GetString()] = m->value.GetString();
        if (m->value.IsNumber()) fields[m->name.GetString()] = std::to_string(m->value.GetDouble());
      }
      std::string key =
          fields.count("crmsync_prmid") ? fields["crmsync_prmid"] : fields["accountid"];
      EXPECT_EQ(out.count(key), 0u) << "two rows for " << key;
      out[key] = fields;
    }
    return out;
  }

  static CrmRecordWrite account(const std::string& prm_id, const std::string& name) {
    CrmRecordWrite write;
    write.object = mapping::ObjectKind::account;
    write.prm_id = prm_id;
    write.fields = {{"name", FieldValue::string_value(name)},
                    {"revenue", FieldValue::number_value("1250.50")}};
    return write;
  }

  std::string etag_of(const std::string& id) {
    auto answer = client.send({"GET", "accounts(" + id + ")?$select=name", {}, "", "GET account"},
                              in(seconds(10)));
    if (!answer) throw std::runtime_error(answer.error().message);
    rapidjson::Document doc;
    doc.Parse(answer.value().body.c_str());
    return doc["@odata.etag"].GetString();
  }

  testing::CrmEmulator emulator{"dynamics"};
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>()};
  std::unique_ptr<http::HttpTransport> transport = http::make_curl_transport(
      http::HttpTransportSettings{emulator.ca_file(), seconds(5), 4}, logging.logger("http"));
  std::vector<milliseconds> waits;
  http::RetryingHttpClient http{*transport,
                                mapping::RetryPolicy{milliseconds(10), milliseconds(100), 2.0, 0.0},
                                [] { return 0.5; },
                                [this](milliseconds wait) {
                                  waits.push_back(wait);
                                  std::this_thread::sleep_for(std::min(wait, milliseconds(50)));
                                  return true;
                                },
                                logging.logger("http")};
  MapSecrets secrets;
  DataverseSettings settings{emulator.base_url(), emulator.base_url(), "crmsync-tenant",
                             "crmsync-emulator-client"};
  DataverseTokenClient tokens{settings, http, secrets, logging.logger("dynamics")};
  DataverseClient client{settings, http, tokens};
  DataverseApplier applier{client, DataverseApplySettings{}, logging.logger("dynamics")};
};

TEST_F(DataverseApplyTest, TokenIsCachedAndFetchedAgainAfterItExpired) {
  auto first = client.send({"GET", "WhoAmI", {}, "", "GET WhoAmI"}, in(seconds(10)));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_THAT(first.value().body, HasSubstr("UserId"));
  ASSERT_TRUE(client.send({"GET", "WhoAmI", {}, "", "GET WhoAmI"}, in(seconds(10))).ok());
  EXPECT_EQ(tokens.tokens_fetched(), 1) << "the second request reuses the cached token";

  admin("POST", "/_emulator/tokens/expire");
  auto after = client.send({"GET", "WhoAmI", {}, "", "GET WhoAmI"}, in(seconds(10)));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(tokens.tokens_fetched(), 2)
      << "a 401 fetches one new token and the request is sent again";
  EXPECT_EQ(secrets.asks, 2)
      << "the secret is asked for on every token request (rotation takes effect)";
}

TEST_F(DataverseApplyTest, TokenExpiringInTheMiddleOfABatchIsRenewedOnce) {
  admin("POST", "/_emulator/faults",
        R"({"method":"POST","path":"/api/data/*/$batch","expire_tokens":true,"times":1})");
  auto results = applier.apply({account("prm-exp-1", "Expiring")}, in(seconds(30)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_FALSE(results.value()[0].error.has_value());
  EXPECT_EQ(tokens.tokens_fetched(), 2);
}

TEST_F(DataverseApplyTest, RejectedSecretIsAnAuthErrorThatDoesNotShowTheSecret) {
  secrets.values["dynamics.client_secret"] = "wrong-secret-value";
  auto answer = client.send({"GET", "WhoAmI", {}, "", "GET WhoAmI"}, in(seconds(10)));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().error_class, ErrorClass::auth);
  EXPECT_THAT(answer.error().message, HasSubstr("invalid_client"));
  EXPECT_THAT(answer.error().message, Not(HasSubstr("wrong-secret-value")));
  secrets.values.clear();
  auto missing = client.send({"GET", "WhoAmI", {}, "", "GET WhoAmI"}, in(seconds(10)));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("dynamics.client_secret"));
}

TEST_F(DataverseApplyTest, BatchUpsertCreatesThenUpdatesByAlternateKeyWithOwner) {
  std::vector<CrmRecordWrite> writes = {account("prm-1", "One"), account("prm-2", "Two"),
                                        account("prm-3", "O'Three")};
  writes[0].owner_id = kTeamA;
  auto created = applier.apply(writes, in(seconds(30)));
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_EQ(created.value().size(), 3u);
  for (const auto& result : created.value()) {
    EXPECT_FALSE(result.error.has_value()) << result.error->message;
    EXPECT_TRUE(result.created);
    ASSERT_TRUE(result.crm_id.has_value());
  }
  writes[0].fields[0].value = FieldValue::string_value("One, renamed");
  writes[0].owner_id = kTeamB;
  writes[2].fields[0].value = FieldValue::string_value("Three, renamed");
  auto updated = applier.apply(writes, in(seconds(30)));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(updated.value()[i].error.has_value());
    EXPECT_FALSE(updated.value()[i].created);
    EXPECT_EQ(updated.value()[i].crm_id, created.value()[i].crm_id);
  }
  EXPECT_EQ(applier.batches_sent(), 2u) << "three records per call";
  auto stored = rows("accounts");
  EXPECT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored["prm-1"]["name"], "One, renamed");
  EXPECT_EQ(stored["prm-1"]["_ownerid_value"], kTeamB);
  EXPECT_EQ(stored["prm-3"]["name"], "Three, renamed");
  EXPECT_EQ(stored["prm-2"]["accountid"], *created.value()[1].crm_id);

  // A record known by its GUID is addressed by it, and gets its PRM id written.
  CrmRecordWrite by_id = account("prm-2b", "Two by id");
  by_id.crm_id = created.value()[1].crm_id;
  auto addressed = applier.apply({by_id}, in(seconds(30)));
  ASSERT_TRUE(addressed.ok());
  EXPECT_FALSE(addressed.value()[0].error.has_value());
  EXPECT_EQ(rows("accounts")["prm-2b"]["name"], "Two by id");
}

TEST_F(DataverseApplyTest, AFailedRecordDoesNotFailItsNeighbours) {
  std::vector<CrmRecordWrite> writes = {account("ok-1", "Fine"), account("bad-1", "Broken"),
                                        account("ok-2", "Fine too")};
  writes[1].fields.push_back({"no_such_column", FieldValue::string_value("x")});
  auto results = applier.apply(writes, in(seconds(30)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_FALSE(results.value()[0].error.has_value());
  ASSERT_TRUE(results.value()[1].error.has_value());
  EXPECT_EQ(results.value()[1].error->error_class, ErrorClass::invalid);
  EXPECT_THAT(results.value()[1].error->message, HasSubstr("HTTP 400"));
  EXPECT_THAT(results.value()[1].error->message, HasSubstr("prm_id=bad-1"));
  EXPECT_FALSE(results.value()[2].error.has_value());
  auto stored = rows("accounts");
  EXPECT_TRUE(stored.count("ok-1"));
  EXPECT_TRUE(stored.count("ok-2"));
  EXPECT_FALSE(stored.count("bad-1"));
  EXPECT_EQ(applier.batches_sent(), 1u);
}

TEST_F(DataverseApplyTest, StaleETagSurfacesAsAConflict) {
  auto created = applier.apply({account("etag-1", "Versioned")}, in(seconds(30)));
  ASSERT_TRUE(created.ok());
  std::string id = *created.value()[0].crm_id;
  std::string old_etag = etag_of(id);
  ASSERT_TRUE(applier.apply({account("etag-1", "Changed elsewhere")}, in(seconds(30))).ok());

  CrmRecordWrite stale = account("etag-1", "Ours, on a stale version");
  stale.etag = old_etag;
  auto refused = applier.apply({stale}, in(seconds(30)));
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  ASSERT_TRUE(refused.value()[0].error.has_value());
  EXPECT_EQ(refused.value()[0].error->error_class, ErrorClass::conflict);
  EXPECT_THAT(refused.value()[0].error->message, HasSubstr("0x80060882"));
  EXPECT_EQ(rows("accounts")["etag-1"]["name"], "Changed elsewhere");

  stale.etag = etag_of(id);
  auto accepted = applier.apply({stale}, in(seconds(30)));
  ASSERT_TRUE(accepted.ok());
  EXPECT_FALSE(accepted.value()[0].error.has_value());
  EXPECT_EQ(rows("accounts")["etag-1"]["name"], "Ours, on a stale version");

  CrmRecordWrite remove = account("etag-1", "");
  remove.op = CanonicalEvent::Operation::remove;
  remove.etag = old_etag;
  auto delete_refused = applier.apply({remove}, in(seconds(30)));
  ASSERT_TRUE(delete_refused.ok());
  ASSERT_TRUE(delete_refused.value()[0].error.has_value());
  EXPECT_EQ(delete_refused.value()[0].error->error_class, ErrorClass::conflict);
}

TEST_F(DataverseApplyTest, DeletesByAlternateKeyAndAgainIsDone) {
  ASSERT_TRUE(
      applier.apply({account("del-1", "Doomed"), account("keep-1", "Kept")}, in(seconds(30))).ok());
  CrmRecordWrite remove;
  remove.op = CanonicalEvent::Operation::remove;
  remove.prm_id = "del-1";
  auto first = applier.apply({remove}, in(seconds(30)));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first.value()[0].error.has_value()) << first.value()[0].error->message;
  auto stored = rows("accounts");
  EXPECT_FALSE(stored.count("del-1"));
  EXPECT_TRUE(stored.count("keep-1"));
  auto again = applier.apply({remove}, in(seconds(30)));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value()[0].error.has_value())
      << "a re-delivered delete finds nothing and is done";
}

TEST_F(DataverseApplyTest, RateLimitStormIsWaitedOutAndEveryWriteLandsOnce) {
  admin("POST", "/_emulator/faults",
        R"({"method":"POST","path":"/api/data/*/$batch","status":429,"retry_after":1,"times":4})");
  admin("POST", "/_emulator/faults",
        R"({"method":"POST","path":"/api/data/*/$batch","status":503,"times":1})");
  DataverseApplier small{client, DataverseApplySettings{100}, logging.logger("dynamics")};
  std::vector<CrmRecordWrite> writes;
  for (int i = 0; i < 250; ++i)
    writes.push_back(account(fmt::format("storm-{:03}", i), fmt::format("Storm {}", i)));
  auto results = small.apply(writes, in(seconds(60)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  for (const auto& result : results.value())
    EXPECT_FALSE(result.error.has_value()) << result.error->message;
  auto stored = rows("accounts");
  EXPECT_EQ(stored.size(), 250u) << "every write landed, none twice";
  int server_waits = 0;
  for (auto wait : waits) server_waits += wait >= milliseconds(1000) ? 1 : 0;
  EXPECT_EQ(server_waits, 4) << "each 429 waited its Retry-After";
  std::string stats = admin("GET", "/_emulator/stats").body;
  EXPECT_THAT(stats, HasSubstr(R"("100":2)")) << stats;
  EXPECT_THAT(stats, HasSubstr(R"("50":1)")) << stats;
}

TEST_F(DataverseApplyTest, BatchSizeIsBounded) {
  EXPECT_THROW((DataverseApplier{client, DataverseApplySettings{0}, logging.logger("dynamics")}),
               std::invalid_argument);
  EXPECT_THROW((DataverseApplier{client, DataverseApplySettings{1001}, logging.logger("dynamics")}),
               std::invalid_argument);
  DataverseApplier largest{client, DataverseApplySettings{1000}, logging.logger("dynamics")};
  std::vector<CrmRecordWrite> writes;
  for (int i = 0; i < 1000; ++i) writes.push_back(account(fmt::format("bulk-{:04}", i), "Bulk"));
  auto results = largest.apply(writes, in(seconds(120)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  EXPECT_EQ(largest.batches_sent(), 1u);
  EXPECT_EQ(rows("accounts").size(), 1000u);
}

TEST_F(DataverseApplyTest, SharesAreGrantedModifiedAndRevoked) {
  auto created = applier.apply({account("shared-1", "Shared")}, in(seconds(30)));
  ASSERT_TRUE(created.ok());
  std::string id = *created.value()[0].crm_id;
  auto share = [&](const char* team, bool grant, mapping::ShareGrant::Access access) {
    CrmShareWrite write;
    write.crm_record_id = id;
    write.principal_id = team;
    write.grant = grant;
    write.access = access;
    return write;
  };
  auto granted = applier.apply_shares({share(kTeamA, true, mapping::ShareGrant::Access::edit),
                                       share(kTeamB, true, mapping::ShareGrant::Access::read)},
                                      in(seconds(30)));
  ASSERT_TRUE(granted.ok()) << granted.error().message;
  for (const auto& status : granted.value()) EXPECT_TRUE(status.ok()) << status.error().message;
  auto principals = applier.shared_principals(mapping::ObjectKind::account, id, in(seconds(10)));
  ASSERT_TRUE(principals.ok()) << principals.error().message;
  std::map<std::string, std::string> masks;
  for (const auto& p : principals.value()) {
    EXPECT_EQ(p.principal.logical_name, "team");
    masks[p.principal.id] = p.access_mask;
  }
  EXPECT_EQ(masks[kTeamA], "ReadAccess, WriteAccess");
  EXPECT_EQ(masks[kTeamB], "ReadAccess");

  // Edit down to read (ModifyAccess replaces), then revoke B.
  auto changed = applier.apply_shares({share(kTeamA, true, mapping::ShareGrant::Access::read),
                                       share(kTeamB, false, mapping::ShareGrant::Access::read)},
                                      in(seconds(30)));
  ASSERT_TRUE(changed.ok());
  for (const auto& status : changed.value()) EXPECT_TRUE(status.ok()) << status.error().message;
  principals = applier.shared_principals(mapping::ObjectKind::account, id, in(seconds(10)));
  ASSERT_TRUE(principals.ok());
  ASSERT_EQ(principals.value().size(), 1u);
  EXPECT_EQ(principals.value()[0].principal.id, kTeamA);
  EXPECT_EQ(principals.value()[0].access_mask, "ReadAccess");

  auto unknown = applier.apply_shares(
      {share("6a1e0000-0000-4000-8000-0000000000ff", true, mapping::ShareGrant::Access::read)},
      in(seconds(30)));
  ASSERT_TRUE(unknown.ok());
  ASSERT_FALSE(unknown.value()[0].ok());
  EXPECT_EQ(unknown.value()[0].error().error_class, ErrorClass::invalid);
}

TEST_F(DataverseApplyTest, DealsAreUpsertedAsOpportunitiesUnderTheirAccount) {
  auto parent = applier.apply({account("deal-parent", "Parent")}, in(seconds(30)));
  ASSERT_TRUE(parent.ok());
  CrmRecordWrite deal;
  deal.object = mapping::ObjectKind::deal;
  deal.prm_id = "deal-1";
  deal.owner_id = kTeamA;
  deal.fields = {{"name", FieldValue::string_value("Big deal")},
                 {"estimatedvalue", FieldValue::number_value("120000.50")},
                 {"parentaccountid@odata.bind",
                  FieldValue::string_value("/accounts(crmsync_prmid='deal-parent')")}};
  auto results = applier.apply({deal}, in(seconds(30)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_FALSE(results.value()[0].error.has_value()) << results.value()[0].error->message;
  EXPECT_TRUE(results.value()[0].created);
  auto stored = rows("opportunities");
  ASSERT_TRUE(stored.count("deal-1"));
  EXPECT_EQ(stored["deal-1"]["opportunityid"], *results.value()[0].crm_id);
  EXPECT_EQ(stored["deal-1"]["_parentaccountid_value"], *parent.value()[0].crm_id);
  EXPECT_EQ(stored["deal-1"]["_ownerid_value"], kTeamA);
}

TEST_F(DataverseApplyTest, DroppedConnectionsAndServerErrorsStillLandEveryWriteOnce) {
  admin("POST", "/_emulator/faults",
        R"({"method":"POST","path":"/api/data/*/$batch","drop_connection":true,"times":2})");
  admin("POST", "/_emulator/faults",
        R"({"method":"POST","path":"/api/data/*/$batch","status":502,"times":2})");
  std::vector<CrmRecordWrite> writes;
  for (int i = 0; i < 30; ++i) writes.push_back(account(fmt::format("burst-{:02}", i), "Burst"));
  auto results = applier.apply(writes, in(seconds(60)));
  ASSERT_TRUE(results.ok()) << results.error().message;
  for (const auto& result : results.value())
    EXPECT_FALSE(result.error.has_value()) << result.error->message;
  EXPECT_EQ(rows("accounts").size(), 30u);
}

// Service protection's concurrency limit (52 per user in Dataverse; 3 here): every request that
// waits in the emulator (injected latency) counts until its answer is written.
class DataverseConcurrencyTest : public DataverseApplyTest {
 protected:
  DataverseConcurrencyTest() : DataverseApplyTest({"--concurrent-requests", "3"}) {}

  // `threads` callers, two reads each, through a client whose transport allows `cap` in flight.
  // Returns the number of reads that failed.
  int read_concurrently(int cap, int threads) {
    auto capped = http::make_curl_transport(http::HttpTransportSettings{emulator.ca_file(), seconds(5), cap},
                                            logging.logger("http"));
    http::RetryingHttpClient capped_http{*capped, mapping::RetryPolicy{milliseconds(50), milliseconds(500), 2.0, 0.2},
                                         mapping::make_uniform_random(), http::real_sleeper(), logging.logger("http")};
    DataverseTokenClient capped_tokens{settings, capped_http, secrets, logging.logger("dynamics")};
    DataverseClient capped_client{settings, capped_http, capped_tokens};
    // The token first, alone, so that only Web API reads overlap.
    EXPECT_TRUE(capped_client.send({"GET", "WhoAmI", {}, "", "GET WhoAmI"}, in(seconds(10))).ok());
    std::atomic<int> failed{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t) {
      callers.emplace_back([&] {
        for (int i = 0; i < 2; ++i) {
          auto answer = capped_client.send({"GET", "accounts?$select=name&$top=1", {}, "", "GET accounts"}, in(seconds(60)));
          if (!answer || answer.value().status != 200) ++failed;
        }
      });
    }
    for (auto& caller : callers) caller.join();
    return failed.load();
  }

  int stat(const std::string& name) {
    rapidjson::Document doc;
    std::string body = admin("GET", "/_emulator/stats").body;
    doc.Parse(body.c_str());
    return doc[name.c_str()].GetInt();
  }
};

TEST_F(DataverseConcurrencyTest, ACapWithinTheLimitIsNeverRefusedAndOneAboveItIsWaitedOut) {
  admin("POST", "/_emulator/faults", R"({"method":"GET","path":"/api/data/*/accounts","latency_ms":300})");

  admin("DELETE", "/_emulator/stats");
  EXPECT_EQ(read_concurrently(3, 10), 0);
  EXPECT_EQ(stat("concurrency_refusals"), 0) << "a transport capped at the limit stays under it";
  EXPECT_LE(stat("peak_concurrent_requests"), 3);
  EXPECT_EQ(stat("peak_concurrent_requests"), 3) << "the cap was used, not just respected";

  admin("DELETE", "/_emulator/stats");
  EXPECT_EQ(read_concurrently(8, 10), 0) << "refused requests are retried after Retry-After, none lost";
  EXPECT_GT(stat("concurrency_refusals"), 0) << "over the limit, Dataverse refuses at once with 429 0x80072326";
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
