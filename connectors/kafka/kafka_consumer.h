#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_settings.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {

struct ConsumedRecord {
  std::string topic;
  int partition = -1;
  long long offset = -1;
  std::string key;
  std::string value;
  long long timestamp_ms = -1;  // the record's timestamp (producer create time), -1 when unknown
};

// A member of a Kafka consumer group with manual offset commits: an offset is committed only
// after the record's effect is durable (the apply workers commit after their state transaction),
// so a crash re-delivers instead of losing. Starts from the earliest offset when the group has
// none.
//
// Thread use: one thread (the apply worker that owns it). close() leaves the group cleanly.
class KafkaConsumer {
 public:
  static mapping::Result<std::unique_ptr<KafkaConsumer>> create(
      const KafkaSettings& settings, const std::string& group_id,
      std::shared_ptr<spdlog::logger> logger);
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  mapping::Status subscribe(const std::vector<std::string>& topics);

  // The next record, or nothing when none arrived within `timeout` (also while a subscribed topic
  // does not exist yet).
  mapping::Result<std::optional<ConsumedRecord>> poll(std::chrono::milliseconds timeout);

  // Commits (synchronously) the position after `record` for its partition.
  mapping::Status commit(const ConsumedRecord& record);

  // Records in the assigned partitions not yet returned by poll(): each partition's high
  // watermark (as last fetched) minus the consumer's position, summed; partitions without a
  // position or watermark yet are left out. Local (no broker round trip).
  long long unread_records();

  // Leaves the group (revoking partitions); idempotent.
  void close();

 private:
  struct Impl;
  explicit KafkaConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::connectors::kafka
