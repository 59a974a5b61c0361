#include "daemon/settings_from_config.h"

#include "daemon/credential_file.h"
#include "daemon/log_redactor.h"

namespace crmsync::daemon {

state::StateDatabaseSettings state_settings_from(const Config& config, LogRedactor& redactor) {
  state::StateDatabaseSettings settings;
  settings.url = config.state.database_url;
  settings.schema = config.state.schema;
  settings.connect_timeout =
      std::chrono::ceil<std::chrono::seconds>(config.state.connect_timeout);
  settings.application_name = "crmsync/" + config.daemon.instance_id;
  if (config.state.password_file) {
    settings.password = read_credential_file(*config.state.password_file);
    redactor.add_secret(settings.password->reveal());
  }
  return settings;
}

connectors::kafka::KafkaSettings kafka_settings_from(const Config& config) {
  connectors::kafka::KafkaSettings settings;
  settings.brokers = config.kafka.brokers;
  settings.client_id = config.kafka.client_id;
  settings.request_timeout = config.kafka.request_timeout;
  return settings;
}

}  // namespace crmsync::daemon
