#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/config.h"

namespace crmsync::daemon {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kMinimal = R"(
[state]
database_url = "postgresql://crmsync@127.0.0.1:5432/crmsync"
[kafka]
brokers = ["127.0.0.1:9092"]
)";

std::vector<std::string> problems_of(const std::string& text) {
  try {
    parse_config(text, "crmsync.toml");
  } catch (const ConfigError& error) {
    return error.problems();
  }
  return {};
}

TEST(Config, MinimalFileGetsDocumentedDefaults) {
  Config config = parse_config(kMinimal, "crmsync.toml");
  EXPECT_EQ(config.state.database_url, "postgresql://crmsync@127.0.0.1:5432/crmsync");
  EXPECT_EQ(config.state.schema, "crmsync");
  EXPECT_FALSE(config.state.password_file.has_value());
  EXPECT_THAT(config.kafka.brokers, ElementsAre("127.0.0.1:9092"));
  EXPECT_EQ(config.kafka.group_id, "crmsync-apply");
  EXPECT_EQ(config.admin.host, "127.0.0.1");
  EXPECT_EQ(config.admin.port, 9464);
  EXPECT_EQ(config.log.level, LogLevel::info);
  EXPECT_EQ(config.log.format, LogFormat::json);
  EXPECT_EQ(config.daemon.shutdown_grace, std::chrono::seconds(30));
  EXPECT_EQ(config.daemon.leader_retry_interval, std::chrono::seconds(5));
  EXPECT_FALSE(config.daemon.instance_id.empty());
}

TEST(Config, ShippedExampleIsValid) {
  Config config = load_config(std::string(CRMSYNC_SOURCE_DIR) + "/deploy/examples/crmsync.toml");
  EXPECT_FALSE(config.kafka.brokers.empty());
}

TEST(Config, EveryKeyIsRead) {
  Config config = parse_config(R"(
[daemon]
instance_id = "replica-7"
shutdown_grace = "45s"
health_check_interval = "2s"
dependency_timeout = "3s"
retry_initial_backoff = "250ms"
retry_max_backoff = "1m"
leader_retry_interval = "2s"
[log]
level = "debug"
format = "text"
[admin]
listen = "[::1]:9100"
[state]
database_url = "postgres://crmsync@db:5432/state?sslmode=verify-full"
password_file = "/run/credentials/crmsync.service/pg-password"
schema = "crmsync_blue"
connect_timeout = "10s"
[kafka]
brokers = ["k1:9092", "k2:9093"]
client_id = "crmsync-eu"
group_id = "crmsync-eu-apply"
topic_prefix = "eu.crmsync"
request_timeout = "15s"
)",
                               "crmsync.toml");
  EXPECT_EQ(config.daemon.instance_id, "replica-7");
  EXPECT_EQ(config.daemon.shutdown_grace, std::chrono::seconds(45));
  EXPECT_EQ(config.daemon.retry_initial_backoff, std::chrono::milliseconds(250));
  EXPECT_EQ(config.daemon.retry_max_backoff, std::chrono::minutes(1));
  EXPECT_EQ(config.daemon.leader_retry_interval, std::chrono::seconds(2));
  EXPECT_EQ(config.log.level, LogLevel::debug);
  EXPECT_EQ(config.log.format, LogFormat::text);
  EXPECT_EQ(config.admin.host, "::1");
  EXPECT_EQ(config.admin.port, 9100);
  EXPECT_EQ(config.state.password_file->string(), "/run/credentials/crmsync.service/pg-password");
  EXPECT_EQ(config.state.schema, "crmsync_blue");
  EXPECT_EQ(config.kafka.brokers.size(), 2u);
  EXPECT_EQ(config.kafka.topic_prefix, "eu.crmsync");
  EXPECT_EQ(config.kafka.request_timeout, std::chrono::seconds(15));
}

TEST(Config, SyntaxErrorNamesLineAndColumn) {
  EXPECT_THAT(problems_of("[state\ndatabase_url = 1\n"),
              ElementsAre(AllOf(HasSubstr("config: syntax error"), HasSubstr("crmsync.toml:1:"))));
}

TEST(Config, UnknownKeyIsNamedWithPositionAndSuggestion) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "client_idd = \"x\"\n"),
              ElementsAre("config: kafka.client_idd: unknown key; did you mean kafka.client_id? "
                          "(crmsync.toml:6)"));
}

