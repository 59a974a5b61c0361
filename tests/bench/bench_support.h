#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "state/state_database.h"

namespace crmsync::connectors::http {
class HttpTransport;
}

// Helpers the benchmarks share: environment, PostgreSQL sessions, percentiles and the CRM
// emulators' call counters. A benchmark is a program, not a test: a failure here throws
// std::runtime_error saying what failed, and run_main() turns it into a message and exit code 1,
// so a broken set-up never produces figures (and a benchmark's destructors still clean up).
namespace crmsync::bench {

// Runs a benchmark's `run`; an exception becomes "bench: <what>" on stderr and exit code 1.
int run_main(int (*run)(int, char**), int argc, char** argv);

// The value of an environment variable deploy/dev/bench exports.
std::string require_env(const char* name);

// A session on `url` (state schema `schema`).
std::unique_ptr<state::StateDatabase> connect(const std::string& url, const std::string& schema = "crmsync");

// The first column of the first row ("" when there is none).
std::string scalar(state::StateDatabase& db, const std::string& sql, const state::QueryRow& params = {});

// The p-quantile (0..1) of `values` by nearest rank below; reorders `values`. 0 when empty.
double percentile(std::vector<double>& values, double p);

// What a CRM emulator counted since its counters were last reset (/_emulator/stats).
struct EmulatorCallCounters {
  long long api_calls = -1;  // every request, token calls included; -1 when unknown
  long long write_calls = 0;
  long long records_written = 0;

  double records_per_write_call() const {
    return write_calls > 0 ? static_cast<double>(records_written) / static_cast<double>(write_calls) : 0;
  }
};

// Zeroes the counters of the emulator at `base_url`.
void reset_emulator_counters(connectors::http::HttpTransport& transport, const std::string& base_url);
EmulatorCallCounters emulator_counters(connectors::http::HttpTransport& transport, const std::string& base_url);

// Microseconds since the epoch (the system clock: comparable with the emulators' timestamps).
std::int64_t now_us();

// "2026-11-28T10:00:01.123+0000" (or …Z), as Salesforce prints SystemModstamp → milliseconds
// since the epoch; nothing if malformed or not UTC.
std::optional<std::int64_t> parse_salesforce_datetime(const std::string& text);

// What /proc says about a process (the daemon under benchmark).
struct ProcessUsage {
  double cpu_seconds = 0;  // utime + stime
  double peak_rss_mb = 0;  // VmHWM
};
ProcessUsage process_usage(pid_t pid);

// Sum of the Prometheus samples whose name is `metric` (any labels) in a /metrics body.
double metric_sum(const std::string& body, const std::string& metric);

}  // namespace crmsync::bench
