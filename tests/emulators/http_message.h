#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crmsync::emulators {

// A request as the API handlers see it: no Beast types, so handlers and their tests stay light.
struct HttpRequest {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // scheme://host:port exactly as the client addressed us (Host header + the listener's TLS mode);
  // every absolute URL the emulators return starts with it.
  std::string base_url;

  std::string path() const;                          // target without the query, percent-decoded
  std::string raw_query() const;                     // after '?', still encoded
  std::map<std::string, std::string> query() const;  // decoded
  std::string header(std::string_view name) const;   // "" when absent
  bool has_header(std::string_view name) const;
};

// An answer, plus what the server should do around it (injected latency, a dropped connection).
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};
  bool drop_connection = false;
  // Released once the answer is written (or the connection dropped): what counts the request as
  // being served until then (the service-protection concurrency count).
  std::shared_ptr<void> held_until_sent;

  void set_header(std::string_view name, std::string value);
  std::string header(std::string_view name) const;
};

std::string reason_phrase(int status);

}  // namespace crmsync::emulators
