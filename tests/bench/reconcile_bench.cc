// `crmsync reconcile --object deal` over a large data set: wall time, records compared per
// second, API calls, API-limit refusals, peak RSS and progress lines, and whether it finds exactly
// the drift planted (deploy/dev/bench reconcile starts what it needs). Prints key=value lines for
// docs/performance.md; not a test.
//
//   crmsync_bench_reconcile [--deals N] [--side salesforce|dynamics] [--accounts A] [--crmsync
//   PATH]
//
// Set-up: two partner orgs with a partner user each (A and its user own every deal; B's
// principals exist so that B's access is partner access), in a principals file: each org as a
// Dataverse team, each user as a Salesforce and a Dataverse user. A accounts are synced by
// `crmsync run` (so that the state database resolves account references); the daemon is then
// stopped. The deals are seeded directly, in sync on both sides: PRM rows (SQL) and the CRM's
// copies (the emulator's /_emulator/seed: the same values, the PRM id, the account's CRM id and
// the sharing the PRM gives — on Salesforce user A as owner, on Dataverse team A as owner).
// Among the first N/5 deals ten drifts are planted: on the CRM, one deal per compared field with
// that field changed (name, account, amount, stage, close date, description, discount), a deal
// missing, a deal owned by B's principal instead of A's, and a deal whose PRM id the PRM lacks.
//
// The orgs have no Salesforce group on purpose: an org's sharing there is a Manual share row per
// record, and the Salesforce emulator scans its share table for every share row it creates, so
// seeding 50,000 of them takes over 20 minutes (the emulator's cost, not reconcile's). Reconcile
// still reads every record's owner and share rows on Salesforce; it finds none beyond the owner.
//
// `crmsync reconcile --side S --json` then runs twice: once with N/5 deals seeded, once with all
// N, so that the peak RSS at both sizes shows whether memory grows with N. Each run is one child
// process: wall time and peak RSS (ru_maxrss) from wait4, API calls from the emulator's counters,
// refusals from the rate-limited retries reconcile logs, progress lines from its stderr. The
// emulators keep their default API limits.
//
// Every run has its own partner orgs and users, state schema and topic prefix, and removes the PRM
// rows, the replication slot and the state schema at the end, also when it fails.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "connectors/http/http_transport.h"
#include "daemon/json_text.h"
#include "daemon/logging.h"
#include "tests/bench/bench_support.h"
#include "tests/support/child_process.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

namespace {

using namespace crmsync;
using daemon::json_quote;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kClientSecret = "crmsync-emulator-secret";  // the emulators' default
// base64 of 32 bytes: the journal's HMAC key for this benchmark's throw-away state schema.
constexpr const char* kJournalKey = "Y3Jtc3luYy1iZW5jaC1yZWNvbmNpbGUtam91cm5hbCE=";
constexpr std::array<const char*, 6> kStages = {"Prospecting",          "Qualification",
                                                "Proposal/Price Quote", "Negotiation/Review",
                                                "Closed Won",           "Closed Lost"};
constexpr const char* kTeamA = "a0000000-0000-4000-8000-0000000000ba";
constexpr const char* kTeamB = "b0000000-0000-4000-8000-0000000000bb";
constexpr const char* kDvUserA = "a1000000-0000-4000-8000-0000000000ba";
constexpr const char* kDvUserB = "b1000000-0000-4000-8000-0000000000bb";
constexpr long kSeedChunk = 5'000;

// A deal's values, derived from its index: the same on every side (numbers in the PRM's scale
// there, as JSON numbers on the CRMs).
struct DealValues {
  std::string name;
  std::size_t account = 0;  // index into the synced accounts
  std::string amount;       // 1000 + g + (g % 100) / 100
  std::string stage;
  std::string close_date;  // 2027-01-01 + (g % 365) days
  std::string discount;    // g % 20 + 0.5
};

constexpr const char* kDescription = "Deal seeded by the reconcile benchmark — préparé, ✓";

DealValues deal_values(const std::string& tag, long g, std::size_t accounts) {
  using namespace std::chrono;
  year_month_day close{sys_days{year{2027} / January / 1} + days{g % 365}};
  return {fmt::format("{} deal {}", tag, g),
          static_cast<std::size_t>(g) % accounts,
          fmt::format("{}.{:02}", 1000 + g, g % 100),
          kStages[static_cast<std::size_t>(g) % kStages.size()],
          fmt::format("{:04}-{:02}-{:02}", static_cast<int>(close.year()),
                      static_cast<unsigned>(close.month()), static_cast<unsigned>(close.day())),
          fmt::format("{}.5", g % 20)};
}

// The outcome of one child process run to its end.
struct Measured {
  int exit_code = -1;
  double wall_seconds = 0;
  double peak_rss_mb = 0;           // ru_maxrss of this child alone (wait4)
  double cpu_seconds = 0;           // its user + system time
  double emulator_cpu_seconds = 0;  // the CRM emulator's meanwhile
  std::string out;
  std::string err;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `program args` with stdout and stderr in files of `dir`; waits for it.
Measured run_measured(const std::string& program, const std::vector<std::string>& args,
                      const std::filesystem::path& dir) {
  auto out_path = dir / "child.out";
  auto err_path = dir / "child.err";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0 || err < 0) throw std::runtime_error("cannot create output files in " + dir.string());
  const auto started = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  int status = 0;
  rusage usage{};
  if (::wait4(pid, &status, 0, &usage) != pid)
    throw std::runtime_error("wait4 failed for " + program);
  Measured measured;
  measured.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  measured.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  measured.peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // kB on Linux
  auto seconds_of = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
  };
  measured.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  measured.out = read_file(out_path);
  measured.err = read_file(err_path);
  return measured;
}

