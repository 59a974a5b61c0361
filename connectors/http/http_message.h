#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace crmsync::connectors::http {

using Deadline = std::chrono::steady_clock::time_point;

struct HttpRequest {
  std::string method{"GET"};
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Shown in logs and errors instead of the URL's query (which may carry record data).
  std::string description;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // The first header of that (case-insensitive) name.
  std::optional<std::string> header(std::string_view name) const;
};

}  // namespace crmsync::connectors::http
