#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace crmsync::emulators {

// Counters the admin API reports for the API-efficiency benchmarks: requests per endpoint
// ("GET sobjects/{object}/{id}") and a histogram of records per write call. Thread-safe.
class CallStats {
 public:
  void count_request(const std::string& endpoint);
  void count_write(std::size_t records);
  std::map<std::string, std::int64_t> requests() const;
  std::map<std::size_t, std::int64_t> write_sizes() const;
  std::int64_t total_requests() const;

  // API requests being served (from arrival until the answer is written, injected latency
  // included): the service protection's concurrency count. `begin_request` returns the count with
  // this request; each call is paired with one `end_request`.
  int begin_request();
  void end_request();
  void count_concurrency_refusal();
  int peak_concurrent_requests() const;
  std::int64_t concurrency_refusals() const;

  void reset();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> requests_;
  std::map<std::size_t, std::int64_t> write_sizes_;
  std::int64_t total_ = 0;
  int in_flight_ = 0;
  int peak_in_flight_ = 0;
  std::int64_t concurrency_refusals_ = 0;
};

}  // namespace crmsync::emulators
