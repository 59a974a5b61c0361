// CRM write efficiency: how many API calls a bulk change of deals costs, from the emulators' own
// counters (deploy/dev/bench crm-apply starts what it needs). Prints key=value lines for
// docs/performance.md; not a test.
//
//   crmsync_bench_crm_apply [--deals N] [--dynamics-deals M] [--chunk C] [--dynamics-batch B]
//
// N changed deals reach each CRM's writer in chunks of C (as an apply worker hands over what
// accumulated while a batch filled): the Salesforce sink groups them into sObject Collections
// calls, the Dataverse applier M deals into $batch requests of B records. (M defaults to 2,000:
// the Dataverse emulator copies a table per change set, so its time grows with the square of M,
// while records per batch does not depend on M.)

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "daemon/logging.h"
#include "state/file_secret_provider.h"
#include "tests/bench/bench_support.h"
#include "tests/support/crm_emulator.h"
#include "tests/support/service_env.h"

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace crmsync;
using std::chrono::seconds;

namespace {

int run(int argc, char** argv) {
  long deals = 20'000;
  long chunk = 1'000;
  long dynamics_batch = 100;
  long dynamics_deals = 2'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--deals") deals = std::atol(argv[i + 1]);
    else if (flag == "--chunk") chunk = std::atol(argv[i + 1]);
    else if (flag == "--dynamics-batch") dynamics_batch = std::atol(argv[i + 1]);
    else if (flag == "--dynamics-deals") dynamics_deals = std::atol(argv[i + 1]);
    else {
      std::cerr << "usage: crmsync_bench_crm_apply [--deals N] [--dynamics-deals M] [--chunk C] [--dynamics-batch B]\n";
      return 2;
    }
  }
  if (deals <= 0 || dynamics_deals <= 0 || chunk <= 0 || dynamics_batch <= 0 || dynamics_batch > 1000) return 2;

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

  bench::reset_emulator_counters(*transport, emulator.base_url());
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
  auto counters = bench::emulator_counters(*transport, emulator.base_url());
  std::cout << "salesforce_deals=" << deals << '\n'
            << "salesforce_chunk=" << chunk << '\n'
            << "salesforce_failed_records=" << failed << '\n'
            << "salesforce_api_calls=" << counters.api_calls << '\n'
            << "salesforce_write_calls=" << counters.write_calls << '\n'
            << "salesforce_records_per_write_call=" << counters.records_per_write_call() << '\n'
            << "salesforce_seconds=" << elapsed << '\n'
            << "salesforce_records_per_s=" << static_cast<double>(deals) / elapsed << '\n';

  // Dataverse: the same deals as opportunities, in $batch requests.
  testing::CrmEmulator dataverse("dynamics");
  auto dv_transport = connectors::http::make_curl_transport({dataverse.ca_file(), seconds(10), 8}, logging.logger("http"));
  connectors::http::RetryingHttpClient dv_http(*dv_transport, mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                               connectors::http::real_sleeper(), logging.logger("http"));
  state::FileSecretProvider dv_secrets({{"dynamics.client_secret", dir / "client_secret"}});
  connectors::dynamics::DataverseSettings dv_settings;
  dv_settings.org_url = dataverse.base_url();
  dv_settings.authority_url = dataverse.base_url();
  dv_settings.tenant = "crmsync-tenant";
  dv_settings.client_id = "crmsync-emulator-client";
  connectors::dynamics::DataverseTokenClient tokens(dv_settings, dv_http, dv_secrets, logging.logger("dynamics"));
  connectors::dynamics::DataverseClient dv_client(dv_settings, dv_http, tokens);
  connectors::dynamics::DataverseApplier applier(dv_client, {static_cast<std::size_t>(dynamics_batch)},
                                                 logging.logger("dynamics"));
  bench::reset_emulator_counters(*dv_transport, dataverse.base_url());
  auto dv_started = std::chrono::steady_clock::now();
  long dv_failed = 0;
  for (long start = 0; start < dynamics_deals; start += chunk) {
    std::vector<mapping::CrmRecordWrite> writes;
    for (long i = start; i < std::min(dynamics_deals, start + chunk); ++i) {
      mapping::CrmRecordWrite write;
      write.object = mapping::ObjectKind::deal;
      write.prm_id = "bench-deal-" + std::to_string(i);
      write.fields = {{"name", mapping::FieldValue::string_value("Bench deal " + std::to_string(i))},
                      {"estimatedvalue", mapping::FieldValue::number_value(std::to_string(1000 + i))}};
      writes.push_back(std::move(write));
    }
    auto results = applier.apply(writes, std::chrono::steady_clock::now() + std::chrono::minutes(5));
    if (!results) {
      std::cerr << "bench: dataverse: " << results.error().message << '\n';
      return 1;
    }
    for (const auto& result : results.value()) dv_failed += result.error ? 1 : 0;
  }
  double dv_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - dv_started).count();
  auto dv_counters = bench::emulator_counters(*dv_transport, dataverse.base_url());
  double per_batch = dv_counters.records_per_write_call();
  std::cout << "dynamics_deals=" << dynamics_deals << '\n'
            << "dynamics_batch_size=" << dynamics_batch << '\n'
            << "dynamics_failed_records=" << dv_failed << '\n'
            << "dynamics_api_calls=" << dv_counters.api_calls << '\n'
            << "dynamics_batches=" << dv_counters.write_calls << '\n'
            << "dynamics_records_per_batch=" << per_batch << '\n'
            << "dynamics_batch_fill_percent=" << 100.0 * per_batch / static_cast<double>(dynamics_batch) << '\n'
            << "dynamics_seconds=" << dv_elapsed << '\n'
            << "dynamics_records_per_s=" << static_cast<double>(dynamics_deals) / dv_elapsed << '\n';
  std::filesystem::remove_all(dir);
  return failed == 0 && dv_failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::run_main(run, argc, argv); }
