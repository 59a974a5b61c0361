#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_settings.h"
#include "mapping/secret_provider.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::salesforce {

// An access token and where to use it.
struct SalesforceToken {
  mapping::SecretString access_token;
  std::string instance_url;
};

// Holds crmsync's Salesforce session: obtains an access token with the configured OAuth flow
// (client credentials, JWT bearer signed RS256 with the key from the SecretProvider, or refresh
// token), keeps it until Salesforce rejects it, and renews it then. A refresh token that
// Salesforce rotates is stored through the SecretProvider before the new access token is used.
// Credentials are read from the provider on every renewal, so a rotated secret is used at once.
// A token request that fails for a retryable reason is retried (500 ms doubling to 10 s, within the
// caller's deadline) with the given sleeper and random source (the SalesforceClient passes its own).
// Thread-safe.
class SalesforceSession {
 public:
  // `sleep` waits between token request retries (http::real_sleeper(), or an interruptible one).
  SalesforceSession(SalesforceSettings settings, http::HttpTransport& transport,
                    mapping::SecretProvider& secrets, std::shared_ptr<spdlog::logger> logger,
                    http::Sleeper sleep = http::real_sleeper(),
                    mapping::UniformRandom uniform01 = mapping::make_uniform_random());

  mapping::Result<SalesforceToken> token(http::Deadline deadline);
  // Drops the token (Salesforce answered INVALID_SESSION_ID) and obtains a new one.
  mapping::Status renew(http::Deadline deadline);

 private:
  mapping::Result<SalesforceToken> request_token(http::Deadline deadline);
  mapping::Result<std::string> token_request_body();

  SalesforceSettings settings_;
  http::HttpTransport& transport_;
  mapping::SecretProvider& secrets_;
  std::shared_ptr<spdlog::logger> logger_;
  http::Sleeper sleep_;
  mapping::UniformRandom uniform01_;
  std::mutex mutex_;
  std::optional<SalesforceToken> token_;
};

// An RS256-signed JWT bearer assertion (iss = client id, sub = username, aud = login URL, exp =
// now + 3 minutes). The key is a PEM private key. Errors never contain the key.
mapping::Result<std::string> make_jwt_assertion(const std::string& client_id, const std::string& username,
                                                const std::string& audience, const mapping::SecretString& pem_key,
                                                std::chrono::system_clock::time_point now);

// URL-safe base64 without padding (RFC 7515).
std::string base64url(std::string_view bytes);

}  // namespace crmsync::connectors::salesforce
