#include "tests/emulators/multipart.h"

#include <gtest/gtest.h>

namespace crmsync::emulators {
namespace {

TEST(Multipart, BoundaryQuotedOrNot) {
  EXPECT_EQ(*multipart_boundary("multipart/mixed; boundary=batch_123"), "batch_123");
  EXPECT_EQ(*multipart_boundary("multipart/mixed;boundary=\"batch_x y\""), "batch_x y");
  EXPECT_EQ(*multipart_boundary("Multipart/Mixed; charset=utf-8; boundary=b; x=y"), "b");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/mixed"));
}

TEST(Multipart, ParsesPartsWithCrLfOrLfAndAPreamble) {
  std::string crlf =
      "preamble\r\n--b\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nGET accounts "
      "HTTP/1.1\r\n\r\n"
      "--b\r\nContent-Type: application/http\r\n\r\nPOST accounts HTTP/1.1\r\nContent-Type: "
      "application/json\r\n\r\n{\"name\":\"x\"}\r\n--b--\r\n";
  auto parts = parse_multipart(crlf, "b");
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].header("content-id"), "1");
  auto request = parse_embedded_request((*parts)[1].body);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->url, "accounts");
  EXPECT_EQ(request->body, "{\"name\":\"x\"}");
  std::string lf = "--b\nContent-Type: application/http\n\nDELETE accounts(1) HTTP/1.1\n\n--b--";
  auto lf_parts = parse_multipart(lf, "b");
  ASSERT_TRUE(lf_parts);
  EXPECT_EQ(parse_embedded_request((*lf_parts)[0].body)->method, "DELETE");
}

TEST(Multipart, NestedChangeSet) {
  std::string body =
      "--batch\r\nContent-Type: multipart/mixed; boundary=changeset\r\n\r\n"
      "--changeset\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPOST "
      "https://h/api/data/v9.2/accounts HTTP/1.1\r\n\r\n{}\r\n"
      "--changeset\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\nPATCH $1 "
      "HTTP/1.1\r\n\r\n{}\r\n"
      "--changeset--\r\n--batch--\r\n";
  auto outer = parse_multipart(body, "batch");
  ASSERT_TRUE(outer);
  ASSERT_EQ(outer->size(), 1u);
  auto inner =
      parse_multipart((*outer)[0].body, *multipart_boundary((*outer)[0].header("Content-Type")));
  ASSERT_TRUE(inner);
  ASSERT_EQ(inner->size(), 2u);
  EXPECT_EQ(parse_embedded_request((*inner)[1].body)->url, "$1");
}

TEST(Multipart, MalformedInput) {
  EXPECT_FALSE(parse_multipart("no delimiter", "b"));
  EXPECT_FALSE(parse_multipart("--b\r\nContent-Type: x\r\n\r\nbody without end", "b"));
  EXPECT_FALSE(parse_embedded_request("not a request line"));
  EXPECT_FALSE(parse_embedded_request("GET accounts\r\n"));
}

TEST(Multipart, FormatsResponseParts) {
  EXPECT_EQ(format_embedded_response(204, {{"OData-EntityId", "u(1)"}}, ""),
            "HTTP/1.1 204 No Content\r\nOData-EntityId: u(1)\r\n\r\n");
}

}  // namespace
}  // namespace crmsync::emulators
