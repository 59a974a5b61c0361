// The whole sync, end to end: PRM commit → capture → Kafka → apply worker → Salesforce or
// Dataverse (the emulators), with `crmsync run` as one process, on the real local PostgreSQL and
// Kafka (deploy/dev/bench e2e starts them). Not a test: it prints key=value figures for
// docs/performance.md and has no thresholds.
//
//   crmsync_bench_e2e [--crm salesforce|dynamics] [--deals N] [--transaction-rows T] [--rate R]
//                     [--seconds S] [--linger-ms L]
//
// The daemon runs with [prm] and the one CRM (the figures are PRM → that CRM) and the engine's
// defaults. One PRM account is synced first; then:
//  * phase 1, throughput: N deals inserted in transactions of T rows; the clock runs from the
//    first commit to the first poll (every 200 ms) of the CRM that sees all N with their PRM id
//    (Salesforce: `SELECT COUNT() FROM Opportunity`; Dataverse: the opportunities listed with
//    their crmsync_prmid). The emulator's counters give the write calls it took.
//  * phase 2, latency at a fixed offered load: R updates/s for S seconds, each to a different
//    deal of phase 1 and in its own transaction, paced by the wall clock. Latency of each:
//    Salesforce — the Opportunity's SystemModstamp (the emulator stamps it when it writes, same
//    machine clock, whole milliseconds) − the client's commit time; Dataverse (whose modifiedon
//    has whole seconds) — the first of the bench's reads every 50 ms that shows the new amount −
//    the commit time (so up to ~50 ms more than the write itself).
// Defaults: Salesforce 10,000 deals and 200 updates/s; Dataverse 2,000 deals and 50 updates/s
// (the Dataverse emulator finds a row by alternate key with a scan of its table, so it slows with
// the table's size — that is the emulator, not crmsync).
// Figures about the daemon come from /proc/<pid>: peak RSS (VmHWM) and CPU time (utime + stime).
//
// Every run has its own state schema, topic prefix, consumer group and replication slot, and
// removes them (and the PRM rows it made) at the end, also when it fails.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include <rapidjson/document.h>

#include <atomic>
#include <functional>
#include <mutex>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_client.h"
#include "daemon/dynamics_side_gateway.h"
#include "daemon/logging.h"
#include "daemon/salesforce_side_gateway.h"
#include "state/file_secret_provider.h"
#include "tests/bench/bench_support.h"
#include "tests/support/child_process.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

namespace {

using namespace crmsync;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// base64 of 32 bytes: the journal's HMAC key for this benchmark's throw-away state schema.
constexpr const char* kJournalKey = "Y3Jtc3luYy1iZW5jaC1lMmUtam91cm5hbC1rZXktMzI=";
constexpr const char* kClientSecret = "crmsync-emulator-secret";
constexpr long kPhase2AmountBase = 1'000'000;  // above every phase-1 amount

// The PRM rows, state schema, slot, emulator, daemon and files of one run; removed when it ends,
// however it ends (the daemon stops first, while the emulator still answers).
struct RunResources {
  std::string tag = testing::unique_name("bench_e2e");
  std::filesystem::path dir = std::filesystem::temp_directory_path() / tag;
  std::unique_ptr<state::StateDatabase> prm;
  std::string org;
  std::unique_ptr<testing::CrmEmulator> emulator;
  std::unique_ptr<testing::ChildProcess> daemon;
  std::string state_url;  // set once the daemon may have created the state schema

  ~RunResources() {
    if (daemon) {
      daemon->send_signal(SIGTERM);
      if (!daemon->wait_for_exit(seconds(40))) daemon->send_signal(SIGKILL);
      (void)daemon->wait_for_exit(seconds(10));
      daemon.reset();
    }
    if (prm) {
      (void)prm->execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
                         {tag});
      if (!org.empty()) {
        (void)prm->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1", {org});
        (void)prm->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1", {org});
        (void)prm->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
      }
    }
    if (!state_url.empty()) {
      try {
        auto state = bench::connect(state_url);
        (void)state->execute("DROP SCHEMA IF EXISTS " + tag + " CASCADE");
      } catch (const std::exception& e) {
        std::cerr << "bench: cleanup: state schema " << tag << " not dropped: " << e.what() << '\n';
      }
    }
    std::filesystem::remove_all(dir);
  }
};

