#include "daemon/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

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

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` (empty without labels), with `le` last when given (a histogram bucket).
std::string label_text(const std::map<std::string, std::string>& labels, const std::string& le = {}) {
  if (labels.empty() && le.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{}=\"{}\"", key, escape_label_value(value));
  }
  if (!le.empty()) out += fmt::format("{}le=\"{}\"", first ? "" : ",", le);
  return out + '}';
}

}  // namespace

MetricHistogram::MetricHistogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), buckets_(new std::atomic<std::uint64_t>[upper_bounds_.size()]) {
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void MetricHistogram::observe(double value) {
  // The first bound at or above the value; beyond the last one it is counted in +Inf only.
  auto bound = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  if (bound != upper_bounds_.end()) {
    buckets_[static_cast<std::size_t>(bound - upper_bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  }
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t MetricHistogram::cumulative_count(std::size_t bucket) const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bucket && i < upper_bounds_.size(); ++i) total += buckets_[i].load(std::memory_order_relaxed);
  return total;
}

MetricSeries& MetricsRegistry::series(const std::string& name, const std::string& help,
                                      MetricType type,
                                      const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mutex_);
  auto [family, inserted] = families_.try_emplace(name, Family{help, type, {}, {}, {}});
  if (family->second.type == MetricType::histogram) {
    throw std::logic_error("metrics: " + name + " is a histogram, not a counter or gauge");
  }
  auto& slot = family->second.series[labels];
  if (slot == nullptr) slot = &storage_.emplace_back();
  return *slot;
}

MetricHistogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<double> upper_bounds,
                                            const std::map<std::string, std::string>& labels) {
  if (!std::is_sorted(upper_bounds.begin(), upper_bounds.end()) ||
      std::adjacent_find(upper_bounds.begin(), upper_bounds.end()) != upper_bounds.end()) {
    throw std::logic_error("metrics: " + name + ": bucket bounds must be strictly ascending");
  }
  std::lock_guard lock(mutex_);
  auto [family, inserted] = families_.try_emplace(name, Family{help, MetricType::histogram, {}, {}, upper_bounds});
  if (family->second.type != MetricType::histogram) {
    throw std::logic_error("metrics: " + name + " is a counter or gauge, not a histogram");
  }
  auto& slot = family->second.histograms[labels];
  if (slot == nullptr) slot = &histogram_storage_.emplace_back(family->second.upper_bounds);
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, family.help, name, type_name(family.type));
    for (const auto& [labels, series] : family.series) {
      out += name + label_text(labels) + ' ' + format_value(series->value()) + '\n';
    }
    for (const auto& [labels, histogram] : family.histograms) {
      const auto& bounds = histogram->upper_bounds();
      // Read the total first: the buckets, read later, can only have grown, and +Inf must be the
      // largest bucket.
      std::uint64_t count = histogram->count();
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        std::uint64_t at_or_below = std::min(count, histogram->cumulative_count(i));
        out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, format_value(bounds[i])), at_or_below);
      }
      out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, "+Inf"), count);
      out += fmt::format("{}_sum{} {}\n", name, label_text(labels), format_value(histogram->sum()));
      out += fmt::format("{}_count{} {}\n", name, label_text(labels), count);
    }
  }
  return out;
}

MetricSeries& captured_events_series(MetricsRegistry& metrics, std::string_view source, std::string_view via) {
  return metrics.series("crmsync_events_captured_total",
                        "Change events the captures produced to Kafka, by source side and by way: capture (record "
                        "changes) or sharing_sweep (share and owner changes found by comparing).",
                        MetricType::counter, {{"source", std::string(source)}, {"via", std::string(via)}});
}

MetricSeries& dead_letters_series(MetricsRegistry& metrics, std::string_view stage) {
  return metrics.series("crmsync_deadletters_total",
                        "Events sent to the dead-letter topic (reason inside each letter; see the journal's "
                        "dead_lettered entries), by stage: capture or apply.",
                        MetricType::counter, {{"stage", std::string(stage)}});
}

}  // namespace crmsync::daemon
