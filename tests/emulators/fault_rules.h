#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace crmsync::emulators {

// What to do to a request that matches a rule. Several effects may combine (latency + status).
struct FaultRule {
  std::string method = "*";        // "*" or an HTTP method
  std::string path_pattern = "*";  // glob over the request path: '*' matches any run of characters
  int status = 0;          // answer this status with the API's own error body (0: pass through)
  std::string error_code;  // overrides the API's default code for `status`
  std::string message;     // overrides the default message
  int retry_after_seconds = 0;  // adds Retry-After when non-zero
  std::chrono::milliseconds latency{0};
  bool drop_connection = false;  // close the connection without answering
  bool expire_tokens = false;    // expire every access token, then handle the request normally
  int times = -1;                // the next N matching requests; -1: every match
  double probability = 1.0;  // chance that a match fires, drawn from a generator seeded by `seed`
  std::uint64_t seed = 1;
  // Applies to the requests inside a Dataverse $batch (each part matched by its method and
  // /api/data/v9.x/… path) instead of to whole HTTP requests; such a rule only answers `status`.
  bool in_batch = false;
};

bool glob_match(std::string_view pattern, std::string_view text);

// The fault rules of one emulator, set through the admin API, consulted for every API request
// from any server thread.
class FaultRules {
 public:
  int add(FaultRule rule);  // returns the rule's id
  void clear();
  // The first rule that matches and fires (a `times` rule counts down when it fires). Whole
  // requests see the rules without `in_batch`, $batch parts (`in_batch` true) only those with it.
  std::optional<FaultRule> match(std::string_view method, std::string_view path,
                                 bool in_batch = false);
  std::size_t size() const;

 private:
  struct Entry {
    int id;
    FaultRule rule;
    std::mt19937_64 random;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  int next_id_ = 1;
};

}  // namespace crmsync::emulators
