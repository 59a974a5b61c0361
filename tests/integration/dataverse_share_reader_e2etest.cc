#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fmt/format.h>

#include <deque>
#include <map>
#include <set>
#include <thread>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_share_reader.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "daemon/logging.h"
#include "tests/support/crm_emulator.h"

namespace crmsync::connectors::dynamics {
namespace {

using mapping::CrmRecordWrite;
using mapping::CrmShare;
using mapping::CrmShareWrite;
using mapping::ErrorClass;
using mapping::FieldValue;
using mapping::ObjectKind;
using Access = mapping::ShareGrant::Access;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr const char* kSecret = "crmsync-emulator-secret";
constexpr const char* kTeamA = "6a1e0000-0000-4000-8000-00000000000a";
constexpr const char* kTeamB = "6a1e0000-0000-4000-8000-00000000000b";
constexpr const char* kUser = "5e5e0000-0000-4000-8000-000000000001";

std::string team(const char* id) {
  return std::string("team:") + id;
}
std::string user(const char* id) {
  return std::string("systemuser:") + id;
}

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

// The emulator's transport, except that $batch calls get the scripted answers while there are any
// (to feed the reader malformed answers the emulator never gives).
class ScriptedBatchTransport : public http::HttpTransport {
 public:
  explicit ScriptedBatchTransport(http::HttpTransport& real) : real_(real) {}
  std::deque<http::HttpResponse> batch_answers;

  mapping::Result<http::HttpResponse> send(const http::HttpRequest& request,
                                           http::Deadline deadline) override {
    if (!batch_answers.empty() && request.url.ends_with("$batch")) {
      http::HttpResponse answer = std::move(batch_answers.front());
      batch_answers.pop_front();
      return answer;
    }
    return real_.send(request, deadline);
  }

 private:
  http::HttpTransport& real_;
};

// A $batch answer of independent parts: {status, JSON body} each.
http::HttpResponse batch_answer(const std::vector<std::pair<int, std::string>>& parts) {
  http::HttpResponse response;
  response.status = 200;
  response.headers = {{"content-type", "multipart/mixed; boundary=batchresponse_x"}};
  for (const auto& [status, body] : parts) {
    response.body += fmt::format(
        "--batchresponse_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: "
        "binary\r\n\r\nHTTP/1.1 {} OK\r\nContent-Type: application/json; "
        "odata.metadata=minimal\r\n\r\n{}\r\n",
        status, body);
  }
  response.body += "--batchresponse_x--\r\n";
  return response;
}

// The sharing sweep's reader against build/crm-emulator --api dynamics over HTTPS: records and
// shares are written with the DataverseApplier, read back with the DataverseShareReader.
class DataverseShareReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secrets.values["dynamics.client_secret"] = kSecret;
    admin("POST", "/_emulator/seed",
          fmt::format(R"({{"records":{{"teams":[{{"teamid":"{}","name":"Partner A"}},)"
                      R"({{"teamid":"{}","name":"Partner B"}}],)"
                      R"("systemusers":[{{"systemuserid":"{}","fullname":"Pat Partner"}}]}}}})",
                      kTeamA, kTeamB, kUser));
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

  void fault(const std::string& rule) { admin("POST", "/_emulator/faults", rule); }

  // Requests per route since the statistics were last cleared.
  std::map<std::string, std::int64_t> requests_by_route() {
    rapidjson::Document doc;
    std::string body = admin("GET", "/_emulator/stats").body;
    doc.Parse(body.c_str());
    std::map<std::string, std::int64_t> out;
    for (auto m = doc["requests"].MemberBegin(); m != doc["requests"].MemberEnd(); ++m)
      out[m->name.GetString()] = m->value.GetInt64();
    return out;
  }

  // Creates accounts owned by `owner`; their GUIDs, in order.
  std::vector<std::string> accounts(const std::string& prefix, int n, const std::string& owner) {
    std::vector<CrmRecordWrite> writes;
    for (int i = 0; i < n; ++i) {
      CrmRecordWrite write;
      write.object = ObjectKind::account;
      write.prm_id = fmt::format("{}-{:03}", prefix, i);
      write.fields = {{"name", FieldValue::string_value(write.prm_id)}};
      write.owner_id = owner;
      writes.push_back(std::move(write));
    }
    auto results = applier.apply(writes, in(seconds(60)));
    if (!results) throw std::runtime_error(results.error().message);
    std::vector<std::string> ids;
    for (const auto& result : results.value()) {
      if (result.error || !result.crm_id) throw std::runtime_error("account not created");
      ids.push_back(*result.crm_id);
    }
    return ids;
  }

