// Capture throughput and latency from PRM commit to Kafka acknowledgement, on the real local
// PostgreSQL and Kafka (deploy/dev/bench capture starts them). Not a test: it prints figures as
// key=value lines for docs/performance.md.
//
//   crmsync_bench_capture [--rows N] [--batch B] [--writers W] [--rate R]
//
// --rate paces the live phase's writers to R rows/s in all (0, the default: as fast as they can),
// to measure latency at a load below saturation.
//
// Two phases, each with N rows inserted as deals into the reference schema by W writer threads in
// transactions of B rows, captured (in this process, as `crmsync run` does) to a fresh topic:
//  * live: the capture streams while the writers write. Latency is per row, from its commit time
//    (in the WAL) to the producer's delivery report; `capture_live_changes_per_s` is bounded by
//    how fast the writers commit on the same 2 cores.
//  * backlog: the writers commit while the capture is stopped; then it starts and drains the
//    backlog. `capture_changes_per_s` = rows / (streaming start → last acknowledgement): what the
//    capture itself sustains.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_producer.h"
#include "connectors/prm/prm_capture.h"
#include "daemon/logging.h"
#include "state/migrator.h"
#include "state/state_database.h"
#include "tests/bench/bench_support.h"

using namespace crmsync;
using bench::connect;
using bench::percentile;
using bench::require_env;
using bench::scalar;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

