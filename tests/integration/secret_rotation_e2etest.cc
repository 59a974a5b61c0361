// Secret rotation in a syncing daemon (issue #8): `crmsync run` with every credential in the
// encrypted secret store, the PRM, both emulators and Kafka; `crmsync secrets rotate` tests a new
// value against the CRM and promotes it, or refuses it; refresh tokens that Salesforce rotates on
// use survive `kill -9`; and canary values never reach a log line, the journal or /metrics.

#include <atomic>
#include <mutex>
#include <sstream>

#include <rapidjson/document.h>

#include "tests/integration/sync_engine_fixture.h"
#include "tests/support/secret_canary.h"

namespace crmsync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;

// The sync fixture with every credential in the secret store: the configuration names no
// credential file, and the journal key is the store's `journal-hmac-key`.
class SecretRotation : public testing::SyncEngine {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SyncEngine::SetUp());
    ASSERT_EQ(cli({"secrets", "generate-master-key", "--out", master_key}).first, 0);
  }

  std::pair<int, std::string> cli(const std::vector<std::string>& args) {
    ChildProcess process(CRMSYNC_BINARY, args);
    auto code = process.wait_for_exit(seconds(90));
    std::string output = process.output();
    cli_outputs += output;
    return {code.value_or(-1), output};
  }
  std::pair<int, std::string> run_secrets(const std::vector<std::string>& args) {
    std::vector<std::string> full{"secrets"};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), {"--config", config});
    if (args.front() != "list") full.insert(full.end(), {"--operator", "ops-test"});
    return cli(full);
  }

  std::string value_file(const std::string& value) {
    auto path = (dir / testing::unique_name("value")).string();
    std::ofstream(path) << value;
    ::chmod(path.c_str(), 0600);
    return path;
  }

  // The fixture's configuration without credential files and journal key file, with [secrets].
  void write_store_config(const std::string& salesforce_auth_flow = "", bool debug = false) {
    config = write_config();
    std::ifstream in(config);
    std::string line, text;
    bool in_journal = false;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] == '[') in_journal = line == "[journal]";
      if (in_journal || line.rfind("client_secret_file", 0) == 0) continue;
      text += line + "\n";
      if (line == "[salesforce]" && !salesforce_auth_flow.empty()) {
        text += "auth_flow = \"" + salesforce_auth_flow + "\"\n";
      }
    }
    text += "[secrets]\nmaster_key_file = \"" + master_key + "\"\nreload_interval = \"1s\"\n";
    if (debug && text.find("[log]") == std::string::npos) text += "[log]\nlevel = \"debug\"\n";
    std::ofstream(config, std::ios::trunc) << text;
  }

  // The journal key first (nothing to journal with yet), then the CRM credentials (journaled).
  void put_credentials(const std::string& salesforce_secret, const std::string& dynamics_secret,
                       const std::string& journal_key_bytes = "secret-rotation-e2e-journal-key-32-bytes!") {
    auto journal = run_secrets({"put", "journal-hmac-key", "--from-file", value_file(testing::base64_of(journal_key_bytes))});
    ASSERT_EQ(journal.first, 0) << journal.second;
    EXPECT_THAT(journal.second, HasSubstr("audit table only"));
    auto sf = run_secrets({"put", "salesforce.client_secret", "--from-file", value_file(salesforce_secret)});
    ASSERT_EQ(sf.first, 0) << sf.second;
    EXPECT_THAT(sf.second, Not(HasSubstr("audit table only")));
    auto dv = run_secrets({"put", "dynamics.client_secret", "--from-file", value_file(dynamics_secret)});
    ASSERT_EQ(dv.first, 0) << dv.second;
  }

  std::string emulator_admin(Side side, const std::string& method, const std::string& path,
                             const std::string& body = "") {
    auto& emulator = side == Side::salesforce ? *salesforce_emulator : *dynamics_emulator;
    auto& transport = side == Side::salesforce ? *sf_transport : *dv_transport;
    auto answer = transport.send({method, emulator.base_url() + path, {{"Content-Type", "application/json"}}, body, path},
                                 std::chrono::steady_clock::now() + seconds(10));
    if (!answer) throw std::runtime_error(path + ": " + answer.error().message);
    if (answer.value().status >= 300) throw std::runtime_error(path + ": " + answer.value().body);
    return answer.value().body;
  }
  void accept_client_secret(Side side, const std::string& secret) {
    emulator_admin(side, "POST", "/_emulator/oauth/client-secrets", R"({"add":")" + secret + R"("})");
  }
  void revoke_client_secret(Side side, const std::string& secret) {
    emulator_admin(side, "POST", "/_emulator/oauth/client-secrets", R"({"remove":")" + secret + R"("})");
  }
  void expire_sessions() {
    emulator_admin(Side::salesforce, "POST", "/_emulator/tokens/expire");
    emulator_admin(Side::dynamics, "POST", "/_emulator/tokens/expire");
  }

  std::string metrics_with(const std::string& needle, seconds timeout = seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto metrics = testing::http_get(port, "/metrics");
      if (metrics && metrics->body.find(needle) != std::string::npos) return metrics->body;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return "";
  }

  int current_version(const std::string& secret) {
    std::string version = state_scalar("SELECT version FROM " + name + ".secret_versions WHERE name = $1 AND stage = "
                                       "'current'",
                                       {secret});
    return version.empty() ? 0 : std::stoi(version);
  }

  std::string master_key = (dir / "master.key").string();
  std::string config;
  std::string cli_outputs;
  const std::string old_secret = "old-client-secret-" + name;
};

