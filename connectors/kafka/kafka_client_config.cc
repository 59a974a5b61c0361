#include "connectors/kafka/kafka_client_config.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace crmsync::connectors::kafka {

LibrdkafkaEventBridge::LibrdkafkaEventBridge(std::shared_ptr<spdlog::logger> logger)
    : logger_(std::move(logger)) {}

void LibrdkafkaEventBridge::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      logger_->warn("librdkafka error code={} fatal={} detail=\"{}\"", static_cast<int>(event.err()),
                    event.fatal(), event.str());
      break;
    case RdKafka::Event::EVENT_LOG: {
      spdlog::level::level_enum level = spdlog::level::debug;
      if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR) {
        level = spdlog::level::err;
      } else if (event.severity() == RdKafka::Event::EVENT_SEVERITY_WARNING) {
        level = spdlog::level::warn;
      } else if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_INFO) {
        level = spdlog::level::info;
      }
      logger_->log(level, "librdkafka facility={} detail=\"{}\"", event.fac(), event.str());
      break;
    }
    default:
      break;
  }
}

mapping::Result<std::unique_ptr<RdKafka::Conf>> make_client_conf(
    const KafkaSettings& settings, const std::map<std::string, std::string>& extra,
    LibrdkafkaEventBridge* bridge) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string brokers;
  for (const auto& broker : settings.brokers) {
    if (!brokers.empty()) brokers += ',';
    brokers += broker;
  }
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", brokers},
      {"client.id", settings.client_id},
      {"socket.timeout.ms", std::to_string(settings.request_timeout.count())},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "10000"},
      {"log.connection.close", "false"},
  };
  for (const auto& [key, value] : extra) properties[key] = value;

  std::string error_text;
  for (const auto& [key, value] : properties) {
    if (conf->set(key, value, error_text) != RdKafka::Conf::CONF_OK) {
      return mapping::SyncError{mapping::ErrorClass::invalid,
                                fmt::format("kafka client property {}: {}", key, error_text)};
    }
  }
  if (bridge != nullptr && conf->set("event_cb", bridge, error_text) != RdKafka::Conf::CONF_OK) {
    return mapping::SyncError{mapping::ErrorClass::fatal,
                              fmt::format("kafka event callback: {}", error_text)};
  }
  return conf;
}

}  // namespace crmsync::connectors::kafka
