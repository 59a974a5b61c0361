#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "state/journal.h"
#include "state/migrator.h"
#include "state/state_database.h"
#include "tests/support/service_env.h"

namespace crmsync::state {
namespace {

using mapping::SecretString;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

const SecretString kKey("journal-test-key-0123456789abcdef-0123456789");

JournalEntry applied(const std::string& record_id, const std::string& detail,
                     const std::string& kind = "applied") {
  return {kind, "partner_user:7", "deal", record_id, "prm", "prm:evt-" + record_id, "", detail};
}

std::string amount(const std::string& before, const std::string& after) {
  return R"({"fields":{"amount":{"before":")" + before + R"(","after":")" + after + R"("}}})";
}

// The journal on the real state database: one chain across connections, and every kind of
// tampering named by the entry where it happened.
class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
    settings.schema = crmsync::testing::unique_name("crmsync_journal");
    database = connect();
    auto migrated = migrate(*database, embedded_migrations(), DryRun::no);
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
  }
  void TearDown() override {
    (void)database->execute("DROP SCHEMA IF EXISTS " + settings.schema + " CASCADE");
  }

  std::unique_ptr<StateDatabase> connect() {
    auto db = StateDatabase::connect(settings);
    if (!db) throw std::runtime_error(db.error().message);
    return std::move(db).value();
  }

  void append(const std::vector<JournalEntry>& entries) {
    auto appended = append_journal(*database, kKey, entries);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  }

  // Five entries: deal D1 seq 1–3 and 5, deal D2 seq 4.
  void append_five() {
    append({applied("D1", amount("100.00", "120.00")),
            applied("D1", R"({"fields":{"stage":{"after":"won"}}})")});
    append({applied("D1", amount("120.00", "125.00"), "conflict")});
    append({applied("D2", amount("1", "2"))});
    append({applied("D1", amount("125.00", "130.00"), "operator")});
  }

  // Runs SQL as the schema's owner with the append-only triggers off: what an attacker with
  // database access can do, and what verify must catch.
  void tamper(const std::string& sql) {
    const std::string& s = settings.schema;
    auto done =
        database->in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
          for (const std::string& statement :
               {"ALTER TABLE " + s + ".journal DISABLE TRIGGER USER",
                "ALTER TABLE " + s + ".journal_head DISABLE TRIGGER USER", sql,
                "ALTER TABLE " + s + ".journal ENABLE TRIGGER USER",
                "ALTER TABLE " + s + ".journal_head ENABLE TRIGGER USER"}) {
            auto result = execute(statement, {});
            if (!result) return result.error();
          }
          return mapping::ok_status();
        });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  JournalVerification verify(const SecretString& key = kKey) {
    auto result = verify_journal(*database, key);
    if (!result) throw std::runtime_error(result.error().message);
    return result.value();
  }

  std::string scalar(const std::string& sql) {
    auto rows = database->execute(sql);
    if (!rows) throw std::runtime_error(rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("<null>");
  }

  StateDatabaseSettings settings;
  std::unique_ptr<StateDatabase> database;
};

TEST_F(JournalTest, EmptyJournalIsIntact) {
  JournalVerification result = verify();
  EXPECT_TRUE(result.intact) << result.reason;
  EXPECT_EQ(result.entries_checked, 0);
}

