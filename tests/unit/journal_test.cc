#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/journal.h"
#include "state/journal_chain.h"

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

// A chain of `count` entries as append_journal writes it, with the head that goes with it.
struct Chain {
  std::vector<StoredJournalEntry> entries;
  JournalHead head;
};

Chain chain_of(const SecretString& key, int count) {
  Chain chain;
  std::string prev(32, '\0');
  for (int seq = 1; seq <= count; ++seq) {
    StoredJournalEntry stored;
    stored.seq = seq;
    stored.recorded_at = "2026-11-28T12:00:00.000001Z";
    stored.entry = {"applied", "partner_user:u1", "deal", "D" + std::to_string(seq), "prm",
                    "e" + std::to_string(seq), "", R"({"fields":{"amount":{"after":"1.00"}}})"};
    std::string hash = journal_entry_hash(key, prev, seq, stored.recorded_at, stored.entry);
    stored.prev_hash_hex = journal_hex(prev);
    stored.hash_hex = journal_hex(hash);
    prev = hash;
    chain.entries.push_back(stored);
  }
  chain.head = {count, journal_hex(prev)};
  return chain;
}

JournalVerification check_chain(const SecretString& key, const Chain& chain) {
  JournalChainCheck check(key, "crmsync.journal_head");
  for (const auto& stored : chain.entries) {
    if (!check.next(stored)) break;
  }
  check.finish(chain.head);
  return check.result();
}

const SecretString kChainKey("journal-chain-key-0123456789abcdef-0123");

TEST(JournalChain, AnUntouchedChainIsIntact) {
  auto result = check_chain(kChainKey, chain_of(kChainKey, 4));
  EXPECT_TRUE(result.intact) << result.reason;
  EXPECT_EQ(result.entries_checked, 4);
  EXPECT_TRUE(check_chain(kChainKey, chain_of(kChainKey, 0)).intact) << "an empty journal";
}

TEST(JournalChain, AChangedFieldBreaksTheChainAtItsEntry) {
  Chain chain = chain_of(kChainKey, 4);
  chain.entries[2].entry.detail_json = R"({"fields":{"amount":{"after":"9.00"}}})";
  auto result = check_chain(kChainKey, chain);
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.first_bad_seq, 3);
  EXPECT_EQ(result.entries_checked, 3);
  EXPECT_THAT(result.reason, HasSubstr("does not match its hash"));
}

TEST(JournalChain, GapsReorderingHeadAndKeyAreReported) {
  Chain gap = chain_of(kChainKey, 4);
  gap.entries.erase(gap.entries.begin() + 1);
  EXPECT_EQ(check_chain(kChainKey, gap).first_bad_seq, 2);

  Chain swapped = chain_of(kChainKey, 3);
  std::swap(swapped.entries[0], swapped.entries[1]);
  EXPECT_EQ(check_chain(kChainKey, swapped).first_bad_seq, 1);

  Chain rewound = chain_of(kChainKey, 3);
  rewound.head.last_seq = 2;
  EXPECT_THAT(check_chain(kChainKey, rewound).reason, HasSubstr("beyond the head"));

  JournalChainCheck headless(kChainKey, "crmsync.journal_head");
  headless.finish(std::nullopt);
  EXPECT_THAT(headless.result().reason, HasSubstr("journal head (crmsync.journal_head) is missing"));

  EXPECT_EQ(check_chain(SecretString("another-key-0123456789abcdef-0123456789"), chain_of(kChainKey, 2))
                .first_bad_seq,
            1)
      << "the wrong key fails at the first entry";
}

TEST(JournalChain, MalformedHexIsABreakNotACrash) {
  Chain chain = chain_of(kChainKey, 2);
  chain.entries[1].prev_hash_hex = "zz";
  EXPECT_EQ(check_chain(kChainKey, chain).first_bad_seq, 2);
  chain = chain_of(kChainKey, 2);
  chain.entries[0].hash_hex = "abc";
  EXPECT_EQ(check_chain(kChainKey, chain).first_bad_seq, 1);
  EXPECT_EQ(journal_unhex("0aFf"), std::string("\x0a\xff", 2));
  EXPECT_EQ(journal_unhex("0g"), std::nullopt);
}

}  // namespace
}  // namespace crmsync::state
