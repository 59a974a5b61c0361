#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "state/journal.h"
#include "state/migrator.h"
#include "state/state_database.h"
#include "tests/support/child_process.h"
#include "tests/support/secret_canary.h"
#include "tests/support/service_env.h"

namespace crmsync {
namespace {

using std::chrono::seconds;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::kJournalKey;
using ::testing::Not;

// `crmsync journal verify|show|explain` against the real state database: entries are appended
// through the library (as the engine does), the commands run as the built binary. The journal key
// and the database password are canaries (tests/support/secret_canary.h), the configuration asks
// for debug logging, and no command's output nor any journal column may hold a canary.
class JournalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    schema = testing::unique_name("crmsync_journal_cli");
    dir = std::filesystem::temp_directory_path() / schema;
    std::filesystem::create_directories(dir);
    password_file = write_private("db_password", testing::kDatabasePassword);
    key_file = write_private("journal.key", std::string(kJournalKey) + "\n");
    config = write_config("[journal]\nkey_file = \"" + key_file + "\"\n");

    state::StateDatabaseSettings settings;
    settings.url = testing::require_service_env("CRMSYNC_PG_URL");
    settings.schema = schema;
    auto db = state::StateDatabase::connect(settings);
    ASSERT_TRUE(db.ok()) << db.error().message;
    database = std::move(db).value();
    ASSERT_TRUE(state::migrate(*database, state::embedded_migrations(), state::DryRun::no).ok());
    auto key = state::decode_journal_key(mapping::SecretString(kJournalKey));
    ASSERT_TRUE(key.ok()) << key.error().message;
    auto appended = state::append_journal(
        *database, key.value(),
        {{"applied", "partner_user:7", "deal", "D1", "prm", "prm:e1", "",
          R"({"fields":{"amount":{"before":"100.00","after":"120.00"}}})"},
         {"applied", "integration:sf", "deal", "D1", "salesforce", "sf:e2", "",
          R"({"fields":{"stage":{"after":"won"}}})"},
         {"conflict_resolved", "daemon:test", "deal", "D1", "daemon", "", "crm_wins",
          R"({"fields":{"amount":{"before":"120.00","after":120.50}},"reason":"both sides changed amount"})"}});
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  }
  void TearDown() override {
    testing::expect_no_secrets_in("crmsync's output", cli_outputs, own_secrets);
    if (database) {
      auto journal = database->execute(
          "SELECT string_agg(concat_ws('|', seq, recorded_at, kind, actor, object, record_id, "
          "source, event_id, "
          "policy, detail, encode(prev_hash, 'hex'), encode(hash, 'hex')), E'\\n' ORDER BY seq) "
          "FROM " +
          schema + ".journal");
      EXPECT_TRUE(journal.ok()) << journal.error().message;
      if (journal.ok() && !journal.value().empty()) {
        testing::expect_no_secrets_in("the journal", journal.value()[0][0].value_or(""),
                                      own_secrets);
      }
    }
    if (database) (void)database->execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    std::filesystem::remove_all(dir);
  }

