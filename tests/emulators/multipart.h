#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crmsync::emulators {

// multipart/mixed as OData $batch uses it (RFC 2046; CRLF or bare LF line ends accepted).

struct MultipartPart {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string header(std::string_view name) const;
};

// The boundary parameter of a multipart/mixed Content-Type (quoted or not); nothing otherwise.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// The parts between --boundary delimiters up to --boundary--; nothing when malformed.
std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view boundary);

// An application/http part body: "METHOD url HTTP/1.1", headers, blank line, body.
struct EmbeddedRequest {
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
std::optional<EmbeddedRequest> parse_embedded_request(std::string_view text);

// An application/http response part's content: status line, headers, blank line, body.
std::string format_embedded_response(
    int status, const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body);

}  // namespace crmsync::emulators