  static CrmShareWrite share(const std::string& record, const std::string& principal, bool grant,
                             Access access = Access::read,
                             ObjectKind object = ObjectKind::account) {
    CrmShareWrite write;
    write.object = object;
    write.crm_record_id = record;
    write.principal_id = principal;
    write.grant = grant;
    write.access = access;
    return write;
  }

  void apply_shares(const std::vector<CrmShareWrite>& shares) {
    auto statuses = applier.apply_shares(shares, in(seconds(60)));
    ASSERT_TRUE(statuses.ok()) << statuses.error().message;
    for (const auto& status : statuses.value()) ASSERT_TRUE(status.ok()) << status.error().message;
  }

  static CrmShare expected(const std::string& record, const std::string& principal, Access access,
                           ObjectKind object = ObjectKind::account) {
    return CrmShare{object, record, principal, access};
  }

  testing::CrmEmulator emulator{"dynamics"};
  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>()};
  std::unique_ptr<http::HttpTransport> transport = http::make_curl_transport(
      http::HttpTransportSettings{emulator.ca_file(), seconds(5), 4}, logging.logger("http"));
  ScriptedBatchTransport scripted{*transport};
  std::vector<milliseconds> waits;
  http::RetryingHttpClient http{scripted,
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
  DataverseShareReader reader{client, 100};
};

TEST_F(DataverseShareReaderTest, ReportsOwnersAndSharesAsGrantedModifiedAndRevoked) {
  auto ids = accounts("shared", 2, kTeamA);
  auto by_user = accounts("user-owned", 1, user(kUser));
  apply_shares({share(ids[0], kTeamB, true, Access::edit), share(ids[0], user(kUser), true),
                share(ids[1], team(kTeamB), true), share(ids[1], user(kUser), true, Access::edit)});
  // Edit down to read, revoke, read up to edit; and a reassignment (an owner change).
  apply_shares({share(ids[0], kTeamB, true, Access::read), share(ids[0], user(kUser), false),
                share(ids[1], kTeamB, true, Access::edit)});
  CrmRecordWrite reassign;
  reassign.prm_id = "shared-001";
  reassign.crm_id = ids[1];
  reassign.owner_id = kTeamB;
  ASSERT_TRUE(applier.apply({reassign}, in(seconds(30))).ok());

  auto sharing =
      reader.sharing_of(ObjectKind::account, {by_user[0], ids[0], ids[1], ids[0]}, in(seconds(30)));
  ASSERT_TRUE(sharing.ok()) << sharing.error().message;
  ASSERT_EQ(sharing.value().size(), 3u) << "in the order asked, each record once";
  const auto& user_owned = sharing.value()[0];
  EXPECT_EQ(user_owned.crm_record_id, by_user[0]);
  EXPECT_EQ(user_owned.owner_id, user(kUser));
  EXPECT_TRUE(user_owned.shares.empty());
  const auto& first = sharing.value()[1];
  EXPECT_EQ(first.crm_record_id, ids[0]);
  EXPECT_EQ(first.owner_id, team(kTeamA));
  EXPECT_THAT(first.shares, ::testing::ElementsAre(expected(ids[0], team(kTeamB), Access::read)));
  const auto& second = sharing.value()[2];
  EXPECT_EQ(second.owner_id, team(kTeamB)) << "the reassignment shows";
  EXPECT_THAT(second.shares, ::testing::ElementsAre(expected(ids[1], user(kUser), Access::edit),
                                                    expected(ids[1], team(kTeamB), Access::edit)));
  EXPECT_EQ(reader.calls_sent(), 1u);
  // The principal strings are what the applier takes: revoking through them empties the record.
  apply_shares({share(ids[1], second.shares[0].principal_id, false),
                share(ids[1], second.shares[1].principal_id, false)});
  auto after = reader.sharing_of(ObjectKind::account, {ids[1]}, in(seconds(30)));
  ASSERT_TRUE(after.ok()) << after.error().message;
  ASSERT_EQ(after.value().size(), 1u);
  EXPECT_TRUE(after.value()[0].shares.empty());
}

TEST_F(DataverseShareReaderTest, DealsAreReadFromOpportunities) {
  accounts("deal-parent", 1, kTeamA);
  CrmRecordWrite deal;
  deal.object = ObjectKind::deal;
  deal.prm_id = "deal-1";
  deal.owner_id = kTeamA;
  deal.fields = {{"name", FieldValue::string_value("Big deal")},
                 {"parentaccountid@odata.bind",
                  FieldValue::string_value("/accounts(crmsync_prmid='deal-parent-000')")}};
  auto created = applier.apply({deal}, in(seconds(30)));
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_FALSE(created.value()[0].error.has_value()) << created.value()[0].error->message;
  std::string id = *created.value()[0].crm_id;
  apply_shares({share(id, kTeamB, true, Access::edit, ObjectKind::deal)});
  auto sharing = reader.sharing_of(ObjectKind::deal, {id}, in(seconds(30)));
  ASSERT_TRUE(sharing.ok()) << sharing.error().message;
  ASSERT_EQ(sharing.value().size(), 1u);
  EXPECT_EQ(sharing.value()[0].owner_id, team(kTeamA));
  EXPECT_THAT(sharing.value()[0].shares,
              ::testing::ElementsAre(expected(id, team(kTeamB), Access::edit, ObjectKind::deal)));
}

TEST_F(DataverseShareReaderTest, DeletedAndUnknownRecordsAreAbsent) {
  auto ids = accounts("doomed", 2, kTeamA);
  apply_shares({share(ids[0], kTeamB, true), share(ids[1], kTeamB, true)});
  CrmRecordWrite remove;
  remove.op = mapping::CanonicalEvent::Operation::remove;
  remove.prm_id = "doomed-000";
  remove.crm_id = ids[0];
  auto removed = applier.apply({remove}, in(seconds(30)));
  ASSERT_TRUE(removed.ok());
  ASSERT_FALSE(removed.value()[0].error.has_value());

  auto sharing =
      reader.sharing_of(ObjectKind::account,
                        {ids[0], "0bad0000-0000-4000-8000-000000000000", ids[1]}, in(seconds(30)));
  ASSERT_TRUE(sharing.ok()) << sharing.error().message;
  ASSERT_EQ(sharing.value().size(), 1u);
  EXPECT_EQ(sharing.value()[0].crm_record_id, ids[1]);
  EXPECT_THAT(sharing.value()[0].shares,
              ::testing::ElementsAre(expected(ids[1], team(kTeamB), Access::read)));

  auto none = reader.sharing_of(ObjectKind::account, {}, in(seconds(30)));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
  std::size_t calls = reader.calls_sent();
  auto refused = reader.sharing_of(ObjectKind::account, {ids[1], "accounts(1)/x"}, in(seconds(30)));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error_class, ErrorClass::invalid);
  EXPECT_THAT(refused.error().message, HasSubstr("is not a GUID"));
  EXPECT_EQ(reader.calls_sent(), calls) << "nothing is sent for an id that is no GUID";
}

