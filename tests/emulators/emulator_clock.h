#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crmsync::emulators {

// Milliseconds since the Unix epoch, UTC.
using EpochMs = std::int64_t;

// The emulator's notion of now: the system clock plus an offset, until the admin API sets it,
// which also freezes it (tests get exact timestamps); advance() moves it either way, resume()
// lets a frozen clock run on from where it stands. Shared by all threads.
class EmulatorClock {
 public:
  EpochMs now() const;
  void set(EpochMs now);  // and freeze
  void advance(std::int64_t ms);
  void resume();
  bool frozen() const { return frozen_.load(); }

 private:
  std::atomic<std::int64_t> offset_ms_{0};
  std::atomic<bool> frozen_{false};
  std::atomic<std::int64_t> frozen_at_{0};
};

// 2024-01-02T03:04:05.000+0000 (Salesforce).
std::string format_salesforce_datetime(EpochMs ms);
// 2024-01-02T03:04:05Z (Dataverse).
std::string format_iso_seconds(EpochMs ms);
// 2024-01-02
std::string format_date(EpochMs ms);
// Sun, 06 Nov 1994 08:49:37 GMT
std::string format_http_date(EpochMs ms);
// MM/dd/yyyy HH:mm:ss (the Dataverse delta token's time part).
std::string format_us_datetime(EpochMs ms);

// ISO 8601 date-time with Z, +hh:mm, +hhmm or no zone (UTC), optional fraction.
std::optional<EpochMs> parse_iso_datetime(std::string_view text);
// YYYY-MM-DD at midnight UTC.
std::optional<EpochMs> parse_date(std::string_view text);
std::optional<EpochMs> parse_http_date(std::string_view text);

}  // namespace crmsync::emulators
