// The Dataverse emulator as a process over HTTPS: token endpoint, OData queries and paging,
// change tracking, alternate-key upsert, ETags, @odata.bind, $batch, sharing, errors, 429.

#include <gtest/gtest.h>

#include <cctype>
#include <regex>

#include "tests/emulators/tests/emulator_process.h"
#include "tests/emulators/tests/json_test_util.h"
#include "tests/emulators/text.h"

namespace crmsync::emulators::testing {
namespace {

const std::string kForm = "Content-Type: application/x-www-form-urlencoded";
const std::string kGuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

std::string create(EmulatorProcess& dv, const std::string& set, const std::string& body) {
  Answer a = dv.dv("POST", set, body);
  EXPECT_EQ(a.status, 204) << a.body;
  std::string entity = a.header("OData-EntityId");
  return entity.substr(entity.rfind('(') + 1, 36);
}

std::string error_code(const Answer& a) {
  return str(parse(a.body)["error"]["code"]);
}

TEST(DataverseEmulator, TokenEndpointInTheV2Shape) {
  EmulatorProcess dv("dynamics");
  std::string scope = url_encode(dv.base_url() + "/.default");
  Answer ok = dv.request("POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token",
                         "grant_type=client_credentials&client_id=crmsync-emulator-client&client_"
                         "secret=crmsync-emulator-secret&scope=" +
                             scope,
                         {kForm});
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto t = parse(ok.body);
  EXPECT_EQ(str(t["token_type"]), "Bearer");
  EXPECT_EQ(t["expires_in"].GetInt(), 3599);
  EXPECT_EQ(t["ext_expires_in"].GetInt(), 3599);
  EXPECT_EQ(str(t["access_token"]).rfind("eyJ", 0), 0u);
  Answer bad_secret = dv.request(
      "POST", "/t/oauth2/v2.0/token",
      "grant_type=client_credentials&client_id=crmsync-emulator-client&client_secret=no&scope=" +
          scope,
      {kForm});
  EXPECT_EQ(bad_secret.status, 401);
  auto e = parse(bad_secret.body);
  EXPECT_EQ(str(e["error"]), "invalid_client");
  EXPECT_EQ(e["error_codes"][0].GetInt(), 7000215);
  EXPECT_EQ(str(e["error_description"]).rfind("AADSTS7000215:", 0), 0u);
  Answer bad_scope = dv.request("POST", "/t/oauth2/v2.0/token",
                                "grant_type=client_credentials&client_id=crmsync-emulator-client&"
                                "client_secret=crmsync-emulator-secret&scope=x",
                                {kForm});
  EXPECT_EQ(str(parse(bad_scope.body)["error"]), "invalid_scope");
  Answer bad_client = dv.request(
      "POST", "/t/oauth2/v2.0/token",
      "grant_type=client_credentials&client_id=who&client_secret=x&scope=" + scope, {kForm});
  EXPECT_EQ(str(parse(bad_client.body)["error"]), "unauthorized_client");
  auto discovery = parse(
      dv.request("GET", "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration").body);
  EXPECT_EQ(str(discovery["token_endpoint"]),
            dv.base_url() + "/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(str(discovery["issuer"]), dv.base_url() + "/contoso.onmicrosoft.com/v2.0");
  Answer bad_grant = dv.request("POST", "/t/oauth2/v2.0/token", "grant_type=password", {kForm});
  EXPECT_EQ(str(parse(bad_grant.body)["error"]), "unsupported_grant_type");
}

TEST(DataverseEmulator, AnAppRegistrationHoldsSeveralClientSecretsDuringARotation) {
  EmulatorProcess dv("dynamics");
  std::string scope = url_encode(dv.base_url() + "/.default");
  auto token_status = [&](const std::string& secret) {
    return dv.request("POST", "/t/oauth2/v2.0/token",
                      "grant_type=client_credentials&client_id=crmsync-emulator-client&client_secret=" + secret +
                          "&scope=" + scope,
                      {kForm})
        .status;
  };
  EXPECT_EQ(token_status("second-secret"), 401);
  Answer added = dv.request("POST", "/_emulator/oauth/client-secrets", R"({"add":"second-secret"})");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(parse(added.body)["client_secrets"].GetInt(), 2);
  EXPECT_EQ(token_status("second-secret"), 200);
  EXPECT_EQ(token_status("crmsync-emulator-secret"), 200) << "the old one stays valid until removed";
  ASSERT_EQ(dv.request("POST", "/_emulator/oauth/client-secrets", R"({"remove":"crmsync-emulator-secret"})").status, 200);
  EXPECT_EQ(token_status("crmsync-emulator-secret"), 401);
  EXPECT_EQ(dv.request("POST", "/_emulator/oauth/client-secrets", R"({"remove":"second-secret"})").status, 400)
      << "the last secret cannot be removed";
  EXPECT_EQ(dv.request("POST", "/_emulator/oauth/client-secrets", "{}").status, 400);
  ASSERT_EQ(dv.request("POST", "/_emulator/reset").status, 200);
  EXPECT_EQ(token_status("crmsync-emulator-secret"), 200) << "reset restores --client-secret";
  EXPECT_EQ(token_status("second-secret"), 401);
}

TEST(DataverseEmulator, MissingOrExpiredTokenIs401WithWwwAuthenticate) {
  EmulatorProcess dv("dynamics", {"--token-ttl", "60"});
  Answer none = dv.request("GET", "/api/data/v9.2/WhoAmI");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.header("WWW-Authenticate").find("Bearer authorization_uri="), std::string::npos);
  dv.dataverse_login();
  Answer who = dv.dv("GET", "WhoAmI");
  ASSERT_EQ(who.status, 200);
  auto w = parse(who.body);
  EXPECT_EQ(str(w["@odata.context"]),
            dv.base_url() + "/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse");
  EXPECT_TRUE(std::regex_match(str(w["UserId"]), std::regex(kGuid)));
  EXPECT_EQ(who.header("OData-Version"), "4.0");
  dv.admin("POST", "clock", R"({"advance_seconds":61})");
  EXPECT_EQ(dv.dv("GET", "WhoAmI").status, 401);
}

TEST(DataverseEmulator, CreateRetrieveUpdateDeleteWithETags) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  Answer created = dv.dv("POST", "accounts", R"({"name":"Contoso","revenue":1000})");
  ASSERT_EQ(created.status, 204) << created.body;
  std::string entity = created.header("OData-EntityId");
  EXPECT_TRUE(std::regex_match(
      entity, std::regex(std::regex_replace(dv.base_url(), std::regex(R"([.])"), R"(\.)") +
                         "/api/data/v9\\.2/accounts\\(" + kGuid + "\\)")))
      << entity;
  std::string id = entity.substr(entity.rfind('(') + 1, 36);
  Answer get = dv.dv("GET", "accounts(" + id + ")?$select=name,revenue");
  ASSERT_EQ(get.status, 200) << get.body;
  auto row = parse(get.body);
  EXPECT_EQ(str(row["@odata.context"]),
            dv.base_url() + "/api/data/v9.2/$metadata#accounts(name,revenue)/$entity");
  EXPECT_EQ(str(row["name"]), "Contoso");
  EXPECT_EQ(str(row["accountid"]), id);
  EXPECT_FALSE(row.HasMember("telephone1"));
  std::string etag = str(row["@odata.etag"]);
  EXPECT_TRUE(std::regex_match(etag, std::regex(R"(W/"[0-9]+")"))) << etag;
  EXPECT_EQ(get.header("ETag"), etag);
  EXPECT_EQ(dv.dv("GET", "accounts(" + id + ")", "", {"If-None-Match: " + etag}).status, 304);
  // Braces around the GUID are accepted, as some clients send them.
  EXPECT_EQ(dv.dv("GET", "accounts({" + id + "})").status, 200);

