#include "connectors/http/retrying_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <thread>

namespace crmsync::connectors::http {

using mapping::ErrorClass;
using mapping::SyncError;

namespace {

// A Retry-After further out than this reads as this: every caller's deadline ends the wait long
// before, and the arithmetic stays far from overflowing (a server may send any number).
constexpr long long kMaxRetryAfterSeconds = 24 * 60 * 60;

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  long long seconds = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error == std::errc() && end == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::seconds(std::min(seconds, kMaxRetryAfterSeconds));
  }
  std::tm when{};
  std::string text(value);
  const char* parsed = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &when);
  if (parsed == nullptr || *parsed != '\0') return std::nullopt;
  std::time_t at = timegm(&when);
  std::time_t now_seconds = std::chrono::system_clock::to_time_t(now);
  if (at <= now_seconds - 1) return std::chrono::milliseconds(0);  // a past date means now
  if (at - now_seconds >= kMaxRetryAfterSeconds) return std::chrono::seconds(kMaxRetryAfterSeconds);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::from_time_t(at) - now);
  return std::max(wait, std::chrono::milliseconds(0));
}

Sleeper real_sleeper() {
  return [](std::chrono::milliseconds duration) {
    std::this_thread::sleep_for(duration);
    return true;
  };
}

Sleeper interruptible_sleeper(std::shared_ptr<const std::atomic<bool>> interrupt) {
  return [interrupt = std::move(interrupt)](std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (!interrupt->load()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= until) return true;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(50)));
    }
    return false;
  };
}

RetryingHttpClient::RetryingHttpClient(HttpTransport& transport, mapping::RetryPolicy policy,
                                       mapping::UniformRandom uniform01, Sleeper sleep,
                                       std::shared_ptr<spdlog::logger> logger)
    : transport_(transport),
      policy_(policy),
      uniform01_(std::move(uniform01)),
      sleep_(std::move(sleep)),
      logger_(std::move(logger)) {}

mapping::Result<HttpResponse> RetryingHttpClient::call(const std::function<HttpRequest()>& build,
                                                       const ResponseClassifier& classify, Deadline deadline,
                                                       const std::function<mapping::Status()>& refresh_auth) {
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    HttpRequest request = build();
    auto sent = transport_.send(request, deadline);
    std::optional<std::chrono::milliseconds> server_wait;
    SyncError failure{ErrorClass::fatal, ""};
    if (sent) {
      ResponseVerdict verdict = classify(sent.value());
      switch (verdict.kind) {
        case ResponseVerdict::Kind::success:
          return std::move(sent).value();
        case ResponseVerdict::Kind::fail:
          return verdict.error;
        case ResponseVerdict::Kind::refresh_auth:
          if (refreshed || !refresh_auth) {
            return SyncError{ErrorClass::auth, verdict.error.message + (refreshed ? " (again after re-authenticating)" : "")};
          }
          refreshed = true;
          if (auto renewed = refresh_auth(); !renewed) return renewed.error();
          logger_->info("re-authenticated after an expired session request=\"{}\"", request.description);
          --attempt;  // a refresh is not a failed attempt
          continue;
        case ResponseVerdict::Kind::retry:
          failure = verdict.error;
          server_wait = verdict.retry_after;
          break;
      }
    } else {
      if (!mapping::is_retryable(sent.error().error_class)) return sent.error();
      failure = sent.error();
    }
    auto wait = policy_.delay_for_attempt(attempt, uniform01_);
    if (server_wait) wait = std::max(wait, *server_wait);
    if (std::chrono::steady_clock::now() + wait >= deadline) {
      return SyncError{failure.error_class,
                       fmt::format("{} (gave up after {} attempt(s): the next retry would pass the deadline)",
                                   failure.message, attempt + 1)};
    }
    logger_->warn("retrying request=\"{}\" attempt={} wait_ms={} kind={} reason=\"{}\"", request.description,
                  attempt + 1, wait.count(), mapping::to_string(failure.error_class), failure.message);
    if (!sleep_(wait)) {
      return SyncError{failure.error_class,
                       fmt::format("{} (not retried: shutting down, after {} attempt(s))", failure.message, attempt + 1)};
    }
  }
}

}  // namespace crmsync::connectors::http
