#pragma once

// Shared by the libFuzzer targets of tests/fuzz (docs/reliability.md): the input formats the CRM
// targets read, a scripted HTTP transport that answers with them, and the quiet collaborators
// (secrets, logger) the real connector classes need. Test code: it never runs in the daemon.

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/http/http_transport.h"
#include "mapping/secret_provider.h"
#include "mapping/sync_error.h"

namespace crmsync::fuzz {

namespace http = connectors::http;

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A broken invariant: prints it and aborts, which libFuzzer reports as a crash with the input.
[[noreturn]] inline void invariant_failed(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}
#define CRMSYNC_FUZZ_CHECK(condition, what) \
  do {                                      \
    if (!(condition)) ::crmsync::fuzz::invariant_failed(what); \
  } while (false)

// A failed Result must say what failed: an error class and a message.
inline void check_error(const mapping::SyncError& error, std::string_view where) {
  CRMSYNC_FUZZ_CHECK(!error.message.empty(), std::string(where) + ": an error without a message");
}

// The first line of an input names the operation (`mode`); the rest is its data. An input whose
// first line is no known mode still reaches one (chosen by a checksum of the line), so mutated
// mode lines keep exploring.
struct ModedInput {
  std::size_t mode = 0;
  std::string_view data;
};

inline ModedInput split_mode(std::string_view input, const std::vector<std::string_view>& modes) {
  std::size_t newline = input.find('\n');
  std::string_view first = input.substr(0, newline);
  ModedInput out;
  out.data = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  for (std::size_t i = 0; i < modes.size(); ++i) {
    if (first == modes[i]) {
      out.mode = i;
      return out;
    }
  }
  std::size_t sum = 0;
  for (char c : first) sum += static_cast<unsigned char>(c);
  out.mode = sum % modes.size();
  return out;
}

// A script of HTTP answers: chunks separated by a line "%%". A chunk that starts with "HTTP/" is a
// raw answer (status line, "Name: value" header lines, an empty line, the body); any other chunk
// is the body of a 200 answer without headers.
inline http::HttpResponse parse_scripted_response(std::string_view chunk) {
  http::HttpResponse response;
  response.status = 200;
  if (!chunk.starts_with("HTTP/")) {
    response.body = std::string(chunk);
    return response;
  }
  auto line_end = [&](std::size_t from) {
    std::size_t end = chunk.find('\n', from);
    return end == std::string_view::npos ? chunk.size() : end;
  };
  auto trimmed = [](std::string_view text) {
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    return text;
  };
  std::size_t end = line_end(0);
  std::string_view status_line = chunk.substr(0, end);
  std::size_t space = status_line.find(' ');
  int status = 0;
  for (std::size_t i = space == std::string_view::npos ? status_line.size() : space + 1;
       i < status_line.size() && status_line[i] >= '0' && status_line[i] <= '9' && status < 1000; ++i) {
    status = status * 10 + (status_line[i] - '0');
  }
  response.status = status;
  std::size_t at = end + 1;
  while (at < chunk.size()) {
    end = line_end(at);
    std::string_view line = trimmed(chunk.substr(at, end - at));
    at = end + 1;
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(trimmed(line.substr(0, colon)));
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    response.headers.emplace_back(std::move(name), std::string(trimmed(line.substr(colon + 1))));
  }
  if (at < chunk.size()) response.body = std::string(chunk.substr(at));
  return response;
}

inline std::deque<http::HttpResponse> parse_script(std::string_view data) {
  std::deque<http::HttpResponse> script;
  constexpr std::string_view kSeparator = "\n%%\n";
  while (true) {
    std::size_t cut = data.find(kSeparator);
    script.push_back(parse_scripted_response(data.substr(0, cut)));
    if (cut == std::string_view::npos) break;
    data.remove_prefix(cut + kSeparator.size());
  }
  return script;
}

// Answers every request with the next scripted answer; once the script is spent, with a 400 whose
// body is no error document, which every connector treats as a permanent failure (so retries and
// page loops end). OAuth token requests are answered with a valid token unless `script_tokens`,
// in which case they take their answer from the script too.
class ScriptedTransport : public http::HttpTransport {
 public:
  ScriptedTransport(std::deque<http::HttpResponse> script, bool script_tokens)
      : script_(std::move(script)), script_tokens_(script_tokens) {}

  mapping::Result<http::HttpResponse> send(const http::HttpRequest& request, http::Deadline) override {
    ++requests_;
    bool token_request = request.url.find("oauth2") != std::string::npos;
    if (token_request && !script_tokens_) {
      http::HttpResponse token;
      token.status = 200;
      token.body =
          R"({"access_token":"fuzz-token","instance_url":"https://fuzz.my.salesforce.com","token_type":"Bearer",)"
          R"("expires_in":3599})";
      return token;
    }
    if (script_.empty() || requests_ > kMaxRequests) {
      http::HttpResponse end;
      end.status = 400;
      end.body = "end of script";
      return end;
    }
    http::HttpResponse next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

 private:
  // A bound on one input's requests, whatever the connector's loops do with the answers.
  static constexpr int kMaxRequests = 64;
  std::deque<http::HttpResponse> script_;
  bool script_tokens_;
  int requests_ = 0;
};

// Every secret has the same harmless value; rotated ones are accepted and dropped.
class FixedSecrets : public mapping::SecretProvider {
 public:
  mapping::Result<mapping::SecretString> current(const std::string&) override {
    return mapping::SecretString("fuzz-secret-value");
  }
  mapping::Status store_rotated(const std::string&, const mapping::SecretString&) override {
    return mapping::ok_status();
  }
};

inline std::shared_ptr<spdlog::logger> quiet_logger() {
  static auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  return logger;
}

}  // namespace crmsync::fuzz