  Answer stale = dv.dv("PATCH", "accounts(" + id + ")", R"({"name":"X"})", {"If-Match: W/\"1\""});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(error_code(stale), "0x80060882");
  Answer updated = dv.dv("PATCH", "accounts(" + id + ")", R"({"telephone1":"555"})",
                         {"If-Match: " + etag, "Prefer: return=representation"});
  ASSERT_EQ(updated.status, 200) << updated.body;
  auto u = parse(updated.body);
  EXPECT_EQ(str(u["telephone1"]), "555");
  EXPECT_NE(str(u["@odata.etag"]), etag);
  EXPECT_GT(u["versionnumber"].GetInt64(), 0);
  Answer plain = dv.dv("PATCH", "accounts(" + id + ")", R"({"telephone1":"556"})");
  EXPECT_EQ(plain.status, 204);

  Answer rep = dv.dv("POST", "accounts?$select=name", R"({"name":"Rep"})",
                     {"Prefer: return=representation"});
  ASSERT_EQ(rep.status, 201) << rep.body;
  EXPECT_EQ(str(parse(rep.body)["name"]), "Rep");
  EXPECT_EQ(rep.header("Preference-Applied"), "return=representation");

  EXPECT_EQ(dv.dv("DELETE", "accounts(" + id + ")").status, 204);
  Answer gone = dv.dv("GET", "accounts(" + id + ")");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(error_code(gone), "0x80040217");
  EXPECT_EQ(str(parse(gone.body)["error"]["message"]),
            "account With Id = " + id + " Does Not Exist");
}

TEST(DataverseEmulator, UpsertByGuidAndAlternateKeyWithIfMatchAndIfNoneMatch) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string guid = "11111111-2222-4333-8444-555555555555";
  Answer created = dv.dv("PATCH", "accounts(" + guid + ")", R"({"name":"By guid"})");
  EXPECT_EQ(created.status, 204);
  EXPECT_EQ(dv.dv("GET", "accounts(" + guid + ")").status, 200);

