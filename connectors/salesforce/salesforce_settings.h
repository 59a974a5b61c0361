#pragma once

#include <chrono>
#include <string>

namespace crmsync::connectors::salesforce {

enum class AuthFlow { client_credentials, jwt_bearer, refresh_token };

// How crmsync reaches one Salesforce org. Secret values are not here: only the names under which
// the SecretProvider holds them.
struct SalesforceSettings {
  std::string login_url;  // e.g. https://login.salesforce.com or the org's My Domain
  std::string api_version{"59.0"};
  AuthFlow auth_flow = AuthFlow::client_credentials;
  std::string client_id;   // consumer key: not a secret
  std::string username;    // JWT bearer: the integration user
  std::string client_secret_name{"salesforce.client_secret"};
  std::string private_key_name{"salesforce.jwt_private_key"};  // PEM, RS256
  std::string refresh_token_name{"salesforce.refresh_token"};
  std::string call_options_client{"crmsync"};  // Sforce-Call-Options: client=…, marks our own writes
  std::string external_id_field{"PRM_Id__c"};
  double api_budget_share = 0.5;  // of the org's daily API requests crmsync may use
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
};

}  // namespace crmsync::connectors::salesforce
