#include "connectors/salesforce/salesforce_errors.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <charconv>

namespace crmsync::connectors::salesforce {

using mapping::ErrorClass;
using mapping::SyncError;

namespace {

struct ErrorCode {
  std::string code;
  std::string message;
};

ErrorCode first_error(std::string_view body) {
  rapidjson::Document json;
  json.Parse(body.data(), body.size());
  if (json.HasParseError()) return {};
  if (json.IsArray() && !json.Empty() && json[0].IsObject()) {
    const auto& error = json[0];
    ErrorCode out;
    if (error.HasMember("errorCode") && error["errorCode"].IsString()) out.code = error["errorCode"].GetString();
    if (error.HasMember("message") && error["message"].IsString()) out.message = error["message"].GetString();
    return out;
  }
  if (json.IsObject() && json.HasMember("error") && json["error"].IsString()) {
    ErrorCode out{json["error"].GetString(), ""};
    if (json.HasMember("error_description") && json["error_description"].IsString()) {
      out.message = json["error_description"].GetString();
    }
    return out;
  }
  return {};
}

}  // namespace

std::string salesforce_error_text(std::string_view body) {
  ErrorCode error = first_error(body);
  if (error.code.empty()) return "(no Salesforce error body)";
  return error.message.empty() ? error.code : error.code + ": " + error.message;
}

http::ResponseVerdict classify_salesforce_response(const http::HttpResponse& response) {
  int status = response.status;
  if (status >= 200 && status < 300) return http::ResponseVerdict::ok();
  ErrorCode error = first_error(response.body);
  std::string text = fmt::format("Salesforce HTTP {}: {}", status,
                                 error.code.empty() ? std::string("(no error body)")
                                                    : (error.message.empty() ? error.code : error.code + ": " + error.message));
  std::optional<std::chrono::milliseconds> retry_after;
  if (auto header = response.header("retry-after")) {
    retry_after = http::parse_retry_after(*header, std::chrono::system_clock::now());
  }
  if (status == 401 || error.code == "INVALID_SESSION_ID") {
    return http::ResponseVerdict::refresh({ErrorClass::auth, text});
  }
  if (error.code == "REQUEST_LIMIT_EXCEEDED") {
    // The org's daily allocation (or a concurrency limit) is spent: waiting seconds will not help.
    return http::ResponseVerdict::fail({ErrorClass::rate_limited, text});
  }
  if (status == 429 || status == 502 || status == 503 || status == 504 || error.code == "UNABLE_TO_LOCK_ROW" ||
      error.code == "SERVER_UNAVAILABLE") {
    return http::ResponseVerdict::retry({status == 429 ? ErrorClass::rate_limited : ErrorClass::transient, text}, retry_after);
  }
  if (status >= 500) return http::ResponseVerdict::retry({ErrorClass::transient, text}, retry_after);
  if (status == 412) return http::ResponseVerdict::fail({ErrorClass::conflict, text});
  if (status == 403) return http::ResponseVerdict::fail({ErrorClass::auth, text});
  return http::ResponseVerdict::fail({ErrorClass::invalid, text});
}

std::optional<ApiUsage> parse_limit_info(std::string_view header) {
  std::size_t at = header.find("api-usage=");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = header.substr(at + 10);
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ApiUsage usage;
  auto [used_end, used_error] = std::from_chars(rest.data(), rest.data() + slash, usage.used);
  std::string_view limit = rest.substr(slash + 1);
  auto [limit_end, limit_error] = std::from_chars(limit.data(), limit.data() + limit.size(), usage.limit);
  if (used_error != std::errc() || limit_error != std::errc() || used_end != rest.data() + slash || usage.limit <= 0) {
    return std::nullopt;
  }
  return usage;
}

}  // namespace crmsync::connectors::salesforce
