#include "tests/emulators/multipart.h"

#include "tests/emulators/http_message.h"
#include "tests/emulators/text.h"

namespace crmsync::emulators {

namespace {

// Splits off one line (without its CR LF / LF); false at the end.
bool next_line(std::string_view& text, std::string_view& line) {
  if (text.empty()) return false;
  auto lf = text.find('\n');
  line = text.substr(0, lf);
  text = lf == std::string_view::npos ? std::string_view() : text.substr(lf + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// Reads header lines up to the blank line; the rest stays in `text`.
bool read_headers(std::string_view& text,
                  std::vector<std::pair<std::string, std::string>>& headers) {
  std::string_view line;
  while (next_line(text, line)) {
    if (line.empty()) return true;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return true;  // headers only, no body
}

}  // namespace

std::string MultipartPart::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  if (!istarts_with(content_type, "multipart/mixed")) return std::nullopt;
  std::string lower = to_lower(content_type);
  auto pos = lower.find("boundary=");
  if (pos == std::string::npos) return std::nullopt;
  std::string_view value = content_type.substr(pos + 9);
  if (!value.empty() && value.front() == '"') {
    auto close = value.find('"', 1);
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(value.substr(1, close - 1));
  }
  auto end = value.find_first_of("; \t");
  std::string boundary(value.substr(0, end));
  if (boundary.empty()) return std::nullopt;
  return boundary;
}

std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view boundary) {
  const std::string delimiter = "--" + std::string(boundary);
  std::vector<MultipartPart> parts;
  std::string_view rest = body;
  // Skip any preamble up to the first delimiter line.
  std::string_view line;
  bool found = false;
  while (next_line(rest, line)) {
    if (trim(line) == delimiter) {
      found = true;
      break;
    }
  }
  if (!found) return std::nullopt;
  while (true) {
    // The part runs to the next line that is a delimiter.
    std::size_t search = 0;
    std::size_t at = std::string_view::npos;
    while (true) {
      at = rest.find(delimiter, search);
      if (at == std::string_view::npos) return std::nullopt;  // no closing delimiter
      if (at == 0 || rest[at - 1] == '\n') break;
      search = at + 1;
    }
    std::string_view content = rest.substr(0, at);
    if (content.size() >= 2 && content.substr(content.size() - 2) == "\r\n")
      content.remove_suffix(2);
    else if (!content.empty() && content.back() == '\n')
      content.remove_suffix(1);
    MultipartPart part;
    if (!read_headers(content, part.headers)) return std::nullopt;
    part.body = std::string(content);
    parts.push_back(std::move(part));
    rest = rest.substr(at + delimiter.size());
    if (rest.substr(0, 2) == "--") return parts;
    if (!next_line(rest, line)) return std::nullopt;
  }
}

std::optional<EmbeddedRequest> parse_embedded_request(std::string_view text) {
  std::string_view line;
  // Leading blank lines are tolerated.
  do {
    if (!next_line(text, line)) return std::nullopt;
  } while (trim(line).empty());
  EmbeddedRequest request;
  std::string first = trim(line);
  auto space = first.find(' ');
  auto last = first.rfind(' ');
  if (space == std::string::npos || last == space || first.compare(last + 1, 5, "HTTP/") != 0)
    return std::nullopt;
  request.method = first.substr(0, space);
  request.url = trim(std::string_view(first).substr(space + 1, last - space - 1));
  if (!read_headers(text, request.headers)) return std::nullopt;
  request.body = trim(text);
  return request;
}

std::string format_embedded_response(
    int status, const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace crmsync::emulators
