#include "connectors/kafka/kafka_consumer.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/kafka/kafka_client_config.h"
#include "connectors/kafka/kafka_error.h"

namespace crmsync::connectors::kafka {

struct KafkaConsumer::Impl {
  explicit Impl(std::shared_ptr<spdlog::logger> log) : logger(std::move(log)), bridge(logger) {}
  std::shared_ptr<spdlog::logger> logger;
  LibrdkafkaEventBridge bridge;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  bool closed = false;
};

KafkaConsumer::KafkaConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaConsumer::~KafkaConsumer() { close(); }

mapping::Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::create(
    const KafkaSettings& settings, const std::string& group_id,
    std::shared_ptr<spdlog::logger> logger) {
  auto impl = std::make_unique<Impl>(std::move(logger));
  auto conf = make_client_conf(settings,
                               {{"group.id", group_id},
                                {"enable.auto.commit", "false"},
                                {"enable.auto.offset.store", "false"},
                                {"auto.offset.reset", "earliest"},
                                {"enable.partition.eof", "false"},
                                {"isolation.level", "read_committed"},
                                // A subscribed topic created after the subscription (a capture that
                                // has not produced yet) is noticed within seconds, not the default 5 min.
                                {"topic.metadata.refresh.interval.ms", "2000"},
                                // A member that died without leaving (kill -9, a lost node) holds its
                                // partitions until the broker's session timeout ends it; the default
                                // 45 s stalled every change behind a restart for up to a minute.
                                // Heartbeats come from librdkafka's own thread, so a long apply wave
                                // does not count against this (max.poll.interval.ms bounds that).
                                {"session.timeout.ms", "10000"},
                                {"heartbeat.interval.ms", "2000"}},
                               &impl->bridge);
  if (!conf) return conf.error();
  std::string error_text;
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf.value().get(), error_text));
  if (!impl->consumer) {
    return mapping::SyncError{mapping::ErrorClass::invalid, "create kafka consumer: " + error_text};
  }
  return std::unique_ptr<KafkaConsumer>(new KafkaConsumer(std::move(impl)));
}

mapping::Status KafkaConsumer::subscribe(const std::vector<std::string>& topics) {
  RdKafka::ErrorCode code = impl_->consumer->subscribe(topics);
  if (code != RdKafka::ERR_NO_ERROR) return kafka_error(code, "subscribe to kafka topics");
  return mapping::ok_status();
}

mapping::Result<std::optional<ConsumedRecord>> KafkaConsumer::poll(std::chrono::milliseconds timeout) {
  std::unique_ptr<RdKafka::Message> message(
      impl_->consumer->consume(static_cast<int>(timeout.count())));
  switch (message->err()) {
    case RdKafka::ERR_NO_ERROR: {
      ConsumedRecord record;
      record.topic = message->topic_name();
      record.partition = message->partition();
      record.offset = message->offset();
      if (message->key() != nullptr) record.key = *message->key();
      if (message->payload() != nullptr) {
        record.value.assign(static_cast<const char*>(message->payload()), message->len());
      }
      if (RdKafka::MessageTimestamp stamp = message->timestamp();
          stamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
        record.timestamp_ms = stamp.timestamp;
      }
      return std::optional<ConsumedRecord>(std::move(record));
    }
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return std::optional<ConsumedRecord>();
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
      // A subscribed topic that does not exist yet (it is created by its first record): nothing to
      // read so far. The subscription stays and picks the topic up once it exists.
      impl_->logger->debug("kafka consumer waiting for a topic to be created detail=\"{}\"", message->errstr());
      return std::optional<ConsumedRecord>();
    default:
      return kafka_error(message->err(), "consume from kafka");
  }
}

mapping::Status KafkaConsumer::commit(const ConsumedRecord& record) {
  std::vector<RdKafka::TopicPartition*> positions = {
      RdKafka::TopicPartition::create(record.topic, record.partition, record.offset + 1)};
  RdKafka::ErrorCode code = impl_->consumer->commitSync(positions);
  RdKafka::ErrorCode partition_code = positions[0]->err();
  RdKafka::TopicPartition::destroy(positions);
  if (code != RdKafka::ERR_NO_ERROR) {
    return kafka_error(code, fmt::format("commit offset {} of {}[{}]", record.offset + 1,
                                         record.topic, record.partition));
  }
  if (partition_code != RdKafka::ERR_NO_ERROR) {
    return kafka_error(partition_code, fmt::format("commit offset {} of {}[{}]", record.offset + 1,
                                                   record.topic, record.partition));
  }
  return mapping::ok_status();
}

long long KafkaConsumer::unread_records() {
  std::vector<RdKafka::TopicPartition*> partitions;
  if (impl_->closed || impl_->consumer->assignment(partitions) != RdKafka::ERR_NO_ERROR) return 0;
  long long unread = 0;
  if (!partitions.empty() && impl_->consumer->position(partitions) == RdKafka::ERR_NO_ERROR) {
    for (const auto* partition : partitions) {
      int64_t low = 0;
      int64_t high = 0;
      if (partition->offset() < 0 ||
          impl_->consumer->get_watermark_offsets(partition->topic(), partition->partition(), &low, &high) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      unread += std::max<int64_t>(0, high - partition->offset());
    }
  }
  RdKafka::TopicPartition::destroy(partitions);
  return unread;
}

void KafkaConsumer::close() {
  if (!impl_ || !impl_->consumer || impl_->closed) return;
  impl_->closed = true;
  if (RdKafka::ErrorCode code = impl_->consumer->close(); code != RdKafka::ERR_NO_ERROR) {
    impl_->logger->warn("kafka consumer close failed code={} detail=\"{}\"", static_cast<int>(code),
                        RdKafka::err2str(code));
  }
}

}  // namespace crmsync::connectors::kafka
