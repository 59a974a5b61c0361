#include "tests/bench/bench_support.h"

#include <rapidjson/document.h>

#include <algorithm>
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

}  // namespace crmsync::bench
