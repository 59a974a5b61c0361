#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/secret_canary.h"
#include "tests/support/service_env.h"

namespace crmsync {
namespace {

using ::testing::HasSubstr;
using std::chrono::seconds;
using testing::ChildProcess;

// `crmsync run` refuses to capture from a PRM database whose synced tables do not force
// row-level security: a scratch copy of the reference schema with RLS weakened on one table. It
// runs at debug level with the canary database password, which its output may not hold.
class PrmRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_url = testing::require_service_env("CRMSYNC_PG_ADMIN_URL");
    database = testing::unique_name("prm_norls");
    dir = std::filesystem::temp_directory_path() / database;
    std::filesystem::create_directories(dir);
    state::StateDatabaseSettings settings;
    settings.url = admin_url;
    auto db = state::StateDatabase::connect(settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    admin = std::move(db).value();
    // CREATE/DROP DATABASE cannot run inside a transaction: psql runs them on their own.
    ASSERT_EQ(psql(admin_url, "CREATE DATABASE " + database), 0);
  }
  void TearDown() override {
    psql(admin_url, "DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
    std::filesystem::remove_all(dir);
  }
  static std::optional<int> psql(const std::string& url, const std::string& sql) {
    ChildProcess run("/usr/bin/psql", {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, url});
    return run.wait_for_exit(seconds(60));
  }
  std::string database_url(const std::string& user) const {
    std::string base = admin_url.substr(0, admin_url.rfind('/') + 1);
    std::string host = base.substr(base.find('@'));
    return "postgresql://" + user + host + database;
  }

  std::string admin_url;
  std::string database;
  std::filesystem::path dir;
  std::unique_ptr<state::StateDatabase> admin;
};

TEST_F(PrmRefusal, SyncedTableWithoutForcedRowLevelSecurityStopsTheDaemon) {
  ChildProcess apply("/usr/bin/psql", {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-f",
                                       std::string(CRMSYNC_SOURCE_DIR) + "/deploy/prm/schema.sql",
                                       database_url("postgres")});
  ASSERT_EQ(apply.wait_for_exit(seconds(60)), 0) << apply.output();
  ASSERT_EQ(psql(database_url("postgres"), "ALTER TABLE prm.deals NO FORCE ROW LEVEL SECURITY"), 0);

  std::string password_file = (dir / "db_password").string();
  std::ofstream(password_file) << testing::kDatabasePassword;
  ::chmod(password_file.c_str(), 0600);
  std::string config = (dir / "crmsync.toml").string();
  std::ofstream(config) << "[log]\nlevel = \"debug\"\n"
                        << "[admin]\nlisten = \"127.0.0.1:" << testing::free_local_port() << "\"\n"
                        << "[state]\ndatabase_url = \""
                        << testing::require_service_env("CRMSYNC_PG_URL")
                        << "\"\npassword_file = \"" << password_file << "\"\nschema = \""
                        << database << "\"\n"
                        << "[kafka]\nbrokers = [\""
                        << testing::require_service_env("CRMSYNC_KAFKA_BROKERS")
                        << "\"]\n[prm]\ndatabase_url = \"" << database_url("crmsync_prm")
                        << "\"\npassword_file = \"" << password_file << "\"\nslot = \"" << database
                        << "\"\n";
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  auto code = crmsync.wait_for_exit(seconds(60));
  ASSERT_TRUE(code.has_value()) << "kept running on an unsafe PRM database\n" << crmsync.output();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(crmsync.output(), HasSubstr("prm.deals does not force row-level security"));
  EXPECT_THAT(crmsync.output(), HasSubstr("refusing to capture"));
  testing::expect_no_secrets_in("the daemon's output", crmsync.output());

  // Nothing was captured: no slot was created on the unsafe database.
  auto slots = admin->execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", {database});
  ASSERT_TRUE(slots.ok());
  EXPECT_EQ(slots.value()[0][0], "0");
  state::StateDatabaseSettings state_settings;
  state_settings.url = testing::require_service_env("CRMSYNC_PG_URL");
  if (auto db = state::StateDatabase::connect(state_settings); db) {
    (void)db.value()->execute("DROP SCHEMA IF EXISTS " + database + " CASCADE");
  }
}

}  // namespace
}  // namespace crmsync