TEST_F(DataverseShareReaderTest, ManyRecordsAreReadInFewBatches) {
  constexpr int kRecords = 250;
  constexpr std::size_t kBatch = 50;
  auto ids = accounts("bulk", kRecords, kTeamA);
  std::vector<CrmShareWrite> shares;
  for (std::size_t i = 0; i < ids.size(); ++i)
    shares.push_back(share(ids[i], i % 2 == 0 ? team(kTeamB) : user(kUser), true,
                           i % 3 == 0 ? Access::edit : Access::read));
  apply_shares(shares);
  admin("DELETE", "/_emulator/stats");

  DataverseShareReader small{client, kBatch};
  auto sharing = small.sharing_of(ObjectKind::account, ids, in(seconds(60)));
  ASSERT_TRUE(sharing.ok()) << sharing.error().message;
  ASSERT_EQ(sharing.value().size(), ids.size()) << "every record answered";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& record = sharing.value()[i];
    EXPECT_EQ(record.crm_record_id, ids[i]);
    EXPECT_EQ(record.owner_id, team(kTeamA));
    EXPECT_THAT(record.shares,
                ::testing::ElementsAre(expected(ids[i], i % 2 == 0 ? team(kTeamB) : user(kUser),
                                                i % 3 == 0 ? Access::edit : Access::read)));
  }
  // 49 share reads + 1 owner query per $batch of 50: ceil(250 / 49) calls, fewer than the
  // ceil(n / batch) per request kind (2) that per-record owner reads would take.
  constexpr std::size_t kExpectedCalls = (kRecords + kBatch - 2) / (kBatch - 1);
  EXPECT_EQ(small.calls_sent(), kExpectedCalls);
  EXPECT_LE(small.calls_sent(), 2 * ((kRecords + kBatch - 1) / kBatch));
  auto routes = requests_by_route();
  EXPECT_EQ(routes["POST $batch"], static_cast<std::int64_t>(kExpectedCalls));
  for (const auto& [route, count] : routes)
    EXPECT_EQ(route, "POST $batch") << "no request outside a batch: " << route << " x" << count;
}

