#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/dynamics/dataverse_batch.h"
#include "connectors/dynamics/dataverse_odata.h"

namespace crmsync::connectors::dynamics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DataverseBatchBody, EveryChangeSetIsANestedMultipartWithNumberedContentIds) {
  std::vector<ChangeSet> sets = {
      {{"PATCH",
        "https://org/api/data/v9.2/accounts(crmsync_prmid='a')",
        {{"If-Match", "W/\"7\""}},
        R"({"name":"A"})"}},
      {{"DELETE", "https://org/api/data/v9.2/accounts(crmsync_prmid='b')", {}, ""}}};
  std::string body = build_batch_body(sets, "batch_x");
  EXPECT_TRUE(body.starts_with(
      "--batch_x\r\nContent-Type: multipart/mixed; boundary=changeset_batch_x_0\r\n"));
  EXPECT_THAT(body,
              HasSubstr("Content-ID: 1\r\n\r\nPATCH "
                        "https://org/api/data/v9.2/accounts(crmsync_prmid='a') HTTP/1.1\r\n"));
  EXPECT_THAT(body, HasSubstr("If-Match: W/\"7\"\r\n"));
  EXPECT_THAT(body, HasSubstr("Content-ID: 1001\r\n\r\nDELETE "));
  EXPECT_TRUE(body.ends_with("--changeset_batch_x_1--\r\n--batch_x--\r\n"));
  EXPECT_EQ(change_set_of("1"), 0u);
  EXPECT_EQ(change_set_of("1001"), 1u);
  EXPECT_EQ(change_set_of("1002"), 1u);
  EXPECT_FALSE(change_set_of("x").has_value());
  EXPECT_FALSE(change_set_of("0").has_value());
}

// The shape the Dataverse emulator (and the service) answer with odata.continue-on-error: change
// set answers nested, a failed change set as one error part carrying the failed member's
// Content-ID.
constexpr const char* kMixedAnswer =
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_a\r\n\r\n"
    "--changesetresponse_a\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    "HTTP/1.1 201 Created\r\nContent-Type: application/json; "
    "odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n"
    "{\"@odata.etag\":\"W/\\\"5\\\"\",\"accountid\":\"00000000-0000-0000-0000-000000000001\"}\r\n"
    "--changesetresponse_a--\r\n"
    "--batchresponse_1\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: "
    "1001\r\n\r\n"
    "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json; "
    "odata.metadata=minimal\r\n\r\n"
    "{\"error\":{\"code\":\"0x80060882\",\"message\":\"The version of the existing record doesn't "
    "match the RowVersion property provided.\"}}\r\n"
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_b\r\n\r\n"
    "--changesetresponse_b\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: "
    "2001\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-EntityId: "
    "https://org/api/data/v9.2/accounts(00000000-0000-0000-0000-0000000000ab)\r\n\r\n"
    "\r\n"
    "--changesetresponse_b--\r\n"
    "--batchresponse_1--\r\n";

TEST(DataverseBatchAnswer, ParsesNestedChangeSetsAndErrorPartsInOrder) {
  auto parts = parse_batch_response("multipart/mixed; boundary=batchresponse_1", kMixedAnswer);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts.value().size(), 3u);
  EXPECT_EQ(parts.value()[0].content_id, "1");
  EXPECT_EQ(parts.value()[0].status, 201);
  EXPECT_THAT(parts.value()[0].body,
              HasSubstr("\"accountid\":\"00000000-0000-0000-0000-000000000001\""));
  EXPECT_EQ(parts.value()[1].content_id, "1001");
  EXPECT_EQ(parts.value()[1].status, 412);
  EXPECT_THAT(parts.value()[1].body, HasSubstr("0x80060882"));
  EXPECT_EQ(parts.value()[2].status, 204);
  EXPECT_EQ(parts.value()[2].body, "");
  auto entity = parts.value()[2].header("OData-EntityId");
  ASSERT_TRUE(entity.has_value());
  EXPECT_EQ(trailing_guid(*entity), "00000000-0000-0000-0000-0000000000ab");
}

TEST(DataverseBatchAnswer, AcceptsQuotedBoundariesAndBareLineFeeds) {
  std::string answer =
      "--b\nContent-Type: application/http\nContent-ID: 1\n\nHTTP/1.1 204 No Content\n\n\n--b--\n";
  auto parts = parse_batch_response("multipart/mixed; boundary=\"b\"", answer);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts.value().size(), 1u);
  EXPECT_EQ(parts.value()[0].status, 204);
}