// CPU time (user + system) used so far by this process's crm-emulator child serving `api`; -1 if
// there is none. It says how much of reconcile's wall time the emulator spent answering.
double emulator_cpu_seconds(const std::string& api) {
  const std::string wanted = std::string("--api") + '\0' + api + '\0';
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (read_file(entry.path() / "cmdline").find(wanted) == std::string::npos) continue;
    const std::string stat = read_file(entry.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
    // fields[1] is the parent (field 4), fields[11] and [12] utime and stime (fields 14 and 15).
    if (fields.size() < 13 || std::stol(fields[1]) != static_cast<long>(::getpid())) continue;
    return (std::stod(fields[11]) + std::stod(fields[12])) /
           static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return -1;
}

std::string tail(const std::string& text, std::size_t bytes = 4000) {
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

// An emulator's admin API (/_emulator/..., no authentication, not counted as API calls).
class EmulatorAdmin {
 public:
  EmulatorAdmin(const testing::CrmEmulator& emulator, std::shared_ptr<spdlog::logger> logger)
      : base_url_(emulator.base_url()),
        transport_(connectors::http::make_curl_transport({emulator.ca_file(), seconds(10), 2},
                                                         std::move(logger))) {}

  void seed(const std::string& records_json) {
    auto answer = transport_->send({"POST",
                                    base_url_ + "/_emulator/seed",
                                    {{"Content-Type", "application/json"}},
                                    R"({"records":)" + records_json + "}",
                                    "seed"},
                                   Clock::now() + std::chrono::minutes(30));
    if (!answer || answer.value().status != 200) {
      throw std::runtime_error("seeding " + base_url_ + ": " +
                               (answer ? "HTTP " + std::to_string(answer.value().status) + " " +
                                             tail(answer.value().body, 500)
                                       : answer.error().message));
    }
  }

  // Every row of `object`.
  rapidjson::Document records(const std::string& object) {
    auto answer =
        transport_->send({"GET", base_url_ + "/_emulator/records/" + object, {}, "", "records"},
                         Clock::now() + std::chrono::minutes(5));
    if (!answer || answer.value().status != 200)
      throw std::runtime_error("reading " + object + " from " + base_url_);
    rapidjson::Document json;
    json.Parse(answer.value().body.c_str());
    if (json.HasParseError() || !json.IsArray())
      throw std::runtime_error(object + " from " + base_url_ + ": not a JSON array");
    return json;
  }

  void reset_counters() { bench::reset_emulator_counters(*transport_, base_url_); }

  // total_requests, concurrency_refusals and the requests by route.
  rapidjson::Document stats() {
    auto answer = transport_->send({"GET", base_url_ + "/_emulator/stats", {}, "", "stats"},
                                   Clock::now() + seconds(10));
    rapidjson::Document json;
    if (answer) json.Parse(answer.value().body.c_str());
    if (!answer || json.HasParseError() || !json.IsObject())
      throw std::runtime_error("reading " + base_url_ + "/_emulator/stats");
    return json;
  }

 private:
  std::string base_url_;
  std::unique_ptr<connectors::http::HttpTransport> transport_;
};

// The field of `row` named `name`, as text ("" when absent or not a string).
std::string text_of(const rapidjson::Value& row, const char* name) {
  auto found = row.FindMember(name);
  return found != row.MemberEnd() && found->value.IsString() ? found->value.GetString() : "";
}

// A JSON value as its JSON text.
std::string json_value_text(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

// The PRM rows, slot, state schema, emulators, daemon and files of one run; removed when it ends,
// however it ends (the daemon stops first, while the emulators still answer).
struct RunResources {
  std::string tag = testing::unique_name("bench_rec");
  std::filesystem::path dir = std::filesystem::temp_directory_path() / tag;
  std::unique_ptr<state::StateDatabase> prm;
  std::vector<std::string> orgs;
  std::vector<std::string> users;
  std::unique_ptr<testing::CrmEmulator> salesforce;
  std::unique_ptr<testing::CrmEmulator> dynamics;
  std::unique_ptr<testing::ChildProcess> daemon;
  std::string state_url;

  void stop_daemon() {
    if (!daemon) return;
    daemon->send_signal(SIGTERM);
    if (!daemon->wait_for_exit(seconds(40))) daemon->send_signal(SIGKILL);
    (void)daemon->wait_for_exit(seconds(10));
    daemon.reset();
    if (prm) {
      (void)prm->execute(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = "
          "$1",
          {tag});
    }
  }

  ~RunResources() {
    stop_daemon();
    if (prm) {
      for (const auto& org : orgs) {
        (void)prm->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1", {org});
        (void)prm->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1", {org});
      }
      for (const auto& user : users)
        (void)prm->execute("DELETE FROM prm.partner_users WHERE id = $1", {user});
      for (const auto& org : orgs)
        (void)prm->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
    }
    if (!state_url.empty()) {
      try {
        (void)bench::connect(state_url)->execute("DROP SCHEMA IF EXISTS " + tag + " CASCADE");
      } catch (const std::exception& e) {
        std::cerr << "bench: cleanup: state schema " << tag << " not dropped: " << e.what() << '\n';
      }
    }
    std::filesystem::remove_all(dir);
  }
};

// What one `crmsync reconcile` run measured and found.
struct ReconcileRun {
  long deals = 0;
  Measured measured;
  long long prm_records = 0;
  long long crm_records = 0;
  long long api_calls = 0;
  long long refusals = 0;              // rate-limited retries reconcile logged
  long long concurrency_refusals = 0;  // the emulator's own count (Dataverse)
  std::string routes;                  // API requests by route
  long progress_lines = 0;
  std::map<std::string, std::set<std::string>>
      mine;                               // record -> finding kinds, for this run's records
  std::vector<std::string> mine_details;  // the findings, for a mismatch report
  long foreign = 0;                       // drifted records that are not this run's
};

long count_lines(const std::string& text, const std::string& needle) {
  long count = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) count += line.find(needle) != std::string::npos ? 1 : 0;
  return count;
}

int run(int argc, char** argv) {
  long deals = 50'000;
  std::string side = "salesforce";
  long accounts = 20;
  std::string crmsync = CRMSYNC_BINARY;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--deals")
      deals = std::atol(argv[i + 1]);
    else if (flag == "--side")
      side = argv[i + 1];
    else if (flag == "--accounts")
      accounts = std::atol(argv[i + 1]);
    else if (flag == "--crmsync")
      crmsync = argv[i + 1];
    else {
      std::cerr << "usage: crmsync_bench_reconcile [--deals N] [--side salesforce|dynamics] "
                   "[--accounts A] [--crmsync PATH]\n";
      return 2;
    }
  }
  if (argc % 2 == 0 || deals < 100 || accounts <= 0 ||
      (side != "salesforce" && side != "dynamics")) {
    std::cerr
        << "bench: --deals at least 100, --accounts positive, --side salesforce or dynamics\n";
    return 2;
  }
  const bool on_salesforce = side == "salesforce";
  const long small = deals / 5;

  RunResources run;
  const std::string& tag = run.tag;
  std::filesystem::create_directories(run.dir);
  auto secret_file = run.dir / "client_secret";
  auto journal_key_file = run.dir / "journal_key";
  auto principals_file = run.dir / "principals.toml";
  std::ofstream(secret_file) << kClientSecret;
  ::chmod(secret_file.c_str(), 0600);
  std::ofstream(journal_key_file) << kJournalKey;
  ::chmod(journal_key_file.c_str(), 0600);

  run.prm = bench::connect(bench::require_env("CRMSYNC_PRM_PG_URL"));
  state::StateDatabase& prm = *run.prm;
  for (const char* org : {"a", "b"}) {
    run.orgs.push_back(bench::scalar(
        prm, "INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id",
        {tag + " partner " + org}));
    run.users.push_back(bench::scalar(
        prm, "INSERT INTO prm.partner_users (partner_org_id, email) VALUES ($1, $2) RETURNING id",
        {run.orgs.back(), fmt::format("{}-{}@partner.test", tag, org)}));
  }
  const std::string org_a = run.orgs[0];
  const std::string user_a = run.users[0];

  // The emulators, with their default API limits; the partners' principals on each.
  run.salesforce = std::make_unique<testing::CrmEmulator>("salesforce");
  run.dynamics = std::make_unique<testing::CrmEmulator>("dynamics");
  daemon::Logging logging(daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>());
  EmulatorAdmin sf_admin(*run.salesforce, logging.logger("http"));
  EmulatorAdmin dv_admin(*run.dynamics, logging.logger("http"));
  const std::string sf_username_a = tag + "-a@sf.test";
  const std::string sf_username_b = tag + "-b@sf.test";
  sf_admin.seed(fmt::format(R"({{"User":[{{"Username":{},"LastName":"A","IsActive":true}},)"
                            R"({{"Username":{},"LastName":"B","IsActive":true}}]}})",
                            json_quote(sf_username_a), json_quote(sf_username_b)));
  std::string sf_user_a, sf_user_b;
  const auto sf_users = sf_admin.records("User");
  for (const auto& row : sf_users.GetArray()) {
    if (text_of(row, "Username") == sf_username_a) sf_user_a = text_of(row, "Id");
    if (text_of(row, "Username") == sf_username_b) sf_user_b = text_of(row, "Id");
  }
  if (sf_user_a.empty() || sf_user_b.empty())
    throw std::runtime_error("the Salesforce emulator does not show the seeded users");
  dv_admin.seed(fmt::format(
      R"({{"teams":[{{"teamid":"{}","name":"Partner A"}},{{"teamid":"{}","name":"Partner B"}}],)"
      R"("systemusers":[{{"systemuserid":"{}","fullname":"A"}},{{"systemuserid":"{}","fullname":"B"}}]}})",
      kTeamA, kTeamB, kDvUserA, kDvUserB));
  std::ofstream(principals_file) << "schema = 1\n"
                                 << "[[partner_org]]\nprm = \"" << org_a << "\"\ndynamics_team = \""
                                 << kTeamA << "\"\n"
                                 << "[[partner_org]]\nprm = \"" << run.orgs[1]
                                 << "\"\ndynamics_team = \"" << kTeamB << "\"\n"
                                 << "[[partner_user]]\nprm = \"" << user_a
                                 << "\"\nsalesforce_user = \"" << sf_user_a
                                 << "\"\ndynamics_user = \"" << kDvUserA << "\"\n"
                                 << "[[partner_user]]\nprm = \"" << run.users[1]
                                 << "\"\nsalesforce_user = \"" << sf_user_b
                                 << "\"\ndynamics_user = \"" << kDvUserB << "\"\n";

  unsigned short port = testing::free_local_port();
  auto config = run.dir / "crmsync.toml";
  std::ofstream(config) << "[daemon]\nshutdown_grace = \"20s\"\n"
                        << "[log]\nlevel = \"warn\"\n"
                        << "[admin]\nlisten = \"127.0.0.1:" << port << "\"\n"
                        << "[state]\ndatabase_url = \"" << bench::require_env("CRMSYNC_PG_URL")
                        << "\"\nschema = \"" << tag << "\"\n"
                        << "[kafka]\nbrokers = [\"" << bench::require_env("CRMSYNC_KAFKA_BROKERS")
                        << "\"]\ntopic_prefix = \"" << tag << "\"\ngroup_id = \"" << tag << "\"\n"
                        << "[prm]\ndatabase_url = \""
                        << bench::require_env("CRMSYNC_PRM_DAEMON_URL") << "\"\nslot = \"" << tag
                        << "\"\n"
                        << "[salesforce]\nlogin_url = \"" << run.salesforce->base_url()
                        << "\"\nclient_id = \"crmsync-emulator-client\"\nclient_secret_file = \""
                        << secret_file.string() << "\"\nca_bundle = \"" << run.salesforce->ca_file()
                        << "\"\n"
                        << "[dynamics]\norg_url = \"" << run.dynamics->base_url()
                        << "\"\nauthority_url = \"" << run.dynamics->base_url()
                        << "\"\ntenant = \"crmsync-tenant\"\n"
                        << "client_id = \"crmsync-emulator-client\"\nclient_secret_file = \""
                        << secret_file.string() << "\"\nca_bundle = \"" << run.dynamics->ca_file()
                        << "\"\n"
                        << "[engine]\n"
                        << "[permissions]\nprincipals_file = \"" << principals_file.string()
                        << "\"\nsharing_sweep_interval = \"1h\"\n"
                        << "[journal]\nkey_file = \"" << journal_key_file.string() << "\"\n";

  // The state schema, then the accounts synced by the daemon (so that the state database knows
  // their ids on every side), then the daemon stopped: the deals are seeded behind its back.
  run.state_url = bench::require_env("CRMSYNC_PG_URL");
  auto migrated = run_measured(crmsync, {"migrate", "--config", config.string()}, run.dir);
  if (migrated.exit_code != 0)
    throw std::runtime_error("crmsync migrate failed:\n" + migrated.out + migrated.err);
  run.daemon = std::make_unique<testing::ChildProcess>(
      crmsync, std::vector<std::string>{"run", "--config", config.string()});
  for (auto deadline = Clock::now() + seconds(90);;) {
    auto metrics = testing::http_get(port, "/metrics");
    if (metrics && metrics->body.find("crmsync_prm_capture_streaming 1") != std::string::npos)
      break;
    if (auto exited = run.daemon->wait_for_exit(milliseconds(100))) {
      throw std::runtime_error("crmsync run exited with " + std::to_string(*exited) + ":\n" +
                               tail(run.daemon->output()));
    }
    if (Clock::now() > deadline)
      throw std::runtime_error("crmsync run did not stream within 90 s:\n" +
                               tail(run.daemon->output()));
  }
  auto account_rows = prm.execute(
      "INSERT INTO prm.accounts (name, website, billing_country, owner_partner_org_id, "
      "modified_by_kind) "
      "SELECT $1 || ' account ' || g, 'https://example.test', 'DE', $2, 'internal_user' FROM "
      "generate_series(1, $3::int) g "
      "RETURNING id::text",
      {tag, org_a, std::to_string(accounts)});
  if (!account_rows)
    throw std::runtime_error("inserting the accounts: " + account_rows.error().message);
  std::vector<std::string> account_ids;
  for (const auto& row : account_rows.value()) account_ids.push_back(row[0].value_or(""));
  std::map<std::string, std::pair<std::string, std::string>>
      crm_account;  // PRM id -> (Salesforce id, Dataverse id)
  auto state = bench::connect(run.state_url, tag);
  for (auto deadline = Clock::now() + seconds(180);;) {
    auto synced =
        state->execute("SELECT record_id, salesforce_id, dynamics_id FROM " + tag +
                       ".sync_records WHERE object = 'account' AND salesforce_id IS NOT NULL AND "
                       "dynamics_id IS NOT NULL");
    if (!synced) throw std::runtime_error("reading the synced accounts: " + synced.error().message);
    crm_account.clear();
    for (const auto& row : synced.value())
      crm_account[row[0].value_or("")] = {row[1].value_or(""), row[2].value_or("")};
    if (static_cast<long>(crm_account.size()) >= accounts) break;
    if (Clock::now() > deadline) {
      std::string seen = bench::scalar(
          *state,
          "SELECT count(*) || ' known, ' || count(salesforce_id) || ' on Salesforce, ' || "
          "count(dynamics_id) || ' on Dataverse' FROM " +
              tag + ".sync_records");
      throw std::runtime_error(
          fmt::format("{} of {} accounts synced to both CRMs within 180 s (state: {}):\n{}",
                      crm_account.size(), accounts, seen, tail(run.daemon->output(), 20000)));
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
  run.stop_daemon();

  // Planted drift, among the first N/5 deals: one field changed on the CRM for every field both
  // sides hold (so that a field left out of the comparison shows), a deal missing there, a deal
  // owned there by partner B's principal.
  const std::vector<std::string> planted_kinds = {"field_differs:name",
                                                  "field_differs:account",
                                                  "field_differs:amount",
                                                  "field_differs:stage",
                                                  "field_differs:close_date",
                                                  "field_differs:description",
                                                  "field_differs:discount_percent",
                                                  "missing_on_" + side,
                                                  "sharing_differs"};
  std::map<long, std::string> planted;  // deal index -> kind
  for (std::size_t k = 0; k < planted_kinds.size(); ++k) {
    planted[static_cast<long>(k + 1) * small / static_cast<long>(planted_kinds.size() + 1)] =
        planted_kinds[k];
  }
  const std::string orphan =
      bench::scalar(prm, "SELECT gen_random_uuid()::text");  // on the CRM only
  std::map<std::string, std::set<std::string>> expected = {{orphan, {"missing_on_prm"}}};
  std::set<std::string> seeded_ids = {orphan};
  std::string stages;
  for (const char* stage : kStages) stages += (stages.empty() ? "" : ",") + std::string(stage);
  std::string account_list;
  for (const auto& id : account_ids) account_list += (account_list.empty() ? "" : ",") + id;

  // The CRM's copy of deal `g` (PRM id `id`) as a seed record, with its sharing; `differs` names
  // a canonical field whose value is changed.
  auto crm_record = [&](long g, const std::string& id, const std::string& differs,
                        bool owned_by_b) {
    DealValues v = deal_values(tag, g, account_ids.size());
    if (differs == "name") v.name += " (edited)";
    if (differs == "account") v.account = (v.account + 1) % account_ids.size();
    if (differs == "amount") v.amount = fmt::format("{}.{:02}", 1000 + g + 1000, g % 100);
    if (differs == "stage") v.stage = kStages[(static_cast<std::size_t>(g) + 1) % kStages.size()];
    if (differs == "close_date")
      v.close_date = deal_values(tag, g + 1, account_ids.size()).close_date;
    if (differs == "discount_percent") v.discount = "99.5";
    const std::string description =
        differs == "description" ? "edited behind the capture's back" : kDescription;
    const auto& [sf_account, dv_account] = crm_account.at(account_ids[v.account]);
    if (on_salesforce) {
      return fmt::format(
          R"({{"Name":{},"AccountId":"{}","StageName":"{}","CloseDate":"{}","Amount":{},)"
          R"("Discount_Percent__c":{},"Description":{},"PRM_Id__c":"{}","OwnerId":"{}"}})",
          json_quote(v.name), sf_account, v.stage, v.close_date, v.amount, v.discount,
          json_quote(description), id, owned_by_b ? sf_user_b : sf_user_a);
    }
    return fmt::format(
        R"j({{"name":{},"parentaccountid@odata.bind":"/accounts({})","estimatedvalue":{},"stepname":"{}",)j"
        R"j("estimatedclosedate":"{}","discountpercentage":{},"description":{},"crmsync_prmid":"{}",)j"
        R"j("ownerid@odata.bind":"/teams({})"}})j",
        json_quote(v.name), dv_account, v.amount, v.stage, v.close_date, v.discount,
        json_quote(description), id, owned_by_b ? kTeamB : kTeamA);
  };

  // Seeds deals [from, to) on the PRM and the CRM (the orphan with the first chunk).
  double seed_seconds = 0;
  auto seed = [&](long from, long to) {
    const auto started = Clock::now();
    for (long start = from; start < to; start += kSeedChunk) {
      long last = std::min(to, start + kSeedChunk) - 1;
      auto rows = prm.execute(
          "INSERT INTO prm.deals (account_id, name, amount, currency, stage, close_date, "
          "discount_percent, description, "
          "owner_partner_org_id, owner_partner_user_id, modified_by_kind) "
          "SELECT (string_to_array($1, ','))[1 + g % $2::int]::uuid, $3 || ' deal ' || g, "
          "(1000 + g + (g % 100) / 100.0)::numeric(18, 2), 'EUR', (string_to_array($4, ','))[1 + g "
          "% 6], "
          "DATE '2027-01-01' + (g % 365)::int, (g % 20 + 0.5)::numeric(5, 2), $5, $6, $7, "
          "'internal_user' "
          "FROM generate_series($8::bigint, $9::bigint) g RETURNING id::text, name",
          {account_list, std::to_string(account_ids.size()), tag, stages, kDescription, org_a,
           user_a, std::to_string(start), std::to_string(last)});
      if (!rows) throw std::runtime_error("inserting PRM deals: " + rows.error().message);
      std::vector<std::pair<long, std::string>> inserted;  // (g, PRM id)
      for (const auto& row : rows.value()) {
        const std::string name = row[1].value_or("");
        inserted.emplace_back(std::stol(name.substr(name.rfind(' ') + 1)), row[0].value_or(""));
      }
      std::string records;
      for (const auto& [g, id] : inserted) {
        seeded_ids.insert(id);
        auto plant = planted.find(g);
        if (plant != planted.end()) expected[id] = {plant->second};
        const std::string kind = plant != planted.end() ? plant->second : "";
        if (kind.rfind("missing_on_", 0) == 0) continue;
        const std::string field_prefix = "field_differs:";
        const std::string differs =
            kind.rfind(field_prefix, 0) == 0 ? kind.substr(field_prefix.size()) : "";
        records +=
            (records.empty() ? "" : ",") + crm_record(g, id, differs, kind == "sharing_differs");
      }
      if (start == 0) records += "," + crm_record(deals + 1, orphan, "", false);
      const char* object = on_salesforce ? "Opportunity" : "opportunities";
      (on_salesforce ? sf_admin : dv_admin).seed(fmt::format(R"({{"{}":[{}]}})", object, records));
    }
    seed_seconds += std::chrono::duration<double>(Clock::now() - started).count();
  };

  auto reconcile = [&](long seeded) {
    ReconcileRun result;
    result.deals = seeded;
    EmulatorAdmin& admin = on_salesforce ? sf_admin : dv_admin;
    admin.reset_counters();
    const double emulator_cpu_before = emulator_cpu_seconds(side);
    result.measured = run_measured(
        crmsync,
        {"reconcile", "--config", config.string(), "--object", "deal", "--side", side, "--json"},
        run.dir);
    result.measured.emulator_cpu_seconds = emulator_cpu_seconds(side) - emulator_cpu_before;
    const Measured& m = result.measured;
    rapidjson::Document report;
    report.Parse(m.out.c_str());
    if ((m.exit_code != 0 && m.exit_code != 1) || report.HasParseError() || !report.IsObject() ||
        !report.HasMember("summary")) {
      throw std::runtime_error(
          fmt::format("crmsync reconcile exited with {} and no report:\n{}\n{}", m.exit_code,
                      tail(m.out, 2000), tail(m.err)));
    }
    result.prm_records = report["summary"]["prm_records"].GetInt64();
    result.crm_records = report["summary"]["crm_records"].GetInt64();
    for (const auto& drift : report["drift"].GetArray()) {
      std::string record = drift["record"].IsString() ? drift["record"].GetString() : "";
      if (seeded_ids.count(record) == 0) {
        ++result.foreign;
        continue;
      }
      for (const auto& finding : drift["findings"].GetArray()) {
        std::string kind = finding["kind"].GetString();
        if (finding.HasMember("field")) kind += ":" + std::string(finding["field"].GetString());
        result.mine[record].insert(kind);
        result.mine_details.push_back(
            fmt::format("{} {}: {} prm={} crm={} ({})", record, text_of(drift, "crm_id"), kind,
                        finding.HasMember("prm") ? json_value_text(finding["prm"]) : "",
                        finding.HasMember("crm") ? json_value_text(finding["crm"]) : "",
                        text_of(finding, "detail")));
      }
    }
    auto stats = admin.stats();
    result.api_calls = stats["total_requests"].GetInt64();
    result.concurrency_refusals = stats["concurrency_refusals"].GetInt64();
    for (const auto& route : stats["requests"].GetObject()) {
      result.routes += fmt::format("{}{}: {}", result.routes.empty() ? "" : "; ",
                                   route.name.GetString(), route.value.GetInt64());
    }
    result.refusals = count_lines(m.err, "kind=rate_limited");
    result.progress_lines = count_lines(m.err, "crmsync reconcile: deal vs ");
    return result;
  };

  seed(0, small);
  const double small_seed_seconds = seed_seconds;
  ReconcileRun at_small = reconcile(small);
  seed(small, deals);
  ReconcileRun at_full = reconcile(deals);

  const long long prm_deals_total =
      std::stoll(bench::scalar(prm, "SELECT count(*) FROM prm.deals"));
  const long long prm_share_rows =
      std::stoll(bench::scalar(prm, "SELECT count(*) FROM prm.shares"));
  std::cout << "side=" << side << '\n'
            << "accounts=" << accounts << '\n'
            << "prm_deals_in_database=" << prm_deals_total << '\n'
            << "prm_share_rows_in_database=" << prm_share_rows << '\n'
            << "seed_seconds_small=" << small_seed_seconds << '\n'
            << "seed_seconds=" << seed_seconds << '\n';
  bool all_found = true;
  for (const auto& [prefix, result] :
       {std::pair<std::string, const ReconcileRun&>{"small_", at_small}, {"", at_full}}) {
    const Measured& m = result.measured;
    bool found_planted = result.mine == expected;
    all_found = all_found && found_planted;
    std::cout << prefix << "deals=" << result.deals << '\n'
              << prefix << "exit_code=" << m.exit_code << '\n'
              << prefix << "wall_seconds=" << m.wall_seconds << '\n'
              << prefix << "cpu_seconds=" << m.cpu_seconds << '\n'
              << prefix << "emulator_cpu_seconds=" << m.emulator_cpu_seconds << '\n'
              << prefix
              << "records_per_second=" << static_cast<double>(result.prm_records) / m.wall_seconds
              << '\n'
              << prefix << "prm_records=" << result.prm_records << '\n'
              << prefix << "crm_records=" << result.crm_records << '\n'
              << prefix << "drift_planted=" << expected.size() << '\n'
              << prefix << "drift_found=" << result.mine.size() << '\n'
              << prefix << "drift_as_planted=" << (found_planted ? "true" : "false") << '\n'
              << prefix << "drift_other_records=" << result.foreign << '\n'
              << prefix << "api_calls=" << result.api_calls << '\n'
              << prefix << "api_limit_refusals=" << result.refusals << '\n'
              << prefix << "emulator_concurrency_refusals=" << result.concurrency_refusals << '\n'
              << prefix << "peak_rss_mb=" << m.peak_rss_mb << '\n'
              << prefix << "progress_lines=" << result.progress_lines << '\n'
              << prefix << "api_routes=" << result.routes << '\n';
    if (!found_planted) {
      for (const auto& line : result.mine_details)
        std::cout << prefix << "drift_finding=" << line << '\n';
      for (const auto& [record, kinds] : expected) {
        std::cout << prefix << "drift_expected=" << record << ": "
                  << fmt::format("{}", fmt::join(kinds, ",")) << '\n';
      }
    }
  }
  std::cout << "cores=" << std::thread::hardware_concurrency() << '\n';
  return all_found ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main(run, argc, argv);
}
