#include "daemon/redacting_sink.h"

#include "daemon/json_text.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace crmsync::daemon {

RedactingSink::RedactingSink(std::shared_ptr<LogRedactor> redactor, LogLineWriter writer)
    : redactor_(std::move(redactor)), writer_(std::move(writer)) {}

void RedactingSink::sink_it_(const spdlog::details::log_msg& message) {
  // Mask the payload before formatting (escaping could change how a secret is spelled), then the
  // whole line (the logger name or a formatter could carry one too).
  std::string payload = redactor_->redact(std::string_view(message.payload.data(), message.payload.size()));
  spdlog::details::log_msg masked = message;
  masked.payload = payload;
  spdlog::memory_buf_t formatted;
  formatter_->format(masked, formatted);
  writer_(redactor_->redact(std::string_view(formatted.data(), formatted.size())));
}

namespace {

void append_json_escaped(std::string_view text, spdlog::memory_buf_t& dest) {
  std::string escaped;
  crmsync::daemon::append_json_escaped(text, escaped);
  dest.append(std::string_view(escaped));
}

}  // namespace

void JsonLineFormatter::format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& dest) {
  auto since_epoch = message.time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t time = seconds.count();
  std::tm utc{};
  gmtime_r(&time, &utc);
  fmt::format_to(std::back_inserter(dest), "{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\",\"level\":\"",
                 utc, static_cast<int>(millis.count()));
  auto level = spdlog::level::to_string_view(message.level);
  dest.append(std::string_view(level.data(), level.size()));
  dest.append(std::string_view("\",\"logger\":\""));
  append_json_escaped(std::string_view(message.logger_name.data(), message.logger_name.size()), dest);
  dest.append(std::string_view("\",\"msg\":\""));
  append_json_escaped(std::string_view(message.payload.data(), message.payload.size()), dest);
  dest.append(std::string_view("\"}\n"));
}

std::unique_ptr<spdlog::formatter> JsonLineFormatter::clone() const {
  return std::make_unique<JsonLineFormatter>();
}

}  // namespace crmsync::daemon
