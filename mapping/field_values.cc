#include "mapping/field_values.h"

#include <algorithm>
#include <cstddef>

namespace crmsync::mapping {

namespace {

constexpr int kMaxScale = 10;
constexpr std::size_t kMaxDigits = 1000;
constexpr long long kMaxExponent = 100'000;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A decimal rounded to a number of places, as its digits times 10^-scale.
struct Rounded {
  bool negative = false;
  std::string units;  // round(|value| × 10^scale), no leading zeros ("0" for zero)
  bool exact = true;  // no non-zero digit was rounded away
};

// Adds one to a string of decimal digits.
void increment(std::string& digits) {
  for (std::size_t i = digits.size(); i-- > 0;) {
    if (digits[i] != '9') {
      ++digits[i];
      return;
    }
    digits[i] = '0';
  }
  digits.insert(digits.begin(), '1');
}

std::optional<Rounded> round_decimal(std::string_view text, int scale) {
  if (scale < 0 || scale > kMaxScale) return std::nullopt;
  std::size_t i = 0;
  Rounded rounded;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) rounded.negative = text[i++] == '-';
  std::string digits;
  long long fraction_digits = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) digits += text[i];
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && is_digit(text[i]); ++i, ++fraction_digits) digits += text[i];
  }
  if (digits.empty()) return std::nullopt;
  long long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative_exponent = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative_exponent = text[i++] == '-';
    std::size_t start = i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > kMaxExponent) return std::nullopt;
    }
    if (i == start) return std::nullopt;
    if (negative_exponent) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;

  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  // |value| × 10^scale = digits × 10^shift
  long long shift = exponent - fraction_digits + scale;
  if (digits.empty()) {
    rounded.units = "0";
  } else if (shift >= 0) {
    if (digits.size() + static_cast<std::size_t>(shift) > kMaxDigits) return std::nullopt;
    rounded.units = digits + std::string(static_cast<std::size_t>(shift), '0');
  } else {
    auto drop = static_cast<std::size_t>(-shift);
    if (drop > digits.size()) {
      rounded.units = "0";
      rounded.exact = false;  // digits is non-empty and has no leading zero
    } else {
      std::size_t keep = digits.size() - drop;
      rounded.units = digits.substr(0, keep);
      rounded.exact = digits.find_first_not_of('0', keep) == std::string::npos;
      bool up = digits[keep] >= '5';
      if (rounded.units.empty()) rounded.units = "0";
      if (up) increment(rounded.units);
    }
  }
  if (rounded.units.size() > kMaxDigits) return std::nullopt;
  if (rounded.units == "0") rounded.negative = false;  // never "-0"
  return rounded;
}

int two_digits(std::string_view text, std::size_t at) {
  return (text[at] - '0') * 10 + (text[at + 1] - '0');
}

bool digits_at(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return false;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!is_digit(text[i])) return false;
  }
  return true;
}

bool valid_calendar_date(std::string_view text) {
  if (text.size() < 10 || !digits_at(text, 0, 4) || text[4] != '-' || !digits_at(text, 5, 2) ||
      text[7] != '-' || !digits_at(text, 8, 2)) {
    return false;
  }
  int year = two_digits(text, 0) * 100 + two_digits(text, 2);
  int month = two_digits(text, 5);
  int day = two_digits(text, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= days;
}

// "HH:MM[:SS[.fff]]" followed by nothing, "Z" or an offset "+HH[:]MM" / "+HH".
bool valid_time_and_zone(std::string_view text) {
  if (!digits_at(text, 0, 2) || text.size() < 5 || text[2] != ':' || !digits_at(text, 3, 2)) {
    return false;
  }
  if (two_digits(text, 0) > 23 || two_digits(text, 3) > 59) return false;
  std::size_t i = 5;
  if (i < text.size() && text[i] == ':') {
    if (!digits_at(text, i + 1, 2) || two_digits(text, i + 1) > 60) return false;
    i += 3;
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      std::size_t start = ++i;
      while (i < text.size() && is_digit(text[i])) ++i;
      if (i == start) return false;
    }
  }
  std::string_view zone = text.substr(i);
  if (zone.empty() || zone == "Z" || zone == "z") return true;
  if (zone[0] != '+' && zone[0] != '-') return false;
  if (!digits_at(zone, 1, 2) || two_digits(zone, 1) > 23) return false;
  if (zone.size() == 3) return true;
  std::size_t minutes = zone[3] == ':' ? 4 : 3;
  return zone.size() == minutes + 2 && digits_at(zone, minutes, 2) &&
         two_digits(zone, minutes) <= 59;
}

}  // namespace

std::optional<std::string> normalise_decimal(std::string_view text, int scale) {
  auto rounded = round_decimal(text, scale);
  if (!rounded) return std::nullopt;
  std::string units = std::move(rounded->units);
  auto places = static_cast<std::size_t>(scale);
  std::string out = rounded->negative ? "-" : "";
  if (places == 0) return out + units;
  if (units.size() <= places) units.insert(0, places + 1 - units.size(), '0');
  out += units.substr(0, units.size() - places);
  out += '.';
  out += units.substr(units.size() - places);
  return out;
}

std::optional<std::string> normalise_integer(std::string_view text) {
  auto rounded = round_decimal(text, 0);
  if (!rounded || !rounded->exact) return std::nullopt;
  return (rounded->negative ? "-" : "") + rounded->units;
}

std::optional<std::string> normalise_date(std::string_view text) {
  if (!valid_calendar_date(text)) return std::nullopt;
  if (text.size() > 10) {
    char separator = text[10];
    if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
    if (!valid_time_and_zone(text.substr(11))) return std::nullopt;
  }
  return std::string(text.substr(0, 10));
}

std::optional<bool> parse_boolean_text(std::string_view text) {
  auto equals = [&](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
      if (c != word[i]) return false;
    }
    return true;
  };
  if (equals("true") || equals("t")) return true;
  if (equals("false") || equals("f")) return false;
  return std::nullopt;
}

}  // namespace crmsync::mapping
