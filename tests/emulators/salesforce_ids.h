#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crmsync::emulators {

// The 3-character case-safe suffix of a 15-character Salesforce id.
std::string salesforce_id_suffix(std::string_view id15);

// An 18-character id: key prefix (3), pod "5g" (2), base-62 sequence (10), suffix (3).
std::string make_salesforce_id(std::string_view key_prefix, std::int64_t sequence);

// The canonical 18-character form of a 15- or 18-character id (an 18-character id is
// case-insensitive: its suffix restores the case); nothing when it is not a well-formed id.
std::optional<std::string> normalize_salesforce_id(std::string_view id);

}  // namespace crmsync::emulators