TEST_F(SecretRotation, StagedClientSecretRotationWhileSyncingLosesNoChange) {
  accept_client_secret(Side::salesforce, old_secret);
  accept_client_secret(Side::dynamics, old_secret);
  write_store_config();
  ASSERT_NO_FATAL_FAILURE(put_credentials(old_secret, old_secret));
  ASSERT_NO_FATAL_FAILURE(start(config));

  // The portal keeps changing while the secrets are rotated.
  std::atomic<bool> writing{true};
  std::mutex mutex;
  std::vector<std::string> accounts;
  auto written = [&] {
    std::lock_guard lock(mutex);
    return accounts.size();
  };
  std::thread writer([&] {
    for (int i = 0; writing; ++i) {
      std::string id = insert_account("rotating " + std::to_string(i));
      {
        std::lock_guard lock(mutex);
        accounts.push_back(id);
      }
      std::this_thread::sleep_for(milliseconds(150));
    }
  });
  bool written_before = eventually([&] { return written() >= 3; }, seconds(30));
  // A new secret is created on each CRM (both stay valid for now), then staged, tested, promoted.
  const std::string next_secret = "next-client-secret-" + name;
  accept_client_secret(Side::salesforce, next_secret);
  accept_client_secret(Side::dynamics, next_secret);
  auto sf = run_secrets({"rotate", "salesforce.client_secret", "--from-file", value_file(next_secret)});
  auto dv = run_secrets({"rotate", "dynamics.client_secret", "--from-file", value_file(next_secret)});
  bool switched = !metrics_with("crmsync_secret_current_version{name=\"salesforce.client_secret\"} 2").empty() &&
                  !metrics_with("crmsync_secret_current_version{name=\"dynamics.client_secret\"} 2").empty();
  // The daemon serves the new secrets now (the metric is published after the reload). The CRMs
  // drop the old secret and every session: from now on only the new secret authenticates, and
  // the writes that follow must get through with it.
  std::size_t at_switch = written();
  if (switched) {
    revoke_client_secret(Side::salesforce, old_secret);
    revoke_client_secret(Side::dynamics, old_secret);
    expire_sessions();
    at_switch = written();
  }
  bool written_after = eventually([&] { return written() >= at_switch + 5; }, seconds(30));
  writing = false;
  writer.join();
  ASSERT_TRUE(written_before);
  ASSERT_TRUE(written_after) << "writes after the switch: " << written() - at_switch;
  ASSERT_EQ(sf.first, 0) << sf.second;
  EXPECT_THAT(sf.second, HasSubstr("accepted; promoted to current"));
  ASSERT_EQ(dv.first, 0) << dv.second;
  EXPECT_THAT(dv.second, HasSubstr("accepted; promoted to current"));
  ASSERT_TRUE(switched) << crmsync->output();

  // Every change made before, during and after the rotation arrives on both CRMs.
  for (const auto& account : accounts) {
    ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "billing_country", "DE")) << crmsync->output();
    ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "billing_country", "DE")) << crmsync->output();
  }
  // And the other direction, with sessions that only the new secret could have opened.
  crm_edit(Side::salesforce, ObjectKind::account, accounts.front(), {{"Website", FieldValue::string_value("https://after.example")}});
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::account, accounts.front(), "website", "https://after.example"))
      << crmsync->output();
  EXPECT_EQ(journal_count("dead_lettered"), 0) << crmsync->output();
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'secret' AND actor = "
                         "'operator:ops-test' AND detail LIKE '%\"action\":\"promote\"%'"),
            "2");
  EXPECT_THAT(crmsync->output(), HasSubstr("secret rotated; the new current version is used from the next request on "
                                           "secret=salesforce.client_secret version=2"));
  stop();
}

