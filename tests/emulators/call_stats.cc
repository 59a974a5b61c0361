#include "tests/emulators/call_stats.h"

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

void CallStats::reset() {
  std::lock_guard lock(mutex_);
  requests_.clear();
  write_sizes_.clear();
  total_ = 0;
}

}  // namespace crmsync::emulators
