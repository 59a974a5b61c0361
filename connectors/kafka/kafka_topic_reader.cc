#include "connectors/kafka/kafka_topic_reader.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "connectors/kafka/kafka_client_config.h"
#include "connectors/kafka/kafka_error.h"

namespace crmsync::connectors::kafka {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int left_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, left));
}

// A consumer that is only ever assigned partitions by hand: librdkafka requires a group id, but
// without subscribe() and commits the group is never joined.
mapping::Result<std::unique_ptr<RdKafka::KafkaConsumer>> make_consumer(const KafkaSettings& settings,
                                                                        const std::string& group_id,
                                                                        LibrdkafkaEventBridge& bridge) {
  auto conf = make_client_conf(settings,
                               {{"group.id", group_id},
                                {"enable.auto.commit", "false"},
                                {"enable.auto.offset.store", "false"},
                                {"auto.offset.reset", "earliest"},
                                {"enable.partition.eof", "true"},
                                {"allow.auto.create.topics", "false"}},
                               &bridge);
  if (!conf) return conf.error();
  std::string error_text;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.value().get(), error_text));
  if (!consumer) return mapping::SyncError{mapping::ErrorClass::invalid, "create kafka reader: " + error_text};
  return consumer;
}

void destroy_partitions(std::vector<RdKafka::TopicPartition*>& partitions) {
  RdKafka::TopicPartition::destroy(partitions);
  partitions.clear();
}

}  // namespace

struct KafkaTopicReader::Impl {
  Impl(KafkaSettings kafka, std::shared_ptr<spdlog::logger> log)
      : settings(std::move(kafka)), logger(std::move(log)), bridge(logger) {}
  KafkaSettings settings;
  std::shared_ptr<spdlog::logger> logger;
  LibrdkafkaEventBridge bridge;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
};

KafkaTopicReader::KafkaTopicReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaTopicReader::~KafkaTopicReader() {
  if (impl_ && impl_->consumer) (void)impl_->consumer->close();
}

mapping::Result<std::unique_ptr<KafkaTopicReader>> KafkaTopicReader::create(const KafkaSettings& settings,
                                                                            std::shared_ptr<spdlog::logger> logger) {
  auto impl = std::make_unique<Impl>(settings, std::move(logger));
  auto consumer = make_consumer(settings, fmt::format("crmsync-operator-reader-{}", ::getpid()), impl->bridge);
  if (!consumer) return consumer.error();
  impl->consumer = std::move(consumer).value();
  return std::unique_ptr<KafkaTopicReader>(new KafkaTopicReader(std::move(impl)));
}

mapping::Result<std::vector<PartitionWatermarks>> KafkaTopicReader::watermarks(const std::string& topic,
                                                                               milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string error_text;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(impl_->consumer.get(), topic, nullptr, error_text));
  if (!handle) return mapping::SyncError{mapping::ErrorClass::invalid, "kafka topic " + topic + ": " + error_text};
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode code = impl_->consumer->metadata(false, handle.get(), &raw, left_ms(deadline));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR) return kafka_error(code, "kafka metadata of " + topic);
  std::vector<PartitionWatermarks> out;
  for (const RdKafka::TopicMetadata* described : *metadata->topics()) {
    if (described->topic() != topic) continue;
    if (described->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return out;  // not created yet
    if (described->err() != RdKafka::ERR_NO_ERROR) return kafka_error(described->err(), "kafka metadata of " + topic);
    for (const RdKafka::PartitionMetadata* partition : *described->partitions()) {
      PartitionWatermarks marks;
      marks.partition = partition->id();
      int64_t low = 0;
      int64_t high = 0;
      code = impl_->consumer->query_watermark_offsets(topic, marks.partition, &low, &high, left_ms(deadline));
      if (code != RdKafka::ERR_NO_ERROR) {
        return kafka_error(code, fmt::format("kafka watermarks of {}[{}]", topic, marks.partition));
      }
      marks.low = low;
      marks.high = high;
      out.push_back(marks);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.partition < b.partition; });
  return out;
}

