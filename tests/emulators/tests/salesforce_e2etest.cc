// The Salesforce emulator as a process over HTTPS: OAuth, sessions, limits, describe, rows,
// upsert, conditional requests and share rows.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <sys/wait.h>
#include <regex>

#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/tests/emulator_process.h"
#include "tests/emulators/tests/json_test_util.h"
#include "tests/emulators/text.h"
#include "tests/emulators/tls_identity.h"

namespace crmsync::emulators::testing {
namespace {

const std::string kForm = "Content-Type: application/x-www-form-urlencoded";
const std::string kClient =
    "client_id=crmsync-emulator-client&client_secret=crmsync-emulator-secret";

std::string create_account(EmulatorProcess& sf, const std::string& body) {
  Answer a = sf.sf("POST", "/sobjects/Account", body);
  EXPECT_EQ(a.status, 201) << a.body;
  return str(parse(a.body)["id"]);
}

TEST(SalesforceEmulator, PrintsItsHttpsUrlAndServesTlsWithTheWrittenCa) {
  EmulatorProcess sf("salesforce");
  EXPECT_TRUE(std::regex_match(sf.base_url(), std::regex(R"(https://127\.0\.0\.1:[0-9]+)")))
      << sf.base_url();
  Answer versions = sf.request("GET", "/services/data/");
  ASSERT_EQ(versions.status, 200) << versions.body;
  EXPECT_EQ(versions.header("Content-Type"), "application/json;charset=UTF-8");
  auto doc = parse(versions.body);
  ASSERT_TRUE(doc.IsArray());
  bool has59 = false;
  for (auto& v : doc.GetArray())
    has59 |= str(v["version"]) == "59.0" && str(v["url"]) == "/services/data/v59.0";
  EXPECT_TRUE(has59);
}

TEST(SalesforceEmulator, AnswersExpect100ContinueAtOnce) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  auto start = std::chrono::steady_clock::now();
  Answer a =
      sf.sf("POST", "/sobjects/Account", R"({"Name":"Expecting"})", {"Expect: 100-continue"});
  EXPECT_EQ(a.status, 201) << a.body;
  // curl waits a full second for "100 Continue" before sending the body anyway.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST(SalesforceEmulator, ServesAGivenCertificateAndKey) {
  TlsIdentity identity = make_self_signed_identity();
  char dir_template[] = "/tmp/crm-emulator-tls-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::ofstream(dir + "/cert.pem") << identity.cert_pem;
  std::ofstream(dir + "/key.pem") << identity.key_pem;
  EmulatorProcess sf("salesforce",
                     {"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
  EXPECT_EQ(sf.request("GET", "/services/data/").status, 200);
  std::filesystem::remove_all(dir);
}

TEST(SalesforceEmulator, BadFlagsExitWithTwo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--api", "nope"},
        {"--api", "salesforce", "--listen", "nohostport"},
        {"--api", "salesforce", "--page-size", "-3"},
        {"--api", "salesforce", "--tls-cert", "/x"},
        {"--api", "salesforce", "--seed", "/does/not/exist.json"},
        {"--api", "salesforce", "--frobnicate"}}) {
    std::string command = std::string(CRM_EMULATOR_BINARY);
    for (const auto& a : args) command += " '" + a + "'";
    int status = std::system((command + " >/dev/null 2>&1").c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << command;
  }
}

TEST(SalesforceEmulator, PlainHttpOnRequest) {
  EmulatorProcess sf("salesforce", {"--plain-http"});
  EXPECT_EQ(sf.base_url().rfind("http://127.0.0.1:", 0), 0u) << sf.base_url();
  EXPECT_EQ(sf.request("GET", "/services/data/").status, 200);
}

TEST(SalesforceEmulator, ClientCredentialsTokenHasTheRealShapeAndInstanceUrlOfTheClient) {
  EmulatorProcess sf("salesforce");
  Answer a = sf.request("POST", "/services/oauth2/token",
                        "grant_type=client_credentials&" + kClient, {kForm});
  ASSERT_EQ(a.status, 200) << a.body;
  auto doc = parse(a.body);
  EXPECT_EQ(str(doc["instance_url"]), sf.base_url());
  EXPECT_EQ(str(doc["token_type"]), "Bearer");
  EXPECT_TRUE(doc["issued_at"].IsString());
  EXPECT_TRUE(doc.HasMember("signature"));
  EXPECT_FALSE(doc.HasMember("refresh_token"));
  std::string id = str(doc["id"]);
  EXPECT_EQ(id.rfind(sf.base_url() + "/id/00D", 0), 0u) << id;
  // The identity URL answers with the user.
  sf.token = str(doc["access_token"]);
  Answer identity = sf.sf("GET", id);
  ASSERT_EQ(identity.status, 200) << identity.body;
  EXPECT_EQ(str(parse(identity.body)["username"]), "integration@crmsync.emulator");
  // HTTP Basic client authentication works too (simple-salesforce).
  Answer basic =
      sf.request("POST", "/services/oauth2/token", "grant_type=client_credentials",
                 {kForm, "Authorization: Basic " +
                             base64_encode("crmsync-emulator-client:crmsync-emulator-secret")});
  EXPECT_EQ(basic.status, 200) << basic.body;
}

TEST(SalesforceEmulator, TokenErrorsUseTheOAuthErrorShape) {
  EmulatorProcess sf("salesforce");
  auto error_of = [&](const std::string& body) {
    Answer a = sf.request("POST", "/services/oauth2/token", body, {kForm});
    EXPECT_EQ(a.status, 400) << a.body;
    auto doc = parse(a.body);
    return str(doc["error"]) + "|" + str(doc["error_description"]);
  };
  EXPECT_EQ(
      error_of(
          "grant_type=client_credentials&client_id=crmsync-emulator-client&client_secret=wrong"),
      "invalid_client|invalid client credentials");
  EXPECT_EQ(error_of("grant_type=client_credentials&client_id=nobody&client_secret=x"),
            "invalid_client_id|client identifier invalid");
  EXPECT_EQ(error_of("grant_type=magic&" + kClient),
            "unsupported_grant_type|grant type not supported");
  EXPECT_EQ(error_of("grant_type=refresh_token&refresh_token=nope&" + kClient),
            "invalid_grant|expired access/refresh token");
  EXPECT_EQ(
      error_of("grant_type=password&username=integration@crmsync.emulator&password=bad&" + kClient),
      "invalid_grant|authentication failure");
  Answer ok = sf.request("POST", "/services/oauth2/token",
                         "grant_type=password&username=integration%40crmsync.emulator&password="
                         "crmsync-emulator-password&" +
                             kClient,
                         {kForm});
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(SalesforceEmulator, RefreshTokensWorkRepeatedlyWithoutRotation) {
  EmulatorProcess sf("salesforce");
  std::string refresh = str(parse(sf.admin("POST", "oauth/refresh-token").body)["refresh_token"]);
  for (int i = 0; i < 2; ++i) {
    Answer a = sf.request(
        "POST", "/services/oauth2/token",
        "grant_type=refresh_token&refresh_token=" + refresh + "&client_id=crmsync-emulator-client",
        {kForm});
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_FALSE(parse(a.body).HasMember("refresh_token"));
  }
}

TEST(SalesforceEmulator, RefreshTokenRotationInvalidatesTheUsedToken) {
  EmulatorProcess sf("salesforce", {"--rotate-refresh-tokens"});
  std::string refresh = str(parse(sf.admin("POST", "oauth/refresh-token").body)["refresh_token"]);
  Answer first =
      sf.request("POST", "/services/oauth2/token",
                 "grant_type=refresh_token&refresh_token=" + refresh + "&" + kClient, {kForm});
  ASSERT_EQ(first.status, 200) << first.body;
  std::string rotated = str(parse(first.body)["refresh_token"]);
  EXPECT_NE(rotated, refresh);
  Answer reuse =
      sf.request("POST", "/services/oauth2/token",
                 "grant_type=refresh_token&refresh_token=" + refresh + "&" + kClient, {kForm});
  EXPECT_EQ(reuse.status, 400);
  EXPECT_EQ(str(parse(reuse.body)["error"]), "invalid_grant");
  Answer next =
      sf.request("POST", "/services/oauth2/token",
                 "grant_type=refresh_token&refresh_token=" + rotated + "&" + kClient, {kForm});
  EXPECT_EQ(next.status, 200) << next.body;
}

TEST(SalesforceEmulator, RevokingARefreshTokenRevokesItsAccessTokens) {
  EmulatorProcess sf("salesforce");
  std::string refresh = str(parse(sf.admin("POST", "oauth/refresh-token").body)["refresh_token"]);
  Answer a =
      sf.request("POST", "/services/oauth2/token",
                 "grant_type=refresh_token&refresh_token=" + refresh + "&" + kClient, {kForm});
  sf.token = str(parse(a.body)["access_token"]);
  EXPECT_EQ(sf.sf("GET", "/limits").status, 200);
  Answer revoke = sf.request("POST", "/services/oauth2/revoke", "token=" + refresh, {kForm});
  EXPECT_EQ(revoke.status, 200);
  EXPECT_TRUE(revoke.body.empty());
  EXPECT_EQ(sf.sf("GET", "/limits").status, 401);
  Answer again = sf.request("POST", "/services/oauth2/revoke", "token=" + refresh, {kForm});
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(str(parse(again.body)["error"]), "invalid_token");
}

TEST(SalesforceEmulator, ExpiredOrMissingSessionsGetInvalidSessionIdArray) {
  EmulatorProcess sf("salesforce", {"--token-ttl", "60"});
  Answer none = sf.request("GET", "/services/data/v59.0/limits");
  ASSERT_EQ(none.status, 401);
  EXPECT_EQ(none.body,
            R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])");
  sf.salesforce_login();
  EXPECT_EQ(sf.sf("GET", "/limits").status, 200);
  sf.admin("POST", "clock", R"({"advance_seconds":61})");
  Answer expired = sf.sf("GET", "/limits");
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.body,
            R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])");
}

