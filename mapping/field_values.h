#pragma once

// Normalised text forms of canonical field values, shared by the value translation
// (field_translation.cc) and by anything that must compare values the same way (the merge).
// Exact decimal arithmetic on text: money never passes through a double.

#include <optional>
#include <string>
#include <string_view>

namespace crmsync::mapping {

// Reads a decimal number ("120000", "-1.005", "1.5e3", "+.5", "2E-2") and rounds it half away
// from zero to `scale` places (0..10): plain notation, no exponent, exactly `scale` digits after
// the point (none and no point for scale 0), no leading zeros, never "-0". nullopt when `text` is
// not a finite decimal number ("NaN", "Infinity", "", "1,5") or is absurdly large (more than 1000
// digits).
std::optional<std::string> normalise_decimal(std::string_view text, int scale);

// A whole number in plain notation ("1.5e3" -> "1500", "42.0" -> "42"); nullopt when `text` is not
// a number or has a non-zero fraction.
std::optional<std::string> normalise_integer(std::string_view text);

// "YYYY-MM-DD" from a calendar date ("2026-11-27") or a date-time whose date part is one
// ("2026-11-27T22:10:11.123Z", "2026-11-27T22:10:11+01:00", "2026-11-27 22:10:11"): the date as
// written, without converting between time zones. nullopt for anything else or an impossible date
// ("2026-02-30").
std::optional<std::string> normalise_date(std::string_view text);

// true/false from "true"/"false"/"t"/"f" (any case, as PostgreSQL and JSON write them).
std::optional<bool> parse_boolean_text(std::string_view text);

}  // namespace crmsync::mapping
