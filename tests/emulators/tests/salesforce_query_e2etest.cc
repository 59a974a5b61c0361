// The Salesforce emulator as a process: SOQL and paging, getUpdated/getDeleted, sObject
// Collections and composite.

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/emulators/tests/emulator_process.h"
#include "tests/emulators/tests/json_test_util.h"
#include "tests/emulators/text.h"

namespace crmsync::emulators::testing {
namespace {

Answer soql(EmulatorProcess& sf, const std::string& q, const std::string& resource = "query") {
  return sf.sf("GET", "/" + resource + "?q=" + url_encode(q));
}

std::vector<std::string> names(const rapidjson::Value& result) {
  std::vector<std::string> out;
  for (auto& r : result["records"].GetArray()) out.push_back(str(r["Name"]));
  return out;
}

class SalesforceQuery : public ::testing::Test {
 protected:
  void SetUp() override {
    sf_.salesforce_login();
    const char* rows[] = {
        R"({"Name":"Alpha","AnnualRevenue":100,"Industry":"Tech","IsPartner":true,"PRM_Id__c":"P-1"})",
        R"({"Name":"beta","AnnualRevenue":200,"Industry":"Retail","PRM_Id__c":"P-2"})",
        R"({"Name":"Gamma","AnnualRevenue":300,"Industry":"Tech"})",
        R"({"Name":"Delta O'Brien","Industry":null})",
    };
    for (const char* row : rows) {
      Answer a = sf_.sf("POST", "/sobjects/Account", row);
      ASSERT_EQ(a.status, 201) << a.body;
      ids_.push_back(str(parse(a.body)["id"]));
    }
  }
  EmulatorProcess sf_{"salesforce", {"--page-size", "2"}};
  std::vector<std::string> ids_;
};

TEST_F(SalesforceQuery, WhereOperatorsAndOrdering) {
  auto q = [&](const std::string& text) {
    Answer a = soql(sf_, text);
    EXPECT_EQ(a.status, 200) << text << " -> " << a.body;
    auto doc = parse(a.body);
    std::vector<std::string> all = names(doc);
    while (!doc["done"].GetBool()) {
      doc = parse(sf_.sf("GET", str(doc["nextRecordsUrl"])).body);
      for (auto& n : names(doc)) all.push_back(n);
    }
    return all;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(q("SELECT Name FROM Account WHERE Industry = 'tech' ORDER BY Name"),
            (V{"Alpha", "Gamma"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE AnnualRevenue >= 200 ORDER BY AnnualRevenue DESC"),
            (V{"Gamma", "beta"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE Industry = null"), (V{"Delta O'Brien"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE Industry != null AND NOT (Industry = 'Retail') ORDER "
              "BY Name DESC"),
            (V{"Gamma", "Alpha"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE Name LIKE '%a' ORDER BY Name"),
            (V{"Alpha", "beta", "Gamma"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE Name LIKE 'Delta O\\'B%'"), (V{"Delta O'Brien"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE PRM_Id__c IN ('P-1','P-2') ORDER BY Name"),
            (V{"Alpha", "beta"}));
  EXPECT_EQ(
      q("SELECT Name FROM Account WHERE PRM_Id__c NOT IN ('P-1') ORDER BY Name LIMIT 2 OFFSET 1"),
      (V{"Delta O'Brien", "Gamma"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE (Industry = 'Retail' OR IsPartner = true) AND "
              "AnnualRevenue < 150"),
            (V{"Alpha"}));
  EXPECT_EQ(q("SELECT Name FROM Account ORDER BY Industry NULLS LAST, Name"),
            (V{"beta", "Alpha", "Gamma", "Delta O'Brien"}));
  EXPECT_EQ(q("SELECT Name FROM Account WHERE Id = '" + ids_[1].substr(0, 15) + "'"), (V{"beta"}));
  EXPECT_EQ(
      q("SELECT Name FROM Account WHERE CreatedDate > 2020-01-01T00:00:00Z AND Name = 'Alpha'"),
      (V{"Alpha"}));
}

TEST_F(SalesforceQuery, PagingThroughNextRecordsUrl) {
  Answer first = soql(sf_, "SELECT Id, Name FROM Account ORDER BY Name");
  auto page = parse(first.body);
  EXPECT_EQ(page["totalSize"].GetInt(), 4);
  EXPECT_FALSE(page["done"].GetBool());
  std::string next = str(page["nextRecordsUrl"]);
  EXPECT_EQ(next.rfind("/services/data/v59.0/query/01g", 0), 0u) << next;
  EXPECT_EQ(next.substr(next.size() - 2), "-2");
  auto record = page["records"][0].GetObject();
  EXPECT_EQ(str(record["attributes"]["type"]), "Account");
  EXPECT_FALSE(record.HasMember("Industry"));
  // jsforce rebuilds /query/<locator> from the last segment even for queryAll: both work.
  std::string locator = next.substr(next.rfind('/') + 1);
  Answer via_query_all = sf_.sf("GET", "/queryAll/" + locator);
  ASSERT_EQ(via_query_all.status, 200) << via_query_all.body;
  auto last = parse(via_query_all.body);
  EXPECT_TRUE(last["done"].GetBool());
  EXPECT_FALSE(last.HasMember("nextRecordsUrl"));
  EXPECT_EQ(last["records"].Size(), 2u);
  Answer stale = sf_.sf("GET", next);
  EXPECT_EQ(stale.status, 400);
  EXPECT_EQ(str(parse(stale.body)[0]["errorCode"]), "INVALID_QUERY_LOCATOR");
  EXPECT_EQ(str(parse(sf_.sf("GET", "/query/01gjunk-2").body)[0]["errorCode"]),
            "INVALID_QUERY_LOCATOR");
}

TEST_F(SalesforceQuery, LocatorsExpireWhenIdle) {
  auto page = parse(soql(sf_, "SELECT Id FROM Account").body);
  sf_.admin("POST", "clock", R"({"advance_seconds":1000})");
  sf_.salesforce_login();
  Answer stale = sf_.sf("GET", str(page["nextRecordsUrl"]));
  EXPECT_EQ(str(parse(stale.body)[0]["errorCode"]), "INVALID_QUERY_LOCATOR");
}

TEST_F(SalesforceQuery, CountAndQueryAllSeeDeletedRows) {
  EXPECT_EQ(sf_.sf("DELETE", "/sobjects/Account/" + ids_[0]).status, 204);
  auto count = parse(soql(sf_, "SELECT COUNT() FROM Account").body);
  EXPECT_EQ(count["totalSize"].GetInt(), 3);
  EXPECT_EQ(count["records"].Size(), 0u);
  auto all =
      parse(soql(sf_, "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true", "queryAll").body);
  ASSERT_EQ(all["totalSize"].GetInt(), 1);
  EXPECT_EQ(str(all["records"][0]["Id"]), ids_[0]);
  EXPECT_EQ(
      parse(soql(sf_, "SELECT Id FROM Account WHERE IsDeleted = true").body)["totalSize"].GetInt(),
      0);
}

TEST_F(SalesforceQuery, UnsupportedOrWrongQueriesAreErrorsNeverWrongAnswers) {
  auto code = [&](const std::string& text) {
    Answer a = soql(sf_, text);
    EXPECT_EQ(a.status, 400) << text;
    auto doc = parse(a.body);
    return doc.IsArray() ? str(doc[0]["errorCode"]) : a.body;
  };
  EXPECT_EQ(code("SELECT Name FROM Account WHERE Name = 'a' AND Industry = 'b' OR Phone = 'c'"),
            "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Owner.Name FROM Account"), "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Name FROM Account WHERE CreatedDate = LAST_N_DAYS:3"), "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Name, (SELECT Id FROM Opportunities) FROM Account"), "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry"), "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity)"),
            "MALFORMED_QUERY");
  EXPECT_EQ(code("SELEC Name FROM Account"), "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Name FROM Account WHERE Name = 'unterminated"), "MALFORMED_QUERY");
  EXPECT_EQ(code("SELECT Nope__c FROM Account"), "INVALID_FIELD");
  EXPECT_EQ(code("SELECT Name FROM Nope__c"), "INVALID_TYPE");
  EXPECT_EQ(code("SELECT Name FROM Account WHERE AnnualRevenue = '100'"),
            "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(code("SELECT Name FROM Account WHERE Name = 5"), "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(code("SELECT Name FROM Account WHERE CreatedDate > 2020-01-01"),
            "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(code("SELECT Name FROM Account OFFSET 2001"), "NUMBER_OUTSIDE_VALID_RANGE");
  EXPECT_EQ(sf_.sf("GET", "/query").status, 400);
}

TEST_F(SalesforceQuery, GetUpdatedAndGetDeletedWindows) {
  sf_.admin("POST", "clock", R"({"now":"2026-03-01T12:00:00Z"})");
  sf_.salesforce_login();
  Answer created = sf_.sf("POST", "/sobjects/Account", R"({"Name":"Windowed"})");
  std::string id = str(parse(created.body)["id"]);
  sf_.admin("POST", "clock", R"({"now":"2026-03-01T12:10:00Z"})");
  sf_.salesforce_login();
  ASSERT_EQ(sf_.sf("DELETE", "/sobjects/Account/" + ids_[2]).status, 204);
  sf_.admin("POST", "clock", R"({"now":"2026-03-01T12:20:30Z"})");
  sf_.salesforce_login();
  std::string window = "?start=" + url_encode("2026-03-01T11:59:00+00:00") +
                       "&end=" + url_encode("2026-03-01T12:30:00+00:00");
  Answer updated = sf_.sf("GET", "/sobjects/Account/updated/" + window);
  ASSERT_EQ(updated.status, 200) << updated.body;
  auto u = parse(updated.body);
  ASSERT_EQ(u["ids"].Size(), 1u) << updated.body;
  EXPECT_EQ(str(u["ids"][0]), id);
  EXPECT_EQ(str(u["latestDateCovered"]), "2026-03-01T12:20:00.000+0000");
  Answer deleted = sf_.sf("GET", "/sobjects/Account/deleted/" + window);
  auto d = parse(deleted.body);
  ASSERT_EQ(d["deletedRecords"].Size(), 1u) << deleted.body;
  EXPECT_EQ(str(d["deletedRecords"][0]["id"]), ids_[2]);
  EXPECT_EQ(str(d["deletedRecords"][0]["deletedDate"]), "2026-03-01T12:10:00.000+0000");
  EXPECT_EQ(str(d["earliestDateAvailable"]), "2026-02-14T12:20:00.000+0000");
  auto error = [&](const std::string& path) {
    return str(parse(sf_.sf("GET", path).body)[0]["errorCode"]);
  };
  EXPECT_EQ(error("/sobjects/Account/updated/?start=2026-03-01T12:00:00Z&end=2026-03-01T12:00:30Z"),
            "INVALID_REPLICATION_DATE");
  EXPECT_EQ(error("/sobjects/Account/updated/?start=2026-01-01T12:00:00Z&end=2026-03-01T12:00:00Z"),
            "INVALID_REPLICATION_DATE");
  EXPECT_EQ(error("/sobjects/Account/deleted/?start=2026-03-01T13:00:00Z&end=2026-03-01T12:00:00Z"),
            "INVALID_REPLICATION_DATE");
  EXPECT_EQ(error("/sobjects/Account/updated/?start=yesterday&end=2026-03-01T12:00:00Z"),
            "INVALID_REPLICATION_DATE");
}

TEST_F(SalesforceQuery, CollectionsCreateUpdateDeleteRetrieve) {
  Answer created = sf_.sf(
      "POST", "/composite/sobjects",
      R"({"allOrNone":false,"records":[{"attributes":{"type":"Account"},"Name":"C1"},)"
      R"({"attributes":{"type":"Account"},"Phone":"no name"},{"attributes":{"type":"Opportunity"},"Name":"O","StageName":"New","CloseDate":"2026-05-01"}]})");
  ASSERT_EQ(created.status, 200) << created.body;
  auto c = parse(created.body);
  ASSERT_EQ(c.Size(), 3u);
  EXPECT_TRUE(c[0]["success"].GetBool());
  EXPECT_FALSE(c[1]["success"].GetBool());
  EXPECT_TRUE(c[1]["id"].IsNull());
  EXPECT_EQ(str(c[1]["errors"][0]["statusCode"]), "REQUIRED_FIELD_MISSING");
  EXPECT_EQ(str(c[1]["errors"][0]["fields"][0]), "Name");
  EXPECT_EQ(str(c[2]["id"]).substr(0, 3), "006");
  std::string c1 = str(c[0]["id"]);

  Answer updated = sf_.sf(
      "PATCH", "/composite/sobjects",
      R"({"allOrNone":false,"records":[{"attributes":{"type":"Account"},"id":")" + c1 +
          R"(","Phone":"123"},{"attributes":{"type":"Account"},"id":"001000000000009AAA","Phone":"1"}]})");
  auto u = parse(updated.body);
  EXPECT_TRUE(u[0]["success"].GetBool());
  EXPECT_EQ(str(u[1]["errors"][0]["statusCode"]), "NOT_FOUND");

  Answer retrieved =
      sf_.sf("POST", "/composite/sobjects/Account",
             R"({"ids":[")" + c1 + R"(","001000000000009AAA"],"fields":["Name","Phone"]})");
  auto r = parse(retrieved.body);
  ASSERT_EQ(r.Size(), 2u) << retrieved.body;
  EXPECT_EQ(str(r[0]["Phone"]), "123");
  EXPECT_TRUE(r[1].IsNull());
  auto via_get =
      parse(sf_.sf("GET", "/composite/sobjects/Account?ids=" + c1 + "&fields=Name").body);
  EXPECT_EQ(str(via_get[0]["Name"]), "C1");

  Answer deleted =
      sf_.sf("DELETE", "/composite/sobjects?ids=" + c1 + "," + ids_[0] + "&allOrNone=false");
  auto d = parse(deleted.body);
  EXPECT_TRUE(d[0]["success"].GetBool());
  EXPECT_TRUE(d[1]["success"].GetBool());
}

TEST_F(SalesforceQuery, CollectionsAllOrNoneRollsBackEverything) {
  Answer created =
      sf_.sf("POST", "/composite/sobjects",
             R"({"allOrNone":true,"records":[{"attributes":{"type":"Account"},"Name":"Kept?"},)"
             R"({"attributes":{"type":"Account"},"Phone":"no name"}]})");
  auto c = parse(created.body);
  EXPECT_EQ(str(c[0]["errors"][0]["statusCode"]), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  EXPECT_TRUE(c[0]["id"].IsNull());
  EXPECT_EQ(str(c[1]["errors"][0]["statusCode"]), "REQUIRED_FIELD_MISSING");
  EXPECT_EQ(parse(soql(sf_, "SELECT COUNT() FROM Account WHERE Name = 'Kept?'").body)["totalSize"]
                .GetInt(),
            0);
  // Deletes too.
  Answer deleted =
      sf_.sf("DELETE", "/composite/sobjects?ids=" + ids_[0] + ",001000000000009AAA&allOrNone=true");
  auto d = parse(deleted.body);
  EXPECT_EQ(str(d[0]["errors"][0]["statusCode"]), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  EXPECT_EQ(sf_.sf("GET", "/sobjects/Account/" + ids_[0]).status, 200);
}

TEST_F(SalesforceQuery, CollectionsUpsertAndTheTwoHundredLimit) {
  Answer upserted = sf_.sf(
      "PATCH", "/composite/sobjects/Account/PRM_Id__c",
      R"({"allOrNone":false,"records":[{"attributes":{"type":"Account"},"PRM_Id__c":"P-1","Name":"Alpha 2"},)"
      R"({"attributes":{"type":"Account"},"PRM_Id__c":"P-9","Name":"New"}]})");
  ASSERT_EQ(upserted.status, 200) << upserted.body;
  auto u = parse(upserted.body);
  EXPECT_FALSE(u[0]["created"].GetBool());
  EXPECT_EQ(str(u[0]["id"]), ids_[0]);
  EXPECT_TRUE(u[1]["created"].GetBool());
  std::string many = R"({"records":[)";
  for (int i = 0; i < 201; ++i)
    many += std::string(i ? "," : "") + R"({"attributes":{"type":"Account"},"Name":"n"})";
  Answer too_many = sf_.sf("POST", "/composite/sobjects", many + "]}");
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(str(parse(too_many.body)[0]["errorCode"]), "EXCEEDED_ID_LIMIT");
  Answer malformed = sf_.sf("POST", "/composite/sobjects", R"({"records":5})");
  EXPECT_EQ(malformed.status, 400);
}

TEST_F(SalesforceQuery, CompositeResolvesReferencesAndRollsBackOnAllOrNone) {
  std::string body = R"({"allOrNone":false,"compositeRequest":[
    {"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"acc","body":{"Name":"Parent"}},
    {"method":"POST","url":"/services/data/v59.0/sobjects/Opportunity","referenceId":"opp",
     "body":{"Name":"Child","StageName":"New","CloseDate":"2026-06-01","AccountId":"@{acc.id}"}},
    {"method":"GET","url":"/services/data/v59.0/sobjects/Opportunity/@{opp.id}?fields=AccountId","referenceId":"read"},
    {"method":"GET","url":"/services/data/v59.0/query?q=SELECT+Id+FROM+Account+WHERE+Name='Parent'","referenceId":"q"}]})";
  Answer a = sf_.sf("POST", "/composite", body);
  ASSERT_EQ(a.status, 200) << a.body;
  auto answer = parse(a.body);  // kept: `r` points into it (found by AddressSanitizer)
  auto r = answer["compositeResponse"].GetArray();
  EXPECT_EQ(r[0]["httpStatusCode"].GetInt(), 201);
  EXPECT_EQ(str(r[0]["referenceId"]), "acc");
  std::string account = str(r[0]["body"]["id"]);
  EXPECT_EQ(str(r[0]["httpHeaders"]["Location"]),
            "/services/data/v59.0/sobjects/Account/" + account);
  EXPECT_EQ(r[1]["httpStatusCode"].GetInt(), 201);
  EXPECT_EQ(str(r[2]["body"]["AccountId"]), account);
  EXPECT_EQ(r[3]["body"]["totalSize"].GetInt(), 1);

  std::string failing = R"({"allOrNone":true,"compositeRequest":[
    {"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"a1","body":{"Name":"Rolled back"}},
    {"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"a2","body":{"Phone":"no name"}},
    {"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"a3","body":{"Name":"Never"}}]})";
  auto failed_answer = parse(sf_.sf("POST", "/composite", failing).body);
  auto f = failed_answer["compositeResponse"].GetArray();
  EXPECT_EQ(f[0]["httpStatusCode"].GetInt(), 400);
  EXPECT_EQ(str(f[0]["body"][0]["errorCode"]), "PROCESSING_HALTED");
  EXPECT_EQ(str(f[1]["body"][0]["errorCode"]), "REQUIRED_FIELD_MISSING");
  EXPECT_EQ(str(f[2]["body"][0]["errorCode"]), "PROCESSING_HALTED");
  EXPECT_EQ(
      parse(soql(sf_, "SELECT COUNT() FROM Account WHERE Name = 'Rolled back'").body)["totalSize"]
          .GetInt(),
      0);

  // Without allOrNone only the dependants of a failure are skipped.
  std::string partial = R"({"compositeRequest":[
    {"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"bad","body":{"Phone":"x"}},
    {"method":"PATCH","url":"/services/data/v59.0/sobjects/Account/@{bad.id}","referenceId":"dep","body":{"Phone":"y"}},
    {"method":"POST","url":"/services/data/v59.0/sobjects/Account","referenceId":"ok","body":{"Name":"Independent"}}]})";
  auto partial_answer = parse(sf_.sf("POST", "/composite", partial).body);
  auto p = partial_answer["compositeResponse"].GetArray();
  EXPECT_EQ(str(p[1]["body"][0]["errorCode"]), "PROCESSING_HALTED");
  EXPECT_EQ(p[2]["httpStatusCode"].GetInt(), 201);

  std::string many = R"({"compositeRequest":[)";
  for (int i = 0; i < 26; ++i) {
    many += std::string(i ? "," : "") +
            R"({"method":"GET","url":"/services/data/v59.0/limits","referenceId":"r)" +
            std::to_string(i) + "\"}";
  }
  EXPECT_EQ(sf_.sf("POST", "/composite", many + "]}").status, 400);
  EXPECT_EQ(
      sf_.sf("POST", "/composite", R"({"compositeRequest":[{"method":"GET","url":"/x"}]})").status,
      400);
}

TEST(SalesforceQueryBatchSize, DefaultPagesAre2000AndSforceQueryOptionsAsksForFewer) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  for (int call = 0; call < 2; ++call) {
    std::string records;
    for (int i = 0; i < 150; ++i)
      records += std::string(i ? "," : "") + R"({"attributes":{"type":"Account"},"Name":"n"})";
    ASSERT_EQ(sf.sf("POST", "/composite/sobjects", R"({"records":[)" + records + "]}").status, 200);
  }
  auto all = parse(soql(sf, "SELECT Id FROM Account").body);
  EXPECT_EQ(all["records"].Size(), 300u);
  EXPECT_TRUE(all["done"].GetBool());
  auto paged = parse(sf.sf("GET", "/query?q=" + url_encode("SELECT Id FROM Account"), "",
                           {"Sforce-Query-Options: batchSize=200"})
                         .body);
  EXPECT_EQ(paged["records"].Size(), 200u);
  EXPECT_FALSE(paged["done"].GetBool());
  auto clamped = parse(sf.sf("GET", "/query?q=" + url_encode("SELECT Id FROM Account"), "",
                             {"Sforce-Query-Options: batchSize=5"})
                           .body);
  EXPECT_EQ(clamped["records"].Size(), 200u);  // the API's minimum batch size is 200
}

TEST_F(SalesforceQuery, ManyConcurrentKeepAliveClients) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      HttpClient client(sf_.base_url(), sf_.ca_file());
      for (int i = 0; i < 20; ++i) {
        Answer a = client.request(
            "GET", "/services/data/v59.0/query?q=" + url_encode("SELECT Id FROM Account"), "",
            {"Authorization: Bearer " + sf_.token});
        if (a.status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16 * 20);
}

}  // namespace
}  // namespace crmsync::emulators::testing
