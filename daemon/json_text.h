#pragma once

#include <string>
#include <string_view>

namespace crmsync::daemon {

// Appends `text` as the inside of a JSON string (quotes, backslashes and control characters
// escaped). The one JSON string escaper of daemon/ (logs, /readyz, --json output).
void append_json_escaped(std::string_view text, std::string& out);

// `text` as a complete JSON string, quotes included.
std::string json_quote(std::string_view text);

}  // namespace crmsync::daemon
