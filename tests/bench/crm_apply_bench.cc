// CRM write efficiency: how many API calls a bulk change of deals costs, from the emulators' own
// counters (deploy/dev/bench crm-apply starts what it needs). Prints key=value lines for
// docs/performance.md; not a test.
//
//   crmsync_bench_crm_apply [--deals N] [--chunk C]
//
// N changed deals reach the Salesforce sink in chunks of C (as an apply worker hands over what
// accumulated while a batch filled); the sink groups them into sObject Collections calls.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "daemon/logging.h"
#include "state/file_secret_provider.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace {

using namespace crmsync;
using std::chrono::seconds;

rapidjson::Document stats(connectors::http::HttpTransport& transport, const std::string& base) {
  auto answer = transport.send({"GET", base + "/_emulator/stats", {}, "", "stats"},
                               std::chrono::steady_clock::now() + seconds(10));
  rapidjson::Document json;
  if (answer) json.Parse(answer.value().body.c_str());
  return json;
}

}  // namespace

int main(int argc, char** argv) {
  long deals = 20'000;
  long chunk = 1'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--deals") deals = std::atol(argv[i + 1]);
    else if (flag == "--chunk") chunk = std::atol(argv[i + 1]);
    else {
      std::cerr << "usage: crmsync_bench_crm_apply [--deals N] [--chunk C]\n";
      return 2;
    }
  }
  if (deals <= 0 || chunk <= 0) return 2;

  testing::CrmEmulator emulator("salesforce", {"--daily-api-limit", "1000000"});
  daemon::Logging logging(daemon::LogFormat::text, daemon::LogLevel::warn, std::make_shared<daemon::LogRedactor>());
  auto dir = std::filesystem::temp_directory_path() / testing::unique_name("bench_sf");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "client_secret") << "crmsync-emulator-secret";
  ::chmod((dir / "client_secret").c_str(), 0600);
  state::FileSecretProvider secrets({{"salesforce.client_secret", dir / "client_secret"}});
  auto transport = connectors::http::make_curl_transport({emulator.ca_file(), seconds(10), 8}, logging.logger("http"));
  connectors::salesforce::SalesforceSettings settings;
  settings.login_url = emulator.base_url();
  settings.client_id = "crmsync-emulator-client";
  connectors::salesforce::SalesforceClient client(settings, *transport, secrets, logging.logger("sf"), mapping::RetryPolicy{},
                                                  mapping::make_uniform_random(), connectors::http::real_sleeper());
  connectors::salesforce::SalesforceRecordSink sink(client);

  (void)transport->send({"DELETE", emulator.base_url() + "/_emulator/stats", {}, "", "reset stats"},
                        std::chrono::steady_clock::now() + seconds(10));
  auto started = std::chrono::steady_clock::now();
  long failed = 0;
  for (long start = 0; start < deals; start += chunk) {
    std::vector<mapping::CrmRecordWrite> writes;
    for (long i = start; i < std::min(deals, start + chunk); ++i) {
      mapping::CrmRecordWrite write;
      write.object = mapping::ObjectKind::deal;
      write.prm_id = "bench-deal-" + std::to_string(i);
      write.fields = {{"Name", mapping::FieldValue::string_value("Bench deal " + std::to_string(i))},
                      {"StageName", mapping::FieldValue::string_value("Prospecting")},
                      {"CloseDate", mapping::FieldValue::string_value("2027-03-31")},
                      {"Amount", mapping::FieldValue::number_value(std::to_string(1000 + i))}};
      writes.push_back(std::move(write));
    }
    auto results = sink.apply(writes, std::chrono::steady_clock::now() + std::chrono::minutes(5));
    if (!results) {
      std::cerr << "bench: " << results.error().message << '\n';
      return 1;
    }
    for (const auto& result : results.value()) failed += result.error ? 1 : 0;
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto counters = stats(*transport, emulator.base_url());
  long long calls = counters.HasMember("total_requests") ? counters["total_requests"].GetInt64() : -1;
  long long write_calls = 0;
  long long written = 0;
  if (counters.HasMember("records_per_write")) {
    for (const auto& bucket : counters["records_per_write"].GetObject()) {
      long long records = std::atoll(bucket.name.GetString());
      write_calls += bucket.value.GetInt64();
      written += records * bucket.value.GetInt64();
    }
  }
  std::cout << "salesforce_deals=" << deals << '\n'
            << "salesforce_chunk=" << chunk << '\n'
            << "salesforce_failed_records=" << failed << '\n'
            << "salesforce_api_calls=" << calls << '\n'
            << "salesforce_write_calls=" << write_calls << '\n'
            << "salesforce_records_per_write_call=" << (write_calls > 0 ? static_cast<double>(written) / static_cast<double>(write_calls) : 0) << '\n'
            << "salesforce_seconds=" << elapsed << '\n'
            << "salesforce_records_per_s=" << static_cast<double>(deals) / elapsed << '\n';
  std::filesystem::remove_all(dir);
  return failed == 0 ? 0 : 1;
}
