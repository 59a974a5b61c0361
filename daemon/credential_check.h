#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config.h"
#include "mapping/secret.h"

namespace spdlog {
class logger;
}

namespace crmsync::state {
class SecretStore;
}

namespace crmsync::daemon {

enum class CredentialCheckOutcome {
  accepted,    // the CRM issued a token with the candidate value
  refused,     // the CRM refused it (or it is not usable, e.g. not a PEM key): the value is wrong
  unreachable  // the test could not run (CRM unreachable, 5xx, 429, another credential missing)
};

struct CredentialCheckResult {
  CredentialCheckOutcome outcome = CredentialCheckOutcome::unreachable;
  // Why, in the CRM's words (HTTP status, error code, description); never a secret value.
  std::string detail;
  // The test used the value up: the CRM rotated the refresh token it was given, and the new one it
  // issued is already stored as current (version below).
  bool consumed = false;
  int rotated_version = 0;
};

// What the configuration uses secret `name` for when it obtains a CRM token, e.g. "the Salesforce
// client secret (client_credentials flow)"; nothing when no token request of this configuration
// uses it (then `crmsync secrets rotate` cannot test a new value and leaves it pending).
std::optional<std::string> credential_use(const Config& config, const std::string& name);

// The test behind `crmsync secrets rotate`: obtains a token from the CRM with `candidate` in place
// of `name`'s current value, exactly as the daemon's token clients would (same settings, same
// flow); the other credentials of the request come from `store`'s current versions. A refresh
// token the CRM rotates during the test is stored through `store` as current (recorded as
// `operator_name`), as the daemon would. `name` must have a credential_use(). Blocks up to
// `timeout` (retrying 5xx/429 within it). The candidate value never appears in `detail`.
CredentialCheckResult check_credential(const Config& config, const std::string& name,
                                       const mapping::SecretString& candidate, state::SecretStore& store,
                                       const std::string& operator_name, std::shared_ptr<spdlog::logger> logger,
                                       std::chrono::seconds timeout);

// What a person must do to rotate `name` (named in the daemon's max_age warning): where the new
// value is created on the CRM side, and the `crmsync secrets rotate` command that stages it.
std::string rotation_advice(const std::string& name);

}  // namespace crmsync::daemon
