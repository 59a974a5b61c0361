#include "connectors/salesforce/salesforce_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace crmsync::connectors::salesforce {

SalesforceClient::SalesforceClient(SalesforceSettings settings, http::HttpTransport& transport,
                                   mapping::SecretProvider& secrets, std::shared_ptr<spdlog::logger> logger,
                                   mapping::RetryPolicy retry, mapping::UniformRandom uniform01, http::Sleeper sleep)
    : settings_(std::move(settings)),
      logger_(logger),
      session_(settings_, transport, secrets, logger, sleep, uniform01),
      client_(transport, retry, std::move(uniform01), std::move(sleep), logger) {}

std::optional<ApiUsage> SalesforceClient::last_usage() const {
  long long used = used_.load();
  long long limit = limit_.load();
  if (used < 0 || limit <= 0) return std::nullopt;
  return ApiUsage{used, limit};
}

bool SalesforceClient::writes_paused() const {
  auto usage = last_usage();
  return usage && static_cast<double>(usage->used) >= settings_.api_budget_share * static_cast<double>(usage->limit);
}

mapping::Result<http::HttpResponse> SalesforceClient::request(const std::string& method, const std::string& path,
                                                              const std::string& body, const std::string& description,
                                                              http::Deadline deadline, bool is_write) {
  if (is_write && writes_paused()) {
    auto usage = *last_usage();
    return mapping::SyncError{
        mapping::ErrorClass::rate_limited,
        fmt::format("Salesforce writes paused: crmsync used {} of the org's {} daily API requests, its share is {:.0f}%; "
                    "writes resume when the org's usage falls (or raise salesforce.api_budget_share)",
                    usage.used, usage.limit, settings_.api_budget_share * 100)};
  }
  auto token = session_.token(deadline);
  if (!token) return token.error();
  auto answer = client_.call(
      [&]() -> http::HttpRequest {
        auto current = session_.token(deadline);
        std::string instance = current ? current.value().instance_url : token.value().instance_url;
        std::string url = path.starts_with("/") ? instance + path
                                                : instance + "/services/data/v" + settings_.api_version + "/" + path;
        http::HttpRequest request{method, url, {}, body, description};
        request.headers.emplace_back(
            "Authorization", "Bearer " + (current ? current.value().access_token.reveal() : token.value().access_token.reveal()));
        request.headers.emplace_back("Sforce-Call-Options", "client=" + settings_.call_options_client);
        request.headers.emplace_back("Accept", "application/json");
        if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
        return request;
      },
      [this](const http::HttpResponse& response) {
        if (auto header = response.header("sforce-limit-info")) {
          if (auto usage = parse_limit_info(*header)) {
            used_ = usage->used;
            limit_ = usage->limit;
          }
        }
        return classify_salesforce_response(response);
      },
      deadline, [&] { return session_.renew(deadline); });
  return answer;
}

}  // namespace crmsync::connectors::salesforce
