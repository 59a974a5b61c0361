// Dataverse emulator: the v2.0-shaped token endpoint, authentication, service protection,
// routing below /api/data/v9.x/, seeds and admin operations.

#include "tests/emulators/dataverse_api.h"

#include <fmt/format.h>

#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/dataverse_schema.h"
#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {

constexpr EpochMs kWindowMs = 300 * 1000;

std::string base64url(std::string_view raw) {
  std::string s = base64_encode(raw);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

HttpResponse entra_error(int status, const std::string& error, int code,
                         const std::string& description, EpochMs now) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("error");
  write_string(writer, error);
  writer.Key("error_description");
  write_string(
      writer,
      fmt::format(
          "AADSTS{}: {}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nCorrelation ID: "
          "00000000-0000-0000-0000-000000000000\r\nTimestamp: {}",
          code, description, format_iso_seconds(now)));
  writer.Key("error_codes");
  writer.StartArray();
  writer.Int(code);
  writer.EndArray();
  writer.Key("timestamp");
  write_string(writer, format_iso_seconds(now));
  writer.Key("trace_id");
  write_string(writer, "00000000-0000-0000-0000-000000000000");
  writer.Key("correlation_id");
  write_string(writer, "00000000-0000-0000-0000-000000000000");
  writer.Key("error_uri");
  write_string(writer, fmt::format("https://login.microsoftonline.com/error?code={}", code));
  writer.EndObject();
  HttpResponse response;
  response.status = status;
  response.set_header("Content-Type", "application/json; charset=utf-8");
  response.body = buffer.GetString();
  return response;
}

}  // namespace

std::string DataverseCall::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

DataverseApi::DataverseApi(EmulatorSettings settings, EmulatorClock& clock, CallStats& stats,
                           FaultRules* batch_faults)
    : settings_(std::move(settings)), clock_(clock), stats_(stats), batch_faults_(batch_faults) {
  std::lock_guard lock(mutex_);
  reset_locked();
}

std::string DataverseApi::new_guid() {
  std::uint64_t a = random_(), b = random_();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF,
                     0x8000 | ((b >> 48) & 0x3FFF), b & 0xFFFFFFFFFFFFULL);
}

void DataverseApi::count_write(std::size_t records) {
  if (in_batch_)
    batch_writes_ += records;
  else
    stats_.count_write(records);
}

void DataverseApi::reset() {
  std::lock_guard lock(mutex_);
  reset_locked();
}

void DataverseApi::reset_locked() {
  random_.seed(42);  // ids repeat from run to run
  store_ = RecordStore();
  for (auto& def : dataverse_builtin_tables()) store_.add_object(std::move(def));
  tokens_.clear();
  client_secrets_.reset(settings_.client_secret);
  shares_.clear();
  team_members_.clear();
  window_.clear();
  org_id_ = new_guid();
  root_business_unit_id_ = new_guid();
  application_user_id_ = new_guid();
  current_user_id_ = application_user_id_;
  auto add = [&](const char* table, const std::string& id,
                 std::map<std::string, FieldValue> fields) {
    ObjectTable* t = store_.table(table);
    Record r;
    r.id = id;
    r.fields = {fields.begin(), fields.end()};
    r.fields[t->def.primary_key] = id;
    r.sequence = store_.next_sequence();
    touch(t->def, r, true);
    t->rows[id] = std::move(r);
  };
  add("businessunit", root_business_unit_id_, {{"name", std::string("crmsync")}});
  add("systemuser", application_user_id_,
      {{"fullname", std::string("# crmsync")},
       {"applicationid", settings_.client_id},
       {"isdisabled", false},
       {"_businessunitid_value", root_business_unit_id_}});
  if (!settings_.seed_json.empty()) {
    if (auto error = load_seed_locked(settings_.seed_json))
      throw std::runtime_error("--seed: " + *error);
  }
}

std::optional<std::string> DataverseApi::load_seed(std::string_view json) {
  std::lock_guard lock(mutex_);
  return load_seed_locked(json);
}