TEST(SalesforceEmulator, JwtBearerFlowVerifiesTheRs256Signature) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  char dir_template[] = "/tmp/crm-emulator-jwt-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::string pub_path = dir + "/jwt.pub";
  {
    BIO* bio = BIO_new_file(pub_path.c_str(), "w");
    PEM_write_bio_PUBKEY(bio, key);
    BIO_free(bio);
  }
  auto b64url = [](const std::string& raw) {
    std::string s = base64_encode(raw);
    while (!s.empty() && s.back() == '=') s.pop_back();
    for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return s;
  };
  auto sign = [&](EVP_PKEY* with, const std::string& claims) {
    std::string signing_input = b64url(R"({"alg":"RS256"})") + "." + b64url(claims);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t length = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, with);
    EVP_DigestSign(ctx, nullptr, &length,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    std::string signature(length, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    EVP_MD_CTX_free(ctx);
    signature.resize(length);
    return signing_input + "." + b64url(signature);
  };
  EmulatorProcess sf("salesforce", {"--jwt-public-key", pub_path});
  long exp = static_cast<long>(time(nullptr)) + 120;
  auto claims = [&](const std::string& iss, const std::string& sub, const std::string& aud,
                    long e) {
    return R"({"iss":")" + iss + R"(","sub":")" + sub + R"(","aud":")" + aud + R"(","exp":")" +
           std::to_string(e) + "\"}";
  };
  auto grant = [&](const std::string& assertion) {
    return sf.request(
        "POST", "/services/oauth2/token",
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion,
        {kForm});
  };
  Answer ok = grant(sign(key, claims("crmsync-emulator-client", "integration@crmsync.emulator",
                                     "https://login.salesforce.com", exp)));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(parse(ok.body).HasMember("refresh_token"));
  Answer bad_aud = grant(sign(
      key, claims("crmsync-emulator-client", "integration@crmsync.emulator", "https://evil", exp)));
  EXPECT_EQ(str(parse(bad_aud.body)["error_description"]), "audience is invalid");
  Answer bad_iss = grant(sign(
      key, claims("other", "integration@crmsync.emulator", "https://login.salesforce.com", exp)));
  EXPECT_EQ(str(parse(bad_iss.body)["error"]), "invalid_client_id");
  Answer expired = grant(sign(key, claims("crmsync-emulator-client", "integration@crmsync.emulator",
                                          "https://login.salesforce.com", exp - 600)));
  EXPECT_EQ(str(parse(expired.body)["error"]), "invalid_grant");
  Answer unknown_user = grant(sign(
      key, claims("crmsync-emulator-client", "nobody@x", "https://login.salesforce.com", exp)));
  EXPECT_EQ(str(parse(unknown_user.body)["error_description"]),
            "user hasn't approved this consumer");
  EVP_PKEY* other = EVP_RSA_gen(2048);
  Answer forged =
      grant(sign(other, claims("crmsync-emulator-client", "integration@crmsync.emulator",
                               "https://login.salesforce.com", exp)));
  EXPECT_EQ(forged.status, 400);
  EXPECT_EQ(str(parse(forged.body)["error_description"]), "invalid assertion");
  EVP_PKEY_free(other);
  EVP_PKEY_free(key);
  std::filesystem::remove_all(dir);
}