TEST_F(SecretRotation, AFailedTestLeavesTheCurrentSecretWorkingAndExitsOneWithTheCrmsReason) {
  accept_client_secret(Side::salesforce, old_secret);
  accept_client_secret(Side::dynamics, old_secret);
  write_store_config();
  ASSERT_NO_FATAL_FAILURE(put_credentials(old_secret, old_secret));
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string before = insert_account("before the failed rotation");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, before, "billing_country", "DE")) << crmsync->output();

  const std::string wrong = "wrong-client-secret-" + name;
  auto sf = run_secrets({"rotate", "salesforce.client_secret", "--from-file", value_file(wrong)});
  EXPECT_EQ(sf.first, 1) << sf.second;
  EXPECT_THAT(sf.second, HasSubstr("failed its test against the CRM"));
  EXPECT_THAT(sf.second, HasSubstr("HTTP 400: invalid_client: invalid client credentials"));
  EXPECT_THAT(sf.second, HasSubstr("current version is unchanged"));
  auto dv = run_secrets({"rotate", "dynamics.client_secret", "--from-file", value_file(wrong)});
  EXPECT_EQ(dv.first, 1) << dv.second;
  EXPECT_THAT(dv.second, HasSubstr("HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided"));

  auto list = run_secrets({"list", "--json"});
  ASSERT_EQ(list.first, 0) << list.second;
  EXPECT_THAT(list.second, HasSubstr(R"("name":"salesforce.client_secret","version":1,"stage":"current")"));
  EXPECT_THAT(list.second, HasSubstr(R"("name":"salesforce.client_secret","version":2,"stage":"destroyed")"));
  EXPECT_THAT(list.second, HasSubstr(R"("name":"dynamics.client_secret","version":2,"stage":"destroyed")"));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'secret' AND detail LIKE "
                         "'%\"action\":\"discard\"%refused by the CRM%invalid_client%'"),
            "2");

  // New sessions are opened with the current secret, which still works: the sync goes on.
  expire_sessions();
  std::string after = insert_account("after the failed rotation");
  EXPECT_TRUE(wait_for(Side::salesforce, ObjectKind::account, after, "billing_country", "DE")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, after, "billing_country", "DE")) << crmsync->output();
  stop();
  EXPECT_THAT(cli_outputs, Not(HasSubstr(wrong)));
  EXPECT_THAT(cli_outputs, Not(HasSubstr(old_secret)));
}

