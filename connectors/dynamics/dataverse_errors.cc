#include "connectors/dynamics/dataverse_errors.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace crmsync::connectors::dynamics {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

constexpr std::size_t kMaxMessage = 300;

std::string describe(int status, const std::optional<DataverseError>& error,
                     std::string_view what) {
  if (!error) return fmt::format("dataverse: {}: HTTP {}", what, status);
  return fmt::format("dataverse: {}: HTTP {} {}: {}", what, status,
                     error->code.empty() ? "(no code)" : error->code, error->message);
}

}  // namespace

std::optional<DataverseError> parse_dataverse_error(std::string_view body) {
  auto open = body.find('{');
  if (open == std::string_view::npos) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(body.data() + open, body.size() - open);
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto error = doc.FindMember("error");
  if (error == doc.MemberEnd() || !error->value.IsObject()) return std::nullopt;
  DataverseError out;
  if (auto code = error->value.FindMember("code");
      code != error->value.MemberEnd() && code->value.IsString()) {
    out.code = code->value.GetString();
  }
  if (auto message = error->value.FindMember("message");
      message != error->value.MemberEnd() && message->value.IsString()) {
    out.message = message->value.GetString();
    if (out.message.size() > kMaxMessage) out.message = out.message.substr(0, kMaxMessage) + "…";
  }
  return out;
}

http::ResponseVerdict classify_dataverse(int status, std::string_view body,
                                         const std::optional<std::string>& retry_after,
                                         std::string_view what) {
  using http::ResponseVerdict;
  if ((status >= 200 && status < 300) || status == 304) return ResponseVerdict::ok();
  auto error = parse_dataverse_error(body);
  std::string message = describe(status, error, what);
  switch (status) {
    case 401:
      return ResponseVerdict::refresh({ErrorClass::auth, message + " (token rejected or expired)"});
    case 429: {
      std::optional<std::chrono::milliseconds> wait;
      if (retry_after)
        wait = http::parse_retry_after(*retry_after, std::chrono::system_clock::now());
      return ResponseVerdict::retry({ErrorClass::rate_limited, message}, wait);
    }
    case 500:
    case 502:
    case 503:
    case 504:
      return ResponseVerdict::retry({ErrorClass::transient, message});
    case 412:
      return ResponseVerdict::fail({ErrorClass::conflict, message});
    default:
      break;
  }
  if (status >= 400 && status < 500) return ResponseVerdict::fail({ErrorClass::invalid, message});
  return ResponseVerdict::fail({ErrorClass::fatal, message + " (unexpected status)"});
}

http::ResponseVerdict classify_dataverse_response(const http::HttpResponse& response,
                                                  std::string_view what) {
  return classify_dataverse(response.status, response.body, response.header("retry-after"), what);
}

bool is_expired_delta_token(int status, const std::optional<DataverseError>& error) {
  if (status != 400 || !error) return false;
  return error->message.find("Version stamp associated with the client has expired") !=
             std::string::npos ||
         (error->code == "0x80060888" && error->message.find("delta token") != std::string::npos);
}

}  // namespace crmsync::connectors::dynamics
