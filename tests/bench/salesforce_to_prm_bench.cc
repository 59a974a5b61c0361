// Salesforce → PRM latency as a function of the Salesforce capture's poll interval: a sales rep's
// edit in Salesforce (the emulator) → capture poll → Kafka → apply worker → the PRM row, with
// `crmsync run` as one process on the real local PostgreSQL and Kafka (deploy/dev/bench
// salesforce-to-prm starts them). Not a test: it prints key=value figures for docs/performance.md.
//
//   crmsync_bench_salesforce_to_prm [--poll-ms P1,P2,…] [--rate R] [--seconds S]
//
// Set-up: R × S deals are created in the PRM and synced to Salesforce. Then, for each poll
// interval, the daemon is (re)started with `salesforce.poll_interval` = P, one warm-up edit is
// waited for, and R edits a second for S seconds are made in Salesforce (each to another deal,
// each an Amount no other edit uses), paced by the wall clock. A watcher reads the PRM every 20 ms;
// latency of an edit = the first read that shows its Amount − the end of the Salesforce PATCH.
// Expect about half the poll interval plus the apply path's own latency (the engine's linger and
// batch), since an edit waits on average half a poll for the next one.
//
// Every run has its own state schema, topic prefix, consumer group and replication slot, and
// removes them (and the PRM rows it made) at the end, also when it fails.

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "connectors/salesforce/salesforce_client.h"
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

constexpr const char* kJournalKey = "Y3Jtc3luYy1iZW5jaC1zZjJwcm0tam91cm5hbC1rZXk=";
constexpr const char* kClientSecret = "crmsync-emulator-secret";

// The PRM rows, state schema, slot, emulator, daemon and files of one run; removed when it ends.
struct RunResources {
  std::string tag = testing::unique_name("bench_sf2prm");
  std::filesystem::path dir = std::filesystem::temp_directory_path() / tag;
  std::unique_ptr<state::StateDatabase> prm;
  std::string org;
  std::unique_ptr<testing::CrmEmulator> emulator;
  std::unique_ptr<testing::ChildProcess> daemon;
  std::string state_url;

  void stop_daemon() {
    if (!daemon) return;
    daemon->send_signal(SIGTERM);
    if (!daemon->wait_for_exit(seconds(40))) daemon->send_signal(SIGKILL);
    (void)daemon->wait_for_exit(seconds(10));
    daemon.reset();
  }

  ~RunResources() {
    stop_daemon();
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
        (void)bench::connect(state_url)->execute("DROP SCHEMA IF EXISTS " + tag + " CASCADE");
      } catch (const std::exception& e) {
        std::cerr << "bench: cleanup: state schema " << tag << " not dropped: " << e.what() << '\n';
      }
    }
    std::filesystem::remove_all(dir);
  }
};

std::vector<long> parse_list(const std::string& text) {
  std::vector<long> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atol(item.c_str()));
  return out;
}

