#include "tests/bench/bench_support.h"

#include <rapidjson/document.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include "connectors/http/http_transport.h"

namespace crmsync::bench {

int run_main(int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << '\n';
    return 1;
  }
}

std::string require_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) + " is not set; run the benchmark through deploy/dev/bench");
  }
  return value;
}

std::unique_ptr<state::StateDatabase> connect(const std::string& url, const std::string& schema) {
  state::StateDatabaseSettings settings;
  settings.url = url;
  settings.schema = schema;
  auto db = state::StateDatabase::connect(settings);
  if (!db) throw std::runtime_error(db.error().message);
  return std::move(db).value();
}

std::string scalar(state::StateDatabase& db, const std::string& sql, const state::QueryRow& params) {
  auto rows = db.execute(sql, params);
  if (!rows) throw std::runtime_error(sql + ": " + rows.error().message);
  return rows.value().empty() ? "" : rows.value()[0][0].value_or("");
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
  return values[index];
}

void reset_emulator_counters(connectors::http::HttpTransport& transport, const std::string& base_url) {
  auto answer = transport.send({"DELETE", base_url + "/_emulator/stats", {}, "", "reset stats"},
                               std::chrono::steady_clock::now() + std::chrono::seconds(10));
  if (!answer || answer.value().status / 100 != 2) {
    throw std::runtime_error("could not reset the emulator's counters at " + base_url + "/_emulator/stats: " +
                             (answer ? "HTTP " + std::to_string(answer.value().status) : answer.error().message));
  }
}

EmulatorCallCounters emulator_counters(connectors::http::HttpTransport& transport, const std::string& base_url) {
  EmulatorCallCounters counters;
  auto answer = transport.send({"GET", base_url + "/_emulator/stats", {}, "", "stats"},
                               std::chrono::steady_clock::now() + std::chrono::seconds(10));
  if (!answer) return counters;
  rapidjson::Document json;
  json.Parse(answer.value().body.c_str());
  if (json.HasParseError() || !json.IsObject()) return counters;
  if (json.HasMember("total_requests")) counters.api_calls = json["total_requests"].GetInt64();
  if (json.HasMember("records_per_write")) {
    for (const auto& bucket : json["records_per_write"].GetObject()) {
      counters.write_calls += bucket.value.GetInt64();
      counters.records_written += std::atoll(bucket.name.GetString()) * bucket.value.GetInt64();
    }
  }
  return counters;
}


std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> parse_salesforce_datetime(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  if (text.size() < 24 || (text.compare(23, std::string::npos, "+0000") != 0 && text.compare(23, std::string::npos, "Z") != 0)) {
    return std::nullopt;  // the emulator prints UTC; another zone would need handling here
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + millis;
}

ProcessUsage process_usage(pid_t pid) {
  ProcessUsage usage;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  // Fields after the command name (which may hold spaces), from field 3 (state) on.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
  if (fields.size() < 13) throw std::runtime_error("unexpected /proc/<pid>/stat: " + line);
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  usage.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;  // fields 14 and 15
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) usage.peak_rss_mb = std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return usage;
}

double metric_sum(const std::string& body, const std::string& metric) {
  double sum = 0;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(metric, 0) != 0) continue;
    char next = line.size() > metric.size() ? line[metric.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace crmsync::bench
