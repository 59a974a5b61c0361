#pragma once

#include <mutex>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crmsync::emulators {

// Milliseconds since the Unix epoch, UTC.
using EpochMs = std::int64_t;

// The emulator's notion of now: the system clock plus an offset, until the admin API sets it,
// which also freezes it (tests get exact timestamps) or, with a rate, lets it run slower than real
// time from there (every change still gets its own, later millisecond, but many land in one
// second: the poll-boundary case); advance() moves it either way, resume() lets it run on at real
// speed from where it stands. Shared by all threads.
class EmulatorClock {
 public:
  EpochMs now() const;
  void set(EpochMs now);                 // and freeze
  void set_slowed(EpochMs now, double rate);  // 0 < rate < 1: emulated ms per real ms
  void advance(std::int64_t ms);
  void resume();
  bool frozen() const;
  double rate() const;  // 1 running, 0 frozen, else slowed

 private:
  mutable std::mutex mutex_;
  std::int64_t offset_ms_ = 0;      // running: now = system + offset
  double rate_ = 1.0;               // 1 running, 0 frozen, else slowed
  std::int64_t anchor_ms_ = 0;      // frozen / slowed: the emulated time at anchor_real_ms_
  std::int64_t anchor_real_ms_ = 0;
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