int run(int argc, char** argv) {
  std::vector<long> polls_ms = {1000, 2000, 5000};
  long rate = 4;
  long load_seconds = 30;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--poll-ms") polls_ms = parse_list(value);
    else if (flag == "--rate") rate = std::atol(value.c_str());
    else if (flag == "--seconds") load_seconds = std::atol(value.c_str());
    else {
      std::cerr << "usage: crmsync_bench_salesforce_to_prm [--poll-ms P1,P2,…] [--rate R] [--seconds S]\n";
      return 2;
    }
  }
  bool polls_valid = !polls_ms.empty();
  for (long poll : polls_ms) polls_valid = polls_valid && poll >= 500 && poll <= 600'000;
  if (!polls_valid || rate <= 0 || load_seconds <= 0 || rate * load_seconds > 5000) {
    std::cerr << "bench: --poll-ms takes intervals of 500..600000 ms; --rate and --seconds must be positive with "
                 "rate × seconds at most 5000 (one deal per edit)\n";
    return 2;
  }
  const long edits = rate * load_seconds;
  const long deals = edits + 1;  // + the warm-up deal

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
  run.emulator = std::make_unique<testing::CrmEmulator>(std::string("salesforce"),
                                                        std::vector<std::string>{"--daily-api-limit", "100000000"});
  const testing::CrmEmulator& emulator = *run.emulator;
  daemon::Logging logging(daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>());
  state::FileSecretProvider secrets({{"salesforce.client_secret", secret_file}});
  auto transport = connectors::http::make_curl_transport({emulator.ca_file(), seconds(10), 4}, logging.logger("http"));
  connectors::salesforce::SalesforceSettings sf_settings;
  sf_settings.login_url = emulator.base_url();
  sf_settings.client_id = "crmsync-emulator-client";
  sf_settings.call_options_client = "bench-sales-rep";  // not crmsync's own writes: captured
  connectors::salesforce::SalesforceClient sf_client(sf_settings, *transport, secrets, logging.logger("sf"),
                                                     mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                                     connectors::http::real_sleeper());
  daemon::SalesforceSideGateway salesforce(sf_client, seconds(60));

  run.state_url = bench::require_env("CRMSYNC_PG_URL");
  unsigned short port = testing::free_local_port();
  auto start_daemon = [&](long poll_ms) {
    auto config = run.dir / "crmsync.toml";
    std::ofstream(config) << "[daemon]\nshutdown_grace = \"20s\"\nleader_retry_interval = \"1s\"\n"
                          << "[log]\nlevel = \"warn\"\n"
                          << "[admin]\nlisten = \"127.0.0.1:" << port << "\"\n"
                          << "[state]\ndatabase_url = \"" << run.state_url << "\"\nschema = \"" << tag << "\"\n"
                          << "[kafka]\nbrokers = [\"" << bench::require_env("CRMSYNC_KAFKA_BROKERS")
                          << "\"]\ntopic_prefix = \"" << tag << "\"\ngroup_id = \"" << tag << "\"\n"
                          << "[prm]\ndatabase_url = \"" << bench::require_env("CRMSYNC_PRM_DAEMON_URL")
                          << "\"\nslot = \"" << tag << "\"\n"
                          << "[salesforce]\nlogin_url = \"" << emulator.base_url()
                          << "\"\nclient_id = \"crmsync-emulator-client\"\nclient_secret_file = \""
                          << secret_file.string() << "\"\nca_bundle = \"" << emulator.ca_file() << "\"\n"
                          << "poll_interval = \"" << poll_ms << "ms\"\n"
                          << "[engine]\n"
                          << "[journal]\nkey_file = \"" << journal_key_file.string() << "\"\n";
    run.daemon = std::make_unique<testing::ChildProcess>(CRMSYNC_BINARY,
                                                         std::vector<std::string>{"run", "--config", config.string()});
  };
  auto fail = [&](const std::string& what) -> std::runtime_error {
    std::string output = run.daemon ? run.daemon->output() : "";
    if (output.size() > 4000) output = output.substr(output.size() - 4000);
    return std::runtime_error(what + "\n--- crmsync output (tail) ---\n" + output);
  };
  auto wait_capturing = [&] {
    for (auto deadline = Clock::now() + seconds(90);;) {
      auto metrics = testing::http_get(port, "/metrics");
      if (metrics && metrics->body.find("crmsync_prm_capture_streaming 1") != std::string::npos) return;
      if (auto exited = run.daemon->wait_for_exit(milliseconds(100))) {
        throw fail("crmsync exited with " + std::to_string(*exited) + " while starting");
      }
      if (Clock::now() > deadline) throw fail("crmsync did not start capturing within 90 s");
    }
  };

  // Set-up: one account and the deals, created in the PRM and synced to Salesforce.
  start_daemon(polls_ms.front());
  wait_capturing();
  std::string account = bench::scalar(
      *run.prm,
      "INSERT INTO prm.accounts (name, website, billing_country, owner_partner_org_id, modified_by_kind) "
      "VALUES ($1, 'https://example.test', 'DE', $2, 'internal_user') RETURNING id",
      {tag + " account", run.org});
  bench::scalar(*run.prm,
                "INSERT INTO prm.deals (account_id, name, amount, stage, close_date, owner_partner_org_id, "
                "modified_by_kind) SELECT $1, $2 || ' ' || g, g, 'Prospecting', '2027-03-31', $3, 'internal_user' "
                "FROM generate_series(1, $4::bigint) g RETURNING 1",
                {account, tag + " deal", run.org, std::to_string(deals)});
  auto id_rows = run.prm->execute("SELECT id::text FROM prm.deals WHERE owner_partner_org_id = $1 ORDER BY id", {run.org});
  if (!id_rows || static_cast<long>(id_rows.value().size()) != deals) throw fail("set-up: cannot list the deals");
  std::vector<std::string> prm_ids;
  for (const auto& row : id_rows.value()) prm_ids.push_back(row[0].value_or(""));
  std::map<std::string, std::string> salesforce_id;  // PRM id → Opportunity Id
  for (auto deadline = Clock::now() + seconds(180); static_cast<long>(salesforce_id.size()) < deals;) {
    auto held = salesforce.read(mapping::ObjectKind::deal, prm_ids, {"Amount"});
    if (held) {
      for (const auto& record : held.value()) salesforce_id[record.prm_id] = record.side_id;
    }
    if (Clock::now() > deadline) {
      throw fail("set-up: " + std::to_string(salesforce_id.size()) + " of " + std::to_string(deals) +
                 " deals reached Salesforce within 180 s");
    }
    std::this_thread::sleep_for(milliseconds(500));
  }

  auto writer = bench::connect(prm_admin_url);
  std::cout << "bench=salesforce-to-prm\nsf_to_prm_edits_per_interval=" << edits << "\nsf_to_prm_offered_per_s=" << rate
            << '\n';
  long round = 0;
  for (long poll_ms : polls_ms) {
    ++round;
    if (round > 1) {
      run.stop_daemon();
      start_daemon(poll_ms);
      wait_capturing();
    }
    // Amounts unique to this round: round × 10^7 + index.
    auto amount_of = [&](long index) { return round * 10'000'000 + index; };
    auto patch = [&](const std::string& prm_id, long amount) {
      auto answer = sf_client.request("PATCH", "sobjects/Opportunity/" + salesforce_id.at(prm_id),
                                      fmt::format(R"({{"Amount":{}}})", amount), "edit Opportunity",
                                      Clock::now() + seconds(30), true);
      if (!answer || answer.value().status >= 300) {
        throw fail("Salesforce edit: " + (answer ? std::to_string(answer.value().status) + " " + answer.value().body
                                                 : answer.error().message));
      }
    };
    // Warm-up: the capture's first poll after start (and the leader fence) is not measured.
    patch(prm_ids.back(), amount_of(edits));
    for (auto deadline = Clock::now() + seconds(120);;) {
      if (bench::scalar(*writer, "SELECT amount::bigint::text FROM prm.deals WHERE id = $1::uuid", {prm_ids.back()}) ==
          std::to_string(amount_of(edits))) {
        break;
      }
      if (Clock::now() > deadline) throw fail("warm-up edit did not reach the PRM within 120 s");
      std::this_thread::sleep_for(milliseconds(50));
    }

    // The watcher: every 20 ms, which of this round's amounts the PRM shows, and since when.
    std::vector<std::int64_t> edited_us(static_cast<std::size_t>(edits), 0);
    std::vector<std::int64_t> seen_us(static_cast<std::size_t>(edits), 0);
    std::atomic<bool> done{false};
    std::mutex seen_mutex;
    std::thread watcher([&] {
      auto reader = bench::connect(prm_admin_url);
      while (!done) {
        auto rows = reader->execute(
            "SELECT amount::bigint - $2::bigint FROM prm.deals WHERE owner_partner_org_id = $1 AND amount >= $2::numeric "
            "AND amount < $3::numeric",
            {run.org, std::to_string(amount_of(0)), std::to_string(amount_of(edits))});
        std::int64_t at = bench::now_us();
        if (rows) {
          std::lock_guard lock(seen_mutex);
          for (const auto& row : rows.value()) {
            long index = std::atol(row[0].value_or("-1").c_str());
            if (index >= 0 && index < edits && seen_us[static_cast<std::size_t>(index)] == 0) {
              seen_us[static_cast<std::size_t>(index)] = at;
            }
          }
        }
        std::this_thread::sleep_for(milliseconds(20));
      }
    });
    const auto load_started = Clock::now();
    for (long i = 0; i < edits; ++i) {
      std::this_thread::sleep_until(load_started + std::chrono::microseconds(i * 1'000'000 / rate));
      patch(prm_ids[static_cast<std::size_t>(i)], amount_of(i));
      edited_us[static_cast<std::size_t>(i)] = bench::now_us();
    }
    auto all_seen = [&] {
      std::lock_guard lock(seen_mutex);
      return std::all_of(seen_us.begin(), seen_us.end(), [](std::int64_t at) { return at != 0; });
    };
    auto deadline = Clock::now() + seconds(60) + milliseconds(poll_ms * 3);
    while (!all_seen() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(100));
    done = true;
    watcher.join();
    if (!all_seen()) throw fail(fmt::format("poll {} ms: not every Salesforce edit reached the PRM in time", poll_ms));
    std::vector<double> latencies_ms;
    for (long i = 0; i < edits; ++i) {
      auto index = static_cast<std::size_t>(i);
      // A PRM read can land between the PATCH's answer and our clock read: clamp at 0.
      latencies_ms.push_back(std::max<double>(0, static_cast<double>(seen_us[index] - edited_us[index]) / 1000.0));
    }
    std::string key = fmt::format("sf_to_prm_poll_{}ms", poll_ms);
    std::cout << key << "_p50_ms=" << bench::percentile(latencies_ms, 0.50) << '\n'
              << key << "_p99_ms=" << bench::percentile(latencies_ms, 0.99) << '\n'
              << key << "_max_ms=" << bench::percentile(latencies_ms, 1.0) << '\n';
  }
  std::cout << "cores=" << std::thread::hardware_concurrency() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return bench::run_main(run, argc, argv); }