TEST_F(JournalTest, AppendedEntriesFormAChainThatVerifies) {
  append_five();
  JournalVerification result = verify();
  EXPECT_TRUE(result.intact) << result.reason;
  EXPECT_EQ(result.entries_checked, 5);
  EXPECT_FALSE(result.first_bad_seq.has_value());
  EXPECT_EQ(scalar("SELECT last_seq FROM " + settings.schema + ".journal_head"), "5");

  auto d1 = journal_for_record(*database, "deal", "D1", 10);
  ASSERT_TRUE(d1.ok()) << d1.error().message;
  ASSERT_EQ(d1.value().size(), 4u);
  EXPECT_EQ(d1.value()[0].seq, 1);
  EXPECT_EQ(d1.value()[0].prev_hash_hex, std::string(64, '0'));
  EXPECT_EQ(d1.value()[1].prev_hash_hex, d1.value()[0].hash_hex) << "entries of one call chain too";
  EXPECT_EQ(d1.value()[0].recorded_at, d1.value()[1].recorded_at) << "one call, one recorded_at";
  EXPECT_THAT(d1.value()[0].recorded_at,
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z"));
  EXPECT_EQ(d1.value()[0].entry.detail_json, amount("100.00", "120.00"))
      << "the detail reads back byte for byte";
  EXPECT_EQ(d1.value()[0].entry.event_id, "prm:evt-D1");
}

TEST_F(JournalTest, ConcurrentAppendersOnTwoConnectionsFormOneLinearChain) {
  constexpr int kAppendsPerThread = 40;
  auto worker = [&](const std::string& record) {
    auto own = connect();
    for (int i = 0; i < kAppendsPerThread; ++i) {
      auto appended =
          append_journal(*own, kKey,
                         {applied(record, amount(std::to_string(i), std::to_string(i + 1))),
                          applied(record, amount("x", "y"), "superseded")});
      if (!appended) throw std::runtime_error(appended.error().message);
    }
  };
  std::thread first(worker, "A");
  std::thread second(worker, "B");
  first.join();
  second.join();

  JournalVerification result = verify();
  EXPECT_TRUE(result.intact) << result.reason;
  EXPECT_EQ(result.entries_checked, 4 * kAppendsPerThread);
  EXPECT_EQ(scalar("SELECT count(DISTINCT prev_hash) FROM " + settings.schema + ".journal"),
            std::to_string(4 * kAppendsPerThread))
      << "no two entries follow the same one";
  auto a = journal_for_record(*database, "deal", "A", 1000).value();
  auto b = journal_for_record(*database, "deal", "B", 1000).value();
  EXPECT_EQ(a.size() + b.size(), 4u * kAppendsPerThread);
}

TEST_F(JournalTest, VerifyDuringAppendsSeesAConsistentSnapshot) {
  std::atomic<bool> done{false};
  std::thread appender([&] {
    auto own = connect();
    for (int i = 0; i < 150; ++i) {
      auto appended = append_journal(*own, kKey, {applied("A", amount("0", std::to_string(i)))});
      if (!appended) ADD_FAILURE() << appended.error().message;
    }
    done = true;
  });
  int runs = 0;
  while (!done) {
    JournalVerification result = verify();
    EXPECT_TRUE(result.intact) << "entries appended while verifying are not a broken chain: "
                               << result.reason;
    ++runs;
  }
  appender.join();
  EXPECT_GT(runs, 0);
  EXPECT_EQ(verify().entries_checked, 150);
}

TEST_F(JournalTest, AppendCommitsAndRollsBackWithTheCallersTransaction) {
  auto failed = database->in_transaction([&](const StateDatabase::Executor& execute)
                                             -> mapping::Status {
    if (auto appended =
            append_journal(execute, settings.schema, kKey, {applied("D9", amount("1", "2"))});
        !appended) {
      return appended;
    }
    return mapping::SyncError{mapping::ErrorClass::conflict, "the engine's base write lost a race"};
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(scalar("SELECT count(*) FROM " + settings.schema + ".journal"), "0");
  EXPECT_EQ(scalar("SELECT last_seq FROM " + settings.schema + ".journal_head"), "0");
  append({applied("D9", amount("1", "2"))});
  EXPECT_EQ(scalar("SELECT min(seq) FROM " + settings.schema + ".journal"), "1")
      << "no seq is lost to a rollback";
  EXPECT_TRUE(verify().intact);
}

TEST_F(JournalTest, InvalidEntriesAreRefusedAndNothingIsWritten) {
  auto unknown_kind =
      append_journal(*database, kKey, {applied("D1", "{}"), applied("D1", "{}", "approved")});
  ASSERT_FALSE(unknown_kind.ok());
  EXPECT_EQ(unknown_kind.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(unknown_kind.error().message, HasSubstr("unknown kind \"approved\""));
  auto not_object = append_journal(*database, kKey, {applied("D1", "[1,2]")});
  ASSERT_FALSE(not_object.ok());
  EXPECT_THAT(not_object.error().message, HasSubstr("detail is not a JSON object"));
  JournalEntry bad_source = applied("D1", "{}");
  bad_source.source = "sap";
  EXPECT_THAT(append_journal(*database, kKey, {bad_source}).error().message,
              HasSubstr("unknown source \"sap\""));
  auto short_key = append_journal(*database, SecretString("short"), {applied("D1", "{}")});
  ASSERT_FALSE(short_key.ok());
  EXPECT_THAT(short_key.error().message, HasSubstr("at least 32 bytes"));
  EXPECT_THAT(short_key.error().message, Not(HasSubstr("short\"")));
  EXPECT_EQ(scalar("SELECT count(*) FROM " + settings.schema + ".journal"), "0");
}

TEST_F(JournalTest, TheDatabaseRefusesUpdatesAndDeletesOfEntries) {
  append_five();
  auto update =
      database->execute("UPDATE " + settings.schema + ".journal SET detail = '{}' WHERE seq = 2");
  ASSERT_FALSE(update.ok());
  EXPECT_THAT(update.error().message, HasSubstr("append-only"));
  EXPECT_THAT(database->execute("DELETE FROM " + settings.schema + ".journal WHERE seq = 5")
                  .error()
                  .message,
              HasSubstr("append-only"));
  EXPECT_THAT(database->execute("TRUNCATE " + settings.schema + ".journal").error().message,
              HasSubstr("append-only"));
  EXPECT_THAT(database->execute("DELETE FROM " + settings.schema + ".journal_head").error().message,
              HasSubstr("append-only"));
  EXPECT_TRUE(verify().intact);
}

TEST_F(JournalTest, AnEditedDetailIsNamed) {
  append_five();
  tamper("UPDATE " + settings.schema +
         ".journal SET detail = replace(detail, '120.00', '999.00') WHERE seq = 1");
  JournalVerification result = verify();
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.first_bad_seq, 1);
  EXPECT_THAT(result.reason, HasSubstr("journal entry 1 does not match its hash"));
}

TEST_F(JournalTest, AnEditedActorOrTimestampIsNamed) {
  append_five();
  tamper("UPDATE " + settings.schema + ".journal SET actor = 'operator:mallory' WHERE seq = 4");
  EXPECT_EQ(verify().first_bad_seq, 4);
  tamper("UPDATE " + settings.schema +
         ".journal SET actor = 'partner_user:7', recorded_at = recorded_at - interval '1 hour' "
         "WHERE seq = 4");
  EXPECT_EQ(verify().first_bad_seq, 4);
}

TEST_F(JournalTest, ADeletedEntryIsNamed) {
  append_five();
  tamper("DELETE FROM " + settings.schema + ".journal WHERE seq = 3");
  JournalVerification result = verify();
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.first_bad_seq, 3);
  EXPECT_THAT(result.reason, HasSubstr("journal entry 3 is missing"));
}

TEST_F(JournalTest, ADeletedEntryWithRenumberedSuccessorsIsNamed) {
  append_five();
  tamper("DELETE FROM " + settings.schema + ".journal WHERE seq = 3");
  tamper("UPDATE " + settings.schema + ".journal SET seq = 3 WHERE seq = 4");
  tamper("UPDATE " + settings.schema + ".journal SET seq = 4 WHERE seq = 5");
  tamper("UPDATE " + settings.schema + ".journal_head SET last_seq = 4");
  JournalVerification result = verify();
  EXPECT_EQ(result.first_bad_seq, 3);
  EXPECT_THAT(result.reason, HasSubstr("does not follow entry 2"));
}

TEST_F(JournalTest, ACutOffEndIsNamedThroughTheHead) {
  append_five();
  tamper("DELETE FROM " + settings.schema + ".journal WHERE seq >= 4");
  JournalVerification result = verify();
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.first_bad_seq, 4);
  EXPECT_THAT(result.reason, HasSubstr("journal entries 4 to 5 are missing"));
}

TEST_F(JournalTest, SwappedEntriesAreNamed) {
  append_five();
  const std::string table = settings.schema + ".journal";
  tamper("UPDATE " + table + " SET seq = 1000 WHERE seq = 2");
  tamper("UPDATE " + table + " SET seq = 2 WHERE seq = 3");
  tamper("UPDATE " + table + " SET seq = 3 WHERE seq = 1000");
  JournalVerification result = verify();
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.first_bad_seq, 2);
  EXPECT_THAT(result.reason, HasSubstr("journal entry 2 does not follow entry 1"));
}

