#include "tests/emulators/emulator_clock.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>

namespace crmsync::emulators {

namespace {

struct Civil {
  int year, month, day, hour, minute, second, millis;
};

// Howard Hinnant's days_from_civil / civil_from_days.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

Civil to_civil(EpochMs ms) {
  std::int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  std::int64_t rem = ms - days * 86400000;
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  Civil c{};
  c.year = static_cast<int>(y + (m <= 2));
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(rem / 3600000);
  c.minute = static_cast<int>(rem / 60000 % 60);
  c.second = static_cast<int>(rem / 1000 % 60);
  c.millis = static_cast<int>(rem % 1000);
  return c;
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

constexpr std::array<const char*, 7> kWeekdays = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

static EpochMs system_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

EpochMs EmulatorClock::now() const {
  std::lock_guard lock(mutex_);
  EpochMs real = system_now();
  if (rate_ == 1.0) return real + offset_ms_;
  return anchor_ms_ + static_cast<EpochMs>(static_cast<double>(real - anchor_real_ms_) * rate_);
}

void EmulatorClock::set(EpochMs now) { set_slowed(now, 0.0); }

void EmulatorClock::set_slowed(EpochMs now, double rate) {
  std::lock_guard lock(mutex_);
  anchor_ms_ = now;
  anchor_real_ms_ = system_now();
  rate_ = rate;
}

void EmulatorClock::advance(std::int64_t ms) {
  std::lock_guard lock(mutex_);
  offset_ms_ += ms;
  anchor_ms_ += ms;
}

void EmulatorClock::resume() {
  EpochMs here = now();
  std::lock_guard lock(mutex_);
  offset_ms_ = here - system_now();
  rate_ = 1.0;
}

bool EmulatorClock::frozen() const {
  std::lock_guard lock(mutex_);
  return rate_ == 0.0;
}

double EmulatorClock::rate() const {
  std::lock_guard lock(mutex_);
  return rate_;
}

std::string format_salesforce_datetime(EpochMs ms) {
  Civil c = to_civil(ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000", c.year, c.month, c.day,
                     c.hour, c.minute, c.second, c.millis);
}

std::string format_iso_seconds(EpochMs ms) {
  Civil c = to_civil(ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second);
}

std::string format_date(EpochMs ms) {
  Civil c = to_civil(ms);
  return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

std::string format_http_date(EpochMs ms) {
  Civil c = to_civil(ms);
  std::int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  const char* weekday = kWeekdays[static_cast<std::size_t>(((days % 7) + 7) % 7)];
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", weekday, c.day,
                     kMonths[static_cast<std::size_t>(c.month - 1)], c.year, c.hour, c.minute,
                     c.second);
}

std::string format_us_datetime(EpochMs ms) {
  Civil c = to_civil(ms);
  return fmt::format("{:02}/{:02}/{:04} {:02}:{:02}:{:02}", c.month, c.day, c.year, c.hour,
                     c.minute, c.second);
}

std::optional<EpochMs> parse_date(std::string_view text) {
  int y, m, d;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !digits(text, 0, 4, y) ||
      !digits(text, 5, 2, m) || !digits(text, 8, 2, d) || m < 1 || m > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400000;
}

std::optional<EpochMs> parse_iso_datetime(std::string_view text) {
  if (text.size() < 19 || (text[10] != 'T' && text[10] != 't' && text[10] != ' '))
    return std::nullopt;
  auto date = parse_date(text.substr(0, 10));
  int h, mi, s;
  if (!date || text[13] != ':' || text[16] != ':' || !digits(text, 11, 2, h) ||
      !digits(text, 14, 2, mi) || !digits(text, 17, 2, s) || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  EpochMs ms = *date + (h * 3600 + mi * 60 + s) * 1000LL;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int scale = 100;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ms += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  if (pos == text.size()) return ms;
  if ((text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) return ms;
  if (text[pos] == '+' || text[pos] == '-') {
    int oh, om;
    std::string_view zone = text.substr(pos + 1);
    bool ok =
        (zone.size() == 5 && zone[2] == ':' && digits(zone, 0, 2, oh) && digits(zone, 3, 2, om)) ||
        (zone.size() == 4 && digits(zone, 0, 2, oh) && digits(zone, 2, 2, om));
    if (!ok) return std::nullopt;
    std::int64_t offset = (oh * 60 + om) * 60000LL;
    return text[pos] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

std::optional<EpochMs> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() != 29 || text.substr(25) != " GMT") return std::nullopt;
  int d, y, h, mi, s;
  if (!digits(text, 5, 2, d) || !digits(text, 12, 4, y) || !digits(text, 17, 2, h) ||
      !digits(text, 20, 2, mi) || !digits(text, 23, 2, s)) {
    return std::nullopt;
  }
  std::string_view month = text.substr(8, 3);
  for (std::size_t m = 0; m < kMonths.size(); ++m) {
    if (month == kMonths[m]) {
      return days_from_civil(y, static_cast<unsigned>(m + 1), static_cast<unsigned>(d)) * 86400000 +
             (h * 3600 + mi * 60 + s) * 1000LL;
    }
  }
  return std::nullopt;
}

}  // namespace crmsync::emulators