TEST_F(SecretRotation, ACrmThatCannotBeReachedLeavesTheNewValuePendingAndExitsOne) {
  accept_client_secret(Side::salesforce, old_secret);
  accept_client_secret(Side::dynamics, old_secret);
  write_store_config();
  ASSERT_NO_FATAL_FAILURE(put_credentials(old_secret, old_secret));
  const std::string next_secret = "next-client-secret-" + name;
  accept_client_secret(Side::salesforce, next_secret);
  emulator_admin(Side::salesforce, "POST", "/_emulator/faults",
                 R"({"method":"POST","path":"/services/oauth2/token","status":503})");
  auto started = std::chrono::steady_clock::now();
  auto sf = run_secrets({"rotate", "salesforce.client_secret", "--from-file", value_file(next_secret), "--test-timeout",
                         "3"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(30)) << "--test-timeout bounds the test";
  EXPECT_EQ(sf.first, 1) << sf.second;
  EXPECT_THAT(sf.second, HasSubstr("could not be tested against the CRM"));
  EXPECT_THAT(sf.second, HasSubstr("HTTP 503"));
  EXPECT_THAT(sf.second, HasSubstr("it stays pending and the current version is unchanged"));
  auto list = run_secrets({"list", "--json"});
  ASSERT_EQ(list.first, 0) << list.second;
  EXPECT_THAT(list.second, HasSubstr(R"("name":"salesforce.client_secret","version":1,"stage":"current")"));
  EXPECT_THAT(list.second, HasSubstr(R"("name":"salesforce.client_secret","version":2,"stage":"pending")"));

  // Once the CRM answers again, the operator promotes it.
  emulator_admin(Side::salesforce, "DELETE", "/_emulator/faults");
  auto promoted = run_secrets({"promote", "salesforce.client_secret"});
  EXPECT_EQ(promoted.first, 0) << promoted.second;
  EXPECT_EQ(current_version("salesforce.client_secret"), 2);
  EXPECT_THAT(cli_outputs, Not(HasSubstr(next_secret)));
}

// Salesforce with the refresh_token flow and refresh-token rotation on use (the connected app's
// "refresh token rotation" policy).
class RefreshTokenRotation : public SecretRotation {
 protected:
  RefreshTokenRotation() { salesforce_emulator_args = {"--rotate-refresh-tokens"}; }
};

TEST_F(RefreshTokenRotation, EveryPersistedRefreshTokenSurvivesKill9) {
  accept_client_secret(Side::salesforce, old_secret);
  accept_client_secret(Side::dynamics, old_secret);
  write_store_config("refresh_token");
  ASSERT_NO_FATAL_FAILURE(put_credentials(old_secret, old_secret));
  // The refresh token an administrator obtained by authorizing the integration user. Its test
  // uses it up: the emulator rotates it, and the replacement becomes current at once.
  rapidjson::Document issued;
  issued.Parse(emulator_admin(Side::salesforce, "POST", "/_emulator/oauth/refresh-token", "{}").c_str());
  const std::string first_token = issued["refresh_token"].GetString();
  auto rotated = run_secrets({"rotate", "salesforce.refresh_token", "--from-file", value_file(first_token)});
  ASSERT_EQ(rotated.first, 0) << rotated.second;
  EXPECT_THAT(rotated.second, HasSubstr("rotated by the CRM on use; its replacement v2 is now current"));

  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_NO_FATAL_FAILURE(start(config));
    std::string account = insert_account("refresh round " + std::to_string(round));
    ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "billing_country", "DE")) << crmsync->output();
    // The session expires; the daemon's next Salesforce call renews it, and Salesforce rotates
    // the refresh token again. Killed as soon as the new token is persisted: the restarted
    // daemon must authenticate with it (every older one is dead).
    int before = current_version("salesforce.refresh_token");
    emulator_admin(Side::salesforce, "POST", "/_emulator/tokens/expire");
    ASSERT_TRUE(eventually([&] { return current_version("salesforce.refresh_token") > before; }, seconds(30)))
        << crmsync->output();
    crmsync->send_signal(SIGKILL);
    ASSERT_TRUE(crmsync->wait_for_exit(seconds(10)).has_value());
    crmsync.reset();
  }
  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string last = insert_account("refresh after the kills");
  EXPECT_TRUE(wait_for(Side::salesforce, ObjectKind::account, last, "billing_country", "DE")) << crmsync->output();
  EXPECT_EQ(journal_count("dead_lettered"), 0) << crmsync->output();
  // Each rotation the daemon stored is journaled as the daemon's own action.
  EXPECT_GE(std::stoi(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'secret' AND actor LIKE "
                                   "'daemon:%' AND detail LIKE '%\"secret\":\"salesforce.refresh_token\"%' AND detail "
                                   "LIKE '%\"action\":\"put\"%'")),
            6);
  stop();
}

