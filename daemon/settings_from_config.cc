#include "daemon/settings_from_config.h"

#include "state/credential_file.h"
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
    settings.password = state::read_credential_file(*config.state.password_file);
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

connectors::salesforce::SalesforceSettings salesforce_settings_from(const SalesforceSection& section) {
  namespace sf = connectors::salesforce;
  sf::SalesforceSettings settings;
  settings.login_url = section.login_url;
  settings.api_version = section.api_version;
  settings.auth_flow = section.auth_flow == "jwt_bearer"      ? sf::AuthFlow::jwt_bearer
                       : section.auth_flow == "refresh_token" ? sf::AuthFlow::refresh_token
                                                              : sf::AuthFlow::client_credentials;
  settings.client_id = section.client_id;
  settings.username = section.username;
  settings.call_options_client = section.call_options_client;
  settings.api_budget_share = section.api_budget_share;
  return settings;
}

connectors::dynamics::DataverseSettings dataverse_settings_from(const DynamicsSection& section) {
  connectors::dynamics::DataverseSettings settings;
  settings.org_url = section.org_url;
  settings.authority_url = section.authority_url;
  settings.tenant = section.tenant;
  settings.client_id = section.client_id;
  return settings;
}

connectors::prm::PrmCaptureSettings prm_capture_settings_from(const Config& config,
                                                              LogRedactor& redactor) {
  const PrmSection& prm = *config.prm;
  connectors::prm::PrmCaptureSettings settings;
  settings.connection.url = prm.database_url;
  settings.connection.connect_timeout = std::chrono::ceil<std::chrono::seconds>(prm.connect_timeout);
  settings.connection.application_name = "crmsync-capture/" + config.daemon.instance_id;
  if (prm.password_file) {
    settings.connection.password = state::read_credential_file(*prm.password_file);
    redactor.add_secret(settings.connection.password->reveal());
  }
  settings.slot = prm.slot;
  settings.publication = prm.publication;
  settings.topic = config.kafka.topic_prefix + ".changes.prm";
  settings.deadletter_topic = config.kafka.topic_prefix + ".deadletter";
  settings.status_interval = prm.status_interval;
  settings.snapshot_batch_rows = static_cast<std::size_t>(prm.snapshot_batch_rows);
  settings.retained_wal_warning_bytes = prm.retained_wal_warning_bytes;
  // Leave half the shutdown grace for what comes after the capture's drain.
  settings.drain_timeout = std::min<std::chrono::milliseconds>(std::chrono::seconds(10),
                                                               config.daemon.shutdown_grace / 2);
  return settings;
}

}  // namespace crmsync::daemon
