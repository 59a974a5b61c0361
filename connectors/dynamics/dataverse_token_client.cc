#include "connectors/dynamics/dataverse_token_client.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "connectors/dynamics/dataverse_odata.h"

namespace crmsync::connectors::dynamics {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

// Entra's answers: {"access_token","expires_in"} or {"error","error_description","error_codes"}.
// The description starts with "AADSTSnnnn: …" and never holds the secret; only its first line is
// kept (the rest is trace and correlation ids).
std::string entra_error(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) return "no error document";
  std::string error =
      doc.HasMember("error") && doc["error"].IsString() ? doc["error"].GetString() : "?";
  std::string description;
  if (doc.HasMember("error_description") && doc["error_description"].IsString()) {
    description = doc["error_description"].GetString();
    description =
        description.substr(0, std::min(description.find_first_of("\r\n"), std::size_t{200}));
  }
  return error + (description.empty() ? "" : ": " + description);
}

http::ResponseVerdict classify_token_answer(const http::HttpResponse& response) {
  using http::ResponseVerdict;
  if (response.status == 200) return ResponseVerdict::ok();
  std::string why = fmt::format("dataverse: token request: HTTP {} {}", response.status,
                                entra_error(response.body));
  if (response.status == 429) {
    auto after = response.header("retry-after");
    return ResponseVerdict::retry(
        {ErrorClass::rate_limited, why},
        after ? http::parse_retry_after(*after, std::chrono::system_clock::now()) : std::nullopt);
  }
  if (response.status >= 500) return ResponseVerdict::retry({ErrorClass::transient, why});
  // 400 invalid_client / unauthorized_client / invalid_scope, 401 invalid secret: an operator
  // must fix the credentials or the settings; a refresh would send the same.
  return ResponseVerdict::fail(
      {ErrorClass::auth,
       why + " (check the client id, tenant and the secret '" + "configured for dynamics)"});
}

}  // namespace

DataverseTokenClient::DataverseTokenClient(DataverseSettings settings,
                                           http::RetryingHttpClient& http,
                                           mapping::SecretProvider& secrets,
                                           std::shared_ptr<spdlog::logger> logger, Now now)
    : settings_(std::move(settings)),
      http_(http),
      secrets_(secrets),
      logger_(std::move(logger)),
      now_(std::move(now)) {}

mapping::Result<mapping::SecretString> DataverseTokenClient::access_token(http::Deadline deadline) {
  std::lock_guard lock(mutex_);
  if (!token_ || now_() >= renew_at_) {
    if (auto fetched = fetch_locked(deadline); !fetched) return fetched.error();
  }
  return *token_;
}

mapping::Status DataverseTokenClient::refresh(http::Deadline deadline) {
  std::lock_guard lock(mutex_);
  token_.reset();
  return fetch_locked(deadline);
}

int DataverseTokenClient::tokens_fetched() const {
  std::lock_guard lock(mutex_);
  return fetched_;
}

mapping::Status DataverseTokenClient::fetch_locked(http::Deadline deadline) {
  const std::string url =
      fmt::format("{}/{}/oauth2/v2.0/token", settings_.authority_url, settings_.tenant);
  const std::string scope = settings_.org_url + "/.default";
  // Asked anew for every token request: a rotated secret takes effect without a restart.
  auto secret = secrets_.current(settings_.client_secret_name);
  if (!secret) {
    return SyncError{secret.error().error_class,
                     fmt::format("dataverse: token request: client secret '{}': {}",
                                 settings_.client_secret_name, secret.error().message)};
  }
  auto build = [&]() -> http::HttpRequest {
    http::HttpRequest request;
    request.method = "POST";
    request.url = url;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    request.description = "POST dataverse token (client_credentials)";
    request.body = "grant_type=client_credentials&client_id=" + url_encode(settings_.client_id) +
                   "&client_secret=" + url_encode(secret.value().reveal()) +
                   "&scope=" + url_encode(scope);
    return request;
  };
  auto answer = http_.call(build, classify_token_answer, deadline);
  if (!answer) return answer.error();
  rapidjson::Document doc;
  doc.Parse(answer.value().body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("access_token") ||
      !doc["access_token"].IsString()) {
    return SyncError{ErrorClass::transient,
                     "dataverse: token request: the answer holds no access_token"};
  }
  long long expires_in = 3599;
  if (doc.HasMember("expires_in")) {
    if (doc["expires_in"].IsInt64()) expires_in = doc["expires_in"].GetInt64();
    if (doc["expires_in"].IsString()) expires_in = std::atoll(doc["expires_in"].GetString());
  }
  token_ = mapping::SecretString(doc["access_token"].GetString());
  auto lifetime = std::chrono::seconds(expires_in);
  auto margin = std::min(settings_.token_refresh_margin, lifetime / 2);
  renew_at_ = now_() + lifetime - margin;
  ++fetched_;
  logger_->info("dataverse token acquired client_id={} expires_in_s={}", settings_.client_id,
                expires_in);
  return mapping::ok_status();
}

}  // namespace crmsync::connectors::dynamics
