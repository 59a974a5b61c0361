#include "connectors/salesforce/salesforce_session.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include "connectors/http/url_encoding.h"
#include "connectors/salesforce/salesforce_errors.h"
#include "mapping/retry_policy.h"

namespace crmsync::connectors::salesforce {

using mapping::ErrorClass;
using mapping::SyncError;

namespace {

http::ResponseVerdict classify_token_response(const http::HttpResponse& response) {
  if (response.status == 200) return http::ResponseVerdict::ok();
  std::string text = fmt::format("Salesforce token endpoint HTTP {}: {}", response.status,
                                 salesforce_error_text(response.body));
  if (response.status >= 500 || response.status == 429) {
    return http::ResponseVerdict::retry({ErrorClass::transient, text});
  }
  return http::ResponseVerdict::fail({ErrorClass::auth, text});
}

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(length));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

mapping::Result<std::string> make_jwt_assertion(const std::string& client_id, const std::string& username,
                                                const std::string& audience, const mapping::SecretString& pem_key,
                                                std::chrono::system_clock::time_point now) {
  auto exp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + 180;
  auto json_string = [](const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string signing_input =
      base64url(R"({"alg":"RS256","typ":"JWT"})") + "." +
      base64url(fmt::format(R"({{"iss":{},"sub":{},"aud":{},"exp":{}}})", json_string(client_id),
                            json_string(username), json_string(audience), exp));
  BIO* bio = BIO_new_mem_buf(pem_key.reveal().data(), static_cast<int>(pem_key.reveal().size()));
  EVP_PKEY* key = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr) {
    return SyncError{ErrorClass::auth, "JWT bearer: the private key is not a PEM private key; put one with "
                                       "`crmsync secrets put`"};
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t length = 0;
  std::string signature;
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return SyncError{ErrorClass::auth, "JWT bearer: signing the assertion failed (is it an RSA key?)"};
  return signing_input + "." + base64url(signature);
}

SalesforceSession::SalesforceSession(SalesforceSettings settings, http::HttpTransport& transport,
                                     mapping::SecretProvider& secrets, std::shared_ptr<spdlog::logger> logger,
                                     http::Sleeper sleep, mapping::UniformRandom uniform01)
    : settings_(std::move(settings)),
      transport_(transport),
      secrets_(secrets),
      logger_(std::move(logger)),
      sleep_(std::move(sleep)),
      uniform01_(std::move(uniform01)) {}

mapping::Result<std::string> SalesforceSession::token_request_body() {
  std::string id = "client_id=" + http::percent_encode(settings_.client_id);
  switch (settings_.auth_flow) {
    case AuthFlow::client_credentials: {
      auto secret = secrets_.current(settings_.client_secret_name);
      if (!secret) return secret.error();
      return "grant_type=client_credentials&" + id + "&client_secret=" + http::percent_encode(secret.value().reveal());
    }
    case AuthFlow::jwt_bearer: {
      auto key = secrets_.current(settings_.private_key_name);
      if (!key) return key.error();
      auto assertion = make_jwt_assertion(settings_.client_id, settings_.username, settings_.login_url, key.value(),
                                          std::chrono::system_clock::now());
      if (!assertion) return assertion.error();
      return "grant_type=" + http::percent_encode("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" +
             assertion.value();
    }
    case AuthFlow::refresh_token: {
      auto refresh = secrets_.current(settings_.refresh_token_name);
      if (!refresh) return refresh.error();
      std::string body = "grant_type=refresh_token&" + id + "&refresh_token=" + http::percent_encode(refresh.value().reveal());
      if (auto secret = secrets_.current(settings_.client_secret_name); secret) {
        body += "&client_secret=" + http::percent_encode(secret.value().reveal());
      }
      return body;
    }
  }
  return SyncError{ErrorClass::fatal, "unknown auth flow"};
}

mapping::Result<SalesforceToken> SalesforceSession::request_token(http::Deadline deadline) {
  auto body = token_request_body();
  if (!body) return body.error();
  mapping::SecretString secret_body(std::move(body).value());
  http::RetryingHttpClient client(transport_, mapping::RetryPolicy{std::chrono::milliseconds(500), std::chrono::seconds(10)},
                                  uniform01_, sleep_, logger_);
  auto answer = client.call(
      [&] {
        return http::HttpRequest{"POST",
                                 settings_.login_url + "/services/oauth2/token",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}},
                                 secret_body.reveal(),
                                 "POST oauth2/token"};
      },
      classify_token_response, deadline);
  if (!answer) return answer.error();
  rapidjson::Document json;
  json.Parse(answer.value().body.c_str());
  if (json.HasParseError() || !json.IsObject() || !json.HasMember("access_token") || !json["access_token"].IsString() ||
      !json.HasMember("instance_url") || !json["instance_url"].IsString()) {
    return SyncError{ErrorClass::fatal, "Salesforce token endpoint answered 200 without access_token/instance_url"};
  }
  if (settings_.auth_flow == AuthFlow::refresh_token && json.HasMember("refresh_token") && json["refresh_token"].IsString()) {
    // Salesforce rotated the refresh token: the old one may already be dead. Persist the new one
    // before the access token that came with it is used; if that fails, do not use it.
    mapping::SecretString rotated(json["refresh_token"].GetString());
    if (auto stored = secrets_.store_rotated(settings_.refresh_token_name, rotated); !stored) {
      return SyncError{ErrorClass::auth, "Salesforce rotated the refresh token but it could not be stored: " +
                                             stored.error().message};
    }
    logger_->info("salesforce refresh token rotated and stored secret={}", settings_.refresh_token_name);
  }
  return SalesforceToken{mapping::SecretString(json["access_token"].GetString()), json["instance_url"].GetString()};
}

mapping::Result<SalesforceToken> SalesforceSession::token(http::Deadline deadline) {
  std::lock_guard lock(mutex_);
  if (token_) return *token_;
  auto obtained = request_token(deadline);
  if (!obtained) return obtained.error();
  token_ = obtained.value();
  logger_->info("salesforce session established instance={}", token_->instance_url);
  return *token_;
}

mapping::Status SalesforceSession::renew(http::Deadline deadline) {
  std::lock_guard lock(mutex_);
  token_.reset();
  auto obtained = request_token(deadline);
  if (!obtained) return obtained.error();
  token_ = obtained.value();
  return mapping::ok_status();
}

}  // namespace crmsync::connectors::salesforce