  Answer update_only =
      dv.dv("PATCH", "accounts(crmsync_prmid='P-404')", R"({"name":"x"})", {"If-Match: *"});
  EXPECT_EQ(update_only.status, 404);
  EXPECT_EQ(error_code(update_only), "0x80040217");
  Answer by_key = dv.dv("PATCH", "accounts(crmsync_prmid='P-1')", R"({"name":"Keyed"})",
                        {"Prefer: return=representation"});
  ASSERT_EQ(by_key.status, 201) << by_key.body;
  EXPECT_EQ(str(parse(by_key.body)["crmsync_prmid"]), "P-1");
  EXPECT_EQ(by_key.header("OData-EntityId"),
            dv.base_url() + "/api/data/v9.2/accounts(crmsync_prmid='P-1')");
  Answer create_only =
      dv.dv("PATCH", "accounts(crmsync_prmid='P-1')", R"({"name":"again"})", {"If-None-Match: *"});
  EXPECT_EQ(create_only.status, 412);
  EXPECT_EQ(error_code(create_only), "0x80060892");
  Answer update =
      dv.dv("PATCH", "accounts(crmsync_prmid='P-1')", R"({"name":"Keyed 2"})", {"If-Match: *"});
  EXPECT_EQ(update.status, 204);
  EXPECT_EQ(str(parse(dv.dv("GET", "accounts(crmsync_prmid='P-1')").body)["name"]), "Keyed 2");
  Answer dup = dv.dv("POST", "accounts", R"({"name":"dup","crmsync_prmid":"p-1"})");
  EXPECT_EQ(dup.status, 412);
  EXPECT_EQ(error_code(dup), "0x80060892");
  Answer dup_guid = dv.dv("POST", "accounts", R"({"accountid":")" + guid + R"(","name":"dup"})");
  EXPECT_EQ(dup_guid.status, 412);
  EXPECT_EQ(error_code(dup_guid), "0x80040237");
  EXPECT_EQ(dv.dv("GET", "accounts(name='x')").status, 400);
  EXPECT_EQ(dv.dv("GET", "accounts(crmsync_prmid='unterminated)").status, 400);
}

TEST(DataverseEmulator, QueryOptionsAndErrors) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  create(dv, "accounts", R"({"name":"Alpha","revenue":100})");
  create(dv, "accounts", R"({"name":"beta","revenue":300})");
  create(dv, "accounts", R"({"name":"Gamma","revenue":200})");
  Answer q = dv.dv("GET",
                   "accounts?$select=name,revenue&$filter=revenue%20ge%20150%20or%20startswith("
                   "name,'al')&$orderby=revenue%20desc&$count=true");
  ASSERT_EQ(q.status, 200) << q.body;
  auto doc = parse(q.body);
  EXPECT_EQ(str(doc["@odata.context"]),
            dv.base_url() + "/api/data/v9.2/$metadata#accounts(name,revenue)");
  EXPECT_EQ(doc["@odata.count"].GetInt(), 3);
  ASSERT_EQ(doc["value"].Size(), 3u);
  EXPECT_EQ(str(doc["value"][0]["name"]), "beta");
  EXPECT_EQ(str(doc["value"][2]["name"]), "Alpha");
  EXPECT_TRUE(doc["value"][0].HasMember("@odata.etag"));
  auto top = parse(dv.dv("GET", "accounts?$select=name&$orderby=name&$top=1").body);
  ASSERT_EQ(top["value"].Size(), 1u);
  EXPECT_EQ(str(top["value"][0]["name"]), "Alpha");
  Answer unknown = dv.dv("GET", "accounts?$select=nope");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(str(parse(unknown.body)["error"]["message"]),
            "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.account'.");
  EXPECT_EQ(dv.dv("GET", "accounts?$filter=nope%20eq%201").status, 400);
  EXPECT_EQ(dv.dv("GET", "accounts?$filter=name%20eq").status, 400);
  EXPECT_EQ(dv.dv("GET", "accounts?$skip=1").status, 400);
  Answer segment = dv.dv("GET", "widgets");
  EXPECT_EQ(segment.status, 404);
  EXPECT_EQ(str(parse(segment.body)["error"]["message"]),
            "Resource not found for the segment 'widgets'.");
  EXPECT_EQ(dv.dv("POST", "accounts", R"({"nope":1})").status, 400);
  Answer bad_type = dv.dv("POST", "accounts", R"({"revenue":"lots"})");
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_EQ(error_code(bad_type), "0x80048d19");
  EXPECT_EQ(dv.dv("POST", "accounts", R"({"createdon":"2020-01-01T00:00:00Z"})").status, 400);
  Answer counted = dv.dv("GET", "accounts/$count?$filter=revenue%20gt%20150");
  EXPECT_EQ(counted.status, 200);
  EXPECT_EQ(counted.body, "2");
  EXPECT_EQ(dv.dv("GET", "accounts/$count").body, "3");
  // The other tables.
  for (const char* set : {"systemusers", "teams", "businessunits", "opportunities"}) {
    EXPECT_EQ(dv.dv("GET", set).status, 200) << set;
  }
}

TEST(DataverseEmulator, PagingFollowsNextLinkFromTheClientBaseUrl) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  for (int i = 0; i < 5; ++i) create(dv, "accounts", R"({"name":"A)" + std::to_string(i) + "\"}");
  Answer first = dv.dv("GET", "accounts?$select=name", "", {"Prefer: odata.maxpagesize=2"});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("Preference-Applied"), "odata.maxpagesize=2");
  auto page = parse(first.body);
  std::vector<std::string> seen;
  while (true) {
    for (auto& v : page["value"].GetArray()) seen.push_back(str(v["name"]));
    if (!page.HasMember("@odata.nextLink")) break;
    std::string next = str(page["@odata.nextLink"]);
    EXPECT_EQ(next.rfind(dv.base_url() + "/api/data/v9.2/accounts?$select=name&$skiptoken=", 0), 0u)
        << next;
    page = parse(dv.dv("GET", next, "", {"Prefer: odata.maxpagesize=2"}).body);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"A0", "A1", "A2", "A3", "A4"}));
  EXPECT_EQ(dv.dv("GET", "accounts?$skiptoken=garbage").status, 400);
}