TEST(Config, UnknownSectionIsNamed) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[kafak]\nbrokers = []\n"),
              ElementsAre("config: kafak: unknown key; did you mean kafka? (crmsync.toml:6)"));
}

TEST(Config, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[mappings]\nfile = \"m.toml\"\n"),
              ElementsAre("config: mappings: unknown key (crmsync.toml:6)"));
}

TEST(Config, ASecretValueInTheFileIsRefusedAndTheFileKeySuggested) {
  auto problems = problems_of(std::string(kMinimal) +
                              "[salesforce]\nlogin_url = \"https://login.salesforce.com\"\nclient_id = \"x\"\n"
                              "client_secret = \"s3cr3t-canary\"\n");
  EXPECT_THAT(problems, ElementsAre("config: salesforce.client_secret: unknown key; did you mean "
                                    "salesforce.client_secret_file? (crmsync.toml:9)"));
}

TEST(Config, WrongTypeIsNamedWithWhatWasFound) {
  EXPECT_THAT(problems_of(R"(
[state]
database_url = "postgresql://crmsync@127.0.0.1/crmsync"
[kafka]
brokers = "localhost:9092"
)"),
              ElementsAre("config: kafka.brokers: expected a list of strings, got string "
                          "\"localhost:9092\" (crmsync.toml:5)"));
}

TEST(Config, SectionThatIsNotATableIsNamed) {
  EXPECT_THAT(problems_of("log = \"debug\"\n" + std::string(kMinimal)),
              ElementsAre(HasSubstr("config: log: expected a table, got string \"debug\"")));
}

TEST(Config, MissingRequiredKeysAreNamed) {
  EXPECT_THAT(problems_of("[log]\nlevel = \"info\"\n"),
              ElementsAre("config: state.database_url: required key is missing (crmsync.toml)",
                          "config: kafka.brokers: required key is missing (crmsync.toml)"));
}

TEST(Config, OutOfRangeValuesAreNamedWithTheAllowedRange) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[daemon]\nshutdown_grace = \"2h\"\n"),
              ElementsAre("config: daemon.shutdown_grace: 2h is out of range; allowed 100ms to 10m "
                          "(crmsync.toml:7)"));
}

TEST(Config, LeaderRetryIntervalIsValidatedLikeTheOtherDurations) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[daemon]\nleader_retry_interval = \"10ms\"\n"),
              ElementsAre("config: daemon.leader_retry_interval: 10ms is out of range; allowed 100ms to 5m "
                          "(crmsync.toml:7)"));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[daemon]\nleader_retry_interval = \"often\"\n"),
              ElementsAre(HasSubstr("daemon.leader_retry_interval: expected a duration")));
}

TEST(Config, MalformedValuesAreNamed) {
  auto problems = problems_of(R"(
[daemon]
health_check_interval = "soon"
[log]
level = "verbose"
format = "xml"
[admin]
listen = "localhost"
[state]
database_url = "mysql://db/crmsync"
schema = "Bad-Name"
password_file = "relative/path"
[kafka]
brokers = ["localhost"]
group_id = "has space"
)");
  EXPECT_THAT(problems,
              ElementsAre(HasSubstr("daemon.health_check_interval: expected a duration"),
                          HasSubstr("log.level: expected one of"),
                          HasSubstr("log.format: expected \"json\" or \"text\""),
                          HasSubstr("admin.listen: expected host:port"),
                          HasSubstr("state.database_url: expected a postgresql:// URL"),
                          HasSubstr("state.password_file: expected an absolute path"),
                          HasSubstr("state.schema: expected a lower-case identifier"),
                          HasSubstr("kafka.brokers: expected a list of host:port, got \"localhost\""),
                          HasSubstr("kafka.group_id: expected 1 to 200")));
}

TEST(Config, PasswordInDatabaseUrlIsRefusedWithoutEchoingIt) {
  auto problems = problems_of(R"(
[state]
database_url = "postgresql://crmsync:hunter2-canary@db/crmsync"
[kafka]
brokers = ["127.0.0.1:9092"]
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("state.database_url: must not contain a password"));
  EXPECT_THAT(problems[0], Not(HasSubstr("hunter2-canary")));
}

