#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/kafka/kafka_settings.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {

// Where an acknowledged record landed.
struct DeliveredRecord {
  std::string topic;
  int partition = -1;
  long long offset = -1;
};

using DeliveryCallback = std::function<void(mapping::Result<DeliveredRecord>)>;

// An idempotent Kafka producer (enable.idempotence, acks=all): every record is written once and in
// order per partition, even across broker restarts and retries. Capture pipelines advance their
// source cursors only from delivery callbacks, so nothing is acknowledged upstream before Kafka
// has it.
//
// Thread use: produce() may be called from any thread; delivery callbacks run on the thread that
// calls poll() or flush(). Owned by the pipeline that produces; destroy after flush().
class KafkaProducer {
 public:
  static mapping::Result<std::unique_ptr<KafkaProducer>> create(
      const KafkaSettings& settings, std::shared_ptr<spdlog::logger> logger);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one record. `on_delivery` is called exactly once, with where it landed or why it
  // failed. A full local queue is reported as rate_limited (poll, then try again).
  mapping::Status produce(const std::string& topic, std::string_view key, std::string_view value,
                          DeliveryCallback on_delivery);

  // Serves delivery callbacks for up to `timeout`.
  void poll(std::chrono::milliseconds timeout);

  // Waits until every queued record is acknowledged or failed (callbacks served), or `timeout`.
  mapping::Status flush(std::chrono::milliseconds timeout);

  // Produces one record and waits for its acknowledgement: for tools and tests, not pipelines.
  mapping::Result<DeliveredRecord> produce_and_wait(const std::string& topic, std::string_view key,
                                                    std::string_view value,
                                                    std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::connectors::kafka
