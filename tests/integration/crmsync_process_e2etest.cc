#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/secret_canary.h"
#include "tests/support/service_env.h"
#include "tests/support/tcp_proxy.h"

namespace crmsync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

// Runs `crmsync run` against the real services with a fresh state schema and admin port, at debug
// log level and with the canary database password (tests/support/secret_canary.h), which neither
// crmsync's output nor /metrics may hold.
class CrmsyncProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / testing::unique_name("crmsync_e2e");
    std::filesystem::create_directories(dir);
    password_file = dir / "db_password";
    std::ofstream(password_file) << testing::kDatabasePassword;
    ::chmod(password_file.c_str(), 0600);
    admin_port = testing::free_local_port();
    schema = testing::unique_name("crmsync_e2e");
  }
  void TearDown() override {
    std::filesystem::remove_all(dir);
    // Drop the state schema the daemon created, so that runs do not pile up schemas.
    if (const char* url = std::getenv("CRMSYNC_PG_URL")) {
      state::StateDatabaseSettings settings;
      settings.url = url;
      if (auto db = state::StateDatabase::connect(settings); db) {
        (void)db.value()->execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      }
    }
  }

  std::string write_config(const std::string& pg_url, const std::string& brokers,
                           const std::string& extra = "", const std::string& level = "debug") {
    auto path = dir / "crmsync.toml";
    std::ofstream(path) << "[daemon]\nshutdown_grace = \"20s\"\nhealth_check_interval = \"500ms\"\n"
                        << "dependency_timeout = \"2s\"\nretry_initial_backoff = \"100ms\"\n"
                        << "retry_max_backoff = \"1s\"\n"
                        << "[log]\nlevel = \"" << level << "\"\n"
                        << "[admin]\nlisten = \"127.0.0.1:" << admin_port << "\"\n"
                        << "[state]\ndatabase_url = \"" << pg_url << "\"\npassword_file = \""
                        << password_file.string() << "\"\nschema = \"" << schema << "\"\n"
                        << extra << "[kafka]\nbrokers = [\"" << brokers << "\"]\n";
    return path.string();
  }

  // Polls /readyz until it answers `status` or `timeout` passes; returns the last answer.
  std::optional<testing::HttpAnswer> wait_for_readyz(int status, milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<testing::HttpAnswer> last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = testing::http_get(admin_port, "/readyz");
      if (last && last->status == status) return last;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return last;
  }

  // The canary check of what a running crmsync serves (before it is stopped) and writes.
  void expect_no_secrets_in_metrics() {
    auto metrics = testing::http_get(admin_port, "/metrics");
    ASSERT_TRUE(metrics);
    testing::expect_no_secrets_in("/metrics", metrics->body);
  }
  static void expect_no_secrets_in_output(const ChildProcess& crmsync) {
    testing::expect_no_secrets_in("crmsync's output", crmsync.output());
  }

  std::filesystem::path dir;
  std::filesystem::path password_file;
  unsigned short admin_port = 0;
  std::string schema;
};