TEST(Config, PasswordAsUrlParameterIsRefusedToo) {
  EXPECT_THAT(problems_of(R"(
[state]
database_url = "postgresql://crmsync@db/crmsync?password=hunter2"
[kafka]
brokers = ["127.0.0.1:9092"]
)"),
              ElementsAre(HasSubstr("must not contain a password")));
}

TEST(Config, RetryBoundsMustBeOrdered) {
  EXPECT_THAT(problems_of(std::string(kMinimal) +
                          "[daemon]\nretry_initial_backoff = \"10s\"\nretry_max_backoff = \"1s\"\n"),
              ElementsAre(HasSubstr("daemon.retry_max_backoff: must not be shorter")));
}

TEST(Config, PrmSectionIsOptionalAndValidated) {
  EXPECT_FALSE(parse_config(kMinimal, "crmsync.toml").prm.has_value());
  Config config = parse_config(std::string(kMinimal) + R"(
[prm]
database_url = "postgresql://crmsync_prm@portal-db/prm"
slot = "crmsync_eu"
status_interval = "5s"
retained_wal_warning = "512MiB"
)",
                               "crmsync.toml");
  ASSERT_TRUE(config.prm.has_value());
  EXPECT_EQ(config.prm->slot, "crmsync_eu");
  EXPECT_EQ(config.prm->publication, "crmsync_prm");
  EXPECT_EQ(config.prm->status_interval, std::chrono::seconds(5));
  EXPECT_EQ(config.prm->retained_wal_warning_bytes, 512LL << 20);

  EXPECT_THAT(problems_of(std::string(kMinimal) + R"(
[prm]
slot = "Has-Dash"
retained_wal_warning = "lots"
snapshot_batch_rows = 5
)"),
              ElementsAre(HasSubstr("prm.database_url: required key is missing"),
                          HasSubstr("prm.slot: expected 1 to 63 of a-z 0-9 _"),
                          HasSubstr("prm.snapshot_batch_rows: 5 is out of range"),
                          HasSubstr("prm.retained_wal_warning: expected a size")));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[prm]\ndatabase_url = \"postgresql://u:pw@h/prm\"\n"),
              ElementsAre(HasSubstr("prm.database_url: must not contain a password")));
}

TEST(Config, SecretsSectionNeedsAnAbsoluteMasterKeyPath) {
  Config config = parse_config(std::string(kMinimal) +
                                   "[secrets]\nmaster_key_file = \"/run/credentials/crmsync.service/master-key\"\n"
                                   "previous_grace = \"2d\"\n",
                               "crmsync.toml");
  ASSERT_TRUE(config.secrets.has_value());
  EXPECT_EQ(config.secrets->previous_grace, std::chrono::hours(48));
  EXPECT_EQ(config.secrets->reload_interval, std::chrono::seconds(10));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[secrets]\nmaster_key_file = \"key\"\n"),
              ElementsAre(HasSubstr("secrets.master_key_file: expected an absolute path")));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[secrets]\nmaster_key = \"c2VjcmV0\"\n"),
              ElementsAre(HasSubstr("secrets.master_key_file: required key is missing"),
                          HasSubstr("secrets.master_key: unknown key; did you mean secrets.master_key_file?")))
      << "a key value in the config itself is refused";
}

TEST(Config, SalesforceSectionIsValidated) {
  Config config = parse_config(std::string(kMinimal) + R"(
[salesforce]
login_url = "https://acme.my.salesforce.com/"
client_id = "3MVG9"
client_secret_file = "/run/credentials/crmsync.service/sf-secret"
api_budget_share = "40%"
)",
                               "crmsync.toml");
  ASSERT_TRUE(config.salesforce.has_value());
  EXPECT_EQ(config.salesforce->login_url, "https://acme.my.salesforce.com");
  EXPECT_EQ(config.salesforce->org, "acme.my.salesforce.com");
  EXPECT_DOUBLE_EQ(config.salesforce->api_budget_share, 0.4);
  EXPECT_TRUE(config.salesforce->capture);
  EXPECT_THAT(problems_of(std::string(kMinimal) + R"(
[salesforce]
login_url = "http://insecure"
auth_flow = "jwt_bearer"
api_budget_share = "150%"
)"),
              ElementsAre(HasSubstr("salesforce.login_url: expected an https:// URL"),
                          HasSubstr("salesforce.client_id: required key is missing"),
                          HasSubstr("salesforce.username: required when salesforce.auth_flow is jwt_bearer"),
                          HasSubstr("salesforce.api_budget_share: expected a percentage")));
}

