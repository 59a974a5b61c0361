#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "state/migrator.h"
#include "state/state_database.h"
#include "tests/support/service_env.h"

namespace crmsync::state {
namespace {

using ::testing::HasSubstr;

class StateDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
    settings.schema = crmsync::testing::unique_name("crmsync_test");
  }
  void TearDown() override {
    if (auto db = StateDatabase::connect(settings); db) {
      (void)db.value()->execute("DROP SCHEMA IF EXISTS " + settings.schema + " CASCADE");
    }
  }
  std::unique_ptr<StateDatabase> connect() {
    auto db = StateDatabase::connect(settings);
    if (!db) throw std::runtime_error(db.error().message);
    return std::move(db).value();
  }
  StateDatabaseSettings settings;
};

TEST_F(StateDatabaseTest, RoundTripThroughARealServer) {
  auto db = connect();
  ASSERT_TRUE(db->ping().ok());
  ASSERT_TRUE(db->execute("CREATE SCHEMA " + settings.schema).ok());
  std::string table = settings.schema + ".round_trip";
  ASSERT_TRUE(db->execute("CREATE TABLE " + table + " (id int PRIMARY KEY, name text, note text)").ok());
  auto inserted = db->execute("INSERT INTO " + table + " VALUES ($1, $2, $3)",
                              {"7", "Ünïcode ' \" name", std::nullopt});
  ASSERT_TRUE(inserted.ok()) << inserted.error().message;
  auto rows = db->execute("SELECT id, name, note FROM " + table + " WHERE id = $1", {"7"});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows.value().size(), 1u);
  EXPECT_EQ(rows.value()[0][0], "7");
  EXPECT_EQ(rows.value()[0][1], "Ünïcode ' \" name");
  EXPECT_EQ(rows.value()[0][2], std::nullopt);
}

// The server ends the session (as a restart would): the call that finds it broken fails as
// transient, and the next call works again on a new session — a long-lived holder such as an apply
// worker recovers by itself (it used to fail forever after a PostgreSQL restart).
TEST_F(StateDatabaseTest, ABrokenSessionFailsOnceTransientlyThenANewOneIsOpened) {
  auto db = connect();
  auto pid = db->execute("SELECT pg_backend_pid()::text");
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  auto other = connect();
  auto killed = other->execute("SELECT pg_terminate_backend($1::int)", {pid.value()[0][0]});
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  ASSERT_EQ(killed.value()[0][0], "t");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the backend exits

  auto found_broken = db->execute("SELECT 1");
  ASSERT_FALSE(found_broken.ok());
  EXPECT_EQ(found_broken.error().error_class, mapping::ErrorClass::transient) << found_broken.error().message;

  auto again = db->execute("SELECT pg_backend_pid()::text");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_NE(again.value()[0][0], pid.value()[0][0]) << "a new session";
  EXPECT_TRUE(db->in_transaction([](const StateDatabase::Executor& execute) -> mapping::Status {
                  auto one = execute("SELECT 1", {});
                  if (!one) return one.error();
                  return mapping::ok_status();
                }).ok());
}

TEST_F(StateDatabaseTest, ConstraintViolationIsClassifiedInvalid) {
  auto db = connect();
  ASSERT_TRUE(db->execute("CREATE SCHEMA " + settings.schema).ok());
  ASSERT_TRUE(db->execute("CREATE TABLE " + settings.schema + ".t (id int PRIMARY KEY)").ok());
  ASSERT_TRUE(db->execute("INSERT INTO " + settings.schema + ".t VALUES (1)").ok());
  auto duplicate = db->execute("INSERT INTO " + settings.schema + ".t VALUES (1)");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().error_class, mapping::ErrorClass::invalid);
  EXPECT_THAT(duplicate.error().message, HasSubstr("SQLSTATE 23505"));
}

TEST_F(StateDatabaseTest, UnreachableServerIsTransient) {
  settings.url = "postgresql://crmsync@127.0.0.1:1/crmsync";
  auto db = StateDatabase::connect(settings);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().error_class, mapping::ErrorClass::transient);
  EXPECT_THAT(db.error().message, HasSubstr("connect to the state database"));
}

