#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "connectors/dynamics/dataverse_settings.h"
#include "connectors/http/retrying_client.h"
#include "mapping/secret.h"
#include "mapping/secret_provider.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::dynamics {

// Access tokens for Dataverse from Microsoft Entra ID's v2.0 endpoint with the client-credentials
// grant (`scope=<org>/.default`). A token is cached until shortly before its expires_in; the client
// secret is asked of the SecretProvider for every token request, so a rotated secret is used from
// the next request on. Owned by the composition root beside the DataverseClient; thread-safe (one
// mutex; concurrent callers of an expired token wait for one request).
class DataverseTokenClient {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  DataverseTokenClient(DataverseSettings settings, http::RetryingHttpClient& http,
                       mapping::SecretProvider& secrets, std::shared_ptr<spdlog::logger> logger,
                       Now now = std::chrono::steady_clock::now);

  // The cached token, or a new one when there is none or it is about to expire.
  mapping::Result<mapping::SecretString> access_token(http::Deadline deadline);

  // Forgets the cached token (Dataverse answered 401) and fetches a new one.
  mapping::Status refresh(http::Deadline deadline);

  // How many tokens were fetched from Entra (for tests and metrics).
  int tokens_fetched() const;

 private:
  mapping::Status fetch_locked(http::Deadline deadline);

  DataverseSettings settings_;
  http::RetryingHttpClient& http_;
  mapping::SecretProvider& secrets_;
  std::shared_ptr<spdlog::logger> logger_;
  Now now_;
  mutable std::mutex mutex_;
  std::optional<mapping::SecretString> token_;
  std::chrono::steady_clock::time_point renew_at_;
  int fetched_ = 0;
};

}  // namespace crmsync::connectors::dynamics
