#include "daemon/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace crmsync::daemon {

namespace {

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

}  // namespace

MetricSeries& MetricsRegistry::series(const std::string& name, const std::string& help,
                                      MetricType type,
                                      const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mutex_);
  auto [family, inserted] = families_.try_emplace(name, Family{help, type, {}});
  auto& slot = family->second.series[labels];
  if (slot == nullptr) slot = &storage_.emplace_back();
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, family.help, name,
                       family.type == MetricType::counter ? "counter" : "gauge");
    for (const auto& [labels, series] : family.series) {
      out += name;
      if (!labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [key, value] : labels) {
          if (!first) out += ',';
          first = false;
          out += fmt::format("{}=\"{}\"", key, escape_label_value(value));
        }
        out += '}';
      }
      out += ' ';
      out += format_value(series->value());
      out += '\n';
    }
  }
  return out;
}

}  // namespace crmsync::daemon