TEST_F(DataverseShareReaderTest, RateLimitedAndFailedPartsAndBatchesAreRetried) {
  auto ids = accounts("storm", 3, kTeamA);
  apply_shares({share(ids[0], kTeamB, true), share(ids[1], kTeamB, true, Access::edit),
                share(ids[2], user(kUser), true)});
  fault(R"({"method":"POST","path":"/api/data/*/$batch","status":429,"retry_after":1,"times":1})");
  fault(R"({"method":"GET","path":"/api/data/*/RetrieveSharedPrincipalsAndAccess*",)"
        R"("status":429,"retry_after":1,"in_batch":true,"times":2})");
  fault(R"({"method":"GET","path":"/api/data/*/accounts","status":503,"in_batch":true,"times":1})");

  auto sharing = reader.sharing_of(ObjectKind::account, ids, in(seconds(30)));
  ASSERT_TRUE(sharing.ok()) << sharing.error().message;
  ASSERT_EQ(sharing.value().size(), 3u);
  EXPECT_EQ(sharing.value()[0].owner_id, team(kTeamA));
  EXPECT_THAT(sharing.value()[0].shares,
              ::testing::ElementsAre(expected(ids[0], team(kTeamB), Access::read)));
  EXPECT_THAT(sharing.value()[1].shares,
              ::testing::ElementsAre(expected(ids[1], team(kTeamB), Access::edit)));
  EXPECT_THAT(sharing.value()[2].shares,
              ::testing::ElementsAre(expected(ids[2], user(kUser), Access::read)));
  EXPECT_EQ(reader.calls_sent(), 2u)
      << "the whole-batch 429 is waited out within the call; the failed parts go in a second batch";
  int server_waits = 0;
  for (auto wait : waits) server_waits += wait >= milliseconds(1000) ? 1 : 0;
  EXPECT_EQ(server_waits, 1) << "the $batch 429 waited its Retry-After";
}

TEST_F(DataverseShareReaderTest, PartsThatKeepFailingFailTheWholeCall) {
  auto ids = accounts("stuck", 2, kTeamA);
  fault(R"({"method":"GET","path":"/api/data/*/RetrieveSharedPrincipalsAndAccess*",)"
        R"("status":429,"in_batch":true})");
  auto limited = reader.sharing_of(ObjectKind::account, ids, in(seconds(30)));
  ASSERT_FALSE(limited.ok()) << "never an answer with records missing";
  EXPECT_EQ(limited.error().error_class, ErrorClass::rate_limited);
  EXPECT_THAT(limited.error().message, HasSubstr("HTTP 429"));
  EXPECT_THAT(limited.error().message, HasSubstr("still unanswered after 5 attempt(s)"));
  EXPECT_EQ(reader.calls_sent(), 5u);

  admin("DELETE", "/_emulator/faults");
  fault(R"({"method":"GET","path":"/api/data/*/accounts","status":503,"in_batch":true})");
  auto unavailable = reader.sharing_of(ObjectKind::account, ids, in(seconds(30)));
  ASSERT_FALSE(unavailable.ok());
  EXPECT_EQ(unavailable.error().error_class, ErrorClass::transient);
  EXPECT_THAT(unavailable.error().message, HasSubstr("owners"));

  admin("DELETE", "/_emulator/faults");
  fault(R"({"method":"GET","path":"/api/data/*/RetrieveSharedPrincipalsAndAccess*",)"
        R"("status":403,"in_batch":true,"times":1})");
  std::size_t before = reader.calls_sent();
  auto denied = reader.sharing_of(ObjectKind::account, ids, in(seconds(30)));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().error_class, ErrorClass::invalid);
  EXPECT_THAT(denied.error().message, HasSubstr("HTTP 403"));
  EXPECT_THAT(denied.error().message, HasSubstr(ids[0]));
  EXPECT_EQ(reader.calls_sent(), before + 1) << "what cannot be retried is not";
}

