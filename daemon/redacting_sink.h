#pragma once

// Internal to daemon/logging.cc: the spdlog sink that formats, redacts and writes log lines.

#include <spdlog/sinks/base_sink.h>

#include <memory>
#include <mutex>

#include "daemon/logging.h"

namespace crmsync::daemon {

class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(std::shared_ptr<LogRedactor> redactor, LogLineWriter writer);

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override {}

 private:
  std::shared_ptr<LogRedactor> redactor_;
  LogLineWriter writer_;
};

// Formats an event as one JSON object per line:
// {"time":"2026-11-27T22:10:11.123Z","level":"info","logger":"daemon","msg":"…"}
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace crmsync::daemon