std::string tail(const std::string& text, std::size_t bytes = 4000) {
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

int run(int argc, char** argv) {
  std::string crm = "salesforce";
  long deals = 0;  // 0: the CRM's default (above)
  long transaction_rows = 500;
  long rate = 0;
  long load_seconds = 30;
  long linger_ms = 0;  // 0: the engine's default (engine.linger)
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    long value = i + 1 < argc ? std::atol(argv[i + 1]) : 0;
    if (flag == "--crm") crm = i + 1 < argc ? argv[i + 1] : "";
    else if (flag == "--deals") deals = value;
    else if (flag == "--transaction-rows") transaction_rows = value;
    else if (flag == "--rate") rate = value;
    else if (flag == "--seconds") load_seconds = value;
    else if (flag == "--linger-ms") linger_ms = value;
    else {
      std::cerr << "usage: crmsync_bench_e2e [--crm salesforce|dynamics] [--deals N] [--transaction-rows T] [--rate R] "
                   "[--seconds S] [--linger-ms L]\n";
      return 2;
    }
  }
  if (crm != "salesforce" && crm != "dynamics") {
    std::cerr << "bench: --crm takes salesforce or dynamics, got '" << crm << "'\n";
    return 2;
  }
  const bool to_dynamics = crm == "dynamics";
  if (deals == 0) deals = to_dynamics ? 2'000 : 10'000;
  if (rate == 0) rate = to_dynamics ? 50 : 200;
  const long updates = rate * load_seconds;
  if (deals <= 0 || transaction_rows <= 0 || rate <= 0 || load_seconds <= 0 || updates > deals) {
    std::cerr << "bench: --deals, --transaction-rows, --rate, --seconds must be positive, and rate × seconds "
                 "updates (each to a different deal) at most --deals\n";
    return 2;
  }

  RunResources run;
  const std::string& tag = run.tag;
  std::filesystem::create_directories(run.dir);
  auto secret_file = run.dir / "client_secret";
  auto journal_key_file = run.dir / "journal_key";
  std::ofstream(secret_file) << kClientSecret;
  ::chmod(secret_file.c_str(), 0600);
  std::ofstream(journal_key_file) << kJournalKey;
  ::chmod(journal_key_file.c_str(), 0600);

  const std::string prm_admin_url = bench::require_env("CRMSYNC_PRM_PG_URL");
  run.prm = bench::connect(prm_admin_url);
  run.org = bench::scalar(*run.prm, "INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {tag});

  // The Salesforce emulator allows far more calls a day than the run makes, so the API budget never
  // pauses writes.
  run.emulator = to_dynamics ? std::make_unique<testing::CrmEmulator>(std::string("dynamics"),
                                                                      std::vector<std::string>{"--client-secret", kClientSecret})
                             : std::make_unique<testing::CrmEmulator>(std::string("salesforce"),
                                                                      std::vector<std::string>{"--daily-api-limit", "100000000"});
  const testing::CrmEmulator& emulator = *run.emulator;
  daemon::Logging logging(daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>());
  state::FileSecretProvider secrets({{"salesforce.client_secret", secret_file}, {"dynamics.client_secret", secret_file}});
  auto transport = connectors::http::make_curl_transport({emulator.ca_file(), seconds(10), 4}, logging.logger("http"));
  connectors::salesforce::SalesforceSettings sf_settings;
  sf_settings.login_url = emulator.base_url();
  sf_settings.client_id = "crmsync-emulator-client";
  sf_settings.call_options_client = "bench-reader";
  connectors::salesforce::SalesforceClient sf_client(sf_settings, *transport, secrets, logging.logger("sf"),
                                                     mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                                     connectors::http::real_sleeper());
  daemon::SalesforceSideGateway salesforce(sf_client, seconds(60));
  connectors::http::RetryingHttpClient dv_http(*transport, mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                               connectors::http::real_sleeper(), logging.logger("http"));
  connectors::dynamics::DataverseSettings dv_settings;
  dv_settings.org_url = emulator.base_url();
  dv_settings.authority_url = emulator.base_url();
  dv_settings.tenant = "crmsync-tenant";
  dv_settings.client_id = "crmsync-emulator-client";
  connectors::dynamics::DataverseTokenClient dv_tokens(dv_settings, dv_http, secrets, logging.logger("dv"));
  connectors::dynamics::DataverseClient dv_client(dv_settings, dv_http, dv_tokens);
  connectors::dynamics::DataverseApplier dv_applier(dv_client, connectors::dynamics::DataverseApplySettings{},
                                                    logging.logger("dv"));
  daemon::DynamicsSideGateway dynamics(dv_client, dv_applier, seconds(60));
  daemon::SideGateway& target = to_dynamics ? static_cast<daemon::SideGateway&>(dynamics)
                                            : static_cast<daemon::SideGateway&>(salesforce);
  // Dataverse: (PRM id, amount) of every opportunity that has a PRM id and passes `filter`.
  auto dataverse_deals = [&](const std::string& filter) {
    std::vector<std::pair<std::string, double>> found;
    connectors::dynamics::DataverseRequest request;
    request.target = "opportunities?$select=crmsync_prmid,estimatedvalue&$filter=" +
                     connectors::dynamics::url_encode("crmsync_prmid ne null" + filter);
    request.headers = {{"Prefer", "odata.maxpagesize=5000"}};
    request.description = "GET opportunities (bench)";
    while (!request.target.empty()) {
      auto answer = dv_client.send(request, Clock::now() + seconds(30));
      if (!answer || answer.value().status != 200) {
        throw std::runtime_error("Dataverse emulator: list opportunities: " +
                                 (answer ? std::to_string(answer.value().status) + " " + answer.value().body
                                         : answer.error().message));
      }
      rapidjson::Document page;
      page.Parse(answer.value().body.c_str());
      if (page.HasParseError() || !page.IsObject() || !page.HasMember("value") || !page["value"].IsArray()) {
        throw std::runtime_error("Dataverse emulator: list opportunities: not an OData page");
      }
      for (const auto& row : page["value"].GetArray()) {
        if (!row.HasMember("crmsync_prmid") || !row["crmsync_prmid"].IsString()) continue;
        double amount = row.HasMember("estimatedvalue") && row["estimatedvalue"].IsNumber()
                            ? row["estimatedvalue"].GetDouble()
                            : -1;
        found.emplace_back(row["crmsync_prmid"].GetString(), amount);
      }
      request.target.clear();
      if (page.HasMember("@odata.nextLink") && page["@odata.nextLink"].IsString()) {
        request.target = page["@odata.nextLink"].GetString();
      }
    }
    return found;
  };
  auto soql_count = [&](const std::string& soql) -> long long {
    std::string path = "query?q=";
    for (char c : soql) {
      if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.') path += c;
      else if (c == ' ') path += '+';
      else path += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
    auto answer = sf_client.request("GET", path, "", "count", Clock::now() + seconds(30), false);
    if (!answer) throw std::runtime_error("Salesforce emulator: " + soql + ": " + answer.error().message);
    const std::string key = "\"totalSize\":";
    auto at = answer.value().body.find(key);
    if (answer.value().status != 200 || at == std::string::npos) {
      throw std::runtime_error("Salesforce emulator: " + soql + ": HTTP " + std::to_string(answer.value().status) +
                               " " + answer.value().body);
    }
    return std::stoll(answer.value().body.substr(at + key.size()));
  };

  unsigned short port = testing::free_local_port();
  auto config = run.dir / "crmsync.toml";
  std::ofstream(config) << "[daemon]\nshutdown_grace = \"20s\"\n"
                        << "[log]\nlevel = \"warn\"\n"
                        << "[admin]\nlisten = \"127.0.0.1:" << port << "\"\n"
                        << "[state]\ndatabase_url = \"" << bench::require_env("CRMSYNC_PG_URL") << "\"\nschema = \""
                        << tag << "\"\n"
                        << "[kafka]\nbrokers = [\"" << bench::require_env("CRMSYNC_KAFKA_BROKERS")
                        << "\"]\ntopic_prefix = \"" << tag << "\"\ngroup_id = \"" << tag << "\"\n"
                        << "[prm]\ndatabase_url = \"" << bench::require_env("CRMSYNC_PRM_DAEMON_URL") << "\"\nslot = \""
                        << tag << "\"\n"
                        << (to_dynamics ? "[dynamics]\norg_url = \"" + emulator.base_url() + "\"\nauthority_url = \"" +
                                              emulator.base_url() + "\"\ntenant = \"crmsync-tenant\"\n"
                                        : "[salesforce]\nlogin_url = \"" + emulator.base_url() + "\"\n")
                        << "client_id = \"crmsync-emulator-client\"\nclient_secret_file = \"" << secret_file.string()
                        << "\"\nca_bundle = \"" << emulator.ca_file() << "\"\n"
                        << "[engine]\n"
                        << (linger_ms > 0 ? "linger = \"" + std::to_string(linger_ms) + "ms\"\n" : std::string())
                        << "[journal]\nkey_file = \"" << journal_key_file.string() << "\"\n";

  run.state_url = bench::require_env("CRMSYNC_PG_URL");
  run.daemon = std::make_unique<testing::ChildProcess>(CRMSYNC_BINARY,
                                                       std::vector<std::string>{"run", "--config", config.string()});
  auto metrics = [&]() -> std::string {
    auto answer = testing::http_get(port, "/metrics");
    return answer ? answer->body : "";
  };
  auto fail = [&](const std::string& what) -> std::runtime_error {
    return std::runtime_error(what + "\n--- crmsync output (tail) ---\n" + tail(run.daemon->output()));
  };
  for (auto deadline = Clock::now() + seconds(90);;) {
    if (metrics().find("crmsync_prm_capture_streaming 1") != std::string::npos) break;
    if (auto exited = run.daemon->wait_for_exit(milliseconds(100))) {
      throw fail("crmsync exited with " + std::to_string(*exited) + " while starting");
    }
    if (Clock::now() > deadline) throw fail("crmsync's PRM capture did not start streaming within 90 s");
  }
  const pid_t pid = run.daemon->pid();
  bench::ProcessUsage at_start = bench::process_usage(pid);

  // One account first, so that every deal finds its account on Salesforce.
  std::string account = bench::scalar(
      *run.prm,
      "INSERT INTO prm.accounts (name, website, billing_country, owner_partner_org_id, modified_by_kind) "
      "VALUES ($1, 'https://example.test', 'DE', $2, 'internal_user') RETURNING id",
      {tag + " account", run.org});
  for (auto deadline = Clock::now() + seconds(60);;) {
    auto held = target.read(mapping::ObjectKind::account, {account}, {});
    if (held && !held.value().empty()) break;
    if (Clock::now() > deadline) throw fail("the PRM account did not reach " + crm + " within 60 s");
    std::this_thread::sleep_for(milliseconds(200));
  }

  // Phase 1: throughput of a bulk insert.
  bench::reset_emulator_counters(*transport, emulator.base_url());
  auto writer = bench::connect(prm_admin_url);
  std::int64_t first_commit_us = 0;
  for (long start = 0; start < deals; start += transaction_rows) {
    long last = std::min(deals, start + transaction_rows) - 1;
    bench::scalar(*writer,
                  "INSERT INTO prm.deals (account_id, name, amount, stage, close_date, owner_partner_org_id, "
                  "modified_by_kind) SELECT $1, $2 || ' ' || g, g, 'Prospecting', '2027-03-31', $3, 'internal_user' "
                  "FROM generate_series($4::bigint, $5::bigint) g",
                  {account, tag + " deal", run.org, std::to_string(start), std::to_string(last)});
    if (first_commit_us == 0) first_commit_us = bench::now_us();
  }
  const std::int64_t inserted_us = bench::now_us();
  long long held = 0;
  long long previous = -1;
  auto progress_at = Clock::now();
  while (true) {
    held = to_dynamics ? static_cast<long long>(dataverse_deals("").size())
                       : soql_count("SELECT COUNT() FROM Opportunity WHERE PRM_Id__c != null");
    if (held >= deals) break;
    if (held != previous) {
      previous = held;
      progress_at = Clock::now();
    } else if (Clock::now() - progress_at > seconds(180)) {
      throw fail("phase 1: " + crm + " holds " + std::to_string(held) + " of " + std::to_string(deals) +
                 " deals and none arrived for 180 s");
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  const std::int64_t all_held_us = bench::now_us();
  const double bulk_seconds = static_cast<double>(all_held_us - first_commit_us) / 1e6;
  const auto bulk_counters = bench::emulator_counters(*transport, emulator.base_url());
  bench::ProcessUsage after_bulk = bench::process_usage(pid);

  // Let the engine settle (echoes of its own writes come back through the Salesforce capture)
  // before the fixed load, so that phase 2 measures the load and not phase 1's tail.
  auto settle_started = Clock::now();
  {
    auto activity = [&] {
      std::string body = metrics();
      return bench::metric_sum(body, "crmsync_events_applied_total") + bench::metric_sum(body, "crmsync_apply_batches_total") +
             bench::metric_sum(body, "crmsync_prm_capture_events_total");
    };
    double last_seen = activity();
    auto quiet_since = Clock::now();
    while (Clock::now() - quiet_since < seconds(7) && Clock::now() - settle_started < seconds(180)) {
      std::this_thread::sleep_for(milliseconds(500));
      double now = activity();
      if (now != last_seen) {
        last_seen = now;
        quiet_since = Clock::now();
      }
    }
  }
  const double settle_seconds = std::chrono::duration<double>(Clock::now() - settle_started).count();

  // Phase 2: `rate` single-row updates a second, each to another deal, paced by the wall clock.
  auto id_rows = run.prm->execute("SELECT id::text FROM prm.deals WHERE owner_partner_org_id = $1 ORDER BY id", {run.org});
  if (!id_rows || static_cast<long>(id_rows.value().size()) != deals) {
    throw fail("phase 2: could not list the " + std::to_string(deals) + " deals of phase 1");
  }
  std::vector<std::string> ids;
  for (long i = 0; i < updates; ++i) ids.push_back(id_rows.value()[static_cast<std::size_t>(i)][0].value_or(""));
  std::vector<std::int64_t> commit_us(static_cast<std::size_t>(updates));
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < ids.size(); ++i) index_of[ids[i]] = i;
  // Dataverse: a reader every 50 ms notes when each update's amount first shows.
  std::vector<std::int64_t> seen_us(static_cast<std::size_t>(updates), 0);
  std::mutex seen_mutex;
  std::atomic<bool> watching{to_dynamics};
  std::string watch_error;
  auto seen_count = [&] {
    std::lock_guard lock(seen_mutex);
    return std::count_if(seen_us.begin(), seen_us.end(), [](std::int64_t at) { return at != 0; });
  };
  std::thread watcher([&] {
    while (watching) {
      try {
        auto shown = dataverse_deals(" and estimatedvalue ge " + std::to_string(kPhase2AmountBase));
        std::int64_t at = bench::now_us();
        std::lock_guard lock(seen_mutex);
        for (const auto& [prm_id, amount] : shown) {
          auto found = index_of.find(prm_id);
          if (found == index_of.end() || seen_us[found->second] != 0) continue;
          if (amount == static_cast<double>(kPhase2AmountBase + static_cast<long>(found->second))) seen_us[found->second] = at;
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(seen_mutex);
        watch_error = e.what();
        return;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  struct StopWatcher {
    std::atomic<bool>& watching;
    std::thread& watcher;
    ~StopWatcher() {
      watching = false;
      if (watcher.joinable()) watcher.join();
    }
  } stop_watcher{watching, watcher};
  long behind_schedule = 0;
  const auto load_started = Clock::now();
  for (long i = 0; i < updates; ++i) {
    auto due = load_started + std::chrono::microseconds(i * 1'000'000 / rate);
    if (Clock::now() > due + milliseconds(5)) ++behind_schedule;
    std::this_thread::sleep_until(due);
    auto updated = writer->execute("UPDATE prm.deals SET amount = $2::numeric, modified_by_kind = 'internal_user' "
                                   "WHERE id = $1::uuid",
                                   {ids[static_cast<std::size_t>(i)], std::to_string(kPhase2AmountBase + i)});
    if (!updated) throw fail("phase 2: update " + std::to_string(i) + ": " + updated.error().message);
    commit_us[static_cast<std::size_t>(i)] = bench::now_us();
  }
  const double load_elapsed = std::chrono::duration<double>(Clock::now() - load_started).count();

  std::vector<double> latencies_ms;
  bench::ProcessUsage at_end;
  if (to_dynamics) {
    for (auto deadline = Clock::now() + seconds(300); seen_count() < updates;) {
      {
        std::lock_guard lock(seen_mutex);
        if (!watch_error.empty()) throw fail("phase 2: reading Dataverse: " + watch_error);
      }
      if (Clock::now() > deadline) {
        throw fail("phase 2: Dataverse shows " + std::to_string(seen_count()) + " of " + std::to_string(updates) +
                   " updates 300 s after the load ended");
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    at_end = bench::process_usage(pid);
    std::lock_guard lock(seen_mutex);
    for (std::size_t i = 0; i < seen_us.size(); ++i) {
      latencies_ms.push_back(std::max<double>(0, static_cast<double>(seen_us[i] - commit_us[i]) / 1000.0));
    }
  } else {
    // Wait (one cheap count a second, so the reads do not load the emulator while it still writes)
    // until Salesforce shows every update, then read each Opportunity's SystemModstamp once.
    const std::string updated_count =
        "SELECT COUNT() FROM Opportunity WHERE Amount >= " + std::to_string(kPhase2AmountBase);
    for (auto deadline = Clock::now() + seconds(300);;) {
      long long shown = soql_count(updated_count);
      if (shown >= updates) break;
      if (Clock::now() > deadline) {
        throw fail("phase 2: Salesforce shows " + std::to_string(shown) + " of " + std::to_string(updates) +
                   " updates 300 s after the load ended");
      }
      std::this_thread::sleep_for(seconds(1));
    }
    at_end = bench::process_usage(pid);
    auto read = salesforce.read(mapping::ObjectKind::deal, ids, {"Amount"});
    if (!read) throw fail("phase 2: reading the updated Opportunities: " + read.error().message);
    for (const auto& record : read.value()) {
      auto at = index_of.find(record.prm_id);
      auto stamped = bench::parse_salesforce_datetime(record.version);
      if (at == index_of.end() || !stamped) continue;
      std::string amount;
      for (const auto& field : record.fields) {
        if (field.name == "Amount") amount = field.value.text;
      }
      if (amount.empty() ||
          std::stod(amount) != static_cast<double>(kPhase2AmountBase + static_cast<long>(at->second))) {
        continue;
      }
      latencies_ms.push_back(static_cast<double>(*stamped * 1000 - commit_us[at->second]) / 1000.0);
    }
  }
  if (static_cast<long>(latencies_ms.size()) != updates) {
    throw fail("phase 2: " + std::to_string(latencies_ms.size()) + " of " + std::to_string(updates) +
               " deals show their update with a readable time");
  }

  const long changes = 1 + deals + updates;
  std::cout << "e2e_path=prm_to_" << crm << "\n"
            << "e2e_engine_config=" << (linger_ms > 0 ? "linger_" + std::to_string(linger_ms) + "ms" : std::string("defaults")) << "\n"
            << "e2e_bulk_deals=" << deals << '\n'
            << "e2e_bulk_transaction_rows=" << transaction_rows << '\n'
            << "e2e_bulk_insert_seconds=" << static_cast<double>(inserted_us - first_commit_us) / 1e6 << '\n'
            << "e2e_bulk_seconds=" << bulk_seconds << '\n'
            << "e2e_prm_to_" << crm << "_per_s=" << static_cast<double>(deals) / bulk_seconds << '\n'
            << crm << "_api_calls=" << bulk_counters.api_calls << '\n'
            << crm << "_write_calls=" << bulk_counters.write_calls << '\n'
            << crm << "_records_per_write_call=" << bulk_counters.records_per_write_call() << '\n'
            << "e2e_settle_seconds=" << settle_seconds << '\n'
            << "e2e_offered_per_s=" << rate << '\n'
            << "e2e_offered_updates=" << updates << '\n'
            << "e2e_load_seconds=" << load_elapsed << '\n'
            << "e2e_updates_behind_schedule=" << behind_schedule << '\n'
            << "e2e_latency_p50_ms=" << bench::percentile(latencies_ms, 0.50) << '\n'
            << "e2e_latency_p99_ms=" << bench::percentile(latencies_ms, 0.99) << '\n'
            << "e2e_latency_p999_ms=" << bench::percentile(latencies_ms, 0.999) << '\n'
            << "e2e_latency_max_ms=" << bench::percentile(latencies_ms, 1.0) << '\n'
            << "daemon_peak_rss_mb=" << at_end.peak_rss_mb << '\n'
            << "daemon_cpu_seconds_phase1=" << after_bulk.cpu_seconds - at_start.cpu_seconds << '\n'
            << "daemon_cpu_seconds=" << at_end.cpu_seconds - at_start.cpu_seconds << '\n'
            << "daemon_cpu_seconds_per_10k_changes="
            << (at_end.cpu_seconds - at_start.cpu_seconds) * 10'000.0 / static_cast<double>(changes) << '\n'
            << "cores=" << std::thread::hardware_concurrency() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return bench::run_main(run, argc, argv); }
