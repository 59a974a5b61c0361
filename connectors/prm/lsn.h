#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crmsync::connectors::prm {

// A PostgreSQL write-ahead-log position (pg_lsn), printed as PostgreSQL does: "16/B374D848".
struct Lsn {
  std::uint64_t value = 0;
  friend auto operator<=>(const Lsn&, const Lsn&) = default;
  std::string to_string() const;
  static std::optional<Lsn> parse(std::string_view text);
};

}  // namespace crmsync::connectors::prm
