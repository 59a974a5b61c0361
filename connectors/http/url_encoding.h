#pragma once

#include <string>
#include <string_view>

namespace crmsync::connectors::http {

// Percent-encodes `text` for a URL query or an x-www-form-urlencoded body: RFC 3986 unreserved
// characters (and any in `keep`) pass through, every other byte becomes %XX.
std::string percent_encode(std::string_view text, std::string_view keep = "");

}  // namespace crmsync::connectors::http