int run(int argc, char** argv) {
  long rows = 200'000;
  long batch = 100;
  int writers = 2;
  long rate = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    long value = std::atol(argv[i + 1]);
    if (flag == "--rows") rows = value;
    else if (flag == "--batch") batch = value;
    else if (flag == "--writers") writers = static_cast<int>(value);
    else if (flag == "--rate") rate = value;
    else {
      std::cerr << "usage: crmsync_bench_capture [--rows N] [--batch B] [--writers W] [--rate R]\n";
      return 2;
    }
  }
  if (rows <= 0 || batch <= 0 || writers <= 0 || rate < 0) {
    std::cerr << "bench: --rows, --batch and --writers must be positive\n";
    return 2;
  }

  std::string prm_admin_url = require_env("CRMSYNC_PRM_PG_URL");
  std::string tag = "bench_" + std::to_string(::getpid());
  auto admin = connect(prm_admin_url);
  std::string org = scalar(*admin, "INSERT INTO prm.partner_orgs (name, tier) VALUES ($1, 'gold') RETURNING id", {tag});
  std::string account = scalar(*admin, "INSERT INTO prm.accounts (name, owner_partner_org_id, modified_by_kind) "
                                       "VALUES ($1, $2, 'integration') RETURNING id", {tag, org});

  state::StateDatabaseSettings state_settings;
  state_settings.url = require_env("CRMSYNC_PG_URL");
  state_settings.schema = tag;
  {
    auto state_db = connect(state_settings.url, tag);
    if (!state::migrate(*state_db, state::embedded_migrations(), state::DryRun::no)) return 1;
  }

  daemon::Logging logging(daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>());
  connectors::kafka::KafkaSettings kafka;
  kafka.brokers = {require_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = connectors::kafka::KafkaProducer::create(kafka, logging.logger("producer"));
  if (!producer) {
    std::cerr << "bench: " << producer.error().message << '\n';
    return 1;
  }

  std::mutex latencies_mutex;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<std::size_t>(rows) + 1024);
  std::atomic<long> acknowledged{0};
  std::atomic<std::int64_t> first_commit_us{0};
  std::atomic<std::int64_t> last_ack_us{0};
  std::atomic<bool> measuring{false};

  connectors::prm::PrmCaptureSettings settings;
  settings.connection.url = require_env("CRMSYNC_PRM_DAEMON_URL");
  settings.slot = tag;
  settings.topic = "crmsync.bench." + tag + ".changes.prm";
  settings.deadletter_topic = "crmsync.bench." + tag + ".deadletter";
  settings.status_interval = seconds(1);
  settings.on_acknowledged = [&](std::int64_t commit_us, std::int64_t ack_us) {
    if (!measuring) return;
    std::int64_t expected = 0;
    first_commit_us.compare_exchange_strong(expected, commit_us);
    if (commit_us < first_commit_us) first_commit_us = commit_us;
    last_ack_us = std::max<std::int64_t>(last_ack_us, ack_us);
    std::lock_guard lock(latencies_mutex);
    latencies_ms.push_back(static_cast<double>(ack_us - commit_us) / 1000.0);
    ++acknowledged;
  };
  auto insert_rows = [&](long pace) {
    std::atomic<long> next_row{0};
    auto began = std::chrono::steady_clock::now();
    std::vector<std::thread> load;
    for (int w = 0; w < writers; ++w) {
      load.emplace_back([&] {
        auto db = connect(prm_admin_url);
        while (true) {
          long start = next_row.fetch_add(batch);
          if (start >= rows) break;
          long count = std::min(batch, rows - start);
          if (pace > 0) {
            std::this_thread::sleep_until(began + std::chrono::microseconds(start * 1'000'000 / pace));
          }
          scalar(*db,
                 "INSERT INTO prm.deals (account_id, name, amount, currency, stage, owner_partner_org_id, "
                 "modified_by_kind, modified_by_id) SELECT $1, 'bench deal ' || g, g * 10, 'EUR', 'Prospecting', $2, "
                 "'integration', 'bench' FROM generate_series($3::bigint, $4::bigint) g",
                 {account, org, std::to_string(start), std::to_string(start + count - 1)});
        }
      });
    }
    for (auto& thread : load) thread.join();
  };

  // Runs the capture on a thread; `until` decides when to stop it.
  struct RunningCapture {
    std::unique_ptr<connectors::prm::PrmCapture> capture;
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  auto start_capture = [&](RunningCapture& running) {
    running.capture = std::make_unique<connectors::prm::PrmCapture>(
        settings, connectors::prm::reference_schema_bindings(), state_settings, *producer.value(),
        logging.logger("capture"), mapping::RetryPolicy{milliseconds(100), seconds(1), 2.0, 0.2},
        mapping::make_uniform_random());
    running.stop = false;
    running.thread = std::thread([&running] {
      auto outcome = running.capture->run(running.stop);
      if (!outcome) std::cerr << "bench: capture failed: " << outcome.error().message << '\n';
    });
    auto deadline = std::chrono::steady_clock::now() + seconds(120);
    while (!running.capture->probe().streaming && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    return running.capture->probe().streaming.load();
  };
  auto wait_for_acks = [&](long target) {
    auto deadline = std::chrono::steady_clock::now() + seconds(300);
    while (acknowledged < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  };

  // Live phase.
  RunningCapture live;
  if (!start_capture(live)) {
    std::cerr << "bench: capture did not start streaming\n";
    live.stop = true;
    live.thread.join();
    return 1;
  }
  measuring = true;
  auto load_started = std::chrono::steady_clock::now();
  insert_rows(rate);
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_started).count();
  wait_for_acks(rows);
  measuring = false;
  live.stop = true;
  live.thread.join();
  long live_received = acknowledged.load();
  double live_window_s = static_cast<double>(last_ack_us - first_commit_us) / 1e6;
  std::vector<double> copy;
  {
    std::lock_guard lock(latencies_mutex);
    copy = latencies_ms;
  }

  // Backlog phase: rows committed while the capture is down, then drained.
  insert_rows(0);
  acknowledged = 0;
  last_ack_us = 0;
  measuring = true;
  RunningCapture drain;
  auto drain_started = std::chrono::steady_clock::now();
  bool drained_started = start_capture(drain);
  auto streaming_at = std::chrono::steady_clock::now();
  wait_for_acks(rows);
  auto drained_at = std::chrono::steady_clock::now();
  measuring = false;
  drain.stop = true;
  drain.thread.join();
  long drained = acknowledged.load();
  double drain_s = std::chrono::duration<double>(drained_at - streaming_at).count();

  std::cout << "capture_rows=" << rows << '\n'
            << "capture_batch_rows=" << batch << '\n'
            << "capture_writers=" << writers << '\n'
            << "capture_live_rate_limit=" << rate << '\n'
            << "capture_live_rows_acknowledged=" << live_received << '\n'
            << "capture_live_load_seconds=" << load_seconds << '\n'
            << "capture_live_changes_per_s=" << (live_window_s > 0 ? static_cast<double>(live_received) / live_window_s : 0) << '\n'
            << "capture_commit_to_ack_p50_ms=" << percentile(copy, 0.50) << '\n'
            << "capture_commit_to_ack_p99_ms=" << percentile(copy, 0.99) << '\n'
            << "capture_commit_to_ack_max_ms=" << percentile(copy, 1.0) << '\n'
            << "capture_backlog_rows_acknowledged=" << drained << '\n'
            << "capture_backlog_connect_seconds=" << std::chrono::duration<double>(streaming_at - drain_started).count() << '\n'
            << "capture_backlog_drain_seconds=" << drain_s << '\n'
            << "capture_changes_per_s=" << (drain_s > 0 && drained_started ? static_cast<double>(drained) / drain_s : 0) << '\n';
  long received = std::min(live_received, drained);

  (void)admin->execute("SELECT pg_drop_replication_slot($1)", {tag});
  (void)admin->execute("DELETE FROM prm.deals WHERE owner_partner_org_id = $1", {org});
  (void)admin->execute("DELETE FROM prm.accounts WHERE owner_partner_org_id = $1", {org});
  (void)admin->execute("DELETE FROM prm.partner_orgs WHERE id = $1", {org});
  auto state_db = connect(state_settings.url);
  (void)state_db->execute("DROP SCHEMA IF EXISTS " + tag + " CASCADE");
  return received == rows ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::run_main(run, argc, argv); }
