#pragma once

#include "connectors/dynamics/dataverse_settings.h"
#include "connectors/kafka/kafka_settings.h"
#include "connectors/prm/prm_capture.h"
#include "connectors/salesforce/salesforce_settings.h"
#include "daemon/config.h"
#include "state/state_database.h"

namespace crmsync::daemon {

class LogRedactor;

// The state database settings of `config`, with the password read from state.password_file (and
// registered with `redactor`). Throws std::runtime_error when the credential file is unusable.
state::StateDatabaseSettings state_settings_from(const Config& config, LogRedactor& redactor);

connectors::kafka::KafkaSettings kafka_settings_from(const Config& config);

// How the connectors reach the CRMs, including the secret names they ask the SecretProvider for
// (salesforce.client_secret, salesforce.jwt_private_key, salesforce.refresh_token,
// dynamics.client_secret). Shared by the running daemon and `crmsync secrets rotate`'s test.
connectors::salesforce::SalesforceSettings salesforce_settings_from(const SalesforceSection& section);
connectors::dynamics::DataverseSettings dataverse_settings_from(const DynamicsSection& section);

// The PRM capture settings of `config.prm` (which must be present), with the password read from
// prm.password_file (and registered with `redactor`) and topics named after kafka.topic_prefix.
connectors::prm::PrmCaptureSettings prm_capture_settings_from(const Config& config,
                                                              LogRedactor& redactor);

}  // namespace crmsync::daemon
