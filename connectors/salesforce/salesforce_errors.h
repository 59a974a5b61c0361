#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "connectors/http/retrying_client.h"

namespace crmsync::connectors::salesforce {

// The one switch over Salesforce answers: success; retry (503/502/504, 429, UNABLE_TO_LOCK_ROW,
// SERVER_UNAVAILABLE); re-authenticate (401 INVALID_SESSION_ID); or a permanent failure carrying
// Salesforce's errorCode and message (REQUEST_LIMIT_EXCEEDED is rate_limited: the daily allocation
// is spent, nothing to retry now).
http::ResponseVerdict classify_salesforce_response(const http::HttpResponse& response);

// `errorCode: message` of the first error of a Salesforce error body (an array of
// {"message","errorCode"}), or of an OAuth error body ({"error","error_description"}).
std::string salesforce_error_text(std::string_view body);

// Sforce-Limit-Info: "api-usage=25/15000".
struct ApiUsage {
  long long used = 0;
  long long limit = 0;
};
std::optional<ApiUsage> parse_limit_info(std::string_view header);

}  // namespace crmsync::connectors::salesforce
