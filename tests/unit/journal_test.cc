#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/journal.h"

namespace crmsync::state {
namespace {

using mapping::SecretString;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(JournalKey, Base64OfAtLeast32BytesIsDecoded) {
  // 40 bytes "journal-key-canary-73fe-0123456789abcdef", wrapped as `openssl base64` wraps.
  auto key = decode_journal_key(
      SecretString("am91cm5hbC1rZXktY2FuYXJ5LTcz\nZmUtMDEyMzQ1Njc4OWFiY2RlZg==\n"));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key.value().reveal(), "journal-key-canary-73fe-0123456789abcdef");
}

TEST(JournalKey, ShortOrMalformedKeysAreRefusedWithoutEchoingThem) {
  auto short_key = decode_journal_key(SecretString("c2hvcnQtY2FuYXJ5"));  // "short-canary"
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(short_key.error().message, HasSubstr("12 bytes is too short"));
  EXPECT_THAT(short_key.error().message, HasSubstr("openssl rand -base64 32"));
  EXPECT_THAT(short_key.error().message, Not(HasSubstr("c2hvcnQtY2FuYXJ5")));
  auto not_base64 = decode_journal_key(SecretString("not base64 at all canary!"));
  ASSERT_FALSE(not_base64.ok());
  EXPECT_THAT(not_base64.error().message, HasSubstr("not base64"));
  EXPECT_THAT(not_base64.error().message, Not(HasSubstr("canary")));
  EXPECT_FALSE(decode_journal_key(SecretString("")).ok());
}

TEST(JournalDetail, FieldChangeKeepsTheExactTextOfItsValue) {
  std::string detail =
      R"({"reason":"x","fields":{"stage":{"after":"won"}, "amount" : {"before":100.50,"after":1.20e3},)"
      R"("owner":null,"tags":["a",{"b":[1]}]},"other":{"amount":1}})";
  EXPECT_EQ(journal_field_change(detail, "amount"), R"({"before":100.50,"after":1.20e3})");
  EXPECT_EQ(journal_field_change(detail, "stage"), R"({"after":"won"})");
  EXPECT_EQ(journal_field_change(detail, "owner"), "null");
  EXPECT_EQ(journal_field_change(detail, "tags"), R"(["a",{"b":[1]}])");
  EXPECT_EQ(journal_field_change(detail, "reason"), std::nullopt) << "only members of \"fields\"";
  EXPECT_EQ(journal_field_change(R"({"other":{"amount":1}})", "amount"), std::nullopt)
      << "not nested elsewhere";
  EXPECT_EQ(journal_field_change(R"({"fields":{"b":1,"a":{"fields":{"amount":2}}}})", "amount"),
            std::nullopt);
  EXPECT_EQ(journal_field_change("{\"fields\":{\"amount\":1}", "amount"), std::nullopt)
      << "malformed JSON";
  EXPECT_EQ(journal_field_change("[{\"fields\":{\"amount\":1}}]", "amount"), std::nullopt)
      << "not an object";
}

TEST(JournalDetail, OnlyAJsonObjectIsADetail) {
  EXPECT_TRUE(is_json_object("{}"));
  EXPECT_TRUE(is_json_object(R"({"fields":{"a":{"after":1}}})"));
  EXPECT_FALSE(is_json_object("[]"));
  EXPECT_FALSE(is_json_object("\"text\""));
  EXPECT_FALSE(is_json_object("{} {}"));
  EXPECT_FALSE(is_json_object(""));
}

TEST(JournalKinds, TheDocumentedKindsAndSourcesAreAccepted) {
  for (const char* kind :
       {"applied", "echo_skipped", "superseded", "conflict", "conflict_resolved", "parked",
        "unparked", "dead_lettered", "denied", "delete_held", "operator", "secret", "rebaseline"}) {
    EXPECT_TRUE(is_journal_kind(kind)) << kind;
  }
  EXPECT_FALSE(is_journal_kind("Applied"));
  for (const char* source : {"prm", "salesforce", "dynamics", "operator", "daemon"})
    EXPECT_TRUE(is_journal_source(source));
  EXPECT_FALSE(is_journal_source(""));
}

}  // namespace
}  // namespace crmsync::state
