// Salesforce OAuth: /services/oauth2/token (client credentials, password, refresh token with
// optional rotation, JWT bearer), /services/oauth2/revoke, the identity URL, and session lookup.

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_responses.h"

namespace crmsync::emulators {

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

HttpResponse oauth_error(int status, const std::string& code, const std::string& description) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("error");
  write_string(writer, code);
  writer.Key("error_description");
  write_string(writer, description);
  writer.EndObject();
  return salesforce_json(status, buffer.GetString());
}

std::string hmac_sha256_base64(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(out), length));
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

// The public key from a PEM public key or certificate.
std::unique_ptr<EVP_PKEY, PkeyFree> read_public_key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  if (key == nullptr) {
    BIO_free(bio);
    bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (cert != nullptr) {
      key = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  BIO_free(bio);
  return std::unique_ptr<EVP_PKEY, PkeyFree>(key);
}

bool verify_rs256(const std::string& pem, std::string_view signed_part,
                  const std::string& signature) {
  auto key = read_public_key(pem);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

std::string SalesforceApi::random_token(std::size_t length) {
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out.push_back(kAlphabet[random_() % kAlphabet.size()]);
  return out;
}

const SalesforceApi::AccessToken* SalesforceApi::session(const HttpRequest& request) {
  std::string auth = request.header("Authorization");
  std::string token;
  if (istarts_with(auth, "Bearer "))
    token = auth.substr(7);
  else if (istarts_with(auth, "OAuth "))
    token = auth.substr(6);
  auto it = access_tokens_.find(token);
  if (it == access_tokens_.end()) return nullptr;
  if (clock_.now() >= it->second.expires_at) {
    access_tokens_.erase(it);
    return nullptr;
  }
  return &it->second;
}

HttpResponse SalesforceApi::token_success(const HttpRequest& request, const std::string& user_id,
                                          bool with_refresh, const std::string& refresh_token) {
  for (auto it = access_tokens_.begin(); it != access_tokens_.end();) {  // drop expired sessions
    it = clock_.now() >= it->second.expires_at ? access_tokens_.erase(it) : std::next(it);
  }
  std::string access = org_id_.substr(0, 15) + "!" + random_token(96);
  auto ttl = settings_.token_ttl.count() > 0 ? settings_.token_ttl : std::chrono::seconds(7200);
  access_tokens_[access] = AccessToken{user_id, clock_.now() + ttl.count() * 1000, refresh_token};
  std::string id_url = request.base_url + "/id/" + org_id_ + "/" + user_id;
  std::string issued_at = std::to_string(clock_.now());
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("access_token");
  write_string(writer, access);
  if (with_refresh) {
    writer.Key("refresh_token");
    write_string(writer, refresh_token);
  }
  writer.Key("signature");
  write_string(writer, hmac_sha256_base64(settings_.client_secret, id_url + issued_at));
  writer.Key("scope");
  write_string(writer, "api refresh_token id");
  writer.Key("instance_url");
  write_string(writer, request.base_url);
  writer.Key("id");
  write_string(writer, id_url);
  writer.Key("token_type");
  write_string(writer, "Bearer");
  writer.Key("issued_at");
  write_string(writer, issued_at);
  writer.EndObject();
  return salesforce_json(200, buffer.GetString());
}

HttpResponse SalesforceApi::oauth_token(const HttpRequest& request) {
  if (request.method != "POST") {
    return oauth_error(400, "invalid_request", "must use HTTP POST");
  }
  auto form = parse_query_string(request.body);
  std::string client_id = form["client_id"];
  std::string client_secret = form["client_secret"];
  std::string basic = request.header("Authorization");
  if (istarts_with(basic, "Basic ")) {
    std::string decoded = base64url_decode(basic.substr(6));
    auto colon = decoded.find(':');
    if (colon != std::string::npos) {
      client_id = url_decode(decoded.substr(0, colon));
      client_secret = url_decode(decoded.substr(colon + 1));
    }
  }
  const std::string& grant = form["grant_type"];
  auto check_client = [&](bool secret_required) -> std::optional<HttpResponse> {
    if (client_id != settings_.client_id)
      return oauth_error(400, "invalid_client_id", "client identifier invalid");
    if ((secret_required || !client_secret.empty()) && !client_secrets_.accepts(client_secret)) {
      return oauth_error(400, "invalid_client", "invalid client credentials");
    }
    return std::nullopt;
  };
  auto active_user = [&](const std::string& username) -> std::string {
    ObjectTable* users = store_.table("User");
    for (Record* user : users->live_rows_in_order()) {
      const auto& name = user->get("Username");
      if (std::holds_alternative<std::string>(name) &&
          iequals(std::get<std::string>(name), username) &&
          user->get("IsActive") == FieldValue(true)) {
        return user->id;
      }
    }
    return {};
  };

  if (grant == "client_credentials") {
    if (auto error = check_client(true)) return *error;
    return token_success(request, integration_user_id_, false, {});
  }
  if (grant == "password") {
    if (auto error = check_client(true)) return *error;
    std::string user = active_user(form["username"]);
    if (user.empty() || form["password"] != settings_.user_password) {
      return oauth_error(400, "invalid_grant", "authentication failure");
    }
    return token_success(request, user, false, {});
  }
  if (grant == "refresh_token") {
    if (auto error = check_client(false)) return *error;
    auto it = refresh_tokens_.find(form["refresh_token"]);
    if (it == refresh_tokens_.end())
      return oauth_error(400, "invalid_grant", "expired access/refresh token");
    std::string user = it->second;
    std::string refresh = it->first;
    if (settings_.rotate_refresh_tokens) {
      refresh_tokens_.erase(it);
      refresh = "5Aep" + random_token(83);
      refresh_tokens_[refresh] = user;
    }
    return token_success(request, user, settings_.rotate_refresh_tokens, refresh);
  }
  if (grant == kJwtBearer) {
    std::string error;
    auto user = jwt_user(form["assertion"], request, error);
    if (!user) {
      if (error == "client identifier invalid") return oauth_error(400, "invalid_client_id", error);
      return oauth_error(400, "invalid_grant", error);
    }
    return token_success(request, *user, false, {});
  }
  if (grant.empty()) return oauth_error(400, "invalid_request", "missing grant type");
  return oauth_error(400, "unsupported_grant_type", "grant type not supported");
}

std::optional<std::string> SalesforceApi::jwt_user(const std::string& assertion,
                                                   const HttpRequest& request, std::string& error) {
  error = "invalid assertion";
  auto first = assertion.find('.');
  auto second = assertion.find('.', first == std::string::npos ? 0 : first + 1);
  if (first == std::string::npos || second == std::string::npos) return std::nullopt;
  auto header = parse_json(base64url_decode(assertion.substr(0, first)));
  auto claims = parse_json(base64url_decode(assertion.substr(first + 1, second - first - 1)));
  if (!header || !claims || !header->IsObject() || !claims->IsObject()) return std::nullopt;
  if (string_member(*header, "alg") != "RS256") return std::nullopt;
  if (settings_.jwt_public_key_pem.empty() ||
      !verify_rs256(settings_.jwt_public_key_pem, std::string_view(assertion).substr(0, second),
                    base64url_decode(assertion.substr(second + 1)))) {
    error = "invalid assertion";
    return std::nullopt;
  }
  if (string_member(*claims, "iss") != settings_.client_id) {
    error = "client identifier invalid";
    return std::nullopt;
  }
  std::string aud = string_member(*claims, "aud");
  if (aud != "https://login.salesforce.com" && aud != "https://test.salesforce.com" &&
      aud != request.base_url) {
    error = "audience is invalid";
    return std::nullopt;
  }
  std::int64_t exp = 0;
  auto exp_member = claims->FindMember("exp");
  if (exp_member != claims->MemberEnd() && exp_member->value.IsNumber()) {
    exp = static_cast<std::int64_t>(exp_member->value.GetDouble());
  } else if (exp_member != claims->MemberEnd() && exp_member->value.IsString()) {
    exp = std::atoll(exp_member->value.GetString());
  }
  std::int64_t now_s = clock_.now() / 1000;
  if (exp <= now_s) {
    error = "expired authorization code";
    return std::nullopt;
  }
  if (exp > now_s + 5 * 60) {  // Salesforce asks for at most 3 minutes; allow some clock skew
    error = "invalid assertion";
    return std::nullopt;
  }
  std::string username = string_member(*claims, "prn", string_member(*claims, "sub"));
  ObjectTable* users = store_.table("User");
  for (Record* user : users->live_rows_in_order()) {
    const auto& name = user->get("Username");
    if (std::holds_alternative<std::string>(name) &&
        iequals(std::get<std::string>(name), username)) {
      if (user->get("IsActive") != FieldValue(true)) {
        error = "user hasn't approved this consumer";
        return std::nullopt;
      }
      return user->id;
    }
  }
  error = "user hasn't approved this consumer";
  return std::nullopt;
}

HttpResponse SalesforceApi::oauth_revoke(const HttpRequest& request) {
  auto params = request.method == "POST" ? parse_query_string(request.body) : request.query();
  const std::string& token = params["token"];
  if (access_tokens_.erase(token) > 0) return salesforce_json(200, "");
  auto refresh = refresh_tokens_.find(token);
  if (refresh == refresh_tokens_.end()) return oauth_error(400, "invalid_token", "invalid token");
  refresh_tokens_.erase(refresh);
  for (auto it = access_tokens_.begin(); it != access_tokens_.end();) {
    it = it->second.refresh_token == token ? access_tokens_.erase(it) : std::next(it);
  }
  return salesforce_json(200, "");
}

HttpResponse SalesforceApi::identity(const HttpRequest& request, const std::string& user_id) {
  ObjectTable* users = store_.table("User");
  Record* user = users->find(user_id);
  if (user == nullptr)
    return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
  std::string base = request.base_url;
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  auto field = [&](const char* key, const std::string& value) {
    writer.Key(key);
    write_string(writer, value);
  };
  auto text = [&](const char* name) {
    const auto& v = user->get(name);
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : std::string();
  };
  writer.StartObject();
  field("id", base + "/id/" + org_id_ + "/" + user_id);
  field("user_id", user_id);
  field("organization_id", org_id_);
  field("username", text("Username"));
  field("display_name", text("Name"));
  field("email", text("Email"));
  writer.Key("active");
  writer.Bool(true);
  field("user_type", "STANDARD");
  writer.Key("urls");
  writer.StartObject();
  field("rest", base + "/services/data/v{version}/");
  field("sobjects", base + "/services/data/v{version}/sobjects/");
  field("query", base + "/services/data/v{version}/query/");
  writer.EndObject();
  writer.EndObject();
  return salesforce_json(200, buffer.GetString());
}

}  // namespace crmsync::emulators
