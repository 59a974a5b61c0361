#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>
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

enum class MetricType { counter, gauge };

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

  std::string render() const;

 private:
  struct Family {
    std::string help;
    MetricType type;
    std::map<std::map<std::string, std::string>, MetricSeries*> series;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::deque<MetricSeries> storage_;  // stable addresses
};

}  // namespace crmsync::daemon
