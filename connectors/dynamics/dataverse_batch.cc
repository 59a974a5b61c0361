#include "connectors/dynamics/dataverse_batch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <random>

#include "connectors/dynamics/dataverse_errors.h"

namespace crmsync::connectors::dynamics {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

// The next line of `text` from `pos` (without its CR LF / LF); advances `pos` past it.
std::string_view next_line(std::string_view text, std::size_t& pos) {
  std::size_t end = text.find('\n', pos);
  std::string_view line =
      text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
  pos = end == std::string_view::npos ? text.size() : end + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// Header lines up to the first empty line; `pos` ends after it.
Headers read_headers(std::string_view text, std::size_t& pos) {
  Headers headers;
  while (pos < text.size()) {
    std::string_view line = next_line(text, pos);
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    headers.emplace_back(lower(trim(line.substr(0, colon))),
                         std::string(trim(line.substr(colon + 1))));
  }
  return headers;
}

std::string find_header(const Headers& headers, std::string_view name) {
  std::string key = lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return {};
}

// The parts between `--boundary` delimiter lines, up to `--boundary--`.
std::optional<std::vector<std::string_view>> split_parts(std::string_view body,
                                                         const std::string& boundary) {
  const std::string delimiter = "--" + boundary;
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  std::optional<std::size_t> part_start;
  bool closed = false;
  while (pos < body.size()) {
    std::size_t line_start = pos;
    std::string_view line = next_line(body, pos);
    std::string_view trimmed = trim(line);
    if (trimmed == delimiter || trimmed == delimiter + "--") {
      if (part_start) parts.push_back(body.substr(*part_start, line_start - *part_start));
      part_start = pos;
      if (trimmed != delimiter) {
        closed = true;
        break;
      }
    }
  }
  if (!closed) return std::nullopt;
  return parts;
}

bool parse_parts(std::string_view body, const std::string& boundary,
                 std::vector<BatchPartResponse>& out) {
  auto parts = split_parts(body, boundary);
  if (!parts) return false;
  for (std::string_view part : *parts) {
    std::size_t pos = 0;
    Headers mime = read_headers(part, pos);
    std::string type = find_header(mime, "content-type");
    if (auto nested = multipart_boundary_of(type)) {
      if (!parse_parts(part.substr(pos), *nested, out)) return false;
      continue;
    }
    BatchPartResponse response;
    response.content_id = find_header(mime, "content-id");
    // The embedded answer: "HTTP/1.1 204 No Content", headers, blank line, body.
    std::string_view status_line = next_line(part, pos);
    if (!status_line.starts_with("HTTP/")) return false;
    auto space = status_line.find(' ');
    if (space == std::string_view::npos) return false;
    std::string_view code = status_line.substr(space + 1, 3);
    auto [end, error] = std::from_chars(code.data(), code.data() + code.size(), response.status);
    if (error != std::errc() || end != code.data() + code.size()) return false;
    response.headers = read_headers(part, pos);
    response.body = std::string(trim(part.substr(std::min(pos, part.size()))));
    out.push_back(std::move(response));
  }
  return true;
}

}  // namespace

std::optional<std::string> BatchPartResponse::header(std::string_view name) const {
  std::string key = lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<std::string> multipart_boundary_of(std::string_view content_type) {
  std::string type = lower(content_type);
  if (!type.starts_with("multipart/")) return std::nullopt;
  auto at = type.find("boundary=");
  if (at == std::string::npos) return std::nullopt;
  std::string_view value = content_type.substr(at + 9);
  value = value.substr(0, value.find(';'));
  value = trim(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  if (value.empty()) return std::nullopt;
  return std::string(value);
}

std::string content_id(std::size_t change_set, std::size_t operation) {
  // Content-IDs are plain numbers in Dataverse's examples; 1000 × set + operation + 1 keeps them
  // unique within a batch (at most 1000 requests) and readable back.
  return std::to_string(change_set * 1000 + operation + 1);
}

std::optional<std::size_t> change_set_of(std::string_view id) {
  std::size_t value = 0;
  auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (error != std::errc() || end != id.data() + id.size() || value == 0) return std::nullopt;
  return (value - 1) / 1000;
}

std::string build_batch_body(const std::vector<ChangeSet>& change_sets, std::string_view boundary) {
  std::string out;
  for (std::size_t i = 0; i < change_sets.size(); ++i) {
    std::string changeset = fmt::format("changeset_{}_{}", boundary, i);
    out += fmt::format("--{}\r\nContent-Type: multipart/mixed; boundary={}\r\n\r\n", boundary,
                       changeset);
    for (std::size_t j = 0; j < change_sets[i].size(); ++j) {
      const BatchOperation& op = change_sets[i][j];
      out += fmt::format(
          "--{}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
          "Content-ID: {}\r\n\r\n{} {} HTTP/1.1\r\n",
          changeset, content_id(i, j), op.method, op.url);
      if (!op.body.empty()) out += "Content-Type: application/json; charset=utf-8\r\n";
      for (const auto& [name, value] : op.headers) out += name + ": " + value + "\r\n";
      out += "\r\n" + op.body + "\r\n";
    }
    out += fmt::format("--{}--\r\n", changeset);
  }
  out += fmt::format("--{}--\r\n", boundary);
  return out;
}

std::string build_request_batch_body(const std::vector<BatchOperation>& requests,
                                     std::string_view boundary) {
  std::string out;
  for (const BatchOperation& op : requests) {
    out += fmt::format(
        "--{}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "{} {} HTTP/1.1\r\n",
        boundary, op.method, op.url);
    if (!op.body.empty()) out += "Content-Type: application/json; charset=utf-8\r\n";
    for (const auto& [name, value] : op.headers) out += name + ": " + value + "\r\n";
    out += "\r\n" + op.body + "\r\n";
  }
  out += fmt::format("--{}--\r\n", boundary);
  return out;
}

std::string random_batch_boundary() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("batch_{:016x}", generator());
}

DataverseRequest batch_request(const std::string& boundary, std::string body,
                               std::string description) {
  DataverseRequest request;
  request.method = "POST";
  request.target = "$batch";
  request.headers = {{"Content-Type", "multipart/mixed; boundary=" + boundary},
                     {"Prefer", "odata.continue-on-error"}};
  request.body = std::move(body);
  request.description = std::move(description);
  return request;
}

std::optional<SyncError> batch_part_error(const BatchPartResponse& part, std::string_view what) {
  auto verdict = classify_dataverse(part.status, part.body, part.header("retry-after"), what);
  if (verdict.kind == http::ResponseVerdict::Kind::success) return std::nullopt;
  SyncError error = verdict.error;
  if (verdict.kind == http::ResponseVerdict::Kind::refresh_auth)
    error.error_class = ErrorClass::auth;
  return error;
}

mapping::Result<std::vector<BatchPartResponse>> parse_batch_response(std::string_view content_type,
                                                                     std::string_view body) {
  auto boundary = multipart_boundary_of(content_type);
  if (!boundary) {
    return SyncError{ErrorClass::invalid,
                     "dataverse: $batch answer is not multipart/mixed with a boundary"};
  }
  std::vector<BatchPartResponse> parts;
  if (!parse_parts(body, *boundary, parts)) {
    return SyncError{ErrorClass::invalid,
                     "dataverse: $batch answer is not valid multipart content"};
  }
  return parts;
}

}  // namespace crmsync::connectors::dynamics