TEST(SalesforceEmulator, LimitInfoOnEveryResponseAndDailyLimitExceeded) {
  EmulatorProcess sf("salesforce", {"--daily-api-limit", "3"});
  sf.salesforce_login();
  Answer first = sf.sf("GET", "/limits");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("Sforce-Limit-Info"), "api-usage=1/3");
  auto limits = parse(first.body);
  EXPECT_EQ(limits["DailyApiRequests"]["Max"].GetInt(), 3);
  EXPECT_EQ(limits["DailyApiRequests"]["Remaining"].GetInt(), 2);
  sf.sf("GET", "/sobjects");
  Answer third = sf.sf("GET", "/sobjects/Account/001000000000000AAA");
  EXPECT_EQ(third.header("Sforce-Limit-Info"), "api-usage=3/3");
  Answer over = sf.sf("GET", "/limits");
  EXPECT_EQ(over.status, 403);
  EXPECT_EQ(
      over.body,
      R"([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])");
  EXPECT_EQ(over.header("Sforce-Limit-Info"), "api-usage=3/3");
}

TEST(SalesforceEmulator, UnknownVersionAndResourceAreNotFound) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  EXPECT_EQ(sf.sf("GET", "/services/data/v12.0/limits").status, 404);
  Answer missing = sf.sf("GET", "/nothing-here");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(str(parse(missing.body)[0]["errorCode"]), "NOT_FOUND");
  auto map = parse(sf.sf("GET", "/services/data/v59.0/").body);
  EXPECT_EQ(str(map["query"]), "/services/data/v59.0/query");
  EXPECT_EQ(str(map["identity"]).rfind(sf.base_url() + "/id/", 0), 0u);
}

TEST(SalesforceEmulator, DescribeListsObjectsAndFieldsWithExternalIds) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  auto global = parse(sf.sf("GET", "/sobjects").body);
  std::map<std::string, std::string> prefixes;
  for (auto& o : global["sobjects"].GetArray()) prefixes[str(o["name"])] = str(o["keyPrefix"]);
  EXPECT_EQ(prefixes["Account"], "001");
  EXPECT_EQ(prefixes["Opportunity"], "006");
  EXPECT_EQ(prefixes["User"], "005");
  EXPECT_EQ(prefixes["Group"], "00G");
  EXPECT_EQ(prefixes["AccountShare"], "00r");
  EXPECT_EQ(prefixes["OpportunityShare"], "00t");
  auto describe = parse(sf.sf("GET", "/sobjects/Opportunity/describe").body);
  std::map<std::string, const rapidjson::Value*> fields;
  for (auto& f : describe["fields"].GetArray()) fields[str(f["name"])] = &f;
  ASSERT_TRUE(fields.count("PRM_Id__c"));
  EXPECT_TRUE((*fields["PRM_Id__c"])["externalId"].GetBool());
  EXPECT_EQ(str((*fields["AccountId"])["type"]), "reference");
  EXPECT_EQ(str((*fields["AccountId"])["referenceTo"][0]), "Account");
  EXPECT_FALSE((*fields["SystemModstamp"])["updateable"].GetBool());
  EXPECT_EQ(str((*fields["Amount"])["type"]), "currency");
  EXPECT_EQ(sf.sf("GET", "/sobjects/Nope__c/describe").status, 404);
  EXPECT_EQ(sf.sf("POST", "/sobjects/Account/describe", "{}").status, 405);
}

