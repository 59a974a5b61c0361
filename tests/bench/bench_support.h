#pragma once

#include <memory>
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

}  // namespace crmsync::bench