mapping::Result<std::map<int, long long>> KafkaTopicReader::committed_offsets(const std::string& group,
                                                                              const std::string& topic,
                                                                              const std::vector<int>& partitions,
                                                                              milliseconds timeout) {
  std::map<int, long long> out;
  if (partitions.empty()) return out;
  auto asking = make_consumer(impl_->settings, group, impl_->bridge);
  if (!asking) return asking.error();
  std::vector<RdKafka::TopicPartition*> list;
  for (int partition : partitions) list.push_back(RdKafka::TopicPartition::create(topic, partition));
  RdKafka::ErrorCode code = asking.value()->committed(list, static_cast<int>(timeout.count()));
  if (code != RdKafka::ERR_NO_ERROR) {
    destroy_partitions(list);
    (void)asking.value()->close();
    return kafka_error(code, fmt::format("kafka committed offsets of group {} on {}", group, topic));
  }
  for (const RdKafka::TopicPartition* partition : list) {
    if (partition->err() == RdKafka::ERR_NO_ERROR && partition->offset() >= 0) {
      out[partition->partition()] = partition->offset();
    }
  }
  destroy_partitions(list);
  (void)asking.value()->close();  // never joined: leaves nothing behind in the group
  return out;
}

mapping::Status KafkaTopicReader::read_all(const std::string& topic, milliseconds timeout,
                                           const std::function<void(TopicRecord)>& on_record) {
  auto deadline = Clock::now() + timeout;
  auto marks = watermarks(topic, timeout);
  if (!marks) return marks.error();
  std::map<int, long long> first, last;
  for (const auto& partition : marks.value()) {
    first[partition.partition] = partition.low;
    last[partition.partition] = partition.high;
  }
  return read_range(topic, first, last, milliseconds(left_ms(deadline)), on_record);
}

mapping::Status KafkaTopicReader::read_range(const std::string& topic, const std::map<int, long long>& first,
                                             const std::map<int, long long>& last, milliseconds timeout,
                                             const std::function<void(TopicRecord)>& on_record) {
  auto deadline = Clock::now() + timeout;
  for (const auto& [partition, from] : first) {
    auto until = last.find(partition);
    if (until == last.end() || until->second <= from) continue;
    std::vector<RdKafka::TopicPartition*> assignment = {RdKafka::TopicPartition::create(topic, partition, from)};
    RdKafka::ErrorCode code = impl_->consumer->assign(assignment);
    destroy_partitions(assignment);
    if (code != RdKafka::ERR_NO_ERROR) return kafka_error(code, fmt::format("assign kafka partition {}[{}]", topic, partition));
    bool done = false;
    while (!done) {
      if (Clock::now() >= deadline) {
        (void)impl_->consumer->unassign();
        return mapping::SyncError{mapping::ErrorClass::transient,
                                  fmt::format("reading kafka topic {} did not finish within {} ms (partition {} not "
                                              "read to offset {}); is the cluster slow or unreachable?",
                                              topic, timeout.count(), partition, until->second)};
      }
      std::unique_ptr<RdKafka::Message> message(impl_->consumer->consume(std::min(200, left_ms(deadline))));
      switch (message->err()) {
        case RdKafka::ERR_NO_ERROR: {
          if (message->offset() < until->second) {
            TopicRecord record;
            record.partition = message->partition();
            record.offset = message->offset();
            auto stamp = message->timestamp();
            if (stamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) record.timestamp_ms = stamp.timestamp;
            if (message->key() != nullptr) record.key = *message->key();
            if (message->payload() != nullptr) {
              record.value.assign(static_cast<const char*>(message->payload()), message->len());
            }
            on_record(std::move(record));
          }
          done = message->offset() + 1 >= until->second;
          break;
        }
        case RdKafka::ERR__PARTITION_EOF:
          done = true;
          break;
        case RdKafka::ERR__TIMED_OUT:
          break;
        default:
          (void)impl_->consumer->unassign();
          return kafka_error(message->err(), "read kafka topic " + topic);
      }
    }
    (void)impl_->consumer->unassign();
  }
  return mapping::ok_status();
}

