#include "daemon/metered_crm_transport.h"

#include <algorithm>
#include <charconv>

#include "connectors/salesforce/salesforce_errors.h"
#include "daemon/metrics.h"

namespace crmsync::daemon {

namespace http = connectors::http;

namespace {

constexpr double kDataverseRequestsPerWindow = 6000;

MetricSeries& calls(MetricsRegistry& metrics, const std::string& crm, const char* outcome) {
  return metrics.series("crmsync_api_calls_total",
                        "HTTP requests crmsync sent to a CRM's APIs (token requests included), by how they ended: "
                        "ok (2xx/3xx), client_error (4xx but 429), rate_limited (429), server_error (5xx), "
                        "transport_error (no response).",
                        MetricType::counter, {{"crm", crm}, {"outcome", outcome}});
}

}  // namespace

std::optional<double> salesforce_api_budget_used(const http::HttpResponse& response) {
  auto header = response.header("sforce-limit-info");
  if (!header) return std::nullopt;
  auto usage = connectors::salesforce::parse_limit_info(*header);
  if (!usage) return std::nullopt;
  return static_cast<double>(usage->used) / static_cast<double>(usage->limit);
}

std::optional<double> dataverse_api_budget_used(const http::HttpResponse& response) {
  auto header = response.header("x-ms-ratelimit-burst-remaining-xrm-requests");
  if (!header) return std::nullopt;
  long long remaining = 0;
  auto [end, error] = std::from_chars(header->data(), header->data() + header->size(), remaining);
  if (error != std::errc() || end != header->data() + header->size() || remaining < 0) return std::nullopt;
  return std::clamp(1.0 - static_cast<double>(remaining) / kDataverseRequestsPerWindow, 0.0, 1.0);
}

MeteredCrmTransport::MeteredCrmTransport(std::unique_ptr<http::HttpTransport> inner, const std::string& crm,
                                         ApiBudgetReader budget, MetricsRegistry& metrics)
    : inner_(std::move(inner)),
      budget_(std::move(budget)),
      ok_(calls(metrics, crm, "ok")),
      client_error_(calls(metrics, crm, "client_error")),
      rate_limited_(calls(metrics, crm, "rate_limited")),
      server_error_(calls(metrics, crm, "server_error")),
      transport_error_(calls(metrics, crm, "transport_error")),
      budget_ratio_(metrics.series("crmsync_api_budget_ratio",
                                   "Share of the CRM's API budget used, 0..1, as the CRM last reported it "
                                   "(Salesforce: daily API requests; Dataverse: service protection requests "
                                   "in the current 5-minute window).",
                                   MetricType::gauge, {{"crm", crm}})) {}

mapping::Result<http::HttpResponse> MeteredCrmTransport::send(const http::HttpRequest& request,
                                                              http::Deadline deadline) {
  auto response = inner_->send(request, deadline);
  if (!response) {
    transport_error_.increment();
    return response;
  }
  int status = response.value().status;
  if (status == 429) {
    rate_limited_.increment();
  } else if (status >= 500) {
    server_error_.increment();
  } else if (status >= 400) {
    client_error_.increment();
  } else {
    ok_.increment();
  }
  if (budget_) {
    if (auto used = budget_(response.value())) budget_ratio_.set(*used);
  }
  return response;
}

}  // namespace crmsync::daemon