TEST(SalesforceEmulator, CreateReadUpdateDeleteMaintainIdsAndAuditFields) {
  EmulatorProcess sf("salesforce");
  sf.admin("POST", "clock", R"({"now":"2026-01-10T10:00:00Z"})");
  sf.salesforce_login();
  std::string id = create_account(sf, R"({"Name":"Acme","AnnualRevenue":1000,"PRM_Id__c":"P-1"})");
  ASSERT_EQ(id.size(), 18u);
  EXPECT_EQ(id.substr(0, 3), "001");
  EXPECT_EQ(salesforce_id_suffix(id.substr(0, 15)), id.substr(15));
  auto record = parse(sf.sf("GET", "/sobjects/Account/" + id).body);
  EXPECT_EQ(str(record["attributes"]["type"]), "Account");
  EXPECT_EQ(str(record["attributes"]["url"]), "/services/data/v59.0/sobjects/Account/" + id);
  EXPECT_EQ(str(record["Name"]), "Acme");
  EXPECT_TRUE(record["Phone"].IsNull());
  EXPECT_EQ(str(record["CreatedDate"]), "2026-01-10T10:00:00.000+0000");
  EXPECT_EQ(str(record["SystemModstamp"]), "2026-01-10T10:00:00.000+0000");
  std::string user = str(record["OwnerId"]);
  EXPECT_EQ(user.substr(0, 3), "005");
  EXPECT_EQ(str(record["LastModifiedById"]), user);
  // The 15-character form and a lower-cased 18-character form address the same row.
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/" + id.substr(0, 15)).status, 200);
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/" + to_lower(id)).status, 200);
  // ?fields= narrows the answer.
  auto narrow = parse(sf.sf("GET", "/sobjects/Account/" + id + "?fields=Name").body);
  EXPECT_TRUE(narrow.HasMember("Name"));
  EXPECT_FALSE(narrow.HasMember("Phone"));

  sf.admin("POST", "clock", R"({"now":"2026-01-10T11:00:00Z"})");
  Answer update = sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"555"})");
  EXPECT_EQ(update.status, 204);
  EXPECT_TRUE(update.body.empty());
  record = parse(sf.sf("GET", "/sobjects/Account/" + id).body);
  EXPECT_EQ(str(record["Phone"]), "555");
  EXPECT_EQ(str(record["LastModifiedDate"]), "2026-01-10T11:00:00.000+0000");
  EXPECT_EQ(str(record["SystemModstamp"]), "2026-01-10T11:00:00.000+0000");
  EXPECT_EQ(str(record["CreatedDate"]), "2026-01-10T10:00:00.000+0000");

  EXPECT_EQ(sf.sf("DELETE", "/sobjects/Account/" + id).status, 204);
  Answer gone = sf.sf("GET", "/sobjects/Account/" + id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(str(parse(gone.body)[0]["errorCode"]), "ENTITY_IS_DELETED");
  Answer twice = sf.sf("DELETE", "/sobjects/Account/" + id);
  EXPECT_EQ(str(parse(twice.body)[0]["errorCode"]), "ENTITY_IS_DELETED");
  Answer patch_deleted = sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"1"})");
  EXPECT_EQ(patch_deleted.status, 404);
}

