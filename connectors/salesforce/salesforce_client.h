#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_errors.h"
#include "connectors/salesforce/salesforce_session.h"
#include "connectors/salesforce/salesforce_settings.h"

namespace crmsync::connectors::salesforce {

// Authorised Salesforce REST calls with retries, re-authentication and the API budget. Every
// request carries `Sforce-Call-Options: client=<configured client>` (so crmsync's own writes are
// recognisable) and every answer's `Sforce-Limit-Info` updates the budget: once crmsync has used
// its share of the org's daily allocation (salesforce.api_budget_share), writes pause — they fail
// as rate_limited with a clear reason — instead of exhausting calls other integrations need.
// Thread-safe.
class SalesforceClient {
 public:
  SalesforceClient(SalesforceSettings settings, http::HttpTransport& transport, mapping::SecretProvider& secrets,
                   std::shared_ptr<spdlog::logger> logger, mapping::RetryPolicy retry,
                   mapping::UniformRandom uniform01, http::Sleeper sleep);

  // `path` is under /services/data/vNN.N/ ("composite/sobjects", "query?q=…") or absolute
  // ("/services/data/…" as in nextRecordsUrl).
  mapping::Result<http::HttpResponse> request(const std::string& method, const std::string& path,
                                              const std::string& body, const std::string& description,
                                              http::Deadline deadline, bool is_write);

  std::optional<ApiUsage> last_usage() const;
  // True while writes are paused by the API budget.
  bool writes_paused() const;

  const SalesforceSettings& settings() const { return settings_; }

 private:
  SalesforceSettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
  SalesforceSession session_;
  http::RetryingHttpClient client_;
  std::atomic<long long> used_{-1};
  std::atomic<long long> limit_{-1};
};

}  // namespace crmsync::connectors::salesforce
