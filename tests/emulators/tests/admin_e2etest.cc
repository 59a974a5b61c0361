// The admin API (/_emulator/…) against the Salesforce emulator process: reset, seed, records,
// fault rules, statistics and the clock.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "tests/emulators/tests/emulator_process.h"
#include "tests/emulators/tests/json_test_util.h"
#include "tests/emulators/text.h"

namespace crmsync::emulators::testing {
namespace {

constexpr const char* kSeed = R"({
  "fields": {"Account": [{"name":"Region__c","type":"string"},{"name":"Tier__c","type":"double"}]},
  "records": {
    "User": [{"Id":"005000000000042AAA","Username":"rep@example.com","LastName":"Rep","IsActive":true}],
    "Account": [{"Name":"Seeded","Region__c":"EMEA","Tier__c":2,"OwnerId":"005000000000042AAA","PRM_Id__c":"S-1"}]
  }})";

TEST(EmulatorAdmin, SeedFileAddsFieldsAndRecordsAndResetRestoresIt) {
  EmulatorProcess probe("salesforce", {"--plain-http"});
  std::string seed_path = probe.dir() + "/seed.json";
  std::ofstream(seed_path) << kSeed;
  EmulatorProcess sf("salesforce", {"--seed", seed_path});
  sf.salesforce_login();
  auto q =
      parse(sf.sf("GET",
                  "/query?q=" + url_encode("SELECT Name, Region__c, Tier__c, OwnerId FROM Account"))
                .body);
  ASSERT_EQ(q["totalSize"].GetInt(), 1);
  EXPECT_EQ(str(q["records"][0]["Region__c"]), "EMEA");
  EXPECT_EQ(q["records"][0]["Tier__c"].GetDouble(), 2.0);
  EXPECT_EQ(str(q["records"][0]["OwnerId"]), "005000000000042AAA");
  sf.sf("POST", "/sobjects/Account", R"({"Name":"Extra"})");
  auto records = parse(sf.admin("GET", "records/Account").body);
  EXPECT_EQ(records.Size(), 2u);
  EXPECT_EQ(sf.admin("POST", "reset").status, 200);
  EXPECT_EQ(parse(sf.admin("GET", "records/Account").body).Size(), 1u);
  EXPECT_EQ(sf.admin("GET", "records/Nope").status, 404);
  // Tokens do not survive a reset.
  EXPECT_EQ(sf.sf("GET", "/limits").status, 401);
}

TEST(EmulatorAdmin, SeedThroughTheApiAndItsErrors) {
  EmulatorProcess sf("salesforce");
  EXPECT_EQ(sf.admin("POST", "seed", kSeed).status, 200);
  EXPECT_EQ(parse(sf.admin("GET", "records/Account").body).Size(), 1u);
  Answer bad = sf.admin("POST", "seed", R"({"records":{"Account":[{"Phone":"no name"}]}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(str(parse(bad.body)["error"]).find("REQUIRED_FIELD_MISSING"), std::string::npos);
  EXPECT_EQ(sf.admin("POST", "seed", "not json").status, 400);
  EXPECT_EQ(parse(sf.admin("GET", "records/Account").body).Size(), 1u);
}

TEST(EmulatorAdmin, FaultRuleAnswersWithTheApiErrorBodyForTheNextNMatches) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  Answer rule =
      sf.admin("POST", "faults",
               R"({"method":"GET","path":"/services/data/*/limits","status":503,"times":2})");
  ASSERT_EQ(rule.status, 200) << rule.body;
  Answer first = sf.sf("GET", "/limits");
  EXPECT_EQ(first.status, 503);
  EXPECT_EQ(str(parse(first.body)[0]["errorCode"]), "SERVER_UNAVAILABLE");
  EXPECT_EQ(sf.sf("GET", "/limits").status, 503);
  EXPECT_EQ(sf.sf("GET", "/limits").status, 200);
  EXPECT_EQ(sf.sf("POST", "/sobjects/Account", R"({"Name":"x"})").status, 201);
  sf.admin(
      "POST", "faults",
      R"({"path":"*/sobjects/*","status":400,"error_code":"UNABLE_TO_LOCK_ROW","retry_after":7})");
  Answer locked = sf.sf("POST", "/sobjects/Account", R"({"Name":"x"})");
  EXPECT_EQ(locked.status, 400);
  EXPECT_EQ(str(parse(locked.body)[0]["errorCode"]), "UNABLE_TO_LOCK_ROW");
  EXPECT_EQ(locked.header("Retry-After"), "7");
  EXPECT_EQ(sf.admin("DELETE", "faults").status, 200);
  EXPECT_EQ(sf.sf("POST", "/sobjects/Account", R"({"Name":"x"})").status, 201);
  EXPECT_EQ(sf.admin("POST", "faults", R"({"path":"*"})").status, 400);
  EXPECT_EQ(sf.admin("POST", "faults", R"({"status":200})").status, 400);
}

TEST(EmulatorAdmin, ProbabilisticFaultsAreRepeatableWithTheSameSeed) {
  auto pattern = [](std::uint64_t seed) {
    EmulatorProcess sf("salesforce", {"--plain-http"});
    sf.salesforce_login();
    sf.admin("POST", "faults",
             R"({"path":"*/limits","status":500,"probability":0.5,"seed":)" + std::to_string(seed) +
                 "}");
    std::string out;
    for (int i = 0; i < 24; ++i) out += sf.sf("GET", "/limits").status == 500 ? 'x' : '.';
    return out;
  };
  std::string a = pattern(42), b = pattern(42), c = pattern(7);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a.find('x'), std::string::npos);
  EXPECT_NE(a.find('.'), std::string::npos);
}