TEST(SalesforceEmulator, WriteErrorsHaveTheRealCodes) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  auto error = [&](const Answer& a) {
    EXPECT_GE(a.status, 400) << a.body;
    auto doc = parse(a.body);
    return doc.IsArray() && doc.Size() > 0 ? str(doc[0]["errorCode"])
                                           : std::string("not an array: ") + a.body;
  };
  EXPECT_EQ(error(sf.sf("POST", "/sobjects/Account", R"({"Phone":"1"})")),
            "REQUIRED_FIELD_MISSING");
  auto missing = parse(sf.sf("POST", "/sobjects/Opportunity", R"({"Name":"x"})").body);
  EXPECT_EQ(str(missing[0]["message"]), "Required fields are missing: [StageName, CloseDate]");
  EXPECT_EQ(str(missing[0]["fields"][0]), "StageName");
  EXPECT_EQ(error(sf.sf("POST", "/sobjects/Account", R"({"Name":"x","Nope__c":1})")),
            "INVALID_FIELD");
  EXPECT_EQ(error(sf.sf("POST", "/sobjects/Account",
                        R"({"Name":"x","SystemModstamp":"2020-01-01T00:00:00Z"})")),
            "INVALID_FIELD_FOR_INSERT_UPDATE");
  EXPECT_EQ(error(sf.sf("POST", "/sobjects/Account", R"({"Name":"x","ParentId":"garbage"})")),
            "MALFORMED_ID");
  EXPECT_EQ(
      error(sf.sf("POST", "/sobjects/Account", R"({"Name":"x","ParentId":"001000000000001AAA"})")),
      "INVALID_CROSS_REFERENCE_KEY");
  EXPECT_EQ(error(sf.sf("POST", "/sobjects/Account", R"({"Name":"x","AnnualRevenue":"lots"})")),
            "JSON_PARSER_ERROR");
  EXPECT_EQ(error(sf.sf("POST", "/sobjects/Account", R"({"Name":)")), "JSON_PARSER_ERROR");
  EXPECT_EQ(error(sf.sf("PATCH", "/sobjects/Account", R"({"Name":"x"})")), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(sf.sf("PATCH", "/sobjects/Account", R"({"Name":"x"})").status, 405);
  std::string id = create_account(sf, R"({"Name":"Acme"})");
  EXPECT_EQ(error(sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Name":null})")),
            "REQUIRED_FIELD_MISSING");
  // A well-formed id of another object, or a segment that is no id at all.
  EXPECT_EQ(error(sf.sf("GET", "/sobjects/Opportunity/" + id)), "NOT_FOUND");
  Answer bad = sf.sf("GET", "/sobjects/Account/badvalue");
  EXPECT_EQ(bad.status, 404);
  EXPECT_EQ(str(parse(bad.body)[0]["message"]),
            "Provided external ID field does not exist or is not accessible: badvalue");
}

TEST(SalesforceEmulator, UpsertByExternalIdCreatesUpdatesAndReportsAmbiguity) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  Answer created = sf.sf("PATCH", "/sobjects/Account/PRM_Id__c/P-7", R"({"Name":"Seven"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto c = parse(created.body);
  EXPECT_TRUE(c["created"].GetBool());
  EXPECT_TRUE(c["success"].GetBool());
  std::string id = str(c["id"]);
  Answer updated = sf.sf("PATCH", "/sobjects/Account/PRM_Id__c/p-7", R"({"Name":"Seven B"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_FALSE(parse(updated.body)["created"].GetBool());
  EXPECT_EQ(str(parse(updated.body)["id"]), id);
  Answer old_api = sf.sf("PATCH", "/services/data/v45.0/sobjects/Account/PRM_Id__c/P-7",
                         R"({"Name":"Seven C"})");
  EXPECT_EQ(old_api.status, 204);
  auto fetched = parse(sf.sf("GET", "/sobjects/Account/PRM_Id__c/P-7").body);
  EXPECT_EQ(str(fetched["Name"]), "Seven C");
  EXPECT_EQ(str(fetched["PRM_Id__c"]), "P-7");

  create_account(sf, R"({"Name":"Dup 1","PRM_Id__c":"DUP"})");
  create_account(sf, R"({"Name":"Dup 2","PRM_Id__c":"dup"})");
  Answer ambiguous = sf.sf("PATCH", "/sobjects/Account/PRM_Id__c/DUP", R"({"Name":"x"})");
  EXPECT_EQ(ambiguous.status, 300);
  EXPECT_EQ(parse(ambiguous.body).Size(), 2u);
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/PRM_Id__c/DUP").status, 300);

  Answer update_only =
      sf.sf("PATCH", "/sobjects/Account/PRM_Id__c/NEW?updateOnly=true", R"({"Name":"x"})");
  EXPECT_EQ(update_only.status, 404);
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/PRM_Id__c/NEW").status, 404);
  Answer with_id =
      sf.sf("PATCH", "/sobjects/Account/PRM_Id__c/P-8", R"({"Name":"x","Id":")" + id + "\"}");
  EXPECT_EQ(with_id.status, 400);
  Answer not_external = sf.sf("PATCH", "/sobjects/Account/Phone/5", R"({"Name":"x"})");
  EXPECT_EQ(not_external.status, 404);
}

TEST(SalesforceEmulator, ConditionalRequestsOnAccountRows) {
  EmulatorProcess sf("salesforce");
  sf.admin("POST", "clock", R"({"now":"2026-02-01T08:00:00Z"})");
  sf.salesforce_login();
  std::string id = create_account(sf, R"({"Name":"Etag"})");
  Answer get = sf.sf("GET", "/sobjects/Account/" + id);
  std::string etag = get.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(get.header("Last-Modified"), "Sun, 01 Feb 2026 08:00:00 GMT");
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/" + id, "", {"If-None-Match: " + etag}).status, 304);
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/" + id, "",
                  {"If-Modified-Since: Sun, 01 Feb 2026 09:00:00 GMT"})
                .status,
            304);
  EXPECT_EQ(sf.sf("GET", "/sobjects/Account/" + id, "",
                  {"If-Modified-Since: Sun, 01 Feb 2026 07:00:00 GMT"})
                .status,
            200);
  EXPECT_EQ(
      sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"1"})", {"If-Match: \"stale\""}).status,
      412);
  EXPECT_EQ(
      sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"1"})", {"If-None-Match: " + etag})
          .status,
      412);
  EXPECT_EQ(sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"1"})",
                  {"If-Unmodified-Since: Sun, 01 Feb 2026 07:00:00 GMT"})
                .status,
            412);
  EXPECT_EQ(
      sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"1"})", {"If-Match: " + etag}).status,
      204);
  Answer after = sf.sf("GET", "/sobjects/Account/" + id);
  EXPECT_NE(after.header("ETag"), etag);
  EXPECT_EQ(
      sf.sf("PATCH", "/sobjects/Account/" + id, R"({"Phone":"2"})", {"If-Match: " + etag}).status,
      412);
}

