#pragma once

#include <memory>

#include "connectors/kafka/kafka_settings.h"
#include "daemon/dependency_supervisor.h"
#include "state/state_database.h"

namespace crmsync::daemon {

// The state database: connects when there is no connection, brings the state schema up to date
// on every new connection (idempotent; see state/migrator.h), and pings when connected. A failed
// ping drops the connection so that the next check reconnects.
std::unique_ptr<DependencyCheck> make_state_database_check(state::StateDatabaseSettings settings,
                                                           std::shared_ptr<spdlog::logger> logger);

// Kafka: a metadata request answered within `timeout`.
std::unique_ptr<DependencyCheck> make_kafka_check(connectors::kafka::KafkaSettings settings,
                                                  std::chrono::milliseconds timeout,
                                                  std::shared_ptr<spdlog::logger> logger);

}  // namespace crmsync::daemon
