#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/service_env.h"

namespace crmsync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

constexpr const char* kCanary = "secret-canary-5b1d-value";

// `crmsync secrets …` against the real state database, and a running daemon picking up a rotated
// secret without a restart.
class SecretsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    schema = testing::unique_name("crmsync_secrets_cli");
    dir = std::filesystem::temp_directory_path() / schema;
    std::filesystem::create_directories(dir);
    admin_port = testing::free_local_port();
    master_key = (dir / "master.key").string();
    ASSERT_EQ(cli({"secrets", "generate-master-key", "--out", master_key}).first, 0);
    config = write_config(master_key);
  }
  void TearDown() override {
    state::StateDatabaseSettings settings;
    settings.url = testing::require_service_env("CRMSYNC_PG_URL");
    if (auto db = state::StateDatabase::connect(settings); db) {
      (void)db.value()->execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
    std::filesystem::remove_all(dir);
  }

  std::string write_config(const std::string& key_file, const std::string& name = "crmsync.toml") {
    auto path = (dir / name).string();
    std::ofstream(path) << "[daemon]\nhealth_check_interval = \"500ms\"\n[admin]\nlisten = \"127.0.0.1:" << admin_port
                        << "\"\n[state]\ndatabase_url = \"" << testing::require_service_env("CRMSYNC_PG_URL")
                        << "\"\nschema = \"" << schema << "\"\n[kafka]\nbrokers = [\""
                        << testing::require_service_env("CRMSYNC_KAFKA_BROKERS") << "\"]\n[secrets]\nmaster_key_file = \""
                        << key_file << "\"\nreload_interval = \"1s\"\n[log]\nlevel = \"debug\"\n";
    return path;
  }

  std::string value_file(const std::string& value) {
    auto path = (dir / testing::unique_name("value")).string();
    std::ofstream(path) << value << "\n";
    ::chmod(path.c_str(), 0600);
    return path;
  }

  std::pair<int, std::string> cli(const std::vector<std::string>& args) {
    ChildProcess process(CRMSYNC_BINARY, args);
    auto code = process.wait_for_exit(seconds(60));
    return {code.value_or(-1), process.output()};
  }

  std::string schema;
  std::filesystem::path dir;
  unsigned short admin_port = 0;
  std::string master_key;
  std::string config;
};

TEST_F(SecretsCli, PutListPromoteAndNeverPrintAValue) {
  auto put = cli({"secrets", "put", "salesforce.client_secret", "--from-file", value_file(kCanary), "--config", config,
                  "--operator", "alice"});
  ASSERT_EQ(put.first, 0) << put.second;
  EXPECT_THAT(put.second, HasSubstr("salesforce.client_secret v1 stored as current"));
  auto rotate = cli({"secrets", "rotate", "salesforce.client_secret", "--from-file", value_file(std::string(kCanary) + "-2"),
                     "--config", config});
  ASSERT_EQ(rotate.first, 0) << rotate.second;
  EXPECT_THAT(rotate.second, HasSubstr("staged as pending"));
  auto promote = cli({"secrets", "promote", "salesforce.client_secret", "--config", config});
  ASSERT_EQ(promote.first, 0) << promote.second;
  auto list = cli({"secrets", "list", "--json", "--config", config});
  ASSERT_EQ(list.first, 0) << list.second;
  EXPECT_THAT(list.second, HasSubstr("\"version\":2,\"stage\":\"current\""));
  EXPECT_THAT(list.second, HasSubstr("\"version\":1,\"stage\":\"previous\""));
  EXPECT_THAT(list.second, HasSubstr("\"created_by\":\"alice\""));
  for (const auto& output : {put.second, rotate.second, promote.second, list.second}) {
    EXPECT_THAT(output, Not(HasSubstr(kCanary)));
  }
}

TEST_F(SecretsCli, UsageAndKeyProblemsAreRefusedWithExitCode2) {
  EXPECT_EQ(cli({"secrets", "put", "x", "--config", config}).first, 2) << "neither --from-file nor --from-stdin";
  ::chmod(master_key.c_str(), 0644);
  auto readable = cli({"secrets", "list", "--config", config});
  EXPECT_EQ(readable.first, 2);
  EXPECT_THAT(readable.second, HasSubstr("chmod 600"));
  ::chmod(master_key.c_str(), 0600);
  auto bad_name = cli({"secrets", "put", "Not Valid", "--from-file", value_file("v"), "--config", config});
  EXPECT_EQ(bad_name.first, 2);
  EXPECT_THAT(bad_name.second, HasSubstr("secret name \"Not Valid\""));
  EXPECT_EQ(cli({"secrets", "generate-master-key", "--out", master_key}).first, 1) << "never overwrite a key";
}

TEST_F(SecretsCli, MasterKeyRotationThenOnlyTheNewKeyOpens) {
  ASSERT_EQ(cli({"secrets", "put", "journal.hmac_key", "--from-file", value_file(kCanary), "--config", config}).first, 0);
  std::string new_key = (dir / "master-2.key").string();
  ASSERT_EQ(cli({"secrets", "generate-master-key", "--out", new_key}).first, 0);
  auto rotated = cli({"secrets", "rotate-master", "--new-key", new_key, "--config", config});
  ASSERT_EQ(rotated.first, 0) << rotated.second;
  EXPECT_THAT(rotated.second, HasSubstr("1 secret version(s) re-wrapped"));
  std::string new_config = write_config(new_key, "new.toml");
  auto with_new = cli({"secrets", "rotate", "journal.hmac_key", "--from-file", value_file("next"), "--config", new_config});
  EXPECT_EQ(with_new.first, 0) << with_new.second;
  EXPECT_EQ(cli({"secrets", "promote", "journal.hmac_key", "--config", new_config}).first, 0);
}

TEST_F(SecretsCli, RunningDaemonPicksUpAPromotedSecretWithoutRestart) {
  ASSERT_EQ(cli({"secrets", "put", "dynamics.client_secret", "--from-file", value_file(kCanary), "--config", config}).first, 0);
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  auto metric_has = [&](const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto metrics = testing::http_get(admin_port, "/metrics");
      if (metrics && metrics->body.find(needle) != std::string::npos) return metrics->body;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return std::string();
  };
  EXPECT_FALSE(metric_has("crmsync_secret_current_version{name=\"dynamics.client_secret\"} 1").empty())
      << crmsync.output();
  ASSERT_EQ(cli({"secrets", "rotate", "dynamics.client_secret", "--from-file", value_file(std::string(kCanary) + "-2"),
                 "--config", config}).first, 0);
  ASSERT_EQ(cli({"secrets", "promote", "dynamics.client_secret", "--config", config}).first, 0);
  std::string metrics = metric_has("crmsync_secret_current_version{name=\"dynamics.client_secret\"} 2");
  EXPECT_FALSE(metrics.empty()) << crmsync.output();
  EXPECT_THAT(metrics, HasSubstr("crmsync_secret_rotation_due{name=\"dynamics.client_secret\"} 0"));
  crmsync.send_signal(SIGTERM);
  EXPECT_EQ(crmsync.wait_for_exit(seconds(25)), 0) << crmsync.output();
  EXPECT_THAT(crmsync.output(), HasSubstr("secret rotated; the new current version is used from the next request on "
                                          "secret=dynamics.client_secret version=2"));
  EXPECT_THAT(crmsync.output() + metrics, Not(HasSubstr(kCanary)));
}

}  // namespace
}  // namespace crmsync
