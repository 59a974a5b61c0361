#pragma once

#include "connectors/kafka/kafka_settings.h"
#include "daemon/config.h"
#include "state/state_database.h"

namespace crmsync::daemon {

class LogRedactor;

// The state database settings of `config`, with the password read from state.password_file (and
// registered with `redactor`). Throws std::runtime_error when the credential file is unusable.
state::StateDatabaseSettings state_settings_from(const Config& config, LogRedactor& redactor);

connectors::kafka::KafkaSettings kafka_settings_from(const Config& config);

}  // namespace crmsync::daemon