TEST_F(DataverseShareReaderTest, MalformedAnswersAreClearErrors) {
  auto ids = accounts("odd", 1, kTeamA);
  const std::string owner_row =
      fmt::format(R"({{"value":[{{"accountid":"{}","_ownerid_value":"{}",)"
                  R"("_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"team"}}]}})",
                  ids[0], kTeamA);
  const std::string no_shares = R"({"PrincipalAccesses":[]})";
  http::HttpResponse not_multipart;
  not_multipart.status = 200;
  not_multipart.headers = {{"content-type", "application/json"}};
  not_multipart.body = "{}";
  struct Case {
    http::HttpResponse answer;
    std::string says;
  };
  std::vector<Case> cases = {
      {not_multipart, "not multipart/mixed"},
      {batch_answer({{200, owner_row}}), "1 answer parts for 2 requests"},
      {batch_answer({{200, "<html>gateway</html>"}, {200, no_shares}}), "the body is not JSON"},
      {batch_answer({{200, R"({"values":[]})"}, {200, no_shares}}), "no value array"},
      {batch_answer(
           {{200, fmt::format(R"({{"value":[{{"accountid":"{}","_ownerid_value":"{}"}}]}})", ids[0],
                              kTeamA)},
            {200, no_shares}}),
       "lookuplogicalname"},
      {batch_answer({{200, owner_row}, {200, R"({"Principals":[]})"}}),
       "no PrincipalAccesses array"},
      {batch_answer({{200, owner_row},
                     {200, R"({"PrincipalAccesses":[{"AccessMask":"ReadAccess","Principal":)"
                           R"({"@odata.type":"#Microsoft.Dynamics.CRM.team"}}]})"}}),
       "no principal type or ownerid"},
  };
  for (auto& c : cases) {
    scripted.batch_answers = {c.answer};
    auto sharing = reader.sharing_of(ObjectKind::account, ids, in(seconds(10)));
    ASSERT_FALSE(sharing.ok()) << c.says;
    EXPECT_EQ(sharing.error().error_class, ErrorClass::invalid) << c.says;
    EXPECT_THAT(sharing.error().message, HasSubstr(c.says));
  }
  scripted.batch_answers.clear();
  auto fine = reader.sharing_of(ObjectKind::account, ids, in(seconds(10)));
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  EXPECT_EQ(fine.value().size(), 1u);
}

TEST_F(DataverseShareReaderTest, SyncedRecordIdsFollowEveryPage) {
  auto ids = accounts("synced", 7, kTeamA);
  admin("POST", "/_emulator/seed",
        R"({"records":{"accounts":[{"name":"Internal only"},{"name":"Also internal"}]}})");
  DataverseShareReader paged{client, 100, 3};
  auto synced = paged.synced_record_ids(ObjectKind::account, in(seconds(30)));
  ASSERT_TRUE(synced.ok()) << synced.error().message;
  EXPECT_EQ(std::set<std::string>(synced.value().begin(), synced.value().end()),
            std::set<std::string>(ids.begin(), ids.end()))
      << "only the records with a PRM id, each once";
  EXPECT_EQ(synced.value().size(), ids.size());
  EXPECT_EQ(paged.calls_sent(), 3u) << "7 ids in pages of 3";

  auto deals = paged.synced_record_ids(ObjectKind::deal, in(seconds(30)));
  ASSERT_TRUE(deals.ok()) << deals.error().message;
  EXPECT_TRUE(deals.value().empty());
  EXPECT_EQ(paged.calls_sent(), 4u);
}

TEST_F(DataverseShareReaderTest, SizesAreBounded) {
  EXPECT_THROW((DataverseShareReader{client, 1}), std::invalid_argument);
  EXPECT_THROW((DataverseShareReader{client, 1001}), std::invalid_argument);
  EXPECT_THROW((DataverseShareReader{client, 100, 0}), std::invalid_argument);
  EXPECT_THROW((DataverseShareReader{client, 100, 5001}), std::invalid_argument);
  DataverseShareReader smallest{client, 2};
  auto ids = accounts("tiny", 3, kTeamA);
  auto sharing = smallest.sharing_of(ObjectKind::account, ids, in(seconds(30)));
  ASSERT_TRUE(sharing.ok()) << sharing.error().message;
  EXPECT_EQ(sharing.value().size(), 3u);
  EXPECT_EQ(smallest.calls_sent(), 3u) << "one record (share read + owner query) per $batch of 2";
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
