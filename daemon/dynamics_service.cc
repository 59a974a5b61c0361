#include "daemon/dynamics_service.h"

#include <spdlog/spdlog.h>

#include "connectors/dynamics/dataverse_capture.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/dynamics/delta_link_store.h"
#include "connectors/http/http_transport.h"
#include "connectors/http/retrying_client.h"
#include "connectors/kafka/kafka_producer.h"
#include "daemon/engine_mapping.h"
#include "daemon/metered_crm_transport.h"
#include "daemon/metrics.h"
#include "daemon/settings_from_config.h"
#include "state/file_secret_provider.h"
#include "state/migrator.h"

namespace crmsync::daemon {

namespace dv = connectors::dynamics;

struct DynamicsService::Parts {
  Config config;
  mapping::SecretProvider& secrets;
  state::StateDatabaseSettings state;
  std::shared_ptr<spdlog::logger> logger;
  MetricsRegistry& metrics;
  MetricSeries& events;
  MetricSeries& captured;
  MetricSeries& streaming;
  std::unique_ptr<connectors::http::HttpTransport> transport = nullptr;
  std::unique_ptr<connectors::http::RetryingHttpClient> http = nullptr;
  std::unique_ptr<dv::DataverseTokenClient> tokens = nullptr;
  std::unique_ptr<dv::DataverseClient> client = nullptr;
  std::unique_ptr<connectors::kafka::KafkaProducer> producer = nullptr;
  std::unique_ptr<state::StateDatabase> database = nullptr;
  std::unique_ptr<dv::DeltaLinkStore> links = nullptr;
  std::unique_ptr<dv::DataverseCapture> capture = nullptr;
  // Set by begin_shutdown(): the client's retry waits end and nothing more is retried.
  std::shared_ptr<std::atomic<bool>> shutting_down = std::make_shared<std::atomic<bool>>(false);
};

std::unique_ptr<mapping::SecretProvider> dynamics_credential_files(const DynamicsSection& section) {
  std::map<std::string, std::filesystem::path> files;
  if (section.client_secret_file) files["dynamics.client_secret"] = *section.client_secret_file;
  return std::make_unique<state::FileSecretProvider>(std::move(files));
}

DynamicsService::DynamicsService(const Config& config, mapping::SecretProvider& secrets,
                                 state::StateDatabaseSettings state, MetricsRegistry& metrics,
                                 std::shared_ptr<spdlog::logger> logger)
    : parts_(new Parts{config, secrets, std::move(state), std::move(logger), metrics,
                       metrics.series("crmsync_dynamics_capture_events_total",
                                      "Record events the Dataverse capture produced to Kafka.", MetricType::counter),
                       captured_events_series(metrics, "dynamics", "capture"),
                       metrics.series("crmsync_dynamics_capture_running",
                                      "Whether the Dataverse capture loop runs (1) or waits (0).", MetricType::gauge)}) {}

DynamicsService::~DynamicsService() { stop(); }

void DynamicsService::start() {
  const DynamicsSection& section = *parts_->config.dynamics;
  // The client first: the apply workers and operator commands use it with capture = false too.
  dv::DataverseSettings settings = dataverse_settings_from(section);
  parts_->transport = std::make_unique<MeteredCrmTransport>(
      connectors::http::make_curl_transport(
          {section.ca_bundle, std::chrono::seconds(10), static_cast<int>(section.max_concurrent_requests)},
          parts_->logger),
      "dynamics", dataverse_api_budget_used, parts_->metrics);
  parts_->http = std::make_unique<connectors::http::RetryingHttpClient>(
      *parts_->transport, mapping::RetryPolicy{}, mapping::make_uniform_random(),
      connectors::http::interruptible_sleeper(parts_->shutting_down), parts_->logger);
  parts_->tokens = std::make_unique<dv::DataverseTokenClient>(settings, *parts_->http, parts_->secrets, parts_->logger);
  parts_->client = std::make_unique<dv::DataverseClient>(settings, *parts_->http, *parts_->tokens);
  if (!section.capture) return;
  auto producer = connectors::kafka::KafkaProducer::create(kafka_settings_from(parts_->config), parts_->logger);
  if (!producer) throw std::runtime_error("dynamics capture: " + producer.error().message);
  parts_->producer = std::move(producer).value();
}

void DynamicsService::start_capture() {
  if (!parts_->producer || thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void DynamicsService::loop() {
  const DynamicsSection& section = *parts_->config.dynamics;
  mapping::RetryPolicy retry{std::chrono::seconds(1), std::chrono::minutes(1)};
  auto uniform = mapping::make_uniform_random();
  int attempt = 0;
  auto wait = [&](std::chrono::milliseconds delay) {
    auto until = std::chrono::steady_clock::now() + delay;
    while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  while (!stop_) {
    if (!parts_->capture) {
      // Delta links live in the state database: wait for it (migrating the schema if nothing did yet).
      auto connected = state::StateDatabase::connect(parts_->state);
      if (connected && state::migrate(*connected.value(), state::embedded_migrations(), state::DryRun::no)) {
        parts_->database = std::move(connected).value();
        parts_->links = std::make_unique<dv::DeltaLinkStore>(*parts_->database);
        dv::DataverseCaptureSettings capture;
        capture.topic = parts_->config.kafka.topic_prefix + ".changes.dynamics";
        capture.org = section.org_url;
        // The columns the engine's mapping binds on Dataverse (lookups as _<name>_value).
        mapping::MappingDefinition mapping = load_engine_mapping(parts_->config);
        capture.tables = {{mapping::ObjectKind::account, mapping.account.native_read_names(mapping::Side::dynamics)},
                          {mapping::ObjectKind::deal, mapping.deal.native_read_names(mapping::Side::dynamics)}};
        parts_->capture = std::make_unique<dv::DataverseCapture>(*parts_->client, capture, *parts_->links,
                                                                 *parts_->producer, parts_->logger);
      } else {
        wait(retry.delay_for_attempt(attempt++, uniform));
        continue;
      }
    }
    parts_->streaming.set(1);
    auto outcome = parts_->capture->run(stop_, section.poll_interval, std::chrono::minutes(5), retry, uniform);
    parts_->streaming.set(0);
    if (outcome) return;  // stopped
    if (outcome.error().error_class == mapping::ErrorClass::fatal) {
      std::lock_guard lock(mutex_);
      fatal_error_ = outcome.error().message;
      return;
    }
    // auth/invalid: an operator must act (rotate the secret, fix the app registration); keep
    // trying slowly so that a fix is picked up without a restart.
    parts_->logger->error("dataverse capture paused kind={} error=\"{}\"; retrying in 60s",
                          mapping::to_string(outcome.error().error_class), outcome.error().message);
    wait(std::chrono::seconds(60));
  }
}

void DynamicsService::stop_capture() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void DynamicsService::begin_shutdown() { parts_->shutting_down->store(true); }

void DynamicsService::stop() { stop_capture(); }

std::optional<std::string> DynamicsService::fatal_error() const {
  std::lock_guard lock(mutex_);
  return fatal_error_;
}

void DynamicsService::publish_metrics() {
  if (!parts_->capture) return;
  auto produced = static_cast<double>(parts_->capture->probe().events_produced.load());
  parts_->events.set(produced);
  parts_->captured.set(produced);
}

dv::DataverseClient* DynamicsService::client() { return parts_->client.get(); }

}  // namespace crmsync::daemon