TEST(SalesforceEmulator, ShareRowsFollowTheManualSharingRules) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  std::string account = create_account(sf, R"({"Name":"Shared"})");
  Answer group = sf.sf("POST", "/sobjects/Group", R"({"Name":"Partners","Type":"Regular"})");
  ASSERT_EQ(group.status, 201) << group.body;
  std::string group_id = str(parse(group.body)["id"]);
  EXPECT_EQ(group_id.substr(0, 3), "00G");
  Answer share = sf.sf("POST", "/sobjects/AccountShare",
                       R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + group_id +
                           R"(","AccountAccessLevel":"Read","OpportunityAccessLevel":"None"})");
  ASSERT_EQ(share.status, 201) << share.body;
  std::string share_id = str(parse(share.body)["id"]);
  EXPECT_EQ(share_id.substr(0, 3), "00r");
  auto row = parse(sf.sf("GET", "/sobjects/AccountShare/" + share_id).body);
  EXPECT_EQ(str(row["RowCause"]), "Manual");
  // Re-sharing with the same principal updates the Manual row in place.
  Answer again = sf.sf("POST", "/sobjects/AccountShare",
                       R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + group_id +
                           R"(","AccountAccessLevel":"Edit","OpportunityAccessLevel":"Read"})");
  EXPECT_EQ(str(parse(again.body)["id"]), share_id);
  EXPECT_EQ(
      str(parse(sf.sf("GET", "/sobjects/AccountShare/" + share_id).body)["AccountAccessLevel"]),
      "Edit");
  auto code = [&](const std::string& body) {
    return str(parse(sf.sf("POST", "/sobjects/AccountShare", body).body)[0]["errorCode"]);
  };
  EXPECT_EQ(code(R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + group_id +
                 R"(","AccountAccessLevel":"All","OpportunityAccessLevel":"None"})"),
            "INVALID_ACCESS_LEVEL");
  std::string owner = str(parse(sf.sf("GET", "/sobjects/Account/" + account).body)["OwnerId"]);
  EXPECT_EQ(code(R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + owner +
                 R"(","AccountAccessLevel":"Read","OpportunityAccessLevel":"None"})"),
            "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY");
  EXPECT_EQ(sf.sf("PATCH", "/sobjects/AccountShare/" + share_id, R"({"AccountAccessLevel":"Read"})")
                .status,
            204);
  EXPECT_EQ(
      sf.sf("PATCH", "/sobjects/AccountShare/" + share_id, R"({"AccountId":")" + account + "\"}")
          .status,
      400);
  // Group membership rows (GroupMember, prefix 011).
  std::string user = str(parse(
      sf.sf("GET", "/query?q=" + url_encode("SELECT Id FROM User")).body)["records"][0]["Id"]);
  Answer member = sf.sf("POST", "/sobjects/GroupMember",
                        R"({"GroupId":")" + group_id + R"(","UserOrGroupId":")" + user + "\"}");
  ASSERT_EQ(member.status, 201) << member.body;
  std::string member_id = str(parse(member.body)["id"]);
  EXPECT_EQ(member_id.substr(0, 3), "011");
  Answer twice = sf.sf("POST", "/sobjects/GroupMember",
                       R"({"GroupId":")" + group_id + R"(","UserOrGroupId":")" + user + "\"}");
  EXPECT_EQ(str(parse(twice.body)[0]["errorCode"]), "DUPLICATE_VALUE");
  EXPECT_EQ(
      parse(sf.sf("GET", "/query?q=" +
                             url_encode("SELECT UserOrGroupId FROM GroupMember WHERE GroupId = '" +
                                        group_id + "'"))
                .body)["totalSize"]
          .GetInt(),
      1);
  EXPECT_EQ(sf.sf("DELETE", "/sobjects/GroupMember/" + member_id).status, 204);
  EXPECT_EQ(sf.sf("GET", "/sobjects/GroupMember/" + member_id).status, 404);
  auto listed = parse(
      sf.sf("GET", "/query?q=" +
                       url_encode("SELECT Id, UserOrGroupId FROM AccountShare WHERE AccountId = '" +
                                  account + "'"))
          .body);
  EXPECT_EQ(listed["totalSize"].GetInt(), 1);
  EXPECT_EQ(sf.sf("DELETE", "/sobjects/AccountShare/" + share_id).status, 204);
  // Deleting the account removes the shares on it.
  Answer opp_share_parent =
      sf.sf("POST", "/sobjects/Opportunity",
            R"({"Name":"O","StageName":"Prospecting","CloseDate":"2026-03-01","AccountId":")" +
                account + "\"}");
  std::string opp = str(parse(opp_share_parent.body)["id"]);
  Answer opp_share = sf.sf("POST", "/sobjects/OpportunityShare",
                           R"({"OpportunityId":")" + opp + R"(","UserOrGroupId":")" + group_id +
                               R"(","OpportunityAccessLevel":"Read"})");
  ASSERT_EQ(opp_share.status, 201) << opp_share.body;
  EXPECT_EQ(str(parse(opp_share.body)["id"]).substr(0, 3), "00t");
  EXPECT_EQ(sf.sf("DELETE", "/sobjects/Account/" + account).status, 204);
  EXPECT_EQ(sf.sf("GET", "/sobjects/Opportunity/" + opp).status, 404);
  EXPECT_EQ(sf.sf("GET", "/sobjects/OpportunityShare/" + str(parse(opp_share.body)["id"])).status,
            404);
}

