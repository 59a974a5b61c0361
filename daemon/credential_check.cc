#include "daemon/credential_check.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/http_transport.h"
#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_session.h"
#include "daemon/settings_from_config.h"
#include "mapping/retry_policy.h"
#include "mapping/secret_provider.h"
#include "state/secret_store.h"

namespace crmsync::daemon {

namespace {

using mapping::ErrorClass;

// The store's current values, except `name`, which is the candidate: what a token client sees
// during the test. A value the CRM rotates on use is stored as the new current, as the daemon's
// provider does.
class CandidateSecrets final : public mapping::SecretProvider {
 public:
  CandidateSecrets(std::string name, const mapping::SecretString& candidate, state::SecretStore& store,
                   std::string operator_name)
      : name_(std::move(name)), candidate_(candidate), store_(store), operator_(std::move(operator_name)) {}

  mapping::Result<mapping::SecretString> current(const std::string& name) override {
    if (name == name_) return candidate_;
    return store_.current(name);
  }

  mapping::Status store_rotated(const std::string& name, const mapping::SecretString& value) override {
    auto version = store_.put(name, value, state::SecretStage::current, operator_);
    if (!version) return version.error();
    if (name == name_) {
      consumed_ = true;
      rotated_version_ = version.value();
    }
    return mapping::ok_status();
  }

  bool consumed() const { return consumed_; }
  int rotated_version() const { return rotated_version_; }

 private:
  std::string name_;
  const mapping::SecretString& candidate_;
  state::SecretStore& store_;
  std::string operator_;
  bool consumed_ = false;
  int rotated_version_ = 0;
};

CredentialCheckResult verdict(const mapping::Status& status, const CandidateSecrets& secrets) {
  CredentialCheckResult result;
  result.consumed = secrets.consumed();
  result.rotated_version = secrets.rotated_version();
  if (status) {
    result.outcome = CredentialCheckOutcome::accepted;
    return result;
  }
  // `auth`: the CRM (or the key parser) refused the credential. Anything else means the test
  // could not be carried out, which says nothing about the value.
  result.outcome = status.error().error_class == ErrorClass::auth ? CredentialCheckOutcome::refused
                                                                  : CredentialCheckOutcome::unreachable;
  result.detail = status.error().message;
  return result;
}

}  // namespace

std::optional<std::string> credential_use(const Config& config, const std::string& name) {
  if (config.salesforce) {
    auto settings = salesforce_settings_from(*config.salesforce);
    namespace sf = connectors::salesforce;
    switch (settings.auth_flow) {
      case sf::AuthFlow::client_credentials:
        if (name == settings.client_secret_name) return "the Salesforce client secret (client_credentials flow)";
        break;
      case sf::AuthFlow::jwt_bearer:
        if (name == settings.private_key_name) return "the Salesforce JWT signing key (jwt_bearer flow)";
        break;
      case sf::AuthFlow::refresh_token:
        if (name == settings.refresh_token_name) return "the Salesforce refresh token (refresh_token flow)";
        if (name == settings.client_secret_name) return "the Salesforce client secret (refresh_token flow)";
        break;
    }
  }
  if (config.dynamics && name == dataverse_settings_from(*config.dynamics).client_secret_name) {
    return "the Dataverse client secret (Microsoft Entra ID client_credentials)";
  }
  return std::nullopt;
}

CredentialCheckResult check_credential(const Config& config, const std::string& name,
                                       const mapping::SecretString& candidate, state::SecretStore& store,
                                       const std::string& operator_name, std::shared_ptr<spdlog::logger> logger,
                                       std::chrono::seconds timeout) {
  CandidateSecrets secrets(name, candidate, store, operator_name);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool salesforce = false;
  if (config.salesforce) {
    auto settings = salesforce_settings_from(*config.salesforce);
    salesforce = name == settings.client_secret_name || name == settings.private_key_name ||
                 name == settings.refresh_token_name;
  }
  if (salesforce) {
    auto transport = connectors::http::make_curl_transport({config.salesforce->ca_bundle, std::chrono::seconds(10), 2},
                                                           logger);
    connectors::salesforce::SalesforceSession session(salesforce_settings_from(*config.salesforce), *transport, secrets,
                                                      logger);
    auto token = session.token(deadline);
    return verdict(token ? mapping::ok_status() : mapping::Status(token.error()), secrets);
  }
  if (!config.dynamics) {
    return {CredentialCheckOutcome::unreachable, fmt::format("no test exists for secret {}", name), false, 0};
  }
  auto transport = connectors::http::make_curl_transport({config.dynamics->ca_bundle, std::chrono::seconds(10), 2},
                                                         logger);
  connectors::http::RetryingHttpClient http(*transport, mapping::RetryPolicy{}, mapping::make_uniform_random(),
                                            connectors::http::real_sleeper(), logger);
  connectors::dynamics::DataverseTokenClient tokens(dataverse_settings_from(*config.dynamics), http, secrets, logger);
  return verdict(tokens.refresh(deadline), secrets);
}

std::string rotation_advice(const std::string& name) {
  if (name == "salesforce.client_secret") {
    return "generate a new consumer secret for the connected app in Salesforce Setup (App Manager > Manage "
           "Consumer Details), then `crmsync secrets rotate salesforce.client_secret --from-file F`";
  }
  if (name == "salesforce.jwt_private_key") {
    return "create a new key pair, upload its certificate to the connected app in Salesforce Setup, then "
           "`crmsync secrets rotate salesforce.jwt_private_key --from-file KEY.pem`";
  }
  if (name == "salesforce.refresh_token") {
    return "set the connected app's refresh token policy to rotate on use (crmsync then stores each new one), "
           "or authorize the integration user again and `crmsync secrets rotate salesforce.refresh_token "
           "--from-file F`";
  }
  if (name == "dynamics.client_secret") {
    return "add a new client secret to the app registration in Microsoft Entra ID (Certificates & secrets), "
           "`crmsync secrets rotate dynamics.client_secret --from-file F`, then delete the old secret in Entra "
           "after secrets.previous_grace";
  }
  if (name == JournalSection{}.key_secret) {
    return "the journal key signs the whole chain and `crmsync journal verify` checks it with one key: do not "
           "rotate it in place (see docs/security.md); raise secrets.max_age if this warning is not wanted";
  }
  return fmt::format("create a new value where it is issued, `crmsync secrets rotate {} --from-file F`, check "
                     "it and `crmsync secrets promote {}`",
                     name, name);
}

}  // namespace crmsync::daemon
