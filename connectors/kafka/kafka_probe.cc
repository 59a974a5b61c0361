#include "connectors/kafka/kafka_probe.h"

#include <spdlog/spdlog.h>

#include "connectors/kafka/kafka_client_config.h"
#include "connectors/kafka/kafka_error.h"

namespace crmsync::connectors::kafka {

struct KafkaProbe::Impl {
  explicit Impl(std::shared_ptr<spdlog::logger> log) : logger(std::move(log)), bridge(logger) {}
  std::shared_ptr<spdlog::logger> logger;
  LibrdkafkaEventBridge bridge;
  std::unique_ptr<RdKafka::Producer> handle;
};

KafkaProbe::KafkaProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaProbe::~KafkaProbe() = default;

mapping::Result<std::unique_ptr<KafkaProbe>> KafkaProbe::create(
    const KafkaSettings& settings, std::shared_ptr<spdlog::logger> logger) {
  auto impl = std::make_unique<Impl>(std::move(logger));
  // A lost broker is reported through check(); librdkafka's own connection-refused lines would
  // repeat every reconnect, so only errors and warnings are forwarded.
  auto conf = make_client_conf(settings, {{"log_level", "4"}}, &impl->bridge);
  if (!conf) return conf.error();
  std::string error_text;
  impl->handle.reset(RdKafka::Producer::create(conf.value().get(), error_text));
  if (!impl->handle) {
    return mapping::SyncError{mapping::ErrorClass::invalid, "create kafka probe: " + error_text};
  }
  return std::unique_ptr<KafkaProbe>(new KafkaProbe(std::move(impl)));
}

mapping::Result<int> KafkaProbe::check(std::chrono::milliseconds timeout) {
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode code =
      impl_->handle->metadata(false, nullptr, &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  impl_->handle->poll(0);
  if (code != RdKafka::ERR_NO_ERROR) return kafka_error(code, "kafka metadata request");
  int brokers = static_cast<int>(metadata->brokers()->size());
  if (brokers == 0) {
    return mapping::SyncError{mapping::ErrorClass::transient, "kafka metadata listed no brokers"};
  }
  return brokers;
}

}  // namespace crmsync::connectors::kafka
