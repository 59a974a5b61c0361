#pragma once

#include <string>
#include <utility>
#include <vector>

#include "connectors/dynamics/dataverse_errors.h"
#include "connectors/dynamics/dataverse_settings.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "connectors/http/retrying_client.h"

namespace crmsync::connectors::dynamics {

// One Web API request: `target` is relative to the API base ("accounts?$select=name", "$batch")
// or an absolute URL the API handed out (a nextLink or deltaLink).
struct DataverseRequest {
  std::string method{"GET"};
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string description;  // for logs and errors: method, entity set, counts — never record data
};

// Turns an answer into a verdict; the default is classify_dataverse_response.
using DataverseClassifier = std::function<http::ResponseVerdict(const http::HttpResponse&)>;

// The Dataverse Web API session: adds the OData headers and the bearer token to every request,
// retries through the RetryingHttpClient (429 Retry-After, 5xx, transport errors) and
// re-authenticates once on 401. Shared by the applier and the capture; thread-safe.
class DataverseClient {
 public:
  DataverseClient(DataverseSettings settings, http::RetryingHttpClient& http,
                  DataverseTokenClient& tokens);

  mapping::Result<http::HttpResponse> send(const DataverseRequest& request, http::Deadline deadline,
                                           const DataverseClassifier& classify = {});

  // https://{org}/api/data/v9.2/
  const std::string& api_base() const { return api_base_; }

 private:
  DataverseSettings settings_;
  http::RetryingHttpClient& http_;
  DataverseTokenClient& tokens_;
  std::string api_base_;
};

}  // namespace crmsync::connectors::dynamics