TEST(EmulatorAdmin, LatencyDroppedConnectionsAndExpiredTokens) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  sf.admin("POST", "faults", R"({"path":"*/limits","latency_ms":300,"times":1})");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(sf.sf("GET", "/limits").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(280));
  sf.admin("POST", "faults", R"({"path":"*/limits","drop_connection":true,"times":1})");
  // A fresh connection: on a reused one curl would silently retry once.
  HttpClient fresh(sf.base_url(), sf.ca_file());
  Answer dropped = fresh.request("GET", "/services/data/v59.0/limits", "",
                                 {"Authorization: Bearer " + sf.token});
  EXPECT_LT(dropped.status, 0) << "expected a transport error, got " << dropped.status;
  EXPECT_EQ(sf.sf("GET", "/limits").status, 200);
  sf.admin("POST", "faults", R"({"path":"*/limits","expire_tokens":true,"times":1})");
  Answer expired = sf.sf("GET", "/limits");
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(str(parse(expired.body)[0]["errorCode"]), "INVALID_SESSION_ID");
  sf.salesforce_login();
  EXPECT_EQ(sf.admin("POST", "tokens/expire").status, 200);
  EXPECT_EQ(sf.sf("GET", "/limits").status, 401);
}

TEST(EmulatorAdmin, CountsRequestsPerEndpointAndRecordsPerWrite) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  sf.sf("POST", "/sobjects/Account", R"({"Name":"a"})");
  sf.sf(
      "POST", "/composite/sobjects",
      R"({"records":[{"attributes":{"type":"Account"},"Name":"b"},{"attributes":{"type":"Account"},"Name":"c"}]})");
  std::string id = str(parse(sf.sf("POST", "/sobjects/Account", R"({"Name":"d"})").body)["id"]);
  sf.sf("GET", "/sobjects/Account/" + id);
  std::string composite = R"({"compositeRequest":[)";
  for (int i = 0; i < 3; ++i) {
    composite +=
        std::string(i ? "," : "") +
        R"({"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"r)" +
        std::to_string(i) + R"(","body":{"Name":"c"}})";
  }
  ASSERT_EQ(sf.sf("POST", "/composite", composite + "]}").status, 200);
  auto stats = parse(sf.admin("GET", "stats").body);
  EXPECT_EQ(stats["requests"]["POST sobjects/Account"].GetInt(), 2);
  EXPECT_EQ(stats["requests"]["POST composite/sobjects"].GetInt(), 1);
  EXPECT_EQ(stats["requests"]["GET sobjects/Account/{id}"].GetInt(), 1);
  ASSERT_TRUE(stats["requests"].HasMember("POST services/oauth2/token")) << str(stats);
  EXPECT_EQ(stats["requests"]["POST services/oauth2/token"].GetInt(), 1);
  EXPECT_EQ(stats["total_requests"].GetInt(), 6);
  EXPECT_EQ(stats["records_per_write"]["3"].GetInt(), 1);  // a composite is one write call
  EXPECT_EQ(stats["records_per_write"]["1"].GetInt(), 2);
  EXPECT_EQ(stats["records_per_write"]["2"].GetInt(), 1);
  EXPECT_EQ(sf.admin("DELETE", "stats").status, 200);
  EXPECT_EQ(parse(sf.admin("GET", "stats").body)["total_requests"].GetInt(), 0);
}

TEST(EmulatorAdmin, ClockCanBeSetAndAdvanced) {
  EmulatorProcess sf("salesforce");
  auto now = parse(sf.admin("POST", "clock", R"({"now":"2030-05-06T07:08:09Z"})").body);
  EXPECT_EQ(str(now["now"]), "2030-05-06T07:08:09Z");
  EXPECT_TRUE(now["frozen"].GetBool());
  auto later = parse(sf.admin("POST", "clock", R"({"advance_seconds":3600})").body);
  EXPECT_EQ(str(later["now"]), "2030-05-06T08:08:09Z");
  auto running = parse(sf.admin("POST", "clock", R"({"resume":true})").body);
  EXPECT_FALSE(running["frozen"].GetBool());
  EXPECT_EQ(str(running["now"]).substr(0, 13), "2030-05-06T08");
  EXPECT_EQ(sf.admin("POST", "clock", R"({"now":"yesterday"})").status, 400);
  EXPECT_EQ(sf.admin("GET", "nothing").status, 404);
}

}  // namespace
}  // namespace crmsync::emulators::testing
