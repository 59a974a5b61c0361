#pragma once

#include <chrono>
#include <memory>

#include "connectors/kafka/kafka_settings.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {

// Answers "can we talk to the Kafka cluster right now?" for readiness: a metadata request that
// must be answered by a broker within the timeout. An open port is not enough (a broker binds its
// socket before it serves requests). One thread at a time; owned by the readiness supervisor.
class KafkaProbe {
 public:
  static mapping::Result<std::unique_ptr<KafkaProbe>> create(const KafkaSettings& settings,
                                                             std::shared_ptr<spdlog::logger> logger);
  ~KafkaProbe();
  KafkaProbe(const KafkaProbe&) = delete;
  KafkaProbe& operator=(const KafkaProbe&) = delete;

  // Ok with the number of brokers the cluster reported, or a classified error.
  mapping::Result<int> check(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit KafkaProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::connectors::kafka