TEST(Config, DynamicsSectionIsValidated) {
  Config config = parse_config(std::string(kMinimal) + R"(
[dynamics]
org_url = "https://contoso.crm4.dynamics.com/"
tenant = "contoso.onmicrosoft.com"
client_id = "00000000-0000-0000-0000-000000000001"
batch_size = 250
)",
                               "crmsync.toml");
  ASSERT_TRUE(config.dynamics.has_value());
  EXPECT_EQ(config.dynamics->org_url, "https://contoso.crm4.dynamics.com");
  EXPECT_EQ(config.dynamics->authority_url, "https://login.microsoftonline.com");
  EXPECT_EQ(config.dynamics->batch_size, 250);
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[dynamics]\norg_url = \"http://x\"\nbatch_size = 5000\n"),
              ElementsAre(HasSubstr("dynamics.org_url: expected an https:// URL"),
                          HasSubstr("dynamics.tenant: required key is missing"),
                          HasSubstr("dynamics.client_id: required key is missing"),
                          HasSubstr("dynamics.batch_size: 5000 is out of range")));
}

TEST(Config, JournalAndEngineSectionsAreOptional) {
  Config config = parse_config(kMinimal, "crmsync.toml");
  EXPECT_FALSE(config.journal.has_value());
  EXPECT_FALSE(config.engine.has_value()) << "no [engine], no apply workers";
}

TEST(Config, JournalAndEngineSectionsAreRead) {
  Config config = parse_config(std::string(kMinimal) + R"(
[journal]
key_file = "/run/credentials/crmsync.service/journal-key"
key_secret = "journal.hmac-2"
[engine]
mapping_file = "/etc/crmsync/mapping.toml"
batch_max_events = 2000
linger = "50ms"
delete_guard_max = 25
delete_guard_window = "10m"
enabled = false
)",
                               "crmsync.toml");
  ASSERT_TRUE(config.journal.has_value());
  EXPECT_EQ(config.journal->key_file->string(), "/run/credentials/crmsync.service/journal-key");
  EXPECT_EQ(config.journal->key_secret, "journal.hmac-2");
  ASSERT_TRUE(config.engine.has_value());
  EXPECT_EQ(config.engine->mapping_file->string(), "/etc/crmsync/mapping.toml");
  EXPECT_EQ(config.engine->batch_max_events, 2000);
  EXPECT_EQ(config.engine->linger, std::chrono::milliseconds(50));
  EXPECT_EQ(config.engine->delete_guard_max, 25);
  EXPECT_EQ(config.engine->delete_guard_window, std::chrono::minutes(10));
  EXPECT_FALSE(config.engine->enabled);
}

TEST(Config, EngineDefaultsWithTheKeyFromTheSecretStore) {
  Config config = parse_config(std::string(kMinimal) + "[secrets]\nmaster_key_file = \"/k\"\n[engine]\n", "crmsync.toml");
  ASSERT_TRUE(config.engine.has_value());
  EXPECT_FALSE(config.engine->mapping_file.has_value()) << "the built-in default mapping";
  EXPECT_EQ(config.engine->batch_max_events, 500);
  EXPECT_EQ(config.engine->linger, std::chrono::milliseconds(200));
  EXPECT_EQ(config.engine->delete_guard_max, 100);
  EXPECT_EQ(config.engine->delete_guard_window, std::chrono::minutes(5));
  EXPECT_TRUE(config.engine->enabled);
  EXPECT_FALSE(config.journal.has_value()) << "the key is the store's journal-hmac-key";
  EXPECT_EQ(JournalSection{}.key_secret, "journal-hmac-key");
}

TEST(Config, EngineWithoutAJournalKeyIsRefused) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[engine]\nbatch_max_events = 10\n"),
              ElementsAre(AllOf(HasSubstr("config: engine: needs the journal key: set journal.key_file"),
                                HasSubstr("crmsync secrets put journal-hmac-key --from-file F"),
                                HasSubstr("(crmsync.toml:6)"))));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[journal]\nkey_secret = \"jk\"\n[engine]\n"),
              ElementsAre(HasSubstr("config: journal: has no key: set journal.key_file, or configure [secrets] so that "
                                    "the key is read from the secret store as \"jk\"")));
  EXPECT_TRUE(problems_of(std::string(kMinimal) + "[journal]\nkey_file = \"/k\"\n[engine]\n").empty());
}