TEST_F(RefreshTokenRotation, ARefreshTokenTheCrmAcceptedButThatCouldNotBeStoredIsNeverDiscarded) {
  accept_client_secret(Side::salesforce, old_secret);
  accept_client_secret(Side::dynamics, old_secret);
  write_store_config("refresh_token");
  ASSERT_NO_FATAL_FAILURE(put_credentials(old_secret, old_secret));
  // The store refuses the refresh token the CRM issues during the test (a pending one is stored).
  state_scalar("CREATE FUNCTION " + name + ".refuse_refresh_tokens() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
               "IF NEW.name = 'salesforce.refresh_token' AND NEW.stage = 'current' THEN RAISE EXCEPTION "
               "'crmsync test: refresh tokens refused'; END IF; RETURN NEW; END$$");
  state_scalar("CREATE TRIGGER refuse_refresh_tokens BEFORE INSERT ON " + name +
               ".secret_versions FOR EACH ROW EXECUTE FUNCTION " + name + ".refuse_refresh_tokens()");
  rapidjson::Document issued;
  issued.Parse(emulator_admin(Side::salesforce, "POST", "/_emulator/oauth/refresh-token", "{}").c_str());
  const std::string token = issued["refresh_token"].GetString();
  auto rotated = run_secrets({"rotate", "salesforce.refresh_token", "--from-file", value_file(token)});
  EXPECT_EQ(rotated.first, 1) << rotated.second;
  EXPECT_THAT(rotated.second, HasSubstr("accepted by the CRM but not stored"));
  EXPECT_THAT(rotated.second, HasSubstr("refresh tokens refused"));
  EXPECT_THAT(rotated.second, HasSubstr("it stays pending"));
  EXPECT_THAT(rotated.second, Not(HasSubstr("discarded")));
  EXPECT_EQ(state_scalar("SELECT stage FROM " + name + ".secret_versions WHERE name = 'salesforce.refresh_token'"),
            "pending");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".secret_audit WHERE action = 'discard'"), "0");
  EXPECT_THAT(cli_outputs, Not(HasSubstr(token)));
}

