#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace crmsync::daemon {

// Parses a configuration duration: a whole number followed by a unit, `ms`, `s`, `m`, `h` or `d`
// ("500ms", "30s", "5m", "1h", "90d"). Nothing on malformed input or overflow.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling of a duration in the same syntax ("1500ms", "30s", "2m").
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace crmsync::daemon
