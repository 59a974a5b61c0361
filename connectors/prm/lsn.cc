#include "connectors/prm/lsn.h"

#include <fmt/format.h>

#include <charconv>

namespace crmsync::connectors::prm {

std::string Lsn::to_string() const {
  return fmt::format("{:X}/{:X}", value >> 32, value & 0xFFFFFFFFULL);
}

std::optional<Lsn> Lsn::parse(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  auto parse_hex = [](std::string_view part, std::uint64_t& out) {
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out, 16);
    return error == std::errc() && end == part.data() + part.size() && out <= 0xFFFFFFFFULL;
  };
  if (!parse_hex(text.substr(0, slash), high) || !parse_hex(text.substr(slash + 1), low)) {
    return std::nullopt;
  }
  return Lsn{(high << 32) | low};
}

}  // namespace crmsync::connectors::prm