std::optional<std::string> DataverseApi::load_seed_locked(std::string_view json) {
  auto doc = parse_json(json);
  if (!doc || !doc->IsObject()) return std::string("seed: not a JSON object");
  RecordStore saved = store_;
  auto columns = doc->FindMember("columns");
  if (columns != doc->MemberEnd() && columns->value.IsObject()) {
    for (auto& entry : columns->value.GetObject()) {
      ObjectTable* table = store_.table(entry.name.GetString());
      if (table == nullptr || !entry.value.IsArray()) {
        store_ = saved;
        return std::string("seed: columns: unknown table ") + entry.name.GetString();
      }
      ObjectDef extra = table->def;
      extra.fields.clear();
      for (auto& c : entry.value.GetArray()) {
        static const std::map<std::string, FieldType> kTypes = {
            {"string", FieldType::string},   {"memo", FieldType::textarea},
            {"boolean", FieldType::boolean}, {"decimal", FieldType::number},
            {"money", FieldType::number},    {"integer", FieldType::integer},
            {"dateonly", FieldType::date},   {"datetime", FieldType::datetime}};
        FieldDef f;
        f.name = string_member(c, "name");
        auto it = kTypes.find(string_member(c, "type", "string"));
        if (f.name.empty() || it == kTypes.end()) {
          store_ = saved;
          return "seed: columns: each column needs a name and a type of string, memo, boolean, "
                 "decimal, money, integer, dateonly, datetime";
        }
        f.type = it->second;
        extra.fields.push_back(f);
      }
      store_.add_object(extra);
    }
  }
  auto records = doc->FindMember("records");
  if (records != doc->MemberEnd() && records->value.IsObject()) {
    for (auto& entry : records->value.GetObject()) {
      ObjectTable* table = store_.table_by_entity_set(entry.name.GetString());
      if (table == nullptr || !entry.value.IsArray()) {
        store_ = saved;
        return std::string("seed: records: unknown entity set ") + entry.name.GetString();
      }
      std::size_t index = 0;
      for (auto& body : entry.value.GetArray()) {
        DataverseCall call;
        call.method = "POST";
        call.api_base = "https://seed/api/data/v9.2/";
        call.body = to_json(body);
        HttpResponse created = create(call, *table);
        if (created.status >= 400) {
          store_ = saved;
          return fmt::format("seed: records: {}[{}]: {}", entry.name.GetString(), index,
                             created.body);
        }
        ++index;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> DataverseApi::records_json(std::string_view object) {
  std::lock_guard lock(mutex_);
  ObjectTable* table = store_.table_by_entity_set(object);
  if (table == nullptr) table = store_.table(object);
  if (table == nullptr) return std::nullopt;
  DataverseCall call;
  call.api_base = "https://admin/api/data/v9.2/";
  std::string out = "[";
  bool first = true;
  for (Record* r : table->live_rows_in_order()) {
    out += (first ? "" : ",") + entity_json(call, *table, *r, {}, false);
    first = false;
  }
  return out + "]";
}

void DataverseApi::expire_tokens() {
  std::lock_guard lock(mutex_);
  for (auto& [token, expiry] : tokens_) expiry = 0;
}

std::optional<HttpResponse> DataverseApi::admin(const HttpRequest& request, std::string_view rest) {
  std::lock_guard lock(mutex_);
  return client_secrets_.admin(request, rest);
}

HttpResponse DataverseApi::fault_response(int status, const std::string& code,
                                          const std::string& message,
                                          int retry_after_seconds) const {
  std::string c = code, m = message;
  if (c.empty()) {
    switch (status) {
      case 429:
        c = "0x80072322";
        break;
      case 401:
        c = "0x80072182";
        break;
      case 403:
        c = "0x80040220";
        break;
      case 404:
        c = "0x80040217";
        break;
      case 412:
        c = "0x80060882";
        break;
      default:
        c = status >= 500 ? "0x80040216" : "0x80044331";
        break;
    }
  }
  if (m.empty()) {
    if (status == 429)
      m = "Number of requests exceeded the limit of 6000 over time window of 300 seconds.";
    else if (status == 503)
      m = "The service is temporarily unavailable.";
    else if (status >= 500)
      m = "An unexpected error occurred.";
    else
      m = "The request failed (injected fault).";
  }
  HttpResponse response = dataverse_error(status, c, m);
  if (retry_after_seconds > 0 || status == 429) {
    response.set_header("Retry-After",
                        std::to_string(retry_after_seconds > 0 ? retry_after_seconds : 5));
  }
  return response;
}

std::string DataverseApi::endpoint_name(const HttpRequest& request) const {
  std::string path = request.path();
  auto api = path.find("/api/data/v");
  if (api == std::string::npos) {
    return request.method + (path.find("/oauth2/") != std::string::npos ? " token" : " " + path);
  }
  auto slash = path.find('/', api + 11);
  std::string rest = slash == std::string::npos ? "" : path.substr(slash + 1);
  std::string name;
  std::size_t i = 0;
  while (i < rest.size()) {
    if (rest[i] == '(') {
      auto close = rest.find(')', i);
      name += "({key})";
      i = close == std::string::npos ? rest.size() : close + 1;
    } else {
      name += rest[i++];
    }
  }
  return request.method + " " + name;
}

HttpResponse DataverseApi::token(const HttpRequest& request, const std::string& tenant) {
  EpochMs now = clock_.now();
  if (request.method != "POST") {
    return entra_error(400, "invalid_request", 900561, "The endpoint only accepts POST requests.",
                       now);
  }
  auto form = parse_query_string(request.body);
  if (form["grant_type"] != "client_credentials") {
    return entra_error(400, "unsupported_grant_type", 70003,
                       "The app requested an unsupported grant type '" + form["grant_type"] + "'.",
                       now);
  }
  if (form["client_id"] != settings_.client_id) {
    return entra_error(400, "unauthorized_client", 700016,
                       "Application with identifier '" + form["client_id"] +
                           "' was not found in the directory '" + tenant + "'.",
                       now);
  }
  if (!client_secrets_.accepts(form["client_secret"])) {
    return entra_error(
        401, "invalid_client", 7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client "
        "secret value, not the client secret ID, for a secret added to app '" +
            settings_.client_id + "'.",
        now);
  }
  const std::string& scope = form["scope"];
  if (scope.size() < 9 || scope.compare(scope.size() - 9, 9, "/.default") != 0) {
    return entra_error(
        400, "invalid_scope", 70011,
        "The provided value for the input parameter 'scope' is not valid. The scope " + scope +
            " is not valid.",
        now);
  }
  auto ttl = settings_.token_ttl.count() > 0 ? settings_.token_ttl.count() : 3599;
  std::string audience = scope.substr(0, scope.size() - 9);
  std::string claims = fmt::format(
      R"({{"aud":"{}","iss":"https://sts.windows.net/{}/","iat":{},"exp":{},"appid":"{}","tid":"{}","oid":"{}"}})",
      audience, tenant, now / 1000, now / 1000 + ttl, settings_.client_id, tenant,
      application_user_id_);
  std::string signature;
  for (int i = 0; i < 4; ++i) signature += fmt::format("{:016x}", random_());
  std::string access = base64url(R"({"typ":"JWT","alg":"RS256"})") + "." + base64url(claims) + "." +
                       base64url(signature);
  for (auto it = tokens_.begin(); it != tokens_.end();) {  // drop expired tokens
    it = now >= it->second ? tokens_.erase(it) : std::next(it);
  }
  tokens_[access] = now + ttl * 1000;
  HttpResponse response;
  response.set_header("Content-Type", "application/json; charset=utf-8");
  response.body = fmt::format(
      R"({{"token_type":"Bearer","expires_in":{},"ext_expires_in":{},"access_token":"{}"}})", ttl,
      ttl, access);
  return response;
}

HttpResponse DataverseApi::openid_configuration(const HttpRequest& request,
                                                const std::string& tenant) const {
  // What MSAL and azure-identity read before they ask for a token (authority metadata).
  std::string authority = request.base_url + "/" + tenant;
  HttpResponse response;
  response.set_header("Content-Type", "application/json; charset=utf-8");
  response.body = fmt::format(
      R"({{"token_endpoint":"{0}/oauth2/v2.0/token","token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt","client_secret_basic"],)"
      R"("jwks_uri":"{0}/discovery/v2.0/keys","response_modes_supported":["query","fragment","form_post"],)"
      R"("subject_types_supported":["pairwise"],"id_token_signing_alg_values_supported":["RS256"],)"
      R"("response_types_supported":["code","id_token","code id_token","id_token token"],"scopes_supported":["openid","profile","email","offline_access"],)"
      R"("issuer":"{0}/v2.0","request_uri_parameter_supported":false,"userinfo_endpoint":"{0}/openid/userinfo",)"
      R"("authorization_endpoint":"{0}/oauth2/v2.0/authorize","device_authorization_endpoint":"{0}/oauth2/v2.0/devicecode",)"
      R"("http_logout_supported":true,"frontchannel_logout_supported":true,"end_session_endpoint":"{0}/oauth2/v2.0/logout",)"
      R"("claims_supported":["sub","iss","aud","exp","iat","tid","oid"],"tenant_region_scope":"EU","cloud_instance_name":"microsoftonline.com"}})",
      authority);
  return response;
}

std::optional<HttpResponse> DataverseApi::refuse_concurrent(const HttpRequest& request, int in_flight) const {
  // Service protection's third limit: requests being served at once for the user (every caller of
  // the emulator is one application user). Unlike the other two it fails at once, without
  // overshoot (crm-apis.md B.9). The token endpoint is Entra ID's, not Dataverse's.
  if (settings_.concurrent_requests <= 0 || in_flight <= settings_.concurrent_requests) return std::nullopt;
  if (request.path().find("/api/data/") == std::string::npos) return std::nullopt;
  HttpResponse response = dataverse_error(
      429, "0x80072326",
      fmt::format("Number of concurrent requests exceeded the limit of {}.", settings_.concurrent_requests));
  response.set_header("Retry-After", "1");
  return response;
}

std::optional<HttpResponse> DataverseApi::throttle() {
  EpochMs now = clock_.now();
  while (!window_.empty() && window_.front() <= now - kWindowMs) window_.pop_front();
  if (static_cast<std::int64_t>(window_.size()) >= settings_.requests_per_window) {
    EpochMs wait = window_.front() + kWindowMs - now;
    HttpResponse response = dataverse_error(
        429, "0x80072322",
        fmt::format("Number of requests exceeded the limit of {} over time window of 300 seconds.",
                    settings_.requests_per_window));
    response.set_header("Retry-After", std::to_string(std::max<EpochMs>(1, (wait + 999) / 1000)));
    return response;
  }
  window_.push_back(now);
  return std::nullopt;
}

HttpResponse DataverseApi::handle(const HttpRequest& request) {
  std::lock_guard lock(mutex_);
  std::string path = request.path();
  auto oauth = path.find("/oauth2/v2.0/token");
  if (oauth != std::string::npos && oauth > 1) return token(request, path.substr(1, oauth - 1));
  auto discovery = path.find("/v2.0/.well-known/openid-configuration");
  if (discovery != std::string::npos && discovery > 1)
    return openid_configuration(request, path.substr(1, discovery - 1));
  static const std::string kApi = "/api/data/v9.";
  if (path.rfind(kApi, 0) != 0 || path.size() < kApi.size() + 1 || path[kApi.size()] < '0' ||
      path[kApi.size()] > '2' || (path.size() > kApi.size() + 1 && path[kApi.size() + 1] != '/')) {
    return dataverse_error(404, "0x0", "Resource not found for the segment '" + path + "'.");
  }
  std::string version_base = path.substr(0, kApi.size() + 1);  // /api/data/v9.2
  std::string auth = request.header("Authorization");
  auto found = istarts_with(auth, "Bearer ") ? tokens_.find(auth.substr(7)) : tokens_.end();
  if (found == tokens_.end() || clock_.now() >= found->second) {
    if (found != tokens_.end()) tokens_.erase(found);
    HttpResponse response = dataverse_empty(401);
    response.set_header("WWW-Authenticate",
                        "Bearer authorization_uri=" + request.base_url +
                            "/common/oauth2/authorize, resource_id=" + request.base_url + "/");
    return response;
  }
  if (auto throttled = throttle()) return *throttled;
  DataverseCall call;
  call.method = request.method;
  call.path = path.size() > version_base.size() + 1 ? path.substr(version_base.size() + 1) : "";
  call.raw_query = request.raw_query();
  call.query = request.query();
  call.headers = request.headers;
  call.body = request.body;
  call.api_base = request.base_url + version_base + "/";
  current_user_id_ = application_user_id_;
  std::string caller = to_lower(request.header("MSCRMCallerID"));
  if (!caller.empty()) {
    if (store_.table("systemuser")->find(caller) == nullptr) {
      return dataverse_error(400, "0x80040217",
                             "systemuser With Id = " + caller + " Does Not Exist");
    }
    current_user_id_ = caller;
  }
  return dispatch(call);
}

HttpResponse DataverseApi::dispatch(const DataverseCall& call) {
  const std::string& path = call.path;
  if (path.empty()) {
    std::string body = R"({"@odata.context":")" + call.api_base + R"($metadata","value":[)";
    bool first = true;
    for (const ObjectDef* def : store_.objects()) {
      body += fmt::format(R"({}{{"name":"{}","kind":"EntitySet","url":"{}"}})", first ? "" : ",",
                          def->entity_set, def->entity_set);
      first = false;
    }
    return dataverse_json(200, body + "]}");
  }
  if (path == "WhoAmI" || path == "WhoAmI()") return who_am_i(call);
  if (path == "$batch") {
    if (call.method != "POST")
      return dataverse_error(405, "0x80060888", "The $batch endpoint only accepts POST.");
    if (in_batch_) return dataverse_error(400, "0x0", "Nested $batch requests are not supported.");
    return batch(call);
  }
  if (path == "GrantAccess" || path == "ModifyAccess" || path == "RevokeAccess") {
    if (call.method != "POST")
      return dataverse_error(405, "0x80060888", "Actions only accept POST.");
    return sharing_action(call, path);
  }
  if (path.rfind("RetrieveSharedPrincipalsAndAccess", 0) == 0) {
    if (call.method != "GET")
      return dataverse_error(405, "0x80060888", "Functions only accept GET.");
    return retrieve_shared(call);
  }
  auto slash = path.find('/');
  std::string segment = path.substr(0, slash);
  std::string rest = slash == std::string::npos ? "" : path.substr(slash + 1);
  auto paren = segment.find('(');
  std::string set = segment.substr(0, paren);
  ObjectTable* table = store_.table_by_entity_set(set);
  if (table == nullptr)
    return dataverse_error(404, "0x0", "Resource not found for the segment '" + set + "'.");
  if (paren == std::string::npos) {
    if (rest == "$count") return count(call, *table);
    if (!rest.empty())
      return dataverse_error(404, "0x0", "Resource not found for the segment '" + rest + "'.");
    return collection(call, *table);
  }
  Target target;
  target.table = table;
  if (auto error = parse_target(call, segment, target)) return *error;
  if (rest.rfind("teammembership_association", 0) == 0) return association(call, target, rest);
  if (rest.find('/') != std::string::npos || rest == "$ref") {
    return dataverse_error(501, "0x0",
                           "Navigation below an entity is not supported by the emulator: " + rest);
  }
  target.property = rest;
  return entity(call, std::move(target));
}

HttpResponse DataverseApi::who_am_i(const DataverseCall& call) {
  Record* user = store_.table("systemuser")->find(current_user_id_);
  std::string unit =
      user != nullptr && std::holds_alternative<std::string>(user->get("_businessunitid_value"))
          ? std::get<std::string>(user->get("_businessunitid_value"))
          : root_business_unit_id_;
  return dataverse_json(
      200,
      fmt::format(
          R"({{"@odata.context":"{}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse","BusinessUnitId":"{}","UserId":"{}","OrganizationId":"{}"}})",
          call.api_base, unit, current_user_id_, org_id_));
}

}  // namespace crmsync::emulators