// A seed stands for the org's state: it may hold rows the platform maintains (a sharing rule's
// Rule row, an Owner row), which queries return and the API cannot write or delete.
TEST(SalesforceEmulator, SeededSystemShareRowsAreReadOnly) {
  EmulatorProcess sf("salesforce");
  sf.salesforce_login();
  std::string account = create_account(sf, R"({"Name":"Ruled"})");
  Answer group = sf.sf("POST", "/sobjects/Group", R"({"Name":"Rule group","Type":"Regular"})");
  ASSERT_EQ(group.status, 201) << group.body;
  std::string group_id = str(parse(group.body)["id"]);
  std::string owner = str(parse(sf.sf("GET", "/sobjects/Account/" + account).body)["OwnerId"]);
  Answer seeded = sf.admin(
      "POST", "seed",
      R"({"records":{"AccountShare":[{"AccountId":")" + account + R"(","UserOrGroupId":")" +
          group_id + R"(","AccountAccessLevel":"Edit","OpportunityAccessLevel":"None","RowCause":"Rule"},)" +
          R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + owner +
          R"(","AccountAccessLevel":"All","OpportunityAccessLevel":"Edit","RowCause":"Owner"}]}})");
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  auto count = [&](const std::string& cause) {
    return parse(sf.sf("GET", "/query?q=" + url_encode("SELECT Id FROM AccountShare WHERE AccountId = '" +
                                                       account + "' AND RowCause = '" + cause + "'"))
                     .body)["totalSize"]
        .GetInt();
  };
  EXPECT_EQ(count("Rule"), 1);
  EXPECT_EQ(count("Owner"), 1);
  EXPECT_EQ(count("Manual"), 0);
  auto rule = parse(sf.sf("GET", "/query?q=" + url_encode("SELECT Id FROM AccountShare WHERE RowCause = 'Rule'")).body);
  std::string rule_id = str(rule["records"][0]["Id"]);
  Answer removed = sf.sf("DELETE", "/sobjects/AccountShare/" + rule_id);
  EXPECT_EQ(removed.status, 400);
  EXPECT_EQ(str(parse(removed.body)[0]["errorCode"]), "INSUFFICIENT_ACCESS_OR_READONLY");
  EXPECT_EQ(str(parse(sf.sf("PATCH", "/sobjects/AccountShare/" + rule_id, R"({"AccountAccessLevel":"Read"})").body)[0]
                    ["errorCode"]),
            "INSUFFICIENT_ACCESS_OR_READONLY");
  Answer written = sf.sf("POST", "/sobjects/AccountShare",
                         R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + group_id +
                             R"(","AccountAccessLevel":"Read","OpportunityAccessLevel":"None","RowCause":"Rule"})");
  EXPECT_EQ(str(parse(written.body)[0]["errorCode"]), "INVALID_FIELD_FOR_INSERT_UPDATE");
  // A Manual share beside the Rule row for the same principal is a row of its own.
  Answer manual = sf.sf("POST", "/sobjects/AccountShare",
                        R"({"AccountId":")" + account + R"(","UserOrGroupId":")" + group_id +
                            R"(","AccountAccessLevel":"Read","OpportunityAccessLevel":"None"})");
  ASSERT_EQ(manual.status, 201) << manual.body;
  EXPECT_NE(str(parse(manual.body)["id"]), rule_id);
  EXPECT_EQ(count("Manual"), 1);
  EXPECT_EQ(count("Rule"), 1);
}