TEST_F(JournalTest, AnEditedHeadIsNamed) {
  append_five();
  const std::string head = settings.schema + ".journal_head";
  tamper("UPDATE " + head + " SET last_hash = decode(repeat('ab', 32), 'hex')");
  JournalVerification hash_changed = verify();
  EXPECT_FALSE(hash_changed.intact);
  EXPECT_EQ(hash_changed.first_bad_seq, 5);
  EXPECT_THAT(hash_changed.reason, HasSubstr("head's hash does not match entry 5"));

  tamper("UPDATE " + head + " h SET last_seq = 3, last_hash = j.hash FROM " + settings.schema +
         ".journal j WHERE j.seq = 3");
  JournalVerification rewound = verify();
  EXPECT_EQ(rewound.first_bad_seq, 4);
  EXPECT_THAT(rewound.reason, HasSubstr("beyond the head"));

  tamper("UPDATE " + head + " SET last_seq = 9");
  EXPECT_EQ(verify().first_bad_seq, 6);
  tamper("DELETE FROM " + head);
  EXPECT_FALSE(verify().intact);
  EXPECT_FALSE(append_journal(*database, kKey, {applied("D1", "{}")}).ok()) << "no head, no append";
}

TEST_F(JournalTest, TheWrongKeyFailsAtTheFirstEntry) {
  append_five();
  JournalVerification result = verify(SecretString("another-key-of-enough-length-0123456789"));
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.first_bad_seq, 1);
  EXPECT_EQ(result.entries_checked, 1);
  EXPECT_THAT(result.reason, HasSubstr("journal key"));
}

