#include "connectors/dynamics/dataverse_client.h"

#include <fmt/format.h>

namespace crmsync::connectors::dynamics {

DataverseClient::DataverseClient(DataverseSettings settings, http::RetryingHttpClient& http,
                                 DataverseTokenClient& tokens)
    : settings_(std::move(settings)),
      http_(http),
      tokens_(tokens),
      api_base_(fmt::format("{}/api/data/v{}/", settings_.org_url, settings_.api_version)) {}

mapping::Result<http::HttpResponse> DataverseClient::send(const DataverseRequest& request,
                                                          http::Deadline deadline,
                                                          const DataverseClassifier& classify) {
  // The token is taken once, before anything goes out, and replaced only by the one
  // re-authentication the RetryingHttpClient asks for after a 401; every attempt is built with the
  // current one.
  auto first = tokens_.access_token(deadline);
  if (!first) return first.error();
  mapping::SecretString token = std::move(first).value();
  auto build = [&]() -> http::HttpRequest {
    http::HttpRequest out;
    out.method = request.method;
    out.url = request.target.starts_with("https://") || request.target.starts_with("http://")
                  ? request.target
                  : api_base_ + request.target;
    out.description = request.description;
    out.body = request.body;
    out.headers = {
        {"Accept", "application/json"}, {"OData-MaxVersion", "4.0"}, {"OData-Version", "4.0"}};
    if (!request.body.empty())
      out.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    for (const auto& header : request.headers) {
      // A caller's Content-Type (multipart for $batch) replaces the JSON default.
      if (header.first == "Content-Type") {
        std::erase_if(out.headers, [](const auto& h) { return h.first == "Content-Type"; });
      }
      out.headers.push_back(header);
    }
    out.headers.emplace_back("Authorization", "Bearer " + token.reveal());
    return out;
  };
  auto verdict = [&](const http::HttpResponse& response) {
    return classify ? classify(response)
                    : classify_dataverse_response(response, request.description);
  };
  auto refresh = [&]() -> mapping::Status {
    if (auto renewed = tokens_.refresh(deadline); !renewed) return renewed;
    auto fresh = tokens_.access_token(deadline);
    if (!fresh) return fresh.error();
    token = std::move(fresh).value();
    return mapping::ok_status();
  };
  return http_.call(build, verdict, deadline, refresh);
}

}  // namespace crmsync::connectors::dynamics