TEST(DataverseEmulator, ChangeTrackingDeltaLinksAndDeletedEntities) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string a = create(dv, "accounts", R"({"name":"Keep"})");
  std::string b = create(dv, "accounts", R"({"name":"Drop"})");
  Answer initial = dv.dv("GET", "accounts?$select=name", "", {"Prefer: odata.track-changes"});
  ASSERT_EQ(initial.status, 200) << initial.body;
  EXPECT_EQ(initial.header("Preference-Applied"), "odata.track-changes");
  auto doc = parse(initial.body);
  EXPECT_EQ(doc["value"].Size(), 2u);
  std::string delta = str(doc["@odata.deltaLink"]);
  EXPECT_EQ(delta.rfind(dv.base_url() + "/api/data/v9.2/accounts?$select=name&$deltatoken=", 0), 0u)
      << delta;
  EXPECT_TRUE(
      std::regex_search(url_decode(delta),
                        std::regex(R"(\$deltatoken=[0-9]+![0-9]{2}/[0-9]{2}/[0-9]{4} [0-9:]{8}$)")))
      << delta;

  dv.dv("PATCH", "accounts(" + a + ")", R"({"name":"Kept"})");
  dv.dv("DELETE", "accounts(" + b + ")");
  std::string c = create(dv, "accounts", R"({"name":"New"})");
  std::string d = create(dv, "accounts", R"({"name":"Brief"})");
  dv.dv("DELETE", "accounts(" + d + ")");
  Answer changes = dv.dv("GET", delta);
  ASSERT_EQ(changes.status, 200) << changes.body;
  auto ch = parse(changes.body);
  EXPECT_EQ(str(ch["@odata.context"]),
            dv.base_url() + "/api/data/v9.2/$metadata#accounts(name)/$delta");
  ASSERT_EQ(ch["value"].Size(), 4u) << changes.body;
  EXPECT_EQ(str(ch["value"][0]["name"]), "Kept");
  EXPECT_EQ(str(ch["value"][1]["name"]), "New");
  EXPECT_EQ(str(ch["value"][2]["@odata.context"]),
            dv.base_url() + "/api/data/v9.2/$metadata#accounts/$deletedEntity");
  EXPECT_EQ(str(ch["value"][2]["reason"]), "deleted");
  std::set<std::string> deleted{str(ch["value"][2]["id"]), str(ch["value"][3]["id"])};
  EXPECT_EQ(deleted, (std::set<std::string>{b, d}));
  (void)c;
  auto quiet = parse(dv.dv("GET", str(ch["@odata.deltaLink"])).body);
  EXPECT_EQ(quiet["value"].Size(), 0u);

  EXPECT_EQ(
      dv.dv("GET", "accounts?$filter=name%20eq%20'x'", "", {"Prefer: odata.track-changes"}).status,
      400);
  EXPECT_EQ(dv.dv("GET", "accounts?$deltatoken=nonsense").status, 400);
  dv.admin("POST", "clock", R"({"advance_seconds":2678400})");
  dv.dataverse_login();
  Answer expired = dv.dv("GET", str(ch["@odata.deltaLink"]));
  EXPECT_EQ(expired.status, 400);
  EXPECT_EQ(str(parse(expired.body)["error"]["message"]),
            "Version stamp associated with the client has expired. Please perform a full sync.");
}