  std::string write_private(const std::string& name, const std::string& text) {
    auto path = (dir / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path;
  }

  std::string write_config(const std::string& extra, const std::string& name = "crmsync.toml") {
    auto path = (dir / name).string();
    std::ofstream(path) << "[log]\nlevel = \"debug\"\n[state]\ndatabase_url = \""
                        << testing::require_service_env("CRMSYNC_PG_URL")
                        << "\"\npassword_file = \"" << password_file << "\"\nschema = \"" << schema
                        << "\"\n[kafka]\nbrokers = [\""
                        << testing::require_service_env("CRMSYNC_KAFKA_BROKERS") << "\"]\n"
                        << extra;
    return path;
  }

  std::pair<int, std::string> cli(const std::vector<std::string>& args) {
    ChildProcess process(CRMSYNC_BINARY, args);
    auto code = process.wait_for_exit(seconds(60));
    cli_outputs += process.output();
    return {code.value_or(-1), process.output()};
  }

  void tamper(const std::string& sql) {
    for (const std::string& statement :
         {"ALTER TABLE " + schema + ".journal DISABLE TRIGGER USER", sql,
          "ALTER TABLE " + schema + ".journal ENABLE TRIGGER USER"}) {
      auto done = database->execute(statement);
      ASSERT_TRUE(done.ok()) << done.error().message;
    }
  }

  std::string schema;
  std::filesystem::path dir;
  std::string password_file;
  std::string key_file;
  std::string config;
  std::string cli_outputs;               // of every crmsync command the test ran
  std::vector<std::string> own_secrets;  // the test's own secrets besides the canaries
  std::unique_ptr<state::StateDatabase> database;
};

TEST_F(JournalCli, VerifySucceedsThenNamesTheTamperedEntry) {
  auto intact = cli({"journal", "verify", "--config", config});
  EXPECT_EQ(intact.first, 0) << intact.second;
  EXPECT_THAT(intact.second, HasSubstr("journal intact: 3 entries checked"));
  auto intact_json = cli({"journal", "verify", "--json", "--config", config});
  EXPECT_EQ(intact_json.first, 0) << intact_json.second;
  EXPECT_THAT(intact_json.second,
              HasSubstr(R"({"intact":true,"entries_checked":3,"first_bad_seq":null,"reason":""})"));

  tamper("UPDATE " + schema + ".journal SET detail = replace(detail, 'won', 'lost') WHERE seq = 2");
  auto broken = cli({"journal", "verify", "--config", config});
  EXPECT_EQ(broken.first, 1) << broken.second;
  EXPECT_THAT(broken.second,
              HasSubstr("journal broken at seq 2: journal entry 2 does not match its hash"));
  auto broken_json = cli({"journal", "verify", "--json", "--config", config});
  EXPECT_EQ(broken_json.first, 1) << broken_json.second;
  EXPECT_THAT(broken_json.second,
              HasSubstr(R"("intact":false,"entries_checked":2,"first_bad_seq":2,)"));
}

TEST_F(JournalCli, ShowListsARecordsEntriesOldestFirst) {
  auto shown = cli({"journal", "show", "--record", "deal:D1", "--config", config});
  EXPECT_EQ(shown.first, 0) << shown.second;
  std::size_t first = shown.second.find("event=prm:e1");
  std::size_t third = shown.second.find("policy=crm_wins");
  EXPECT_THAT(shown.second,
              HasSubstr("applied actor=partner_user:7 source=prm event=prm:e1 detail={\"fields\""));
  EXPECT_THAT(shown.second,
              HasSubstr("conflict_resolved actor=daemon:test source=daemon policy=crm_wins"));
  EXPECT_LT(first, third) << "oldest first";

  auto newest =
      cli({"journal", "show", "--record", "deal:D1", "--limit", "1", "--json", "--config", config});
  EXPECT_EQ(newest.first, 0) << newest.second;
  EXPECT_THAT(newest.second, HasSubstr(R"({"record":"deal:D1","entries":[{"seq":3,)"));
  EXPECT_THAT(newest.second,
              HasSubstr(R"("detail":{"fields":{"amount":{"before":"120.00","after":120.50}})"));
  EXPECT_THAT(newest.second, Not(HasSubstr("\"seq\":2")));

  auto nothing = cli({"journal", "show", "--record", "deal:D404", "--config", config});
  EXPECT_EQ(nothing.first, 1) << nothing.second;
  EXPECT_THAT(nothing.second, HasSubstr("no journal entries for deal:D404"));
}

TEST_F(JournalCli, ExplainNamesTheEntryThatSetTheField) {
  auto amount =
      cli({"journal", "explain", "--record", "deal:D1", "--field", "amount", "--config", config});
  EXPECT_EQ(amount.first, 0) << amount.second;
  EXPECT_THAT(amount.second, HasSubstr(R"(deal:D1 amount: {"before":"120.00","after":120.50})"));
  EXPECT_THAT(amount.second, HasSubstr("set by journal entry 3 "));

  auto stage = cli({"journal", "explain", "--record", "deal:D1", "--field", "stage", "--json",
                    "--config", config});
  EXPECT_EQ(stage.first, 0) << stage.second;
  EXPECT_THAT(
      stage.second,
      HasSubstr(
          R"({"record":"deal:D1","field":"stage","change":{"after":"won"},"entry":{"seq":2,)"));

  auto unknown = cli(
      {"journal", "explain", "--record", "deal:D1", "--field", "close_date", "--config", config});
  EXPECT_EQ(unknown.first, 1) << unknown.second;
  EXPECT_THAT(unknown.second, HasSubstr("no journal entry set close_date of deal:D1"));
}

TEST_F(JournalCli, UsageAndKeyProblemsExitWith2) {
  EXPECT_EQ(cli({"journal", "show", "--config", config}).first, 2) << "--record is required";
  auto bad_record = cli({"journal", "show", "--record", "D1", "--config", config});
  EXPECT_EQ(bad_record.first, 2);
  EXPECT_THAT(bad_record.second, HasSubstr("expected OBJECT:ID"));
  EXPECT_EQ(cli({"journal", "explain", "--record", "deal:D1", "--config", config}).first, 2)
      << "--field is required";
  EXPECT_EQ(cli({"journal", "--config", config}).first, 2);
  auto help = cli({"journal", "verify", "--help"});
  EXPECT_EQ(help.first, 0);
  EXPECT_THAT(help.second, HasSubstr("--json"));

  ::chmod(key_file.c_str(), 0644);
  auto readable = cli({"journal", "verify", "--config", config});
  EXPECT_EQ(readable.first, 2) << readable.second;
  EXPECT_THAT(readable.second, HasSubstr("chmod 600"));
  ::chmod(key_file.c_str(), 0600);

  std::string short_key = write_private("short.key", "c2hvcnQ=\n");
  auto too_short =
      cli({"journal", "verify", "--config",
           write_config("[journal]\nkey_file = \"" + short_key + "\"\n", "short.toml")});
  EXPECT_EQ(too_short.first, 2) << too_short.second;
  EXPECT_THAT(too_short.second, HasSubstr("too short"));
}

TEST_F(JournalCli, TheKeyComesFromTheSecretStoreAndItsAbsenceSaysHowToAddIt) {
  std::string master = (dir / "master.key").string();
  ASSERT_EQ(cli({"secrets", "generate-master-key", "--out", master}).first, 0);
  std::ifstream master_in(master);
  std::string master_key_text;
  std::getline(master_in, master_key_text);
  ASSERT_FALSE(master_key_text.empty());
  own_secrets.push_back(master_key_text);
  std::string store_config =
      write_config("[secrets]\nmaster_key_file = \"" + master + "\"\n", "store.toml");
  auto missing = cli({"journal", "verify", "--config", store_config});
  EXPECT_EQ(missing.first, 2) << missing.second;
  EXPECT_THAT(missing.second, HasSubstr("crmsync secrets put journal-hmac-key --from-file F"));

  auto put = cli(
      {"secrets", "put", "journal-hmac-key", "--from-file", key_file, "--config", store_config});
  ASSERT_EQ(put.first, 0) << put.second;
  auto verified = cli({"journal", "verify", "--config", store_config});
  EXPECT_EQ(verified.first, 0) << verified.second;
  EXPECT_THAT(verified.second, HasSubstr("journal intact: 3 entries checked"));
}

}  // namespace
}  // namespace crmsync
