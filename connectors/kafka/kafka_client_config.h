#pragma once

// Internal to connectors/kafka: builds librdkafka configuration objects. Only .cc files include it.

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "connectors/kafka/kafka_settings.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {

// Forwards librdkafka's log and error events to a component logger, so that its lines are
// structured and redacted like ours.
class LibrdkafkaEventBridge : public RdKafka::EventCb {
 public:
  explicit LibrdkafkaEventBridge(std::shared_ptr<spdlog::logger> logger);
  void event_cb(RdKafka::Event& event) override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

// A global RdKafka::Conf with the common settings plus `extra` (role-specific properties), with
// `bridge` installed as event callback. Returns an `invalid` error naming the property librdkafka
// refused.
mapping::Result<std::unique_ptr<RdKafka::Conf>> make_client_conf(
    const KafkaSettings& settings, const std::map<std::string, std::string>& extra,
    LibrdkafkaEventBridge* bridge);

}  // namespace crmsync::connectors::kafka