TEST(DataverseEmulator, ODataBindSetsOwnersAndLookups) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string team = create(dv, "teams", R"({"name":"Partners"})");
  std::string parent = create(dv, "accounts", R"({"name":"Parent"})");
  std::string child = create(dv, "accounts",
                             "{\"name\":\"Child\",\"parentaccountid@odata.bind\":\"/accounts(" +
                                 parent + ")\",\"ownerid@odata.bind\":\"" + dv.base_url() +
                                 "/api/data/v9.2/teams(" + team + ")\"}");
  auto row =
      parse(dv.dv("GET", "accounts(" + child + ")", "", {"Prefer: odata.include-annotations=\"*\""})
                .body);
  EXPECT_EQ(str(row["_parentaccountid_value"]), parent);
  EXPECT_EQ(str(row["_ownerid_value"]), team);
  EXPECT_EQ(str(row["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]), "team");
  Answer no_key = dv.dv(
      "POST", "opportunities",
      R"j({"name":"Deal","customerid_account@odata.bind":"accounts(crmsync_prmid='none')"})j");
  EXPECT_EQ(no_key.status, 404);
  Answer missing = dv.dv(
      "POST", "opportunities",
      R"j({"name":"Deal","customerid_account@odata.bind":"accounts(00000000-0000-4000-8000-000000000000)"})j");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_code(missing), "0x80040217");
  Answer bound =
      dv.dv("POST", "opportunities",
            "{\"name\":\"Deal\",\"customerid_account@odata.bind\":\"accounts(" + parent + ")\"}",
            {"Prefer: return=representation"});
  ASSERT_EQ(bound.status, 201) << bound.body;
  EXPECT_EQ(str(parse(bound.body)["_customerid_value"]), parent);
  EXPECT_EQ(
      dv.dv("PATCH", "accounts(" + child + ")", R"({"parentaccountid@odata.bind":null})").status,
      204);
  EXPECT_TRUE(
      parse(dv.dv("GET", "accounts(" + child + ")").body)["_parentaccountid_value"].IsNull());
  EXPECT_EQ(
      dv.dv("POST", "accounts", "{\"nothing@odata.bind\":\"/accounts(" + parent + ")\"}").status,
      400);
  EXPECT_EQ(
      dv.dv("POST", "accounts", "{\"ownerid@odata.bind\":\"/accounts(" + parent + ")\"}").status,
      400);
}

std::string batch_body(const std::string& boundary, const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "--" + boundary + "\r\n" + p;
  return out + "--" + boundary + "--\r\n";
}

std::string http_part(const std::string& request, const std::string& content_id = "") {
  return "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n" +
         (content_id.empty() ? std::string() : "Content-ID: " + content_id + "\r\n") + "\r\n" +
         request + "\r\n";
}

TEST(DataverseEmulator, BatchWithAtomicChangeSetsAndContentIdReferences) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string api = dv.base_url() + "/api/data/v9.2/";
  std::string changeset = batch_body(
      "changeset_1",
      {http_part("POST " + api +
                     "accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"Batch "
                     "parent\"}",
                 "1"),
       http_part("POST /api/data/v9.2/opportunities HTTP/1.1\r\nContent-Type: "
                 "application/json\r\n\r\n{\"name\":\"Opp\",\"parentaccountid@odata.bind\":\"$1\"}",
                 "2"),
       http_part(
           "PATCH $1 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"telephone1\":\"42\"}",
           "3")});
  std::string body = batch_body(
      "batch_1",
      {"Content-Type: multipart/mixed; boundary=changeset_1\r\n\r\n" + changeset,
       http_part(
           "GET accounts?$select=name,telephone1 HTTP/1.1\r\nAccept: application/json\r\n\r\n")});
  Answer a = dv.dv("POST", "$batch", "", {});
  EXPECT_EQ(a.status, 400);  // no multipart content type
  Answer ok = dv.request(
      "POST", "/api/data/v9.2/$batch", body,
      {"Authorization: Bearer " + dv.token, "Content-Type: multipart/mixed; boundary=batch_1"});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body.rfind("--batchresponse_", 0), 0u) << ok.body.substr(0, 80);
  EXPECT_NE(ok.header("Content-Type").find("boundary=batchresponse_"), std::string::npos);
  EXPECT_NE(ok.body.find("--changesetresponse_"), std::string::npos);
  EXPECT_NE(ok.body.find("Content-ID: 1"), std::string::npos);
  EXPECT_NE(ok.body.find("HTTP/1.1 204 No Content"), std::string::npos);
  EXPECT_NE(ok.body.find("\"telephone1\":\"42\""), std::string::npos) << ok.body;
  auto opps = parse(dv.dv("GET", "opportunities?$select=name,_parentaccountid_value").body);
  ASSERT_EQ(opps["value"].Size(), 1u);
  EXPECT_FALSE(opps["value"][0]["_parentaccountid_value"].IsNull());

  // A failing member rolls the whole change set back; without continue-on-error the batch stops.
  std::string failing_set = batch_body(
      "cs",
      {http_part("POST accounts HTTP/1.1\r\nContent-Type: "
                 "application/json\r\n\r\n{\"name\":\"Rolled back\"}",
                 "1"),
       http_part("POST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"nope\":1}",
                 "2")});
  std::string failing =
      batch_body("b2", {"Content-Type: multipart/mixed; boundary=cs\r\n\r\n" + failing_set,
                        http_part("POST accounts HTTP/1.1\r\nContent-Type: "
                                  "application/json\r\n\r\n{\"name\":\"After\"}")});
  Answer stopped = dv.request(
      "POST", "/api/data/v9.2/$batch", failing,
      {"Authorization: Bearer " + dv.token, "Content-Type: multipart/mixed; boundary=\"b2\""});
  EXPECT_EQ(stopped.status, 400) << stopped.body;
  EXPECT_EQ(stopped.body.rfind("--batchresponse_", 0), 0u);
  auto count = [&](const std::string& name) {
    return parse(dv.dv("GET", "accounts?$filter=name%20eq%20'" + url_encode(name) + "'")
                     .body)["value"]
        .Size();
  };
  EXPECT_EQ(count("Rolled back"), 0u);
  EXPECT_EQ(count("After"), 0u);
  Answer continued =
      dv.request("POST", "/api/data/v9.2/$batch", failing,
                 {"Authorization: Bearer " + dv.token, "Content-Type: multipart/mixed; boundary=b2",
                  "Prefer: odata.continue-on-error"});
  EXPECT_EQ(continued.status, 200);
  EXPECT_NE(continued.body.find("HTTP/1.1 400 Bad Request"), std::string::npos);
  EXPECT_EQ(count("Rolled back"), 0u);
  EXPECT_EQ(count("After"), 1u);

  std::string undeclared = batch_body(
      "b3",
      {"Content-Type: multipart/mixed; boundary=cs3\r\n\r\n" +
       batch_body("cs3", {http_part("PATCH $9 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}",
                                    "1")})});
  Answer bad_ref = dv.request(
      "POST", "/api/data/v9.2/$batch", undeclared,
      {"Authorization: Bearer " + dv.token, "Content-Type: multipart/mixed; boundary=b3"});
  EXPECT_EQ(bad_ref.status, 400);
  EXPECT_NE(bad_ref.body.find("Content-ID Reference: '$9' does not exist in the batch context."),
            std::string::npos);
  std::string get_in_set =
      batch_body("b4", {"Content-Type: multipart/mixed; boundary=cs4\r\n\r\n" +
                        batch_body("cs4", {http_part("GET accounts HTTP/1.1\r\n\r\n", "1")})});
  EXPECT_EQ(dv.request("POST", "/api/data/v9.2/$batch", get_in_set,
                       {"Authorization: Bearer " + dv.token,
                        "Content-Type: multipart/mixed; boundary=b4"})
                .status,
            400);
  std::vector<std::string> many;
  for (int i = 0; i < 1001; ++i) many.push_back(http_part("GET WhoAmI HTTP/1.1\r\n\r\n"));
  Answer too_many = dv.request(
      "POST", "/api/data/v9.2/$batch", batch_body("b5", many),
      {"Authorization: Bearer " + dv.token, "Content-Type: multipart/mixed; boundary=b5"});
  EXPECT_EQ(too_many.status, 400);
  auto stats = parse(dv.admin("GET", "stats").body);
  EXPECT_EQ(stats["records_per_write"]["3"].GetInt(), 1) << str(stats);
}

