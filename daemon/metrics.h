#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crmsync::daemon {

// One time series: a value with fixed labels. Updated lock-free from any thread.
class MetricSeries {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void increment() { add(1.0); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A histogram's observations: one cumulative count per upper bound (`le`), their sum and count.
// Observed lock-free from any thread; a scrape may see an observation in `count` before `sum`
// (Prometheus tolerates that).
class MetricHistogram {
 public:
  explicit MetricHistogram(std::vector<double> upper_bounds);
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Observations at or below upper_bounds()[i] (cumulative, as Prometheus exposes them).
  std::uint64_t cumulative_count(std::size_t bucket) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

// The process's metrics, rendered in the Prometheus text exposition format (0.0.4) on
// /metrics. Components ask for their series at construction and keep the reference (series live
// as long as the registry). Label values must be bounded (connector, object, outcome) — never
// record or partner ids. Thread-safe.
class MetricsRegistry {
 public:
  // The series `name{labels}`; created on first use. `help` and `type` are taken from the first
  // call for a name.
  MetricSeries& series(const std::string& name, const std::string& help, MetricType type,
                       const std::map<std::string, std::string>& labels = {});

  // The histogram `name{labels}` with these bucket upper bounds (ascending; +Inf is implied);
  // created on first use; later calls for the name keep the first call's bounds.
  MetricHistogram& histogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds,
                             const std::map<std::string, std::string>& labels = {});

  std::string render() const;

 private:
  struct Family {
    std::string help;
    MetricType type;
    std::map<std::map<std::string, std::string>, MetricSeries*> series;
    std::map<std::map<std::string, std::string>, MetricHistogram*> histograms;
    std::vector<double> upper_bounds;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::deque<MetricSeries> storage_;  // stable addresses
  std::deque<MetricHistogram> histogram_storage_;
};

// Series several components add to (one definition of name and help):
// `crmsync_events_captured_total{source,via}`: change events a capture produced to Kafka; `via` is
// `capture` (the record change capture) or `sharing_sweep` (sharing changes a CRM's capture cannot see).
MetricSeries& captured_events_series(MetricsRegistry& metrics, std::string_view source, std::string_view via);
// `crmsync_deadletters_total{stage}`: events sent to the dead-letter topic, at `capture` (a change
// that cannot become an event) or `apply` (an event no side would take).
MetricSeries& dead_letters_series(MetricsRegistry& metrics, std::string_view stage);

}  // namespace crmsync::daemon
