#pragma once

#include <map>
#include <string>
#include <string_view>

namespace crmsync::emulators {

// Case-insensitive ASCII helpers: Salesforce field and object names and HTTP header names are
// case-insensitive.
std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view text, std::string_view prefix);
// -1, 0, 1: the order of to_lower(a) and to_lower(b), without building either.
int icompare(std::string_view a, std::string_view b);

struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

std::string url_decode(std::string_view text);
std::string url_encode(std::string_view text);
// Like url_decode but keeps '+' (a path, not a form body).
std::string url_decode_path(std::string_view text);
// `a=1&b=x%20y` (also form bodies, where `+` is a space) into decoded pairs; later keys win.
std::map<std::string, std::string> parse_query_string(std::string_view text);

std::string base64_encode(std::string_view bytes);
std::string base64url_decode(std::string_view text);  // empty on malformed input

}  // namespace crmsync::emulators