TEST_F(SecretRotation, CanaryValuesNeverReachLogsJournalOrMetrics) {
  const std::string sf_canary = "canary+SF/client=secret 7f3a&9";
  const std::string sf_next_canary = "canary+SF2/rotated=secret 5e1d&0";
  const std::string dv_canary = "canary+DV/client=secret 2b8c&4";
  const std::string wrong_canary = "canary+WRONG/secret=c0ffee&1";
  const std::string journal_key_canary = "canary-journal-hmac-key-bytes-3e9f7a!";
  accept_client_secret(Side::salesforce, sf_canary);
  accept_client_secret(Side::salesforce, sf_next_canary);
  accept_client_secret(Side::dynamics, dv_canary);
  write_store_config("", /*debug=*/true);
  ASSERT_NO_FATAL_FAILURE(put_credentials(sf_canary, dv_canary, journal_key_canary));
  ASSERT_NO_FATAL_FAILURE(start(config));

  // PRM → Salesforce and Dataverse.
  std::string account = insert_account("canary");
  std::string deal = insert_deal(account, "canary deal", "700");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "700.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "700.00")) << crmsync->output();
  // Salesforce → PRM and Dataverse.
  crm_edit(Side::salesforce, ObjectKind::deal, deal, {{"Amount", FieldValue::number_value("800")}});
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "amount", "800.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "800.00")) << crmsync->output();
  // A rotation that passes and one that fails, then new sessions with the rotated secret.
  auto good = run_secrets({"rotate", "salesforce.client_secret", "--from-file", value_file(sf_next_canary)});
  ASSERT_EQ(good.first, 0) << good.second;
  auto bad = run_secrets({"rotate", "dynamics.client_secret", "--from-file", value_file(wrong_canary)});
  ASSERT_EQ(bad.first, 1) << bad.second;
  ASSERT_FALSE(metrics_with("crmsync_secret_current_version{name=\"salesforce.client_secret\"} 2").empty());
  revoke_client_secret(Side::salesforce, sf_canary);
  expire_sessions();
  // Dataverse → PRM and Salesforce, and the PRM again, on the new sessions.
  crm_edit(Side::dynamics, ObjectKind::deal, deal, {{"name", FieldValue::string_value(name + " canary renamed")}});
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "name", name + " canary renamed")) << crmsync->output();
  scalar("UPDATE prm.deals SET amount = 900, modified_by_kind = 'internal_user' WHERE id = $1 RETURNING id", {deal});
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "900.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "900.00")) << crmsync->output();

  std::string metrics = metrics_with("crmsync_secret_age_seconds{name=\"salesforce.client_secret\"}");
  ASSERT_FALSE(metrics.empty());
  EXPECT_THAT(metrics, HasSubstr("crmsync_secret_rotation_due{name=\"dynamics.client_secret\"} 0"));
  // What operators see of the running daemon: `crmsync status` and its heartbeat rows.
  const std::string status = cli({"status", "--config", config, "--json"}).second;
  EXPECT_THAT(status, HasSubstr("salesforce.client_secret"));
  const std::string heartbeats = state_scalar("SELECT string_agg(row_to_json(h)::text, E'\\n') FROM " + name +
                                              ".daemon_heartbeats h");
  EXPECT_FALSE(heartbeats.empty());
  crmsync->send_signal(SIGTERM);
  EXPECT_EQ(crmsync->wait_for_exit(seconds(40)), 0);
  const std::string logs = crmsync->output() + cli_outputs;
  crmsync.reset();
  const std::string journal =
      state_scalar("SELECT string_agg(concat_ws('|', seq, recorded_at, kind, actor, object, record_id, source, event_id, "
                   "policy, detail, encode(prev_hash, 'hex'), encode(hash, 'hex')), E'\\n' ORDER BY seq) FROM " +
                   name + ".journal");
  const std::string audit = state_scalar("SELECT string_agg(concat_ws('|', operator, action, name, version, from_stage, "
                                         "to_stage, detail), E'\\n' ORDER BY id) FROM " + name + ".secret_audit");

  // The scenario really ran at debug level and recorded what it should.
  EXPECT_THAT(logs, HasSubstr("\"level\":\"debug\""));
  EXPECT_THAT(journal, HasSubstr("|applied|"));
  EXPECT_THAT(journal, HasSubstr("\"action\":\"promote\""));
  EXPECT_THAT(journal, HasSubstr("\"action\":\"discard\""));
  EXPECT_THAT(bad.second, HasSubstr("AADSTS7000215"));
  const std::string master_key_text = [&] {
    std::ifstream in(master_key);
    std::string text;
    std::getline(in, text);
    return text;
  }();
  ASSERT_FALSE(master_key_text.empty());
  for (const auto& canary : {sf_canary, sf_next_canary, dv_canary, wrong_canary, journal_key_canary,
                             testing::base64_of(journal_key_canary), master_key_text}) {
    for (const auto& form : testing::leak_forms(canary)) {
      SCOPED_TRACE("canary form \"" + form + "\"");
      EXPECT_EQ(logs.find(form), std::string::npos);
      EXPECT_EQ(journal.find(form), std::string::npos);
      EXPECT_EQ(audit.find(form), std::string::npos);
      EXPECT_EQ(metrics.find(form), std::string::npos);
      EXPECT_EQ(status.find(form), std::string::npos);
      EXPECT_EQ(heartbeats.find(form), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace crmsync