TEST(Config, JournalAndEngineValuesAreValidated) {
  auto problems = problems_of(std::string(kMinimal) + R"(
[journal]
key_file = "journal.key"
key_secret = "Journal Key"
[engine]
mapping_file = "mapping.toml"
batch_max_events = 0
linger = "soon"
delete_guard_max = 0
delete_guard_window = "30d"
enabled = "yes"
)");
  EXPECT_THAT(problems, ElementsAre(HasSubstr("journal.key_file: expected an absolute path"),
                                    HasSubstr("journal.key_secret: expected a secret name"),
                                    HasSubstr("engine.mapping_file: expected an absolute path"),
                                    HasSubstr("engine.batch_max_events: 0 is out of range; allowed 1 to 10000"),
                                    HasSubstr("engine.linger: expected a duration"),
                                    HasSubstr("engine.delete_guard_max: 0 is out of range"),
                                    HasSubstr("engine.delete_guard_window: 30d is out of range; allowed 1s to 7d"),
                                    HasSubstr("engine.enabled: expected true or false"),
                                    HasSubstr("config: journal: has no key")));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[engine]\nbatch_max_events = 10001\n[journal]\nkey_file = \"/k\"\n"),
              ElementsAre(HasSubstr("engine.batch_max_events: 10001 is out of range")));
}

TEST(Config, MisspelledJournalAndEngineKeysGetSuggestions) {
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[enigne]\nenabled = false\n"),
              ElementsAre("config: enigne: unknown key; did you mean engine? (crmsync.toml:6)"));
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[journal]\nkey = \"c2VjcmV0\"\nkey_file = \"/k\"\n"),
              ElementsAre("config: journal.key: unknown key; did you mean journal.key_file? (crmsync.toml:7)"))
      << "a key value in the config itself is refused";
  EXPECT_THAT(problems_of(std::string(kMinimal) + "[journal]\nkey_file = \"/k\"\n[engine]\nbatch_max_event = 5\n"),
              ElementsAre(HasSubstr("engine.batch_max_event: unknown key; did you mean engine.batch_max_events?")));
}

TEST(Config, MissingFileSaysHowToPointAtOne) {
  try {
    load_config("/nonexistent/crmsync.toml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("/nonexistent/crmsync.toml"), HasSubstr("--config")));
  }
}

}  // namespace
}  // namespace crmsync::daemon

namespace crmsync::daemon {
namespace {

TEST(Config, PermissionsSectionIsReadAndChecked) {
  Config config = parse_config(std::string(kMinimal) + R"(
[permissions]
principals_file = "/etc/crmsync/principals.toml"
directory_refresh = "10s"
sharing_sweep_interval = "2m"
anomaly_changes_per_minute = 0
quarantined_partner_orgs = ["0b7e5a3c-0000-4000-8000-000000000001"]
)",
                               "crmsync.toml");
  EXPECT_EQ(config.permissions.principals_file, "/etc/crmsync/principals.toml");
  EXPECT_EQ(config.permissions.directory_refresh, std::chrono::seconds(10));
  EXPECT_EQ(config.permissions.sharing_sweep_interval, std::chrono::minutes(2));
  EXPECT_EQ(config.permissions.anomaly_changes_per_minute, 0);
  EXPECT_EQ(config.permissions.anomaly_denied_per_hour, 20);
  EXPECT_EQ(config.permissions.quarantined_partner_orgs.size(), 1u);

  Config defaults = parse_config(kMinimal, "crmsync.toml");
  EXPECT_FALSE(defaults.permissions.principals_file);
  EXPECT_EQ(defaults.permissions.sharing_sweep_interval, std::chrono::seconds(60));

  auto problems = problems_of(std::string(kMinimal) + R"(
[permissions]
principals_file = "principals.toml"
sharing_sweep_interval = "0s"
anomaly_denied_per_hour = -1
)");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_THAT(problems[0], ::testing::HasSubstr("permissions.principals_file: expected an absolute path"));
  EXPECT_THAT(problems[1], ::testing::HasSubstr("permissions.sharing_sweep_interval"));
  EXPECT_THAT(problems[2], ::testing::HasSubstr("permissions.anomaly_denied_per_hour"));
}

}  // namespace
}  // namespace crmsync::daemon
