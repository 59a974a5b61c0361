#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "connectors/http/http_message.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::http {

// One HTTP exchange, no retries: the seam between the CRM connectors and the network, so that
// retry and error handling can be tested with a fake. An HTTP error status is a response, not an
// error; only transport failures (connect, TLS, timeout) are errors, classified once here.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual mapping::Result<HttpResponse> send(const HttpRequest& request, Deadline deadline) = 0;
};

struct HttpTransportSettings {
  // Extra trust anchors (PEM) for a private CA; peer and host verification are always on.
  std::optional<std::filesystem::path> ca_bundle;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  int max_in_flight = 8;  // requests at once to this CRM org; more wait their turn
};

// libcurl: connection reuse through a pool of handles, TLS verification on, connect and total
// timeouts (the total is what is left of the caller's deadline), at most `max_in_flight`
// concurrent requests. Thread-safe.
std::unique_ptr<HttpTransport> make_curl_transport(const HttpTransportSettings& settings,
                                                   std::shared_ptr<spdlog::logger> logger);

}  // namespace crmsync::connectors::http
