// Salesforce emulator: top-level routing, versions, limits, seeds and admin operations.

#include "tests/emulators/salesforce_api.h"

#include <fmt/format.h>

#include <cctype>

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/salesforce_responses.h"
#include "tests/emulators/salesforce_schema.h"

namespace crmsync::emulators {

namespace {

constexpr double kMinVersion = 31.0;
constexpr double kMaxVersion = 62.0;

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path = path.substr(slash + 1);
  }
  return out;
}

// "v59.0" -> 59.0
std::optional<double> parse_version(std::string_view segment) {
  if (segment.size() < 4 || segment[0] != 'v') return std::nullopt;
  auto dot = segment.find('.');
  if (dot == std::string_view::npos || segment.substr(dot + 1) != "0") return std::nullopt;
  for (char c : segment.substr(1, dot - 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  double v = std::stod(std::string(segment.substr(1, dot - 1)));
  if (v < kMinVersion || v > kMaxVersion) return std::nullopt;
  return v;
}

bool looks_like_id(std::string_view s) {
  if (s.size() != 15 && s.size() != 18) return false;
  bool digit = false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    digit |= std::isdigit(static_cast<unsigned char>(c)) != 0;
  }
  return digit;
}

}  // namespace

SalesforceApi::SalesforceApi(EmulatorSettings settings, EmulatorClock& clock, CallStats& stats)
    : settings_(std::move(settings)),
      clock_(clock),
      stats_(stats),
      random_(std::random_device{}()) {
  std::lock_guard lock(mutex_);
  reset_locked();
}

void SalesforceApi::reset() {
  std::lock_guard lock(mutex_);
  reset_locked();
}

void SalesforceApi::reset_locked() {
  store_ = RecordStore();
  for (auto& def : salesforce_builtin_objects()) store_.add_object(std::move(def));
  id_sequence_ = 0;
  org_id_ = make_salesforce_id("00D", 1);
  access_tokens_.clear();
  refresh_tokens_.clear();
  client_secrets_.reset(settings_.client_secret);
  locators_.clear();
  api_usage_ = 0;
  integration_user_id_.clear();
  current_user_id_.clear();
  auto created = create(
      *store_.table("User"),
      R"({"Username":"integration@crmsync.emulator","FirstName":"Crmsync","LastName":"Integration",)"
      R"("Email":"integration@crmsync.emulator","Alias":"integ","IsActive":true,"UserType":"Standard"})",
      true);
  integration_user_id_ = created.id;
  if (!settings_.seed_json.empty()) {
    if (auto error = load_seed_locked(settings_.seed_json))
      throw std::runtime_error("--seed: " + *error);
  }
}

std::optional<std::string> SalesforceApi::load_seed(std::string_view json) {
  std::lock_guard lock(mutex_);
  return load_seed_locked(json);
}