// Drift for reconcile tests (POST /_emulator/drift): reads see the planted change or removal;
// getUpdated, getDeleted, SystemModstamp windows and the row's ETag do not.
TEST(SalesforceEmulator, DriftIsReadableButInvisibleToChangeCapture) {
  EmulatorProcess sf("salesforce");
  sf.admin("POST", "clock", R"({"now":"2026-04-01T09:00:00Z"})");
  sf.salesforce_login();
  std::string account = create_account(sf, R"({"Name":"Drifting","Phone":"111"})");
  Answer opp =
      sf.sf("POST", "/sobjects/Opportunity",
            R"({"Name":"Deal","StageName":"Prospecting","CloseDate":"2026-05-01","AccountId":")" +
                account + "\"}");
  ASSERT_EQ(opp.status, 201) << opp.body;
  std::string opp_id = str(parse(opp.body)["id"]);
  std::string group =
      str(parse(sf.sf("POST", "/sobjects/Group", R"({"Name":"Partners"})").body)["id"]);
  Answer share = sf.sf("POST", "/sobjects/OpportunityShare",
                       R"({"OpportunityId":")" + opp_id + R"(","UserOrGroupId":")" + group +
                           R"(","OpportunityAccessLevel":"Read"})");
  ASSERT_EQ(share.status, 201) << share.body;
  Answer before = sf.sf("GET", "/sobjects/Account/" + account);
  ASSERT_FALSE(before.header("ETag").empty());
  auto old_row = parse(before.body);

  sf.admin("POST", "clock", R"({"now":"2026-04-01T09:30:00Z"})");
  sf.salesforce_login();
  Answer planted = sf.admin("POST", "drift",
                            R"({"object":"Account","id":")" + account.substr(0, 15) +
                                R"(","set":{"phone":"222","AnnualRevenue":5}})");
  ASSERT_EQ(planted.status, 200) << planted.body;
  EXPECT_EQ(planted.body, R"({"object":"Account","id":")" + account +
                              R"(","changed":["Phone","AnnualRevenue"]})");
  Answer after = sf.sf("GET", "/sobjects/Account/" + account);
  auto row = parse(after.body);
  EXPECT_EQ(str(row["Phone"]), "222");
  EXPECT_EQ(row["AnnualRevenue"].GetDouble(), 5.0);
  for (const char* audit : {"SystemModstamp", "LastModifiedDate", "LastModifiedById"})
    EXPECT_EQ(str(row[audit]), str(old_row[audit])) << audit;
  EXPECT_EQ(after.header("ETag"), before.header("ETag"));
  auto soql = [&](const std::string& q) {
    return parse(sf.sf("GET", "/queryAll?q=" + url_encode(q)).body);
  };
  EXPECT_EQ(
      str(soql("SELECT Phone FROM Account WHERE Id = '" + account + "'")["records"][0]["Phone"]),
      "222");
  EXPECT_EQ(soql("SELECT Id FROM Account WHERE SystemModstamp > 2026-04-01T09:10:00Z")["totalSize"]
                .GetInt(),
            0);

  Answer purged = sf.admin("POST", "drift",
                           R"({"object":"opportunity","id":")" + opp_id + R"(","delete":true})");
  ASSERT_EQ(purged.status, 200) << purged.body;
  EXPECT_EQ(purged.body, R"({"object":"opportunity","id":")" + opp_id + R"(","deleted":true})");
  Answer gone = sf.sf("GET", "/sobjects/Opportunity/" + opp_id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(str(parse(gone.body)[0]["errorCode"]), "NOT_FOUND");
  EXPECT_EQ(soql("SELECT Id FROM Opportunity")["totalSize"].GetInt(), 0);
  EXPECT_EQ(
      soql("SELECT Id FROM OpportunityShare WHERE OpportunityId = '" + opp_id + "'")["totalSize"]
          .GetInt(),
      0);

  std::string window =
      "?start=" + url_encode("2026-04-01T09:10:00Z") + "&end=" + url_encode("2026-04-01T09:40:00Z");
  for (const char* object : {"Account", "Opportunity"}) {
    Answer updated = sf.sf("GET", std::string("/sobjects/") + object + "/updated/" + window);
    ASSERT_EQ(updated.status, 200) << updated.body;
    EXPECT_EQ(parse(updated.body)["ids"].Size(), 0u) << updated.body;
    Answer deleted = sf.sf("GET", std::string("/sobjects/") + object + "/deleted/" + window);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(parse(deleted.body)["deletedRecords"].Size(), 0u) << deleted.body;
  }

  auto error = [&](const Answer& a) { return str(parse(a.body)["error"]); };
  Answer no_object = sf.admin(
      "POST", "drift", R"({"object":"Widget","id":")" + account + R"(","set":{"Name":"x"}})");
  EXPECT_EQ(no_object.status, 404);
  EXPECT_NE(error(no_object).find("Widget"), std::string::npos) << no_object.body;
  Answer no_row = sf.admin("POST", "drift",
                           R"({"object":"Opportunity","id":")" + opp_id + R"(","delete":true})");
  EXPECT_EQ(no_row.status, 404);
  EXPECT_NE(error(no_row).find(opp_id), std::string::npos) << no_row.body;
  Answer unknown = sf.admin(
      "POST", "drift",
      R"({"object":"Account","id":")" + account + R"(","set":{"Phone":"333","Tier__c":1}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(error(unknown).find("Tier__c"), std::string::npos) << unknown.body;
  Answer mistyped =
      sf.admin("POST", "drift",
               R"({"object":"Account","id":")" + account + R"(","set":{"AnnualRevenue":"lots"}})");
  EXPECT_EQ(mistyped.status, 400) << mistyped.body;
  for (const std::string& body :
       {std::string("not json"), R"({"object":"Account","id":")" + account + "\"}",
        R"({"object":"Account","id":")" + account + R"(","set":{}})",
        R"({"object":"Account","id":")" + account + R"(","set":{"Phone":"1"},"delete":true})",
        R"({"object":"Account","id":")" + account + R"(","delete":false})",
        R"({"object":"Account","id":")" + account + R"(","sett":{"Phone":"1"}})"}) {
    Answer bad = sf.admin("POST", "drift", body);
    EXPECT_EQ(bad.status, 400) << body;
    EXPECT_EQ(error(bad).rfind("drift: ", 0), 0u) << bad.body;
  }
  EXPECT_EQ(str(parse(sf.sf("GET", "/sobjects/Account/" + account).body)["Phone"]), "222");
}

}  // namespace
}  // namespace crmsync::emulators::testing