TEST(DataverseBatchAnswer, RejectsWhatIsNotAMultipartAnswer) {
  EXPECT_FALSE(parse_batch_response("application/json", "{}").ok());
  auto unterminated =
      parse_batch_response("multipart/mixed; boundary=b",
                           "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.error().error_class, mapping::ErrorClass::invalid);
  auto garbage =
      parse_batch_response("multipart/mixed; boundary=b",
                           "--b\r\nContent-Type: application/http\r\n\r\nnot http\r\n--b--\r\n");
  EXPECT_FALSE(garbage.ok());
}

TEST(DataverseBatchBody, IndependentRequestsAreTopLevelPartsThatParseBackInOrder) {
  std::vector<BatchOperation> requests = {
      {"GET", "https://org/api/data/v9.2/accounts?$select=accountid", {{"Prefer", "x=1"}}, ""},
      {"GET", "https://org/api/data/v9.2/WhoAmI", {}, ""}};
  std::string body = build_request_batch_body(requests, "batch_q");
  EXPECT_TRUE(body.starts_with("--batch_q\r\nContent-Type: application/http\r\n"));
  EXPECT_THAT(body, Not(HasSubstr("changeset")));
  EXPECT_THAT(body, Not(HasSubstr("Content-ID")));
  EXPECT_THAT(body, HasSubstr("GET https://org/api/data/v9.2/accounts?$select=accountid "
                              "HTTP/1.1\r\nPrefer: x=1\r\n\r\n"));
  EXPECT_TRUE(body.ends_with("--batch_q--\r\n"));
  EXPECT_TRUE(random_batch_boundary().starts_with("batch_"));
  EXPECT_NE(random_batch_boundary(), random_batch_boundary());
  DataverseRequest request = batch_request("batch_q", body, "POST $batch (test)");
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "$batch");
  EXPECT_THAT(request.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                   "Content-Type", "multipart/mixed; boundary=batch_q")));
  EXPECT_THAT(request.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                   "Prefer", "odata.continue-on-error")));
}

TEST(DataverseBatchAnswer, PartErrorsAreClassifiedOnce) {
  BatchPartResponse ok{"", 200, {}, "{}"};
  EXPECT_FALSE(batch_part_error(ok, "GET x").has_value());
  BatchPartResponse limited{"", 429, {{"retry-after", "2"}}, R"({"error":{"code":"0x80072322"}})"};
  EXPECT_EQ(batch_part_error(limited, "GET x")->error_class, mapping::ErrorClass::rate_limited);
  BatchPartResponse down{"", 503, {}, ""};
  EXPECT_EQ(batch_part_error(down, "GET x")->error_class, mapping::ErrorClass::transient);
  BatchPartResponse expired{"", 401, {}, ""};
  EXPECT_EQ(batch_part_error(expired, "GET x")->error_class, mapping::ErrorClass::auth);
  BatchPartResponse refused{"", 403, {}, R"({"error":{"code":"0x80040220","message":"no"}})"};
  auto error = batch_part_error(refused, "GET x");
  EXPECT_EQ(error->error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(error->message, HasSubstr("GET x: HTTP 403 0x80040220"));
}

TEST(DataverseOData, GuidsAreRecognisedInKeyForm) {
  EXPECT_TRUE(is_guid("6a1e0000-0000-4000-8000-00000000000a"));
  EXPECT_TRUE(is_guid("6A1E0000-0000-4000-8000-00000000000A"));
  EXPECT_FALSE(is_guid("{6a1e0000-0000-4000-8000-00000000000a}"));
  EXPECT_FALSE(is_guid("6a1e0000-0000-4000-8000-00000000000"));
  EXPECT_FALSE(is_guid("6a1e0000x0000-4000-8000-00000000000a"));
  EXPECT_FALSE(is_guid("6a1e0000-0000-4000-8000-00000000000g"));
  EXPECT_EQ(
      trailing_guid("https://org/api/data/v9.2/accounts(6a1e0000-0000-4000-8000-00000000000a)"),
      "6a1e0000-0000-4000-8000-00000000000a");
}

TEST(DataverseOData, AlternateKeysDoubleQuotesAndEncodeTheRest) {
  EXPECT_EQ(alternate_key("prm-1"), "crmsync_prmid='prm-1'");
  EXPECT_EQ(alternate_key("O'Brien & Co"), "crmsync_prmid='O''Brien%20%26%20Co'");
  EXPECT_FALSE(trailing_guid("https://org/api/data/v9.2/accounts(crmsync_prmid='x')").has_value());
  EXPECT_EQ(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
}

}  // namespace
}  // namespace crmsync::connectors::dynamics
