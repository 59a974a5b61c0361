#include "state/migrations.h"

#include <fmt/format.h>

namespace crmsync::state {

std::optional<std::string> find_migration_list_problem(std::span<const Migration> migrations) {
  int expected = 1;
  for (const Migration& migration : migrations) {
    if (migration.version != expected) {
      return fmt::format("migration {} ({}): expected version {}; versions must start at 1 and "
                         "increase by one",
                         migration.version, migration.name, expected);
    }
    if (migration.name.empty()) return fmt::format("migration {}: empty name", migration.version);
    if (migration.sql.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return fmt::format("migration {} ({}): empty SQL", migration.version, migration.name);
    }
    ++expected;
  }
  return std::nullopt;
}

std::string migration_checksum(std::string_view sql) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (unsigned char byte : sql) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", hash);
}

std::string render_migration_sql(std::string_view sql, std::string_view schema) {
  static constexpr std::string_view kPlaceholder = "{schema}";
  std::string out;
  out.reserve(sql.size());
  std::size_t pos = 0;
  while (true) {
    std::size_t found = sql.find(kPlaceholder, pos);
    if (found == std::string_view::npos) break;
    out.append(sql.substr(pos, found - pos));
    out.append(schema);
    pos = found + kPlaceholder.size();
  }
  out.append(sql.substr(pos));
  return out;
}

bool is_valid_schema_name(std::string_view schema) {
  if (schema.empty() || schema.size() > 63) return false;
  if (!(schema[0] == '_' || (schema[0] >= 'a' && schema[0] <= 'z'))) return false;
  for (char c : schema) {
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return !schema.starts_with("pg_");
}

}  // namespace crmsync::state