mapping::Result<std::map<int, long long>> KafkaTopicReader::offsets_for_time(const std::string& topic,
                                                                            const std::vector<int>& partitions,
                                                                            long long time_ms, milliseconds timeout) {
  std::map<int, long long> out;
  if (partitions.empty()) return out;
  std::vector<RdKafka::TopicPartition*> list;
  for (int partition : partitions) list.push_back(RdKafka::TopicPartition::create(topic, partition, time_ms));
  RdKafka::ErrorCode code = impl_->consumer->offsetsForTimes(list, static_cast<int>(timeout.count()));
  if (code != RdKafka::ERR_NO_ERROR) {
    destroy_partitions(list);
    return kafka_error(code, fmt::format("kafka offsets of {} at time {}", topic, time_ms));
  }
  std::optional<mapping::SyncError> failure;
  for (const RdKafka::TopicPartition* partition : list) {
    if (partition->err() != RdKafka::ERR_NO_ERROR && !failure) {
      failure = kafka_error(partition->err(), fmt::format("kafka offset of {}[{}] at time {}", topic,
                                                          partition->partition(), time_ms));
    }
    out[partition->partition()] = partition->offset();
  }
  destroy_partitions(list);
  if (failure) return *failure;
  // -1 (no record at or after the time): start at the end.
  auto marks = watermarks(topic, timeout);
  if (!marks) return marks.error();
  for (const auto& mark : marks.value()) {
    auto found = out.find(mark.partition);
    if (found != out.end() && found->second < 0) found->second = mark.high;
  }
  return out;
}

mapping::Result<std::optional<TopicRecord>> KafkaTopicReader::read_one(const std::string& topic, int partition,
                                                                       long long offset, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto marks = watermarks(topic, timeout);
  if (!marks) return marks.error();
  bool present = false;
  for (const auto& candidate : marks.value()) {
    present = present || (candidate.partition == partition && offset >= candidate.low && offset < candidate.high);
  }
  if (!present) return std::optional<TopicRecord>();
  std::vector<RdKafka::TopicPartition*> assignment = {RdKafka::TopicPartition::create(topic, partition, offset)};
  RdKafka::ErrorCode code = impl_->consumer->assign(assignment);
  destroy_partitions(assignment);
  if (code != RdKafka::ERR_NO_ERROR) return kafka_error(code, "assign kafka partition of " + topic);
  std::optional<TopicRecord> found;
  while (Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> message(impl_->consumer->consume(std::min(200, left_ms(deadline))));
    if (message->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (message->err() == RdKafka::ERR__PARTITION_EOF) break;
    if (message->err() != RdKafka::ERR_NO_ERROR) {
      (void)impl_->consumer->unassign();
      return kafka_error(message->err(), "read kafka topic " + topic);
    }
    if (message->offset() == offset) {
      TopicRecord record;
      record.partition = partition;
      record.offset = offset;
      auto stamp = message->timestamp();
      if (stamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) record.timestamp_ms = stamp.timestamp;
      if (message->key() != nullptr) record.key = *message->key();
      if (message->payload() != nullptr) record.value.assign(static_cast<const char*>(message->payload()), message->len());
      found = std::move(record);
    }
    break;  // the first record at or after `offset`: it is there or it is gone
  }
  (void)impl_->consumer->unassign();
  if (!found && Clock::now() >= deadline) {
    return mapping::SyncError{mapping::ErrorClass::transient,
                              fmt::format("reading {}[{}] offset {} did not finish within {} ms", topic, partition,
                                          offset, timeout.count())};
  }
  return found;
}

}  // namespace crmsync::connectors::kafka
