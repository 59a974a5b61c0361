#include <gtest/gtest.h>

#include "tests/emulators/emulator_clock.h"
#include "tests/emulators/text.h"

namespace crmsync::emulators {
namespace {

TEST(Text, UrlEncodingAndQueryStrings) {
  EXPECT_EQ(url_decode("a%20b+c"), "a b c");
  EXPECT_EQ(url_decode_path("a+b%2Fc"), "a+b/c");
  EXPECT_EQ(url_encode("a b/c'"), "a%20b%2Fc%27");
  auto q = parse_query_string("q=SELECT+Id&x=%24top&empty=&flag");
  EXPECT_EQ(q["q"], "SELECT Id");
  EXPECT_EQ(q["x"], "$top");
  EXPECT_EQ(q["empty"], "");
  EXPECT_TRUE(q.count("flag"));
}

TEST(Text, Base64) {
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(base64url_decode("dXNlcjpwYXNz"), "user:pass");
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
  EXPECT_EQ(base64url_decode("a*b"), "");
}

TEST(Clock, FormatsAndParsesTheApiDateShapes) {
  EpochMs t = *parse_iso_datetime("2024-02-29T23:59:58.123Z");
  EXPECT_EQ(format_salesforce_datetime(t), "2024-02-29T23:59:58.123+0000");
  EXPECT_EQ(format_iso_seconds(t), "2024-02-29T23:59:58Z");
  EXPECT_EQ(format_date(t), "2024-02-29");
  EXPECT_EQ(format_us_datetime(t), "02/29/2024 23:59:58");
  EXPECT_EQ(format_http_date(t), "Thu, 29 Feb 2024 23:59:58 GMT");
  EXPECT_EQ(*parse_http_date("Thu, 29 Feb 2024 23:59:58 GMT"), t - 123);
  EXPECT_EQ(*parse_iso_datetime("2024-03-01T01:00:00+01:00"),
            *parse_iso_datetime("2024-03-01T00:00:00Z"));
  EXPECT_EQ(*parse_iso_datetime("2024-03-01T01:00:00-0130"),
            *parse_iso_datetime("2024-03-01T02:30:00Z"));
  EXPECT_EQ(*parse_iso_datetime("1969-12-31T23:59:59Z"), -1000);
  EXPECT_FALSE(parse_iso_datetime("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_iso_datetime("2024-01-01"));
  EXPECT_FALSE(parse_iso_datetime("2024-01-01T00:00:00+1"));
  EXPECT_TRUE(parse_date("2024-01-01"));
  EXPECT_FALSE(parse_date("2024-1-01"));
}

TEST(Clock, SetAndAdvance) {
  EmulatorClock clock;
  clock.set(1'000'000);
  EXPECT_NEAR(static_cast<double>(clock.now()), 1'000'000.0, 1000.0);
  clock.advance(60'000);
  EXPECT_NEAR(static_cast<double>(clock.now()), 1'060'000.0, 1000.0);
}

}  // namespace
}  // namespace crmsync::emulators
