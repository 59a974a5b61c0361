#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/http/retrying_client.h"

namespace crmsync::connectors::dynamics {

// Dataverse's error body, {"error":{"code":"0x80060882","message":"…"}} (crm-apis.md B.8).
struct DataverseError {
  std::string code;     // "0x…"; empty when the body had none (401 answers have no body)
  std::string message;  // the CRM's text, cut to a bounded length
};

// The error member of a Dataverse answer; nothing when the body is not such a document.
std::optional<DataverseError> parse_dataverse_error(std::string_view body);

// The one Dataverse status/error switch (STYLE "classify once"), for whole answers and for the
// parts of a $batch answer alike: 2xx/304 succeed; 401 asks for a new token; 429 and 5xx
// (500/502/503/504) are retried, 429 after its Retry-After; 412 is a `conflict` (stale ETag,
// duplicate key); every other 4xx is `invalid`, carrying the CRM's code and message. `what` names
// the request in the message (never a URL query or a body).
http::ResponseVerdict classify_dataverse(int status, std::string_view body,
                                         const std::optional<std::string>& retry_after,
                                         std::string_view what);

// The same for a whole HTTP answer.
http::ResponseVerdict classify_dataverse_response(const http::HttpResponse& response,
                                                  std::string_view what);

// True for the answer Dataverse gives a delta link it cannot serve any more (expired or unknown
// version stamp): the capture must take a new baseline.
bool is_expired_delta_token(int status, const std::optional<DataverseError>& error);

}  // namespace crmsync::connectors::dynamics
