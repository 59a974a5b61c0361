#pragma once

#include <chrono>
#include <functional>
#include <map>
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

// One partition of a topic: the offsets of its first kept and its next record.
struct PartitionWatermarks {
  int partition = -1;
  long long low = 0;   // the oldest record still kept
  long long high = 0;  // the offset the next record will get
};

// A record as an operator tool reads it.
struct TopicRecord {
  int partition = -1;
  long long offset = -1;
  long long timestamp_ms = -1;  // the record's timestamp (producer create time), -1 when unknown
  std::string key;
  std::string value;
};

// Reads topics for operator commands (`crmsync dead-letters`, `crmsync status`) without joining
// any consumer group: partitions are assigned by hand, nothing is committed, so a live daemon's
// group is never rebalanced or moved. committed_offsets() only asks the group coordinator what a
// group committed (OffsetFetch); it does not join that group either.
//
// One thread; owned by the command that created it.
class KafkaTopicReader {
 public:
  static mapping::Result<std::unique_ptr<KafkaTopicReader>> create(const KafkaSettings& settings,
                                                                   std::shared_ptr<spdlog::logger> logger);
  ~KafkaTopicReader();
  KafkaTopicReader(const KafkaTopicReader&) = delete;
  KafkaTopicReader& operator=(const KafkaTopicReader&) = delete;

  // The topic's partitions with their watermarks; empty when the topic does not exist.
  mapping::Result<std::vector<PartitionWatermarks>> watermarks(const std::string& topic,
                                                               std::chrono::milliseconds timeout);

  // The offsets `group` committed on `topic`'s partitions (a partition without one is absent).
  mapping::Result<std::map<int, long long>> committed_offsets(const std::string& group, const std::string& topic,
                                                              const std::vector<int>& partitions,
                                                              std::chrono::milliseconds timeout);

  // Streams every record of `topic` that exists now (from each partition's low watermark to the
  // high watermark read at the start) to `on_record`, partition by partition in offset order,
  // without holding them. `timeout` bounds the whole read.
  mapping::Status read_all(const std::string& topic, std::chrono::milliseconds timeout,
                           const std::function<void(TopicRecord)>& on_record);

  // Streams the records of `topic` in [first[p], last[p]) per partition p to `on_record`, one
  // partition after the other in offset order, without holding them (for replays of a whole
  // topic). A partition absent from `first` is not read. `timeout` bounds the whole read.
  mapping::Status read_range(const std::string& topic, const std::map<int, long long>& first,
                             const std::map<int, long long>& last, std::chrono::milliseconds timeout,
                             const std::function<void(TopicRecord)>& on_record);

  // Per partition: the offset of the first record whose timestamp is at or after `time_ms`
  // (milliseconds since the epoch), or the high watermark when there is none.
  mapping::Result<std::map<int, long long>> offsets_for_time(const std::string& topic, const std::vector<int>& partitions,
                                                            long long time_ms, std::chrono::milliseconds timeout);

  // The record at `partition`/`offset`, or nothing when the topic no longer (or never) had it.
  mapping::Result<std::optional<TopicRecord>> read_one(const std::string& topic, int partition, long long offset,
                                                       std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit KafkaTopicReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::connectors::kafka
