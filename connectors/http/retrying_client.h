#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "connectors/http/http_transport.h"
#include "mapping/retry_policy.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::http {

// What a connector makes of one answer of its CRM (each API shapes its errors differently).
struct ResponseVerdict {
  enum class Kind { success, retry, refresh_auth, fail };
  Kind kind = Kind::success;
  std::optional<std::chrono::milliseconds> retry_after;  // the server's own wait, when it gave one
  mapping::SyncError error{mapping::ErrorClass::fatal, ""};  // for fail, and the last retry's reason

  static ResponseVerdict ok() { return {}; }
  static ResponseVerdict retry(mapping::SyncError why, std::optional<std::chrono::milliseconds> after = {}) {
    return {Kind::retry, after, std::move(why)};
  }
  static ResponseVerdict refresh(mapping::SyncError why) { return {Kind::refresh_auth, {}, std::move(why)}; }
  static ResponseVerdict fail(mapping::SyncError why) { return {Kind::fail, {}, std::move(why)}; }
};

using ResponseClassifier = std::function<ResponseVerdict(const HttpResponse&)>;
// Waits before a retry; returns false when woken early because the owner is shutting down (no
// further attempt is made then).
using Sleeper = std::function<bool(std::chrono::milliseconds)>;

// Sends a request until it succeeds, fails for good, or the caller's deadline would pass:
// retryable failures (transport errors, what the classifier calls retry) wait per RetryPolicy
// (jittered, exponential) or the server's Retry-After, whichever is longer; an answer the
// classifier calls refresh_auth (401 with an expired session) re-authenticates once and sends a
// freshly built request. The request is rebuilt for every attempt (`build`), so a new token is
// used. Thread-safe if the transport is.
class RetryingHttpClient {
 public:
  RetryingHttpClient(HttpTransport& transport, mapping::RetryPolicy policy, mapping::UniformRandom uniform01,
                     Sleeper sleep, std::shared_ptr<spdlog::logger> logger);

  mapping::Result<HttpResponse> call(const std::function<HttpRequest()>& build, const ResponseClassifier& classify,
                                     Deadline deadline, const std::function<mapping::Status()>& refresh_auth = {});

 private:
  HttpTransport& transport_;
  mapping::RetryPolicy policy_;
  mapping::UniformRandom uniform01_;
  Sleeper sleep_;
  std::shared_ptr<spdlog::logger> logger_;
};

// Retry-After as seconds ("120") or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT"), relative to
// `now`. Nothing when malformed; never negative; at most a day (a longer wait passes every
// caller's deadline anyway).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// The production sleeper.
Sleeper real_sleeper();
// The production sleeper for a component that drains on shutdown: it wakes (and answers false)
// within 50 ms of `interrupt` being set, so a retry backoff or a server's long Retry-After does not
// hold a stopping daemon past its shutdown grace.
Sleeper interruptible_sleeper(std::shared_ptr<const std::atomic<bool>> interrupt);

}  // namespace crmsync::connectors::http
