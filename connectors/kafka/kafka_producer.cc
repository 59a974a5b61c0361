#include "connectors/kafka/kafka_producer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "connectors/kafka/kafka_client_config.h"
#include "connectors/kafka/kafka_error.h"

namespace crmsync::connectors::kafka {

namespace {

// Routes each delivery report to the callback given to produce(), carried as the message opaque.
class DeliveryReportRouter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback*>(message.msg_opaque()));
    if (!callback) return;
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      (*callback)(kafka_error(message.err(), fmt::format("deliver record to topic {}",
                                                         message.topic_name())));
      return;
    }
    (*callback)(DeliveredRecord{message.topic_name(), message.partition(), message.offset()});
  }
};

}  // namespace

struct KafkaProducer::Impl {
  explicit Impl(std::shared_ptr<spdlog::logger> log) : logger(std::move(log)), bridge(logger) {}
  std::shared_ptr<spdlog::logger> logger;
  LibrdkafkaEventBridge bridge;
  DeliveryReportRouter router;
  std::unique_ptr<RdKafka::Producer> producer;
};

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaProducer::~KafkaProducer() {
  if (impl_ && impl_->producer) {
    // Serve what is left so that no callback (and its heap-allocated closure) is leaked.
    impl_->producer->flush(1000);
    if (int left = impl_->producer->outq_len(); left > 0) {
      impl_->logger->warn("kafka producer closed with undelivered records count={}", left);
      impl_->producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
      impl_->producer->poll(0);
    }
  }
}

mapping::Result<std::unique_ptr<KafkaProducer>> KafkaProducer::create(
    const KafkaSettings& settings, std::shared_ptr<spdlog::logger> logger) {
  auto impl = std::make_unique<Impl>(std::move(logger));
  auto conf = make_client_conf(settings,
                               {{"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"linger.ms", "5"},
                                {"compression.type", "lz4"},
                                {"delivery.timeout.ms", std::to_string(settings.delivery_timeout.count())}},
                               &impl->bridge);
  if (!conf) return conf.error();
  std::string error_text;
  if (conf.value()->set("dr_cb", &impl->router, error_text) != RdKafka::Conf::CONF_OK) {
    return mapping::SyncError{mapping::ErrorClass::fatal, "kafka delivery callback: " + error_text};
  }
  impl->producer.reset(RdKafka::Producer::create(conf.value().get(), error_text));
  if (!impl->producer) {
    return mapping::SyncError{mapping::ErrorClass::invalid,
                              "create kafka producer: " + error_text};
  }
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

mapping::Status KafkaProducer::produce(const std::string& topic, std::string_view key,
                                       std::string_view value, DeliveryCallback on_delivery) {
  auto callback = std::make_unique<DeliveryCallback>(std::move(on_delivery));
  RdKafka::ErrorCode code = impl_->producer->produce(
      topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, callback.get());
  if (code != RdKafka::ERR_NO_ERROR) {
    return kafka_error(code, fmt::format("queue record for topic {}", topic));
  }
  callback.release();  // owned by the delivery report now
  return mapping::ok_status();
}

void KafkaProducer::poll(std::chrono::milliseconds timeout) {
  impl_->producer->poll(static_cast<int>(timeout.count()));
}

mapping::Status KafkaProducer::flush(std::chrono::milliseconds timeout) {
  RdKafka::ErrorCode code = impl_->producer->flush(static_cast<int>(timeout.count()));
  if (code != RdKafka::ERR_NO_ERROR) {
    return kafka_error(code, fmt::format("flush kafka producer ({} records outstanding)",
                                         impl_->producer->outq_len()));
  }
  return mapping::ok_status();
}

mapping::Result<DeliveredRecord> KafkaProducer::produce_and_wait(const std::string& topic,
                                                                 std::string_view key,
                                                                 std::string_view value,
                                                                 std::chrono::milliseconds timeout) {
  // Shared with the callback, which may outlive this call when the wait times out.
  auto outcome = std::make_shared<std::optional<mapping::Result<DeliveredRecord>>>();
  auto queued = produce(topic, key, value, [outcome](mapping::Result<DeliveredRecord> result) {
    *outcome = std::move(result);
  });
  if (!queued) return queued.error();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!outcome->has_value() && std::chrono::steady_clock::now() < deadline) {
    poll(std::chrono::milliseconds(50));
  }
  if (!outcome->has_value()) {
    return mapping::SyncError{mapping::ErrorClass::transient,
                              fmt::format("record for topic {} not acknowledged within {} ms",
                                          topic, timeout.count())};
  }
  return std::move(**outcome);
}

}  // namespace crmsync::connectors::kafka
