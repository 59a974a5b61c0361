#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "connectors/http/http_transport.h"

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;

// Reads a CRM's own account of its API budget from a response: the share used, 0..1, or nothing
// when the response does not say.
using ApiBudgetReader = std::function<std::optional<double>(const connectors::http::HttpResponse&)>;

// Salesforce: `Sforce-Limit-Info: api-usage=<used>/<max>` (the org's daily API requests).
std::optional<double> salesforce_api_budget_used(const connectors::http::HttpResponse& response);
// Dataverse: `x-ms-ratelimit-burst-remaining-xrm-requests` against the service protection limit
// of 6,000 requests per user per 5-minute window (Dataverse does not send the limit itself).
std::optional<double> dataverse_api_budget_used(const connectors::http::HttpResponse& response);

// The HTTP transport of one CRM, counted: every request crmsync sends to it (token requests
// included) adds to `crmsync_api_calls_total{crm,outcome}`, and `crmsync_api_budget_ratio{crm}`
// follows what the CRM last said about its budget. Wraps the real transport; owned by the CRM's
// service; thread-safe as the transport it wraps.
class MeteredCrmTransport : public connectors::http::HttpTransport {
 public:
  MeteredCrmTransport(std::unique_ptr<connectors::http::HttpTransport> inner, const std::string& crm,
                      ApiBudgetReader budget, MetricsRegistry& metrics);

  mapping::Result<connectors::http::HttpResponse> send(const connectors::http::HttpRequest& request,
                                                       connectors::http::Deadline deadline) override;

 private:
  std::unique_ptr<connectors::http::HttpTransport> inner_;
  ApiBudgetReader budget_;
  MetricSeries& ok_;
  MetricSeries& client_error_;
  MetricSeries& rate_limited_;
  MetricSeries& server_error_;
  MetricSeries& transport_error_;
  MetricSeries& budget_ratio_;
};

}  // namespace crmsync::daemon