std::optional<std::string> SalesforceApi::load_seed_locked(std::string_view json) {
  auto doc = parse_json(json);
  if (!doc || !doc->IsObject()) return std::string("seed: not a JSON object");
  RecordStore saved = store_;
  auto fields = doc->FindMember("fields");
  if (fields != doc->MemberEnd() && fields->value.IsObject()) {
    for (auto& entry : fields->value.GetObject()) {
      ObjectTable* table = store_.table(entry.name.GetString());
      if (table == nullptr || !entry.value.IsArray()) {
        store_ = saved;
        return std::string("seed: fields: unknown object ") + entry.name.GetString();
      }
      ObjectDef extra = table->def;
      extra.fields.clear();
      for (auto& f : entry.value.GetArray()) {
        FieldDef def;
        def.name = string_member(f, "name");
        std::string type = string_member(f, "type", "string");
        static const std::map<std::string, FieldType> kTypes = {
            {"string", FieldType::string},     {"textarea", FieldType::textarea},
            {"picklist", FieldType::picklist}, {"boolean", FieldType::boolean},
            {"double", FieldType::number},     {"currency", FieldType::number},
            {"int", FieldType::integer},       {"date", FieldType::date},
            {"datetime", FieldType::datetime}};
        auto it = kTypes.find(type);
        if (def.name.empty() || it == kTypes.end()) {
          store_ = saved;
          return "seed: fields: " + std::string(entry.name.GetString()) +
                 ": each field needs a name and a type of "
                 "string, textarea, picklist, boolean, double, currency, int, date, datetime";
        }
        def.type = it->second;
        def.external_id = bool_member(f, "externalId", false);
        def.unique = bool_member(f, "unique", false);
        def.required = bool_member(f, "required", false);
        def.nillable = !def.required;
        extra.fields.push_back(def);
      }
      store_.add_object(extra);
    }
  }
  auto records = doc->FindMember("records");
  if (records != doc->MemberEnd() && records->value.IsObject()) {
    for (auto& entry : records->value.GetObject()) {
      ObjectTable* table = store_.table(entry.name.GetString());
      if (table == nullptr || !entry.value.IsArray()) {
        store_ = saved;
        return std::string("seed: records: unknown object ") + entry.name.GetString();
      }
      std::size_t index = 0;
      for (auto& record : entry.value.GetArray()) {
        auto outcome = create(*table, to_json(record), true);
        if (!outcome.errors.empty()) {
          store_ = saved;
          return fmt::format("seed: records: {}[{}]: {}: {}", entry.name.GetString(), index,
                             outcome.errors.front().code, outcome.errors.front().message);
        }
        ++index;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> SalesforceApi::records_json(std::string_view object) {
  std::lock_guard lock(mutex_);
  ObjectTable* table = store_.table(object);
  if (table == nullptr) return std::nullopt;
  std::string out = "[";
  bool first = true;
  for (Record* record : table->live_rows_in_order(true)) {
    if (!first) out += ",";
    first = false;
    out += record_json(*table, *record, {}, kMaxVersion);
  }
  return out + "]";
}

void SalesforceApi::expire_tokens() {
  std::lock_guard lock(mutex_);
  for (auto& [token, session] : access_tokens_) session.expires_at = 0;
}

std::optional<HttpResponse> SalesforceApi::admin(const HttpRequest& request,
                                                 std::string_view rest) {
  std::lock_guard lock(mutex_);
  if (auto answer = client_secrets_.admin(request, rest)) return answer;
  if (rest != "oauth/refresh-token" || request.method != "POST") return std::nullopt;
  // Stands in for a user who approved the connected app in the web-server flow.
  std::string user = integration_user_id_;
  auto doc = parse_json(request.body.empty() ? "{}" : request.body);
  std::string username = doc && doc->IsObject() ? string_member(*doc, "username") : std::string();
  if (!username.empty()) {
    user.clear();
    for (Record* r : store_.table("User")->live_rows_in_order()) {
      if (r->get("Username") == FieldValue(username)) user = r->id;
    }
    if (user.empty()) return salesforce_json(404, R"({"error":"no such user"})");
  }
  std::string token = "5Aep" + random_token(83);
  refresh_tokens_[token] = user;
  return salesforce_json(200,
                         fmt::format(R"({{"refresh_token":"{}","user_id":"{}"}})", token, user));
}

HttpResponse SalesforceApi::fault_response(int status, const std::string& code,
                                           const std::string& message,
                                           int retry_after_seconds) const {
  std::string c = code, m = message;
  if (c.empty()) {
    switch (status) {
      case 400:
        c = "UNABLE_TO_LOCK_ROW";
        break;
      case 401:
        c = "INVALID_SESSION_ID";
        break;
      case 403:
      case 429:
        c = "REQUEST_LIMIT_EXCEEDED";
        break;
      case 404:
        c = "NOT_FOUND";
        break;
      case 500:
        c = "UNKNOWN_EXCEPTION";
        break;
      default:
        c = "SERVER_UNAVAILABLE";
        break;
    }
  }
  if (m.empty()) {
    if (c == "UNABLE_TO_LOCK_ROW")
      m = "unable to obtain exclusive access to this record";
    else if (c == "INVALID_SESSION_ID")
      m = "Session expired or invalid";
    else if (c == "REQUEST_LIMIT_EXCEEDED")
      m = "TotalRequests Limit exceeded.";
    else if (c == "NOT_FOUND")
      m = "The requested resource does not exist";
    else if (c == "UNKNOWN_EXCEPTION")
      m = "An unexpected error occurred. Please include this ErrorId if you contact support: "
          "1234567890-12345 (-1)";
    else
      m = "Server temporarily unavailable";
  }
  HttpResponse response = salesforce_error(status, c, m);
  if (retry_after_seconds > 0)
    response.set_header("Retry-After", std::to_string(retry_after_seconds));
  return response;
}

std::string SalesforceApi::endpoint_name(const HttpRequest& request) const {
  std::string path = request.path();
  auto parts = split_path(path);
  std::string name = request.method + " ";
  std::size_t start = 0;
  if (parts.size() >= 3 && parts[0] == "services" && parts[1] == "data")
    start = 3;
  else if (!parts.empty() && parts[0] == "id")
    return name + "id";
  for (std::size_t i = start; i < parts.size(); ++i) {
    if (i > start) name += "/";
    bool after_query = i > start && (parts[i - 1] == "query" || parts[i - 1] == "queryAll");
    bool ext_value = i == start + 3 && parts[start] == "sobjects";
    name += after_query               ? "{locator}"
            : ext_value               ? "{value}"
            : looks_like_id(parts[i]) ? "{id}"
                                      : parts[i];
  }
  return name;
}

HttpResponse SalesforceApi::handle(const HttpRequest& request) {
  std::lock_guard lock(mutex_);
  std::string path = request.path();
  if (path == "/services/oauth2/token") return oauth_token(request);
  if (path == "/services/oauth2/revoke") return oauth_revoke(request);
  auto parts = split_path(path);
  if (parts.size() == 3 && parts[0] == "id") {
    if (session(request) == nullptr)
      return salesforce_error(401, "INVALID_SESSION_ID", "Session expired or invalid");
    return identity(request, parts[2]);
  }
  if (parts.size() >= 2 && parts[0] == "services" && parts[1] == "data")
    return rest(request, path.substr(14));
  return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
}

HttpResponse SalesforceApi::rest(const HttpRequest& request, const std::string& path) {
  auto parts = split_path(path);
  if (parts.empty()) {
    // The versions list needs no session.
    std::string out = "[";
    for (double v = kMinVersion; v <= kMaxVersion; v += 1.0) {
      if (v > kMinVersion) out += ",";
      out += fmt::format(R"({{"label":"API {:.1f}","url":"{}","version":"{:.1f}"}})", v,
                         salesforce_version_path(v), v);
    }
    return salesforce_json(200, out + "]");
  }
  auto version = parse_version(parts[0]);
  if (!version) return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
  const AccessToken* token = session(request);
  if (token == nullptr)
    return salesforce_error(401, "INVALID_SESSION_ID", "Session expired or invalid");
  current_user_id_ = token->user_id;
  HttpResponse response;
  if (api_usage_ >= settings_.daily_api_limit) {
    response = salesforce_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
  } else {
    ++api_usage_;
    SalesforceCall call;
    call.method = request.method;
    call.segments.assign(parts.begin() + 1, parts.end());
    call.query = request.query();
    call.body = request.body;
    call.version = *version;
    call.outer = &request;
    response = dispatch(call);
  }
  response.set_header("Sforce-Limit-Info",
                      fmt::format("api-usage={}/{}", api_usage_, settings_.daily_api_limit));
  return response;
}

HttpResponse SalesforceApi::dispatch(const SalesforceCall& call) {
  const auto& s = call.segments;
  if (s.empty()) return resource_map(call);
  if (s[0] == "limits" && s.size() == 1) {
    if (call.method != "GET")
      return salesforce_error(
          405, "METHOD_NOT_ALLOWED",
          "HTTP Method '" + call.method + "' not allowed. Allowed are GET,HEAD");
    return limits();
  }
  if (s[0] == "sobjects") return sobjects(call);
  if (s[0] == "query" || s[0] == "queryAll") {
    if (call.method != "GET")
      return salesforce_error(
          405, "METHOD_NOT_ALLOWED",
          "HTTP Method '" + call.method + "' not allowed. Allowed are GET,HEAD");
    if (s.size() == 1) return query(call, s[0] == "queryAll");
    if (s.size() == 2) return query_more(call, s[1]);
  }
  if (s[0] == "composite") {
    if (s.size() == 1) return composite(call);
    if (s[1] == "sobjects") return collections(call);
  }
  return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
}

void SalesforceApi::count_write(std::size_t records) {
  if (in_composite_)
    composite_writes_ += records;
  else
    stats_.count_write(records);
}

HttpResponse SalesforceApi::resource_map(const SalesforceCall& call) {
  std::string base = salesforce_version_path(call.version);
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  for (const char* name : {"sobjects", "query", "queryAll", "limits", "composite"}) {
    writer.Key(name);
    write_string(writer, base + "/" + name);
  }
  writer.Key("identity");
  write_string(writer, call.outer->base_url + "/id/" + org_id_ + "/" + current_user_id_);
  writer.EndObject();
  return salesforce_json(200, buffer.GetString());
}

HttpResponse SalesforceApi::limits() {
  auto entry = [](std::int64_t max, std::int64_t remaining) {
    return fmt::format(R"({{"Max":{},"Remaining":{}}})", max, remaining);
  };
  std::string body = "{";
  body += "\"DailyApiRequests\":" +
          entry(settings_.daily_api_limit,
                std::max<std::int64_t>(0, settings_.daily_api_limit - api_usage_));
  body += ",\"DailyBulkApiBatches\":" + entry(15000, 15000);
  body += ",\"DataStorageMB\":" + entry(1024, 1024);
  body += ",\"ConcurrentAsyncGetReportInstances\":" + entry(200, 200);
  body += "}";
  return salesforce_json(200, body);
}

}  // namespace crmsync::emulators
