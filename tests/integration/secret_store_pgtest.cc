#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/journal.h"
#include "state/migrator.h"
#include "state/secret_store.h"
#include "state/state_database.h"
#include "tests/support/service_env.h"

namespace crmsync::state {
namespace {

using ::testing::HasSubstr;
using mapping::SecretString;

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
    settings.schema = crmsync::testing::unique_name("crmsync_secrets");
    auto db = StateDatabase::connect(settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    database = std::move(db).value();
    ASSERT_TRUE(migrate(*database, embedded_migrations(), DryRun::no).ok());
    store = std::make_unique<SecretStore>(*database, master, std::chrono::hours(24));
  }
  void TearDown() override { (void)database->execute("DROP SCHEMA IF EXISTS " + settings.schema + " CASCADE"); }

  std::string scalar(const std::string& sql) {
    auto rows = database->execute(sql);
    if (!rows) throw std::runtime_error(rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("<null>");
  }

  StateDatabaseSettings settings;
  std::unique_ptr<StateDatabase> database;
  MasterKey master = MasterKey::generate();
  std::unique_ptr<SecretStore> store;
};

TEST_F(SecretStoreTest, PutCurrentReplacesAndKeepsThePreviousForTheGraceWindow) {
  ASSERT_EQ(store->put("salesforce.client_secret", SecretString("first-canary"), SecretStage::current, "alice").value(), 1);
  ASSERT_EQ(store->put("salesforce.client_secret", SecretString("second-canary"), SecretStage::current, "alice").value(), 2);
  EXPECT_EQ(store->current("salesforce.client_secret").value().reveal(), "second-canary");
  auto previous = store->previous_usable("salesforce.client_secret");
  ASSERT_TRUE(previous.ok());
  ASSERT_EQ(previous.value().size(), 1u);
  EXPECT_EQ(previous.value()[0].reveal(), "first-canary");
  EXPECT_EQ(store->current_versions().value().at("salesforce.client_secret"), 2);
}

TEST_F(SecretStoreTest, StagedRotationPromotesOrDiscardsWithoutTouchingCurrentUntilThen) {
  ASSERT_TRUE(store->put("dynamics.client_secret", SecretString("old-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(store->put("dynamics.client_secret", SecretString("bad-canary"), SecretStage::pending, "ops").ok());
  EXPECT_EQ(store->current("dynamics.client_secret").value().reveal(), "old-canary");
  EXPECT_THAT(store->put("dynamics.client_secret", SecretString("x"), SecretStage::pending, "ops").error().message,
              HasSubstr("already has a pending version"));
  ASSERT_TRUE(store->discard_pending("dynamics.client_secret", "ops", "token request refused: invalid_client").ok());
  EXPECT_EQ(store->current("dynamics.client_secret").value().reveal(), "old-canary") << "a failed test leaves current";
  EXPECT_FALSE(store->pending("dynamics.client_secret").value().has_value());

  ASSERT_TRUE(store->put("dynamics.client_secret", SecretString("good-canary"), SecretStage::pending, "ops").ok());
  ASSERT_TRUE(store->promote("dynamics.client_secret", "ops").ok());
  EXPECT_EQ(store->current("dynamics.client_secret").value().reveal(), "good-canary");
  EXPECT_EQ(store->previous_usable("dynamics.client_secret").value().at(0).reveal(), "old-canary");
  EXPECT_THAT(store->promote("dynamics.client_secret", "ops").error().message, HasSubstr("no pending version"));
}

TEST_F(SecretStoreTest, PreviousVersionsAreDestroyedAfterTheGraceWindow) {
  SecretStore no_grace(*database, master, std::chrono::seconds(0));
  ASSERT_TRUE(no_grace.put("journal.hmac_key", SecretString("k1-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(no_grace.put("journal.hmac_key", SecretString("k2-canary"), SecretStage::current, "ops").ok());
  EXPECT_TRUE(no_grace.previous_usable("journal.hmac_key").value().empty());
  EXPECT_EQ(no_grace.destroy_expired("daemon").value(), 1);
  EXPECT_EQ(scalar("SELECT stage || ':' || (ciphertext IS NULL)::text FROM " + settings.schema +
                   ".secret_versions WHERE name = 'journal.hmac_key' AND version = 1"),
            "destroyed:true");
}

TEST_F(SecretStoreTest, CurrentCannotBeDestroyedAndOthersCan) {
  ASSERT_TRUE(store->put("a.b", SecretString("one-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(store->put("a.b", SecretString("two-canary"), SecretStage::current, "ops").ok());
  EXPECT_THAT(store->destroy("a.b", 2, "ops").error().message, HasSubstr("is current"));
  ASSERT_TRUE(store->destroy("a.b", 1, "ops").ok());
  EXPECT_TRUE(store->previous_usable("a.b").value().empty());
  EXPECT_THAT(store->destroy("a.b", 9, "ops").error().message, HasSubstr("no version 9"));
}

TEST_F(SecretStoreTest, CiphertextCopiedToAnotherRowDoesNotDecrypt) {
  ASSERT_TRUE(store->put("victim", SecretString("victim-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(store->put("attacker", SecretString("attacker-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(database
                  ->execute("UPDATE " + settings.schema + ".secret_versions AS a SET wrapped_key = v.wrapped_key, "
                            "wrap_nonce = v.wrap_nonce, ciphertext = v.ciphertext, nonce = v.nonce FROM " +
                            settings.schema + ".secret_versions AS v WHERE a.name = 'attacker' AND v.name = 'victim'")
                  .ok());
  auto stolen = store->current("attacker");
  ASSERT_FALSE(stolen.ok());
  EXPECT_THAT(stolen.error().message, HasSubstr("fails authentication"));
}

TEST_F(SecretStoreTest, MasterKeyRotationRewrapsEverythingInOneTransaction) {
  ASSERT_TRUE(store->put("s1", SecretString("v1-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(store->put("s1", SecretString("v2-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(store->put("s2", SecretString("w1-canary"), SecretStage::pending, "ops").ok());
  MasterKey next = MasterKey::generate();
  auto rewrapped = store->rotate_master(next, "ops");
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.error().message;
  EXPECT_EQ(rewrapped.value(), 3);
  SecretStore with_next(*database, next, std::chrono::hours(24));
  EXPECT_EQ(with_next.current("s1").value().reveal(), "v2-canary");
  EXPECT_EQ(with_next.pending("s2").value()->second.reveal(), "w1-canary");
  auto with_old = store->current("s1");
  ASSERT_FALSE(with_old.ok());
  EXPECT_THAT(with_old.error().message, HasSubstr("wrapped under master key " + next.id()));
  // Resuming with the new key finds nothing left to do.
  EXPECT_EQ(with_next.rotate_master(next, "ops").value(), 0);
}

TEST_F(SecretStoreTest, ListingAndAuditNeverContainValues) {
  ASSERT_TRUE(store->put("kafka.sasl_password", SecretString("list-canary-77"), SecretStage::current, "carol").ok());
  ASSERT_TRUE(store->put("kafka.sasl_password", SecretString("list-canary-88"), SecretStage::pending, "carol").ok());
  ASSERT_TRUE(store->promote("kafka.sasl_password", "carol").ok());
  auto listed = store->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed.value().size(), 2u);
  EXPECT_EQ(listed.value()[1].stage, SecretStage::current);
  EXPECT_EQ(listed.value()[0].stage, SecretStage::previous);
  EXPECT_EQ(listed.value()[0].created_by, "carol");
  std::string audit = scalar("SELECT string_agg(concat_ws('|', operator, action, name, version, from_stage, to_stage, detail), ';' "
                             "ORDER BY id) FROM " + settings.schema + ".secret_audit");
  EXPECT_EQ(audit, "carol|put|kafka.sasl_password|1|current;carol|put|kafka.sasl_password|2|pending;"
                   "carol|demote|kafka.sasl_password|1|current|previous;carol|promote|kafka.sasl_password|2|pending|current");
  EXPECT_EQ(scalar("SELECT count(*) FROM " + settings.schema + ".secret_versions WHERE position("
                   "convert_to('list-canary', 'UTF8') in ciphertext) > 0"),
            "0");
}

TEST_F(SecretStoreTest, WithAJournalKeyEveryStageChangeIsJournaledInTheSameTransaction) {
  SecretString key("secret-store-pgtest-journal-key-32-bytes!!");
  store->journal_with(key);
  ASSERT_TRUE(store->put("salesforce.client_secret", SecretString("journal-canary-1"), SecretStage::current, "alice").ok());
  ASSERT_TRUE(store->put("salesforce.client_secret", SecretString("journal-canary-2"), SecretStage::pending, "alice").ok());
  ASSERT_TRUE(store->promote("salesforce.client_secret", "alice").ok());
  ASSERT_TRUE(store->put("salesforce.client_secret", SecretString("journal-canary-3"), SecretStage::pending, "alice").ok());
  ASSERT_TRUE(store->discard_pending("salesforce.client_secret", "alice", "refused by the CRM: invalid_client").ok());
  ASSERT_TRUE(store->destroy("salesforce.client_secret", 1, "alice").ok());
  ASSERT_TRUE(store->put("salesforce.refresh_token", SecretString("journal-canary-4"), SecretStage::current,
                         "daemon:host-1").ok());
  ASSERT_TRUE(store->rotate_master(MasterKey::generate(), "bob").ok());

  std::string journal = scalar("SELECT string_agg(actor || '|' || source || '|' || detail, E'\\n' ORDER BY seq) FROM " +
                               settings.schema + ".journal WHERE kind = 'secret' AND detail NOT LIKE '%rotate-master%'");
  EXPECT_EQ(journal,
            "operator:alice|operator|{\"action\":\"put\",\"secret\":\"salesforce.client_secret\",\"version\":1,\"to_stage\":\"current\"}\n"
            "operator:alice|operator|{\"action\":\"put\",\"secret\":\"salesforce.client_secret\",\"version\":2,\"to_stage\":\"pending\"}\n"
            "operator:alice|operator|{\"action\":\"demote\",\"secret\":\"salesforce.client_secret\",\"version\":1,\"from_stage\":\"current\",\"to_stage\":\"previous\"}\n"
            "operator:alice|operator|{\"action\":\"promote\",\"secret\":\"salesforce.client_secret\",\"version\":2,\"from_stage\":\"pending\",\"to_stage\":\"current\"}\n"
            "operator:alice|operator|{\"action\":\"put\",\"secret\":\"salesforce.client_secret\",\"version\":3,\"to_stage\":\"pending\"}\n"
            "operator:alice|operator|{\"action\":\"discard\",\"secret\":\"salesforce.client_secret\",\"version\":3,\"from_stage\":\"pending\",\"to_stage\":\"destroyed\",\"reason\":\"refused by the CRM: invalid_client\"}\n"
            "operator:alice|operator|{\"action\":\"destroy\",\"secret\":\"salesforce.client_secret\",\"version\":1,\"from_stage\":\"previous\",\"to_stage\":\"destroyed\"}\n"
            "daemon:host-1|daemon|{\"action\":\"put\",\"secret\":\"salesforce.refresh_token\",\"version\":1,\"to_stage\":\"current\"}");
  EXPECT_EQ(scalar("SELECT actor FROM " + settings.schema + ".journal WHERE detail LIKE '%rotate-master%'"), "operator:bob");
  auto verified = verify_journal(*database, key);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_TRUE(verified.value().intact) << verified.value().reason;
  EXPECT_EQ(scalar("SELECT count(*) FROM " + settings.schema + ".journal WHERE detail LIKE '%journal-canary%'"), "0");
}

TEST_F(SecretStoreTest, AChangeWhoseJournalEntryFailsIsNotMade) {
  store->journal_with(SecretString("too-short"));  // append_journal refuses keys under 32 bytes
  EXPECT_FALSE(store->put("a.b", SecretString("never-canary"), SecretStage::current, "ops").ok());
  EXPECT_EQ(scalar("SELECT count(*) FROM " + settings.schema + ".secret_versions"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM " + settings.schema + ".secret_audit"), "0");
}

TEST_F(SecretStoreTest, AgesOfCurrentVersions) {
  ASSERT_TRUE(store->put("a.b", SecretString("age-canary"), SecretStage::current, "ops").ok());
  ASSERT_TRUE(database->execute("UPDATE " + settings.schema + ".secret_versions SET created_at = now() - interval '10 days'").ok());
  SecretAgePolicy policy;
  policy.max_age = std::chrono::hours(24 * 7);
  auto ages = store->ages(policy);
  ASSERT_TRUE(ages.ok()) << ages.error().message;
  ASSERT_EQ(ages.value().size(), 1u);
  EXPECT_GE(ages.value()[0].age, std::chrono::seconds(10 * 86400));
  EXPECT_TRUE(ages.value()[0].rotation_due);
}

TEST_F(SecretStoreTest, BadNamesAndEmptyValuesAreRefused) {
  EXPECT_THAT(store->put("Bad Name", SecretString("x"), SecretStage::current, "ops").error().message,
              HasSubstr("secret name \"Bad Name\""));
  EXPECT_THAT(store->put("ok", SecretString(""), SecretStage::current, "ops").error().message, HasSubstr("empty value"));
  EXPECT_THAT(store->current("missing").error().message, HasSubstr("crmsync secrets put missing"));
}

}  // namespace
}  // namespace crmsync::state
