#pragma once

#include <chrono>
#include <string>

namespace crmsync::connectors::dynamics {

// Where the Dataverse environment and its Entra ID tenant are, and which application acts.
struct DataverseSettings {
  std::string org_url;  // https://contoso.crm.dynamics.com (no trailing slash)
  std::string authority_url{"https://login.microsoftonline.com"};
  std::string tenant;                                        // tenant id or domain
  std::string client_id;                                     // the application (client) id
  std::string client_secret_name{"dynamics.client_secret"};  // asked of the SecretProvider
  std::string api_version{"9.2"};
  // A cached token is replaced this long before Entra's expires_in runs out.
  std::chrono::seconds token_refresh_margin{std::chrono::seconds(120)};
};

}  // namespace crmsync::connectors::dynamics
