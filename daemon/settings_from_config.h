#pragma once

#include "connectors/kafka/kafka_settings.h"
#include "connectors/prm/prm_capture.h"
#include "daemon/config.h"
#include "state/state_database.h"

namespace crmsync::daemon {

class LogRedactor;

// The state database settings of `config`, with the password read from state.password_file (and
// registered with `redactor`). Throws std::runtime_error when the credential file is unusable.
state::StateDatabaseSettings state_settings_from(const Config& config, LogRedactor& redactor);

connectors::kafka::KafkaSettings kafka_settings_from(const Config& config);

// The PRM capture settings of `config.prm` (which must be present), with the password read from
// prm.password_file (and registered with `redactor`) and topics named after kafka.topic_prefix.
connectors::prm::PrmCaptureSettings prm_capture_settings_from(const Config& config,
                                                              LogRedactor& redactor);

}  // namespace crmsync::daemon
