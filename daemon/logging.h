#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/config.h"
#include "daemon/log_redactor.h"

namespace spdlog {
class logger;
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace crmsync::daemon {

// Where formatted, redacted log lines go (one call per line, newline included).
using LogLineWriter = std::function<void(std::string_view line)>;

// Writes to standard error, flushing each line (journald and container runtimes read it).
LogLineWriter stderr_line_writer();

// The logging of one process: one shared sink that formats each event as a JSON line (or a
// human-readable line), masks every registered secret, and writes it; and the named loggers of
// the components, all on that sink. Owned by the composition root; loggers may outlive it.
class Logging {
 public:
  Logging(LogFormat format, LogLevel level, std::shared_ptr<LogRedactor> redactor,
          LogLineWriter writer = stderr_line_writer());
  ~Logging();

  // A logger for one component ("daemon", "state", "kafka", "admin"), sharing the sink.
  std::shared_ptr<spdlog::logger> logger(const std::string& component);

  // Changes the level of every logger made here (SIGHUP reload).
  void set_level(LogLevel level);
  LogLevel level() const { return level_; }

  // Makes a "crmsync" logger the spdlog default, so that stray spdlog::info() calls are
  // formatted and redacted like everything else.
  void install_as_default();

  LogRedactor& redactor() { return *redactor_; }

 private:
  LogLevel level_;
  std::shared_ptr<LogRedactor> redactor_;
  std::shared_ptr<spdlog::sinks::sink> sink_;
  std::vector<std::weak_ptr<spdlog::logger>> loggers_;
};

}  // namespace crmsync::daemon