TEST_F(JournalTest, TheHashDoesNotDependOnTheSessionTimeZoneOrDateStyle) {
  append_five();
  auto other = connect();
  ASSERT_TRUE(other->execute("SET TIME ZONE 'Asia/Kathmandu'").ok());
  ASSERT_TRUE(other->execute("SET DateStyle = 'SQL, DMY'").ok());
  ASSERT_TRUE(append_journal(*other, kKey, {applied("D3", amount("5", "6"))}).ok());
  auto result = verify_journal(*other, kKey);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result.value().intact) << result.value().reason;
  EXPECT_TRUE(verify().intact);
}

TEST_F(JournalTest, VerifyWalksMoreThanOnePage) {
  std::vector<JournalEntry> many;
  for (int i = 0; i < 2500; ++i)
    many.push_back(applied("R" + std::to_string(i % 7), amount("0", std::to_string(i))));
  append(many);
  EXPECT_TRUE(verify().intact);
  EXPECT_EQ(verify().entries_checked, 2500);
  tamper("UPDATE " + settings.schema + ".journal SET detail = '{}' WHERE seq = 2222");
  EXPECT_EQ(verify().first_bad_seq, 2222);
}

TEST_F(JournalTest, ShowReturnsTheNewestEntriesOfOneRecordOldestFirst) {
  append_five();
  auto all = journal_for_record(*database, "deal", "D1", 50);
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<long long> seqs;
  for (const auto& stored : all.value()) seqs.push_back(stored.seq);
  EXPECT_EQ(seqs, (std::vector<long long>{1, 2, 3, 5}));
  auto newest = journal_for_record(*database, "deal", "D1", 2).value();
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].seq, 3);
  EXPECT_EQ(newest[1].seq, 5);
  EXPECT_EQ(newest[1].entry.kind, "operator");
  EXPECT_TRUE(journal_for_record(*database, "account", "D1", 50).value().empty())
      << "the object is part of the name";
  EXPECT_TRUE(journal_for_record(*database, "deal", "nope", 50).value().empty());
}

TEST_F(JournalTest, ExplainNamesTheEntryThatGaveTheFieldItsValue) {
  append_five();
  // Later entries that do not set a value: an unresolved conflict and an echo.
  append({applied("D1", amount("130.00", "140.00"), "conflict"),
          applied("D1", amount("130.00", "150.00"), "echo_skipped")});
  auto amount_from = explain_field(*database, "deal", "D1", "amount");
  ASSERT_TRUE(amount_from.ok()) << amount_from.error().message;
  ASSERT_TRUE(amount_from.value().has_value());
  EXPECT_EQ(amount_from.value()->seq, 5);
  EXPECT_EQ(amount_from.value()->entry.kind, "operator");
  EXPECT_EQ(journal_field_change(amount_from.value()->entry.detail_json, "amount"),
            R"({"before":"125.00","after":"130.00"})");

  auto stage_from = explain_field(*database, "deal", "D1", "stage").value();
  ASSERT_TRUE(stage_from.has_value());
  EXPECT_EQ(stage_from->seq, 2);
  EXPECT_FALSE(explain_field(*database, "deal", "D1", "close_date").value().has_value());
  EXPECT_FALSE(explain_field(*database, "deal", "D404", "amount").value().has_value());

  append({applied(
      "D1", R"({"fields":{"amount":{"before":"130.00","after":"135.00"}},"reason":"prm_wins"})",
      "conflict_resolved")});
  EXPECT_EQ(explain_field(*database, "deal", "D1", "amount").value()->seq, 8);
}

}  // namespace
}  // namespace crmsync::state