TEST(DataverseEmulator, SharingActions) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string account = create(dv, "accounts", R"({"name":"Shared"})");
  std::string team = create(dv, "teams", R"({"name":"Access team","teamtype":1})");
  std::string user =
      create(dv, "systemusers",
             R"({"firstname":"Pat","lastname":"Partner","domainname":"pat@example.com"})");
  auto target = R"("Target":{"accountid":")" + account +
                R"(","@odata.type":"Microsoft.Dynamics.CRM.account"})";
  Answer grant =
      dv.dv("POST", "GrantAccess",
            "{" + target + R"(,"PrincipalAccess":{"Principal":{"teamid":")" + team +
                R"(","@odata.type":"Microsoft.Dynamics.CRM.team"},"AccessMask":"ReadAccess"}})");
  EXPECT_EQ(grant.status, 204) << grant.body;
  dv.dv("POST", "GrantAccess",
        "{" + target + R"(,"PrincipalAccess":{"Principal":{"teamid":")" + team +
            R"(","@odata.type":"Microsoft.Dynamics.CRM.team"},"AccessMask":"WriteAccess"}})");
  dv.dv(
      "POST", "GrantAccess",
      "{" + target + R"(,"PrincipalAccess":{"Principal":{"systemuserid":")" + user +
          R"(","@odata.type":"Microsoft.Dynamics.CRM.systemuser"},"AccessMask":"ReadAccess, ShareAccess"}})");
  std::string query = "RetrieveSharedPrincipalsAndAccess(Target=@t)?@t=" +
                      url_encode("{'@odata.id':'accounts(" + account + ")'}");
  auto shared = parse(dv.dv("GET", query).body);
  ASSERT_EQ(shared["PrincipalAccesses"].Size(), 2u) << str(shared);
  std::map<std::string, std::string> masks;
  for (auto& p : shared["PrincipalAccesses"].GetArray())
    masks[str(p["Principal"]["ownerid"])] = str(p["AccessMask"]);
  EXPECT_EQ(masks[team], "ReadAccess, WriteAccess");
  EXPECT_EQ(masks[user], "ReadAccess, ShareAccess");
  EXPECT_EQ(str(shared["PrincipalAccesses"][0]["Principal"]["@odata.type"])
                .rfind("#Microsoft.Dynamics.CRM.", 0),
            0u);
  dv.dv("POST", "ModifyAccess",
        "{" + target + R"(,"PrincipalAccess":{"Principal":{"teamid":")" + team +
            R"(","@odata.type":"Microsoft.Dynamics.CRM.team"},"AccessMask":"ReadAccess"}})");
  Answer revoke = dv.dv("POST", "RevokeAccess",
                        "{" + target + R"(,"Revokee":{"systemuserid":")" + user +
                            R"(","@odata.type":"Microsoft.Dynamics.CRM.systemuser"}})");
  EXPECT_EQ(revoke.status, 204);
  std::string double_quoted = "RetrieveSharedPrincipalsAndAccess(Target=@t)?@t=" +
                              url_encode("{\"@odata.id\":\"accounts(" + account + ")\"}");
  auto after = parse(dv.dv("GET", double_quoted).body);
  ASSERT_EQ(after["PrincipalAccesses"].Size(), 1u);
  EXPECT_EQ(str(after["PrincipalAccesses"][0]["AccessMask"]), "ReadAccess");
  EXPECT_EQ(
      dv.dv("POST", "GrantAccess",
            "{" + target + R"(,"PrincipalAccess":{"Principal":{"teamid":")" + team +
                R"(","@odata.type":"Microsoft.Dynamics.CRM.team"},"AccessMask":"Everything"}})")
          .status,
      400);
  EXPECT_EQ(
      dv.dv("POST", "GrantAccess",
            R"({"Target":{"accountid":"00000000-0000-4000-8000-000000000000","@odata.type":"Microsoft.Dynamics.CRM.account"},"PrincipalAccess":{"Principal":{"teamid":")" +
                team +
                R"(","@odata.type":"Microsoft.Dynamics.CRM.team"},"AccessMask":"ReadAccess"}})")
          .status,
      404);
}

