#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace crmsync::connectors::kafka {

// What every Kafka client of crmsync needs to reach the cluster (config section [kafka]).
struct KafkaSettings {
  std::vector<std::string> brokers;        // host:port
  std::string client_id{"crmsync"};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds delivery_timeout{std::chrono::minutes(2)};
};

}  // namespace crmsync::connectors::kafka