TEST_F(CrmsyncProcess, BecomesReadyServesMetricsAndStopsCleanlyOnSigterm) {
  std::string config = write_config(testing::require_service_env("CRMSYNC_PG_URL"),
                                    testing::require_service_env("CRMSYNC_KAFKA_BROKERS"));
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});

  auto ready = wait_for_readyz(200, seconds(60));
  ASSERT_TRUE(ready && ready->status == 200) << crmsync.output();
  EXPECT_THAT(ready->body, HasSubstr("\"ready\":true"));
  testing::expect_no_secrets_in("/readyz", ready->body);

  auto health = testing::http_get(admin_port, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = testing::http_get(admin_port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("crmsync_dependency_up{dependency=\"kafka\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("crmsync_dependency_up{dependency=\"state_db\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("crmsync_build_info{version="));
  testing::expect_no_secrets_in("/metrics", metrics->body);

  crmsync.send_signal(SIGTERM);
  auto code = crmsync.wait_for_exit(seconds(25));
  ASSERT_TRUE(code.has_value()) << "did not stop within the grace period\n" << crmsync.output();
  EXPECT_EQ(*code, 0) << crmsync.output();
  EXPECT_THAT(crmsync.output(), HasSubstr("crmsync stopped cleanly"));
  EXPECT_THAT(crmsync.output(), HasSubstr("state schema migrated schema=" + schema));
  expect_no_secrets_in_output(crmsync);
}

TEST_F(CrmsyncProcess, StaysUpButUnreadyWhileTheStateDatabaseIsUnreachable) {
  // Port 1 on loopback: nothing listens there.
  std::string config = write_config("postgresql://crmsync@127.0.0.1:1/crmsync",
                                    testing::require_service_env("CRMSYNC_KAFKA_BROKERS"));
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});

  auto health = std::optional<testing::HttpAnswer>();
  for (int i = 0; i < 100 && !(health = testing::http_get(admin_port, "/healthz")); ++i) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(health) << crmsync.output();
  EXPECT_EQ(health->status, 200);
  // Kafka becomes up while the state database stays down, across several retries.
  std::this_thread::sleep_for(seconds(3));
  auto ready = testing::http_get(admin_port, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("\"state_db\":{\"up\":false"));
  EXPECT_THAT(ready->body, HasSubstr("\"kafka\":{\"up\":true"));
  testing::expect_no_secrets_in("/readyz", ready->body);
  EXPECT_FALSE(crmsync.wait_for_exit(milliseconds(10)).has_value()) << "exited instead of retrying";
  expect_no_secrets_in_metrics();

  crmsync.send_signal(SIGINT);
  auto code = crmsync.wait_for_exit(seconds(25));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << crmsync.output();
  EXPECT_THAT(crmsync.output(), HasSubstr("dependency down dependency=state_db kind=transient"));
  EXPECT_THAT(crmsync.output(), HasSubstr("dependency still down dependency=state_db"))
      << "the canary check covered debug lines";
  expect_no_secrets_in_output(crmsync);
}

TEST_F(CrmsyncProcess, ReadinessFollowsALostAndRecoveredStateDatabase) {
  // The daemon reaches PostgreSQL through a proxy that the test cuts, as a network partition would.
  std::string pg_url = testing::require_service_env("CRMSYNC_PG_URL");
  std::size_t port_start = pg_url.rfind(':') + 1;
  auto pg_port = static_cast<std::uint16_t>(std::stoi(pg_url.substr(port_start)));
  testing::TcpProxy proxy(pg_port);
  std::string proxied_url = pg_url.substr(0, port_start) + std::to_string(proxy.port()) +
                            pg_url.substr(pg_url.find('/', port_start));
  std::string config = write_config(proxied_url, testing::require_service_env("CRMSYNC_KAFKA_BROKERS"));
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  auto ready = wait_for_readyz(200, seconds(60));
  ASSERT_TRUE(ready && ready->status == 200) << crmsync.output();

  proxy.cut();
  auto lost = wait_for_readyz(503, seconds(30));
  ASSERT_TRUE(lost && lost->status == 503) << crmsync.output();
  EXPECT_THAT(lost->body, HasSubstr("\"state_db\":{\"up\":false"));
  testing::expect_no_secrets_in("/readyz", lost->body);
  EXPECT_FALSE(crmsync.wait_for_exit(milliseconds(10)).has_value()) << "exited instead of retrying";

  proxy.restore();
  auto back = wait_for_readyz(200, seconds(30));
  ASSERT_TRUE(back && back->status == 200) << crmsync.output();
  EXPECT_THAT(crmsync.output(), HasSubstr("dependency up dependency=state_db"));
  expect_no_secrets_in_metrics();

  crmsync.send_signal(SIGTERM);
  EXPECT_EQ(crmsync.wait_for_exit(seconds(25)), 0) << crmsync.output();
  expect_no_secrets_in_output(crmsync);
}

TEST_F(CrmsyncProcess, SighupChangesTheLogLevelAndRejectsABrokenFile) {
  std::string pg = testing::require_service_env("CRMSYNC_PG_URL");
  std::string kafka = testing::require_service_env("CRMSYNC_KAFKA_BROKERS");
  // Starts at info on purpose: the reload switches it to debug.
  std::string config = write_config(pg, kafka, "", "info");
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config});
  ASSERT_TRUE(wait_for_readyz(200, seconds(60))) << crmsync.output();

  write_config(pg, kafka, "", "debug");
  crmsync.send_signal(SIGHUP);
  std::this_thread::sleep_for(seconds(2));
  EXPECT_THAT(crmsync.output(), HasSubstr("log level changed from=info to=debug"));

  std::ofstream(config) << "[kafka\n";
  crmsync.send_signal(SIGHUP);
  std::this_thread::sleep_for(seconds(2));
  EXPECT_THAT(crmsync.output(), HasSubstr("configuration reload rejected"));
  auto ready = testing::http_get(admin_port, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << "a rejected reload must not disturb the running daemon";
  expect_no_secrets_in_metrics();

  crmsync.send_signal(SIGTERM);
  EXPECT_EQ(crmsync.wait_for_exit(seconds(25)), 0) << crmsync.output();
  expect_no_secrets_in_output(crmsync);
}

TEST_F(CrmsyncProcess, NotifiesSystemdReadyAndStopping) {
  // A datagram socket standing in for systemd's NOTIFY_SOCKET.
  std::string socket_path = (dir / "notify.sock").string();
  int notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(notify_fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(notify_fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{1, 0};
  ::setsockopt(notify_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  std::string config = write_config(testing::require_service_env("CRMSYNC_PG_URL"),
                                    testing::require_service_env("CRMSYNC_KAFKA_BROKERS"));
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", config},
                       {{"NOTIFY_SOCKET", socket_path}, {"WATCHDOG_USEC", "2000000"}});
  // Without WATCHDOG_PID, sd_watchdog_enabled() takes WATCHDOG_USEC as meant for this process.
  std::string received;
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (std::chrono::steady_clock::now() < deadline &&
         !(received.find("READY=1") != std::string::npos &&
           received.find("WATCHDOG=1") != std::string::npos)) {
    char buffer[1024];
    ssize_t got = ::recv(notify_fd, buffer, sizeof buffer, 0);
    if (got > 0) received.append(buffer, static_cast<std::size_t>(got)).append("\n");
  }
  EXPECT_THAT(received, HasSubstr("READY=1"));
  EXPECT_THAT(received, HasSubstr("WATCHDOG=1"));
  expect_no_secrets_in_metrics();

  crmsync.send_signal(SIGTERM);
  EXPECT_EQ(crmsync.wait_for_exit(seconds(25)), 0) << crmsync.output();
  expect_no_secrets_in_output(crmsync);
  char buffer[1024];
  std::string after;
  ssize_t got = 0;
  while ((got = ::recv(notify_fd, buffer, sizeof buffer, 0)) > 0) {
    after.append(buffer, static_cast<std::size_t>(got)).append("\n");
  }
  EXPECT_THAT(received + after, HasSubstr("STOPPING=1"));
  testing::expect_no_secrets_in("the systemd notifications", received + after);
  ::close(notify_fd);
}

TEST_F(CrmsyncProcess, BadConfigurationIsRefusedWithExitCode2AndTheKeyNamed) {
  auto path = dir / "bad.toml";
  std::ofstream(path) << "[log]\nlevel = \"debug\"\n"
                      << "[state]\ndatabase_url = \"postgresql://crmsync@127.0.0.1/crmsync\"\n"
                      << "password_file = \"" << password_file.string() << "\"\n"
                      << "[kafka]\nbrokers = \"127.0.0.1:9092\"\nretries = 3\n";
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", path.string()});
  EXPECT_EQ(crmsync.wait_for_exit(seconds(10)), 2);
  EXPECT_THAT(crmsync.output(), HasSubstr("config: kafka.brokers: expected a list of strings"));
  EXPECT_THAT(crmsync.output(), HasSubstr("config: kafka.retries: unknown key"));
  EXPECT_THAT(crmsync.output(), Not(HasSubstr("starting")));
  expect_no_secrets_in_output(crmsync);
}

TEST_F(CrmsyncProcess, MissingRequiredKeyIsRefusedWithExitCode2) {
  auto path = dir / "missing.toml";
  std::ofstream(path) << "[log]\nlevel = \"debug\"\n[state]\npassword_file = \""
                      << password_file.string() << "\"\n[kafka]\nbrokers = [\"127.0.0.1:9092\"]\n";
  ChildProcess crmsync(CRMSYNC_BINARY, {"run", "--config", path.string()});
  EXPECT_EQ(crmsync.wait_for_exit(seconds(10)), 2);
  EXPECT_THAT(crmsync.output(), HasSubstr("config: state.database_url: required key is missing"));
  expect_no_secrets_in_output(crmsync);
}

TEST_F(CrmsyncProcess, UnknownSubcommandIsAUsageError) {
  ChildProcess crmsync(CRMSYNC_BINARY, {"frobnicate"});
  EXPECT_EQ(crmsync.wait_for_exit(seconds(10)), 2);
}

TEST_F(CrmsyncProcess, MigrateIsIdempotentAndSpeaksJson) {
  std::string config = write_config(testing::require_service_env("CRMSYNC_PG_URL"), "127.0.0.1:1");
  {
    ChildProcess dry(CRMSYNC_BINARY, {"migrate", "--config", config, "--dry-run", "--json"});
    EXPECT_EQ(dry.wait_for_exit(seconds(30)), 0) << dry.output();
    EXPECT_THAT(dry.output(), HasSubstr("\"dry_run\":true,\"version_before\":0"));
    expect_no_secrets_in_output(dry);
  }
  {
    ChildProcess first(CRMSYNC_BINARY, {"migrate", "--config", config});
    EXPECT_EQ(first.wait_for_exit(seconds(30)), 0) << first.output();
    EXPECT_THAT(first.output(), HasSubstr("applied"));
    expect_no_secrets_in_output(first);
  }
  ChildProcess second(CRMSYNC_BINARY, {"migrate", "--config", config, "--json"});
  EXPECT_EQ(second.wait_for_exit(seconds(30)), 0) << second.output();
  EXPECT_THAT(second.output(), HasSubstr("\"applied\":[]"));
  expect_no_secrets_in_output(second);
}

TEST_F(CrmsyncProcess, MigrateAgainstAnUnreachableDatabaseFailsWithOneLine) {
  std::string config = write_config("postgresql://crmsync@127.0.0.1:1/crmsync", "127.0.0.1:1");
  ChildProcess migrate(CRMSYNC_BINARY, {"migrate", "--config", config});
  EXPECT_EQ(migrate.wait_for_exit(seconds(30)), 1);
  EXPECT_THAT(migrate.output(), HasSubstr("crmsync migrate: connect to the state database"));
  expect_no_secrets_in_output(migrate);
}

}  // namespace
}  // namespace crmsync