TEST_F(StateDatabaseTest, MigrateAppliesOnceAndIsIdempotent) {
  auto db = connect();
  auto first = migrate(*db, embedded_migrations(), DryRun::no);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first.value().version_before, 0);
  EXPECT_EQ(first.value().version_after, static_cast<int>(embedded_migrations().size()));
  EXPECT_EQ(first.value().applied.size(), embedded_migrations().size());

  auto second = migrate(*db, embedded_migrations(), DryRun::no);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second.value().applied.empty());
  EXPECT_EQ(second.value().version_before, first.value().version_after);

  auto installation = db->execute("SELECT count(*) FROM " + settings.schema + ".installation");
  ASSERT_TRUE(installation.ok());
  EXPECT_EQ(installation.value()[0][0], "1");
}

TEST_F(StateDatabaseTest, DryRunChangesNothing) {
  auto db = connect();
  auto dry = migrate(*db, embedded_migrations(), DryRun::yes);
  ASSERT_TRUE(dry.ok()) << dry.error().message;
  EXPECT_EQ(dry.value().applied.size(), embedded_migrations().size());
  auto schema = db->execute("SELECT count(*) FROM pg_namespace WHERE nspname = $1", {settings.schema});
  ASSERT_TRUE(schema.ok());
  EXPECT_EQ(schema.value()[0][0], "0");
}

TEST_F(StateDatabaseTest, FailingMigrationLeavesTheSchemaAsItWas) {
  auto db = connect();
  ASSERT_TRUE(migrate(*db, embedded_migrations(), DryRun::no).ok());
  std::vector<Migration> with_broken(embedded_migrations().begin(), embedded_migrations().end());
  int next = static_cast<int>(with_broken.size()) + 1;
  with_broken.push_back({next, "creates_then_fails",
                         "CREATE TABLE {schema}.half_done (id int); SELECT 1/0;"});
  auto failed = migrate(*db, with_broken, DryRun::no);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.error().message, HasSubstr("apply state migration " + std::to_string(next)));
  auto table = db->execute("SELECT to_regclass($1) IS NULL", {settings.schema + ".half_done"});
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table.value()[0][0], "t");
}

TEST_F(StateDatabaseTest, EditedShippedMigrationIsRefused) {
  auto db = connect();
  ASSERT_TRUE(migrate(*db, embedded_migrations(), DryRun::no).ok());
  ASSERT_TRUE(db->execute("UPDATE " + settings.schema +
                          ".schema_migrations SET checksum = 'edited' WHERE version = 1")
                  .ok());
  auto refused = migrate(*db, embedded_migrations(), DryRun::no);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error_class, mapping::ErrorClass::fatal);
  EXPECT_THAT(refused.error().message, HasSubstr("must never change"));
}

TEST_F(StateDatabaseTest, NewerSchemaThanTheBinaryIsRefused) {
  auto db = connect();
  ASSERT_TRUE(migrate(*db, embedded_migrations(), DryRun::no).ok());
  ASSERT_TRUE(db->execute("INSERT INTO " + settings.schema +
                          ".schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
                  .ok());
  auto refused = migrate(*db, embedded_migrations(), DryRun::no);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("newer than this crmsync knows"));
}

TEST_F(StateDatabaseTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  std::vector<std::thread> replicas;
  std::vector<mapping::Result<MigrationReport>> results(4, mapping::SyncError{mapping::ErrorClass::fatal, "not run"});
  for (std::size_t i = 0; i < results.size(); ++i) {
    replicas.emplace_back([&, i] {
      auto db = StateDatabase::connect(settings);
      if (!db) {
        results[i] = db.error();
        return;
      }
      results[i] = migrate(*db.value(), embedded_migrations(), DryRun::no);
    });
  }
  for (auto& replica : replicas) replica.join();
  std::size_t applied = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.error().message;
    applied += result.value().applied.size();
  }
  EXPECT_EQ(applied, embedded_migrations().size());
}

}  // namespace
}  // namespace crmsync::state
