#pragma once

#include <string>
#include <string_view>

namespace crmsync::state {

// The one text form state queries give a timestamptz in: RFC 3339 in UTC with microseconds
// ("2025-11-28T00:00:01.250000Z"), as a PostgreSQL to_char() pattern.
inline constexpr std::string_view kRfc3339 = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";

// SQL for `column` (a timestamptz expression) as kRfc3339 text; NULL stays NULL.
inline std::string rfc3339_sql(std::string_view column) {
  return "to_char(" + std::string(column) + " AT TIME ZONE 'UTC', '" + std::string(kRfc3339) + "')";
}

}  // namespace crmsync::state