TEST(DataverseEmulator, TeamMembershipThroughTeammembershipAssociation) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string team = create(dv, "teams", R"({"name":"Owners"})");
  std::string pat = create(dv, "systemusers", R"({"lastname":"Pat"})");
  std::string sam = create(dv, "systemusers", R"({"lastname":"Sam"})");
  std::string api = dv.base_url() + "/api/data/v9.2/";
  auto ref = [](const std::string& uri) { return "{\"@odata.id\":\"" + uri + "\"}"; };
  EXPECT_EQ(dv.dv("POST", "teams(" + team + ")/teammembership_association/$ref",
                  ref(api + "systemusers(" + pat + ")"))
                .status,
            204);
  EXPECT_EQ(dv.dv("POST", "systemusers(" + sam + ")/teammembership_association/$ref",
                  ref("teams(" + team + ")"))
                .status,
            204);
  auto members =
      parse(dv.dv("GET", "teams(" + team + ")/teammembership_association?$select=lastname").body);
  ASSERT_EQ(members["value"].Size(), 2u) << str(members);
  auto teams = parse(dv.dv("GET", "systemusers(" + pat + ")/teammembership_association").body);
  ASSERT_EQ(teams["value"].Size(), 1u);
  EXPECT_EQ(str(teams["value"][0]["teamid"]), team);
  EXPECT_EQ(
      dv.dv("DELETE", "teams(" + team + ")/teammembership_association(" + pat + ")/$ref").status,
      204);
  EXPECT_EQ(dv.dv("DELETE", "teams(" + team + ")/teammembership_association/$ref?$id=" +
                                url_encode(api + "systemusers(" + sam + ")"))
                .status,
            204);
  EXPECT_EQ(
      parse(dv.dv("GET", "teams(" + team + ")/teammembership_association").body)["value"].Size(),
      0u);
  Answer missing = dv.dv("POST", "teams(" + team + ")/teammembership_association/$ref",
                         ref("systemusers(00000000-0000-4000-8000-000000000000)"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(dv.dv("POST", "teams(" + team + ")/teammembership_association/$ref",
                  ref("accounts(" + team + ")"))
                .status,
            400);
  EXPECT_EQ(dv.dv("GET", "accounts(" + team + ")/teammembership_association").status, 404);
}

TEST(DataverseEmulator, ServiceProtection429WithRetryAfter) {
  EmulatorProcess dv("dynamics", {"--requests-per-window", "3"});
  dv.admin("POST", "clock", R"({"now":"2026-04-01T00:00:00Z"})");
  dv.dataverse_login();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(dv.dv("GET", "WhoAmI").status, 200);
  Answer limited = dv.dv("GET", "WhoAmI");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(error_code(limited), "0x80072322");
  EXPECT_EQ(limited.header("Retry-After"), "300");
  dv.admin("POST", "clock", R"({"advance_seconds":301})");
  EXPECT_EQ(dv.dv("GET", "WhoAmI").status, 200);
  dv.admin("POST", "faults", R"({"path":"/api/data/*","status":429,"times":1})");
  Answer injected = dv.dv("GET", "WhoAmI");
  EXPECT_EQ(injected.status, 429);
  EXPECT_EQ(error_code(injected), "0x80072322");
  EXPECT_FALSE(injected.header("Retry-After").empty());
}

TEST(DataverseEmulator, SeedAddsColumnsAndRecords) {
  EmulatorProcess dv("dynamics");
  Answer seeded = dv.admin("POST", "seed",
                           R"j({"columns":{"account":[{"name":"crmsync_region","type":"string"}]},
    "records":{"teams":[{"teamid":"22222222-0000-4000-8000-000000000001","name":"Seed team"}],
               "accounts":[{"name":"Seeded","crmsync_region":"EMEA","ownerid@odata.bind":"/teams(22222222-0000-4000-8000-000000000001)"}]}})j");
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  dv.dataverse_login();
  auto rows = parse(dv.dv("GET", "accounts?$select=name,crmsync_region,_ownerid_value").body);
  ASSERT_EQ(rows["value"].Size(), 1u);
  EXPECT_EQ(str(rows["value"][0]["crmsync_region"]), "EMEA");
  EXPECT_EQ(str(rows["value"][0]["_ownerid_value"]), "22222222-0000-4000-8000-000000000001");
  EXPECT_EQ(parse(dv.admin("GET", "records/accounts").body).Size(), 1u);
  EXPECT_EQ(dv.admin("POST", "seed", R"({"records":{"widgets":[{}]}})").status, 400);
}

// Drift for reconcile tests (POST /_emulator/drift): reads see the planted change or removal;
// delta links, versionnumber, modifiedon and the ETag do not.
TEST(DataverseEmulator, DriftIsReadableButInvisibleToChangeTracking) {
  EmulatorProcess dv("dynamics");
  dv.dataverse_login();
  std::string kept = create(dv, "accounts", R"({"name":"Drifting","telephone1":"111"})");
  std::string gone = create(dv, "accounts", R"({"name":"Vanishing"})");
  std::string team = create(dv, "teams", R"({"name":"Access team","teamtype":1})");
  Answer grant = dv.dv(
      "POST", "GrantAccess",
      R"({"Target":{"accountid":")" + gone +
          R"(","@odata.type":"Microsoft.Dynamics.CRM.account"},"PrincipalAccess":{"Principal":{"teamid":")" +
          team + R"(","@odata.type":"Microsoft.Dynamics.CRM.team"},"AccessMask":"ReadAccess"}})");
  ASSERT_EQ(grant.status, 204) << grant.body;
  auto before = parse(dv.dv("GET", "accounts(" + kept + ")").body);
  Answer initial =
      dv.dv("GET", "accounts?$select=name,telephone1", "", {"Prefer: odata.track-changes"});
  ASSERT_EQ(initial.status, 200) << initial.body;
  std::string delta = str(parse(initial.body)["@odata.deltaLink"]);

  dv.admin("POST", "clock", R"({"advance_seconds":60})");
  std::string upper = kept;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Answer planted = dv.admin("POST", "drift",
                            R"({"object":"accounts","id":")" + upper +
                                R"(","set":{"telephone1":"222","ownerid@odata.bind":"/teams()" +
                                team + R"j()"}})j");
  ASSERT_EQ(planted.status, 200) << planted.body;
  EXPECT_EQ(planted.body, R"({"object":"accounts","id":")" + kept +
                              R"(","changed":["telephone1","_ownerid_value"]})");
  auto row = parse(dv.dv("GET", "accounts(" + kept + ")").body);
  EXPECT_EQ(str(row["telephone1"]), "222");
  EXPECT_EQ(str(row["_ownerid_value"]), team);
  for (const char* stamp : {"versionnumber", "modifiedon", "@odata.etag"})
    EXPECT_EQ(str(row[stamp]), str(before[stamp])) << stamp;
  auto filtered = parse(dv.dv("GET", "accounts?$filter=telephone1%20eq%20'222'").body);
  ASSERT_EQ(filtered["value"].Size(), 1u) << str(filtered);
  EXPECT_EQ(str(filtered["value"][0]["accountid"]), kept);

  Answer removed =
      dv.admin("POST", "drift", R"({"object":"account","id":")" + gone + R"(","delete":true})");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(removed.body, R"({"object":"account","id":")" + gone + R"(","deleted":true})");
  Answer missing = dv.dv("GET", "accounts(" + gone + ")");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_code(missing), "0x80040217");
  EXPECT_EQ(str(parse(missing.body)["error"]["message"]),
            "account With Id = " + gone + " Does Not Exist");
  EXPECT_EQ(parse(dv.dv("GET", "accounts").body)["value"].Size(), 1u);
  EXPECT_EQ(dv.dv("GET", "RetrieveSharedPrincipalsAndAccess(Target=@t)?@t=" +
                             url_encode("{'@odata.id':'accounts(" + gone + ")'}"))
                .status,
            404);

  Answer changes = dv.dv("GET", delta);
  ASSERT_EQ(changes.status, 200) << changes.body;
  auto ch = parse(changes.body);
  EXPECT_EQ(ch["value"].Size(), 0u) << changes.body;
  // Change tracking still sees the API's own writes after a drift.
  dv.dv("PATCH", "accounts(" + kept + ")", R"({"name":"Written"})");
  auto next = parse(dv.dv("GET", str(ch["@odata.deltaLink"])).body);
  ASSERT_EQ(next["value"].Size(), 1u) << str(next);
  EXPECT_EQ(str(next["value"][0]["telephone1"]), "222");

  auto error = [&](const Answer& a) { return str(parse(a.body)["error"]); };
  Answer no_object = dv.admin("POST", "drift",
                           R"({"object":"widgets","id":")" + kept + R"(","set":{"name":"x"}})");
  EXPECT_EQ(no_object.status, 404);
  EXPECT_NE(error(no_object).find("widgets"), std::string::npos) << no_object.body;
  Answer no_row =
      dv.admin("POST", "drift", R"({"object":"accounts","id":")" + gone + R"(","delete":true})");
  EXPECT_EQ(no_row.status, 404);
  EXPECT_NE(error(no_row).find(gone), std::string::npos) << no_row.body;
  Answer unknown = dv.admin("POST", "drift",
                            R"({"object":"accounts","id":")" + kept +
                                R"(","set":{"telephone1":"333","crmsync_tier":1}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(error(unknown).find("crmsync_tier"), std::string::npos) << unknown.body;
  Answer read_only = dv.admin(
      "POST", "drift", R"({"object":"accounts","id":")" + kept + R"(","set":{"versionnumber":1}})");
  EXPECT_EQ(read_only.status, 400);
  EXPECT_NE(error(read_only).find("versionnumber"), std::string::npos) << read_only.body;
  for (const std::string& body : {std::string("[]"), R"({"id":")" + kept + R"(","delete":true})",
                                  R"({"object":"accounts","id":")" + kept + R"(","set":[]})"}) {
    Answer bad = dv.admin("POST", "drift", body);
    EXPECT_EQ(bad.status, 400) << body;
  }
  EXPECT_EQ(str(parse(dv.dv("GET", "accounts(" + kept + ")").body)["telephone1"]), "222");
}

}  // namespace
}  // namespace crmsync::emulators::testing
