#include "tests/emulators/call_stats.h"

#include <algorithm>

namespace crmsync::emulators {

void CallStats::count_request(const std::string& endpoint) {
  std::lock_guard lock(mutex_);
  ++requests_[endpoint];
  ++total_;
}

void CallStats::count_write(std::size_t records) {
  std::lock_guard lock(mutex_);
  ++write_sizes_[records];
}

std::map<std::string, std::int64_t> CallStats::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::map<std::size_t, std::int64_t> CallStats::write_sizes() const {
  std::lock_guard lock(mutex_);
  return write_sizes_;
}

std::int64_t CallStats::total_requests() const {
  std::lock_guard lock(mutex_);
  return total_;
}

int CallStats::begin_request() {
  std::lock_guard lock(mutex_);
  ++in_flight_;
  peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
  return in_flight_;
}

void CallStats::end_request() {
  std::lock_guard lock(mutex_);
  --in_flight_;
}

void CallStats::count_concurrency_refusal() {
  std::lock_guard lock(mutex_);
  ++concurrency_refusals_;
}

int CallStats::peak_concurrent_requests() const {
  std::lock_guard lock(mutex_);
  return peak_in_flight_;
}

std::int64_t CallStats::concurrency_refusals() const {
  std::lock_guard lock(mutex_);
  return concurrency_refusals_;
}

void CallStats::reset() {
  std::lock_guard lock(mutex_);
  requests_.clear();
  write_sizes_.clear();
  total_ = 0;
  peak_in_flight_ = in_flight_;  // requests still being served stay counted
  concurrency_refusals_ = 0;
}

}  // namespace crmsync::emulators
