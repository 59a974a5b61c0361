#include "daemon/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "daemon/redacting_sink.h"

namespace crmsync::daemon {

namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::critical: return spdlog::level::critical;
    case LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

LogLineWriter stderr_line_writer() {
  return [](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  };
}

Logging::Logging(LogFormat format, LogLevel level, std::shared_ptr<LogRedactor> redactor,
                 LogLineWriter writer)
    : level_(level), redactor_(std::move(redactor)) {
  auto sink = std::make_shared<RedactingSink>(redactor_, std::move(writer));
  if (format == LogFormat::json) {
    sink->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %-5l %n: %v", spdlog::pattern_time_type::utc));
  }
  sink_ = std::move(sink);
}

Logging::~Logging() = default;

std::shared_ptr<spdlog::logger> Logging::logger(const std::string& component) {
  auto logger = std::make_shared<spdlog::logger>(component, sink_);
  logger->set_level(to_spdlog(level_));
  logger->flush_on(spdlog::level::trace);
  loggers_.push_back(logger);
  return logger;
}

void Logging::set_level(LogLevel level) {
  level_ = level;
  for (auto& weak : loggers_) {
    if (auto logger = weak.lock()) logger->set_level(to_spdlog(level));
  }
}

void Logging::install_as_default() { spdlog::set_default_logger(logger("crmsync")); }

}  // namespace crmsync::daemon
