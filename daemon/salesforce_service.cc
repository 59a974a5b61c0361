#include "daemon/salesforce_service.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "connectors/http/http_transport.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/salesforce/salesforce_capture.h"
#include "connectors/salesforce/salesforce_client.h"
#include "daemon/engine_mapping.h"
#include "daemon/metered_crm_transport.h"
#include "daemon/metrics.h"
#include "daemon/settings_from_config.h"
#include "state/file_secret_provider.h"

namespace crmsync::daemon {

namespace sf = connectors::salesforce;

struct SalesforceService::Parts {
  Config config;
  mapping::SecretProvider& secrets;
  state::StateDatabaseSettings state;
  std::shared_ptr<spdlog::logger> logger;
  std::unique_ptr<connectors::http::HttpTransport> transport;
  std::unique_ptr<sf::SalesforceClient> client;
  std::unique_ptr<connectors::kafka::KafkaProducer> producer;
  sf::SalesforceCaptureSettings capture_settings;
  std::unique_ptr<sf::SalesforceCapture> capture;
  MetricsRegistry& metrics;
  MetricSeries& used;
  MetricSeries& limit;
  MetricSeries& paused;
  MetricSeries& captured;
  std::uint64_t captured_by_earlier_captures = 0;  // a capture is created each time this replica leads
  // Set by begin_shutdown(): the client's retry waits end and nothing more is retried.
  std::shared_ptr<std::atomic<bool>> shutting_down = std::make_shared<std::atomic<bool>>(false);
};

std::unique_ptr<mapping::SecretProvider> salesforce_credential_files(const SalesforceSection& section) {
  std::map<std::string, std::filesystem::path> files;
  if (section.client_secret_file) files["salesforce.client_secret"] = *section.client_secret_file;
  if (section.private_key_file) files["salesforce.jwt_private_key"] = *section.private_key_file;
  if (section.refresh_token_file) files["salesforce.refresh_token"] = *section.refresh_token_file;
  return std::make_unique<state::FileSecretProvider>(std::move(files));
}

SalesforceService::SalesforceService(const Config& config, mapping::SecretProvider& secrets,
                                     state::StateDatabaseSettings state, MetricsRegistry& metrics,
                                     std::shared_ptr<spdlog::logger> logger)
    : parts_(new Parts{config, secrets, std::move(state), std::move(logger), nullptr, nullptr, nullptr, {}, nullptr,
                       metrics,
                       metrics.series("crmsync_salesforce_api_requests_used",
                                      "The org's daily API requests used, as Sforce-Limit-Info last said.",
                                      MetricType::gauge),
                       metrics.series("crmsync_salesforce_api_requests_limit", "The org's daily API request allocation.",
                                      MetricType::gauge),
                       metrics.series("crmsync_salesforce_writes_paused",
                                      "1 while Salesforce writes are paused by crmsync's API budget share.",
                                      MetricType::gauge),
                       captured_events_series(metrics, "salesforce", "capture")}) {}

SalesforceService::~SalesforceService() { stop(); }

void SalesforceService::start() {
  const SalesforceSection& section = *parts_->config.salesforce;
  sf::SalesforceSettings settings = salesforce_settings_from(section);
  parts_->transport = std::make_unique<MeteredCrmTransport>(
      connectors::http::make_curl_transport({section.ca_bundle, std::chrono::seconds(10), 8}, parts_->logger),
      "salesforce", salesforce_api_budget_used, parts_->metrics);
  parts_->client = std::make_unique<sf::SalesforceClient>(settings, *parts_->transport, parts_->secrets, parts_->logger,
                                                          mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                                          connectors::http::interruptible_sleeper(parts_->shutting_down));
  if (!section.capture) return;
  auto producer = connectors::kafka::KafkaProducer::create(kafka_settings_from(parts_->config), parts_->logger);
  if (!producer) throw std::runtime_error("salesforce capture: " + producer.error().message);
  parts_->producer = std::move(producer).value();
  sf::SalesforceCaptureSettings capture;
  capture.org = section.org;
  // The fields the engine's mapping binds on Salesforce, plus the owner and the external id.
  mapping::MappingDefinition mapping = load_engine_mapping(parts_->config);
  capture.objects.clear();
  for (const auto* object : {&mapping.account, &mapping.deal}) {
    std::vector<std::string> fields = object->native_read_names(mapping::Side::salesforce);
    for (const char* always : {"OwnerId", "PRM_Id__c"}) {
      if (std::find(fields.begin(), fields.end(), always) == fields.end()) fields.emplace_back(always);
    }
    capture.objects.push_back({object->object, std::move(fields)});
  }
  capture.topic = parts_->config.kafka.topic_prefix + ".changes.salesforce";
  capture.overlap = std::chrono::duration_cast<std::chrono::seconds>(section.overlap);
  capture.poll_interval = section.poll_interval;
  parts_->capture_settings = std::move(capture);
}

void SalesforceService::start_capture() {
  if (!parts_->producer || thread_.joinable()) return;
  if (parts_->capture) parts_->captured_by_earlier_captures += parts_->capture->events_produced();
  parts_->capture = std::make_unique<sf::SalesforceCapture>(parts_->capture_settings, *parts_->client,
                                                            *parts_->producer, parts_->state, parts_->logger);
  stop_ = false;
  thread_ = std::thread([this] {
    auto outcome = parts_->capture->run(stop_);
    if (!outcome) {
      std::lock_guard lock(mutex_);
      fatal_error_ = outcome.error().message;
    }
  });
}

void SalesforceService::stop_capture() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SalesforceService::begin_shutdown() { parts_->shutting_down->store(true); }

void SalesforceService::stop() { stop_capture(); }

std::optional<std::string> SalesforceService::fatal_error() const {
  std::lock_guard lock(mutex_);
  return fatal_error_;
}

void SalesforceService::publish_metrics() {
  if (!parts_->client) return;
  if (auto usage = parts_->client->last_usage()) {
    parts_->used.set(static_cast<double>(usage->used));
    parts_->limit.set(static_cast<double>(usage->limit));
  }
  parts_->paused.set(parts_->client->writes_paused() ? 1 : 0);
  if (parts_->capture) {
    parts_->captured.set(static_cast<double>(parts_->captured_by_earlier_captures + parts_->capture->events_produced()));
  }
}

sf::SalesforceClient* SalesforceService::client() { return parts_->client.get(); }

}  // namespace crmsync::daemon
